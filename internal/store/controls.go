package store

import (
	"context"
	"time"
)

func getControl(ctx context.Context, q Querier, workspaceID int64) (Control, error) {
	var (
		c          Control
		wsCreated  time.Time
		exists     bool
		paused     *bool
		controlled *time.Time
	)
	// The LEFT JOIN answers both "does the workspace exist" and "has it ever
	// written a control" in one read.
	err := q.QueryRow(ctx, `
		SELECT w.created_at, c.workspace_id IS NOT NULL, c.is_paused, c.pause_reason, c.paused_until,
		       c.updated_at, c.updated_by
		FROM workspaces w LEFT JOIN controls c ON c.workspace_id = w.id
		WHERE w.id = $1`, workspaceID).Scan(&wsCreated, &exists, &paused, &c.PauseReason,
		&c.PausedUntil, &controlled, &c.UpdatedBy)
	if err != nil {
		return Control{}, err
	}
	c.WorkspaceID = workspaceID
	if !exists || controlled == nil {
		return Control{WorkspaceID: workspaceID, UpdatedAt: wsCreated}, nil
	}
	c.IsPaused = paused != nil && *paused
	c.UpdatedAt = *controlled
	return c, nil
}

// GetControl returns the workspace's control record; one never written
// reads as not paused, updated when the workspace was created.
func (s *SQL) GetControl(ctx context.Context, workspaceID int64) (Control, error) {
	c, err := getControl(ctx, s.d.Reader(), workspaceID)
	return c, wrap("get control", err)
}

// PutControl replaces the control record; UpdatedAt is now.
func (s *SQL) PutControl(ctx context.Context, c Control) (Control, error) {
	var out Control
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, c.WorkspaceID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `
			INSERT INTO controls (workspace_id, is_paused, pause_reason, paused_until, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (workspace_id) DO UPDATE SET
				is_paused = excluded.is_paused, pause_reason = excluded.pause_reason,
				paused_until = excluded.paused_until, updated_at = excluded.updated_at,
				updated_by = excluded.updated_by`,
			c.WorkspaceID, c.IsPaused, c.PauseReason, c.PausedUntil, s.Now(), c.UpdatedBy)
		if err != nil {
			return err
		}
		if out, err = getControl(ctx, q, c.WorkspaceID); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, c.WorkspaceID)
	})
	return out, wrap("put control", err)
}
