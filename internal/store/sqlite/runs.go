package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// runColumns are read with the run's event status (LEFT JOIN events e):
// an event purged before its runs reads as "".
const runColumns = `r.id, r.workspace_id, r.event_id, r.rule_id, r.rule_name, r.conversation_id, r.contact_id,
	r.matched, r.executed, r.status, r.result, r.created_at, r.settled_at, r.event_type, r.event_source,
	coalesce(e.status, ''), r.channel_source`

func scanRun(row scanner) (store.Run, error) {
	var (
		r                              store.Run
		conversation, contact, channel sql.NullString
		result                         string
		created                        int64
		settled                        sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.EventID, &r.RuleID, &r.RuleName, &conversation, &contact,
		&r.Matched, &r.Executed, &r.Status, &result, &created, &settled, &r.EventType, &r.EventSource,
		&r.EventStatus, &channel)
	if err != nil {
		return store.Run{}, notFound(err)
	}
	r.ConversationID, r.ContactID, r.ChannelSource = strPtr(conversation), strPtr(contact), strPtr(channel)
	r.Result = json.RawMessage(result)
	r.CreatedAt, r.SettledAt = fromMS(created), timePtr(settled)
	return r, nil
}

// RunRuleIDs returns the rules that already have a run for the event.
func (s *Store) RunRuleIDs(ctx context.Context, workspaceID int64, eventID string) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT rule_id FROM runs WHERE workspace_id = ? AND event_id = ? ORDER BY rule_id`,
		workspaceID, strings.ToLower(eventID))
	if err != nil {
		return nil, wrap("read an event's runs", err)
	}
	ids, err := collect(rows, scanID)
	return ids, wrap("read an event's runs", err)
}

// GetRun returns a run of the workspace.
func (s *Store) GetRun(ctx context.Context, workspaceID int64, id string) (store.Run, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `
		SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id
		WHERE r.workspace_id = ? AND r.id = ?`, workspaceID, strings.ToLower(id)))
	return r, wrap("get run", err)
}

// ListRuns returns a page of the workspace's runs matching f, and how many
// match in all.
func (s *Store) ListRuns(ctx context.Context, workspaceID int64, f store.RunFilter, q store.ListQuery) ([]store.Run, int, error) {
	l, err := listOrder(q, "r", "created_at", "id")
	if err != nil {
		return nil, 0, wrap("list runs", err)
	}
	where := ` FROM runs r WHERE r.workspace_id = ?`
	args := []any{workspaceID}
	if f.RuleID != 0 {
		where += ` AND r.rule_id = ?`
		args = append(args, f.RuleID)
	}
	if f.EventID != "" {
		where += ` AND r.event_id = ?`
		args = append(args, strings.ToLower(f.EventID))
	}
	if f.Matched != nil {
		where += ` AND r.matched = ?`
		args = append(args, *f.Matched)
	}
	if f.Executed != nil {
		where += ` AND r.executed = ?`
		args = append(args, *f.Executed)
	}
	if f.Status != "" {
		where += ` AND r.status = ?`
		args = append(args, f.Status)
	}
	var (
		out   []store.Run
		total int
	)
	err = s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
			return err
		}
		// The join comes after the page is chosen, so it reads one event
		// per returned run.
		page := strings.Replace(where, ` FROM runs r`, ` FROM runs r LEFT JOIN events e ON e.id = r.event_id`, 1)
		rows, err := tx.QueryContext(ctx, `SELECT `+runColumns+page+l.keyset+l.order+` LIMIT ? OFFSET ?`,
			append(append(append([]any{}, args...), l.args...), l.limit, l.offset)...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanRun)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list runs", err)
	}
	return out, total, nil
}

// Cooldowns returns when each of ruleIDs last matched key.
func (s *Store) Cooldowns(ctx context.Context, workspaceID int64, key string, ruleIDs []int64) ([]store.Cooldown, error) {
	if len(ruleIDs) == 0 {
		return []store.Cooldown{}, nil
	}
	ids, err := json.Marshal(ruleIDs)
	if err != nil {
		return nil, wrap("read cooldowns", err)
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT rule_id, key, matched_at FROM rule_cooldowns
		WHERE rule_id IN (SELECT value FROM json_each(?)) AND key = ? AND workspace_id = ?
		ORDER BY rule_id`, string(ids), key, workspaceID)
	if err != nil {
		return nil, wrap("read cooldowns", err)
	}
	out, err := collect(rows, func(r scanner) (store.Cooldown, error) {
		var (
			c  store.Cooldown
			at int64
		)
		err := r.Scan(&c.RuleID, &c.Key, &at)
		c.MatchedAt = fromMS(at)
		return c, err
	})
	return out, wrap("read cooldowns", err)
}

// DeliveryOrigin returns the rule chain and hop count of an event caused
// by the delivery: the causing event's, extended by the delivery's rule.
func (s *Store) DeliveryOrigin(ctx context.Context, workspaceID int64, deliveryID string) ([]int64, int, error) {
	id, ok := uuidText(deliveryID)
	if !ok {
		return nil, 0, wrap("trace a delivery", fmt.Errorf("delivery %q: %w", deliveryID, store.ErrNotFound))
	}
	var (
		ruleID int64
		hops   int
		chain  sql.NullString
	)
	err := s.read.QueryRowContext(ctx, `
		SELECT d.rule_id, coalesce(e.hops, 0), e.caused_by_rules
		FROM deliveries d LEFT JOIN events e ON e.id = d.event_id
		WHERE d.workspace_id = ? AND d.id = ?`, workspaceID, id).Scan(&ruleID, &hops, &chain)
	if err != nil {
		return nil, 0, wrap("trace a delivery", notFound(err))
	}
	var rules []int64
	if chain.Valid {
		if err := json.Unmarshal([]byte(chain.String), &rules); err != nil {
			return nil, 0, wrap("trace a delivery", err)
		}
	}
	return append(rules, ruleID), hops + 1, nil
}

// GetConversation returns what the engine has learned of a conversation.
func (s *Store) GetConversation(ctx context.Context, workspaceID int64, id string) (store.Conversation, error) {
	var (
		c                      = store.Conversation{WorkspaceID: workspaceID}
		status, tags           sql.NullString
		assignee, priority     sql.NullString
		lastCustomer, lastTeam sql.NullInt64
		updated                int64
	)
	err := s.read.QueryRowContext(ctx, `
		SELECT id, status, assignee_id, tags, priority, last_customer_message_at, last_team_response_at, updated_at
		FROM conversations WHERE workspace_id = ? AND id = ?`, workspaceID, id).
		Scan(&c.ID, &status, &assignee, &tags, &priority, &lastCustomer, &lastTeam, &updated)
	if err != nil {
		return store.Conversation{}, wrap("get conversation", notFound(err))
	}
	c.Status = status.String
	c.AssigneeID, c.Priority = strPtr(assignee), strPtr(priority)
	c.LastCustomerMessageAt, c.LastTeamResponseAt = timePtr(lastCustomer), timePtr(lastTeam)
	c.UpdatedAt = fromMS(updated)
	if tags.Valid {
		if err := json.Unmarshal([]byte(tags.String), &c.Tags); err != nil {
			return store.Conversation{}, wrap("get conversation", fmt.Errorf("decode tags: %w", err))
		}
	}
	return c, nil
}

func scanID(r scanner) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}

// workspaceExists is ErrNotFound for a workspace that does not exist.
func workspaceExists(ctx context.Context, q querier, id int64) error {
	var ok bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = ?)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}
