package store

import (
	"context"
	"time"
)

// ReplyCooldown is how long an address gets no second automated reply.
const ReplyCooldown = 60 * time.Minute

// ClaimReplyCooldown decides whether the event may send an automated
// reply to address at at: yes unless another event decided one to the
// same address (in any case) of the workspace within ReplyCooldown. A yes
// is recorded at once, in its own transaction, so that concurrent events
// — on other workers or nodes — see it: of two events deciding at once,
// one gets the reply. The same event asking again (re-processed after a
// crash) gets its yes again.
func (s *SQL) ClaimReplyCooldown(ctx context.Context, workspaceID int64, address, eventID string, at time.Time) (bool, error) {
	if !ValidText(address) || address == "" {
		return false, nil
	}
	var got string
	err := s.d.Write(ctx, func(q Querier) error {
		return q.QueryRow(ctx, `
			INSERT INTO reply_cooldowns (workspace_id, address, event_id, decided_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id, address) DO UPDATE SET event_id = excluded.event_id, decided_at = excluded.decided_at
			WHERE reply_cooldowns.event_id = excluded.event_id OR reply_cooldowns.decided_at <= $5
			RETURNING event_id`,
			workspaceID, lower(address), eventID, at, at.Add(-ReplyCooldown)).Scan(&got)
	})
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, wrap("claim a reply cooldown", err)
}
