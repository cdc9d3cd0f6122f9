package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/store"
)

func getControl(ctx context.Context, q querier, workspaceID int64) (store.Control, error) {
	var (
		c             store.Control
		wsCreated     time.Time
		updated       *time.Time
		paused        *bool
		controlExists bool
	)
	// The LEFT JOIN answers both "does the workspace exist" and "has it ever
	// written a control" in one read.
	err := q.QueryRow(ctx, `
		SELECT w.created_at, c.workspace_id IS NOT NULL, c.is_paused, c.pause_reason, c.paused_until,
		       c.updated_at, c.updated_by
		FROM workspaces w LEFT JOIN controls c ON c.workspace_id = w.id
		WHERE w.id = $1`, workspaceID).Scan(&wsCreated, &controlExists, &paused, &c.PauseReason,
		&c.PausedUntil, &updated, &c.UpdatedBy)
	if err != nil {
		return store.Control{}, notFound(err)
	}
	c.WorkspaceID = workspaceID
	if !controlExists {
		c.UpdatedAt = wsCreated.UTC()
		return c, nil
	}
	c.IsPaused = *paused
	c.PausedUntil = utcPtr(c.PausedUntil)
	c.UpdatedAt = updated.UTC()
	return c, nil
}

// GetControl returns the workspace's control record; one never written
// reads as not paused, updated when the workspace was created.
func (s *Store) GetControl(ctx context.Context, workspaceID int64) (store.Control, error) {
	c, err := getControl(ctx, s.pool, workspaceID)
	return c, wrap("get control", err)
}

// PutControl replaces the control record; UpdatedAt is now.
func (s *Store) PutControl(ctx context.Context, c store.Control) (store.Control, error) {
	var out store.Control
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO controls (workspace_id, is_paused, pause_reason, paused_until, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (workspace_id) DO UPDATE SET
				is_paused = excluded.is_paused, pause_reason = excluded.pause_reason,
				paused_until = excluded.paused_until, updated_at = excluded.updated_at,
				updated_by = excluded.updated_by`,
			c.WorkspaceID, c.IsPaused, c.PauseReason, tsPtr(c.PausedUntil), s.now(), c.UpdatedBy)
		if foreignKeyViolation(err) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = getControl(ctx, tx, c.WorkspaceID)
		return err
	})
	return out, wrap("put control", err)
}
