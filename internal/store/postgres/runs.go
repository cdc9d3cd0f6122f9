package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// runColumns are read with the run's event status (LEFT JOIN events e):
// an event purged before its runs reads as "".
const runColumns = `r.id, r.workspace_id, r.event_id, r.rule_id, r.rule_name, r.conversation_id, r.contact_id,
	r.matched, r.executed, r.status, r.result, r.created_at, r.settled_at, r.event_type, r.event_source,
	coalesce(e.status, ''), r.channel_source`

func scanRun(row scanner) (store.Run, error) {
	var (
		r      store.Run
		result string
	)
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.EventID, &r.RuleID, &r.RuleName, &r.ConversationID, &r.ContactID,
		&r.Matched, &r.Executed, &r.Status, &result, &r.CreatedAt, &r.SettledAt, &r.EventType, &r.EventSource,
		&r.EventStatus, &r.ChannelSource)
	if err != nil {
		return store.Run{}, notFound(err)
	}
	r.Result = json.RawMessage(result)
	r.CreatedAt, r.SettledAt = r.CreatedAt.UTC(), utcPtr(r.SettledAt)
	return r, nil
}

// RunRuleIDs returns the rules that already have a run for the event.
func (s *Store) RunRuleIDs(ctx context.Context, workspaceID int64, eventID string) ([]int64, error) {
	id, ok := parseID(eventID)
	if !ok {
		return []int64{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT rule_id FROM runs WHERE workspace_id = $1 AND event_id = $2 ORDER BY rule_id`, workspaceID, id)
	if err != nil {
		return nil, wrap("read an event's runs", err)
	}
	ids, err := collect(rows, scanID)
	return ids, wrap("read an event's runs", err)
}

// GetRun returns a run of the workspace.
func (s *Store) GetRun(ctx context.Context, workspaceID int64, id string) (store.Run, error) {
	uid, ok := parseID(id)
	if !ok {
		return store.Run{}, wrap("get run", store.ErrNotFound)
	}
	r, err := scanRun(s.pool.QueryRow(ctx, `
		SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id
		WHERE r.workspace_id = $1 AND r.id = $2`, workspaceID, uid))
	return r, wrap("get run", err)
}

// ListRuns returns a page of the workspace's runs matching f, and how many
// match in all.
func (s *Store) ListRuns(ctx context.Context, workspaceID int64, f store.RunFilter, q store.ListQuery) ([]store.Run, int, error) {
	var a args
	where := ` WHERE r.workspace_id = ` + a.add(workspaceID)
	if f.RuleID != 0 {
		where += ` AND r.rule_id = ` + a.add(f.RuleID)
	}
	if f.EventID != "" {
		id, ok := parseID(f.EventID)
		if !ok {
			return []store.Run{}, 0, nil // no run has that event
		}
		where += ` AND r.event_id = ` + a.add(id)
	}
	if f.Matched != nil {
		where += ` AND r.matched = ` + a.add(*f.Matched)
	}
	if f.Executed != nil {
		where += ` AND r.executed = ` + a.add(*f.Executed)
	}
	if f.Status != "" {
		where += ` AND r.status = ` + a.add(f.Status)
	}
	countArgs := len(a)
	page, err := listOrder(q, "r", &a, "created_at", "id")
	if err != nil {
		return nil, 0, wrap("list runs", err)
	}
	var (
		out   []store.Run
		total int
	)
	err = s.inReadTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT count(*) FROM runs r`+where, a[:countArgs]...)
		b.Queue(`SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id`+where+page, a...)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if err := br.QueryRow().Scan(&total); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if out, err = collect(rows, scanRun); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return nil, 0, wrap("list runs", err)
	}
	return out, total, nil
}

// Cooldowns returns when each of ruleIDs last matched key.
func (s *Store) Cooldowns(ctx context.Context, workspaceID int64, key string, ruleIDs []int64) ([]store.Cooldown, error) {
	if len(ruleIDs) == 0 || !store.ValidText(key) {
		return []store.Cooldown{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT rule_id, key, matched_at FROM rule_cooldowns
		WHERE rule_id = ANY($1) AND key = $2 AND workspace_id = $3
		ORDER BY rule_id`, ruleIDs, key, workspaceID)
	if err != nil {
		return nil, wrap("read cooldowns", err)
	}
	out, err := collect(rows, func(r scanner) (store.Cooldown, error) {
		var c store.Cooldown
		err := r.Scan(&c.RuleID, &c.Key, &c.MatchedAt)
		c.MatchedAt = c.MatchedAt.UTC()
		return c, err
	})
	return out, wrap("read cooldowns", err)
}

// DeliveryOrigin returns the rule chain and hop count of an event caused
// by the delivery: the causing event's, extended by the delivery's rule.
func (s *Store) DeliveryOrigin(ctx context.Context, workspaceID int64, deliveryID string) ([]int64, int, error) {
	id, ok := parseID(deliveryID)
	if !ok {
		return nil, 0, wrap("trace a delivery", fmt.Errorf("delivery %q: %w", deliveryID, store.ErrNotFound))
	}
	var (
		ruleID int64
		hops   int
		chain  []int64
	)
	err := s.pool.QueryRow(ctx, `
		SELECT d.rule_id, coalesce(e.hops, 0), e.caused_by_rules
		FROM deliveries d LEFT JOIN events e ON e.id = d.event_id
		WHERE d.workspace_id = $1 AND d.id = $2`, workspaceID, id).Scan(&ruleID, &hops, &chain)
	if err != nil {
		return nil, 0, wrap("trace a delivery", notFound(err))
	}
	return append(chain, ruleID), hops + 1, nil
}

// GetConversation returns what the engine has learned of a conversation.
func (s *Store) GetConversation(ctx context.Context, workspaceID int64, id string) (store.Conversation, error) {
	if !store.ValidText(id) {
		return store.Conversation{}, wrap("get conversation", store.ErrNotFound)
	}
	var (
		c            = store.Conversation{WorkspaceID: workspaceID}
		status, tags *string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT id, status, assignee_id, tags, priority, last_customer_message_at, last_team_response_at, updated_at
		FROM conversations WHERE workspace_id = $1 AND id = $2`, workspaceID, id).
		Scan(&c.ID, &status, &c.AssigneeID, &tags, &c.Priority, &c.LastCustomerMessageAt, &c.LastTeamResponseAt, &c.UpdatedAt)
	if err != nil {
		return store.Conversation{}, wrap("get conversation", notFound(err))
	}
	if status != nil {
		c.Status = *status
	}
	c.LastCustomerMessageAt, c.LastTeamResponseAt = utcPtr(c.LastCustomerMessageAt), utcPtr(c.LastTeamResponseAt)
	c.UpdatedAt = c.UpdatedAt.UTC()
	if tags != nil {
		if err := json.Unmarshal([]byte(*tags), &c.Tags); err != nil {
			return store.Conversation{}, wrap("get conversation", fmt.Errorf("decode tags: %w", err))
		}
	}
	return c, nil
}
