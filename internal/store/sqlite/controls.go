package sqlite

import (
	"context"
	"database/sql"

	"github.com/switchboard-hq/switchboard/internal/store"
)

func getControl(ctx context.Context, q querier, workspaceID int64) (store.Control, error) {
	var (
		c             store.Control
		reason        sql.NullString
		until, by     sql.NullInt64
		updated       sql.NullInt64
		wsCreated     int64
		paused        sql.NullBool
		controlExists bool
	)
	// The LEFT JOIN answers both "does the workspace exist" and "has it ever
	// written a control" in one read.
	err := q.QueryRowContext(ctx, `
		SELECT w.created_at, c.workspace_id IS NOT NULL, c.is_paused, c.pause_reason, c.paused_until,
		       c.updated_at, c.updated_by
		FROM workspaces w LEFT JOIN controls c ON c.workspace_id = w.id
		WHERE w.id = ?`, workspaceID).Scan(&wsCreated, &controlExists, &paused, &reason, &until, &updated, &by)
	if err != nil {
		return store.Control{}, notFound(err)
	}
	c.WorkspaceID = workspaceID
	if !controlExists {
		c.UpdatedAt = fromMS(wsCreated)
		return c, nil
	}
	c.IsPaused = paused.Bool
	c.PauseReason, c.PausedUntil = strPtr(reason), timePtr(until)
	c.UpdatedAt, c.UpdatedBy = fromMS(updated.Int64), int64Ptr(by)
	return c, nil
}

// GetControl returns the workspace's control record; one never written
// reads as not paused, updated when the workspace was created.
func (s *Store) GetControl(ctx context.Context, workspaceID int64) (store.Control, error) {
	c, err := getControl(ctx, s.read, workspaceID)
	return c, wrap("get control", err)
}

// PutControl replaces the control record; UpdatedAt is now.
func (s *Store) PutControl(ctx context.Context, c store.Control) (store.Control, error) {
	var out store.Control
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := workspaceExists(ctx, tx, c.WorkspaceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO controls (workspace_id, is_paused, pause_reason, paused_until, updated_at, updated_by)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id) DO UPDATE SET
				is_paused = excluded.is_paused, pause_reason = excluded.pause_reason,
				paused_until = excluded.paused_until, updated_at = excluded.updated_at,
				updated_by = excluded.updated_by`,
			c.WorkspaceID, c.IsPaused, c.PauseReason, msOrNil(c.PausedUntil), ms(s.now()), c.UpdatedBy)
		if err != nil {
			return err
		}
		out, err = getControl(ctx, tx, c.WorkspaceID)
		return err
	})
	return out, wrap("put control", err)
}
