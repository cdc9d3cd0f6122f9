package store

import (
	"context"
	"encoding/json"
	"time"
)

// Waiting stretches of time-based triggers. When a conversation starts
// waiting — the customer's first message after the team's last response,
// or the team's first response after the customer's last message — each
// active rule of the matching time trigger gets a wait: due when the
// stretch has lasted the rule's duration. The awaited reply, closing or
// snoozing cancels the stretch (its waits are deleted); a wait that fired
// stays, marked, until then, so that the rule fires once per stretch.
// The scheduler reads due waits through an index on due_at of the waits
// not fired yet, so a tick costs the same however many conversations wait.

// Wait kinds: who the conversation waits for.
const (
	WaitTeam   = "team"   // time.unanswered_by_team
	WaitClient = "client" // time.unanswered_by_client
)

// Wait is one rule's wait on one conversation's stretch.
type Wait struct {
	WorkspaceID    int64
	ConversationID string
	RuleID         int64
	Kind           string
	Since          time.Time // when the stretch began
	DueAt          time.Time
	// Payload is the latest known conversation, contact and message, for
	// the event the scheduler enqueues.
	Payload json.RawMessage
	Fired   bool
}

// WaitChange is what an event does to its conversation's waits: the
// stretches it ends (kinds), then those it begins (for a rule that waits
// already, the stretch in progress is kept).
type WaitChange struct {
	Cancel []string
	Start  []Wait
}

// WaitCancel is a stretch ended, in the rows FlattenOutcomes gathers.
type WaitCancel struct {
	WorkspaceID    int64
	ConversationID string
	Kind           string
}

const waitColumns = `workspace_id, conversation_id, rule_id, kind, since, due_at, payload, fired`

func scanWait(r Scanner) (Wait, error) {
	var (
		w       Wait
		payload []byte
	)
	err := r.Scan(&w.WorkspaceID, &w.ConversationID, &w.RuleID, &w.Kind, &w.Since, &w.DueAt, &payload, &w.Fired)
	w.Payload = payload
	return w, err
}

// DueWaits returns up to limit waits due at now that have not fired,
// earliest first.
func (s *SQL) DueWaits(ctx context.Context, now time.Time, limit int) ([]Wait, error) {
	out, err := queryAll(ctx, s.d.Reader(), scanWait, `SELECT `+waitColumns+` FROM waits
		WHERE NOT fired AND due_at <= $1 ORDER BY due_at LIMIT $2`, now, limit)
	return out, wrap("read due waits", err)
}

// MarkWaitsFired records that the waits' events were enqueued. A wait
// whose stretch ended meanwhile is gone and stays gone.
func (s *SQL) MarkWaitsFired(ctx context.Context, ws []Wait) error {
	err := s.d.Write(ctx, func(q Querier) error {
		for _, w := range ws {
			if _, err := q.Exec(ctx, `UPDATE waits SET fired = $1
				WHERE workspace_id = $2 AND conversation_id = $3 AND rule_id = $4 AND since = $5`,
				true, w.WorkspaceID, w.ConversationID, w.RuleID, w.Since); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("mark waits fired", err)
}

// ConversationWaits returns the waits of a conversation, for tests and
// diagnostics.
func (s *SQL) ConversationWaits(ctx context.Context, workspaceID int64, conversationID string) ([]Wait, error) {
	out, err := queryAll(ctx, s.d.Reader(), scanWait, `SELECT `+waitColumns+` FROM waits
		WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY rule_id`, workspaceID, conversationID)
	return out, wrap("read a conversation's waits", err)
}
