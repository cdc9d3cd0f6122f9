package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

var _ store.Events = (*Store)(nil)

// idempotencyTTL is how long an Idempotency-Key is honoured (docs/concepts.md#events).
const idempotencyTTL = 24 * time.Hour

const eventColumns = store.EventColumns

// eventColumnsOf is eventColumns qualified by a table alias.
func eventColumnsOf(alias string) string { return store.ColumnsOf(eventColumns, alias) }

func scanEvent(row scanner, extra ...any) (store.Event, error) {
	var (
		e                                        store.Event
		conversation, contact, channel, causedBy sql.NullString
		payload                                  []byte
		available, occurred, created             int64
		processed                                sql.NullInt64
		errText                                  sql.NullString
		targetRule                               sql.NullInt64
	)
	dest := []any{&e.ID, &e.WorkspaceID, &e.EventType, &conversation, &contact, &payload, &e.PayloadHash,
		&e.Source, &channel, &causedBy, &e.Status, &e.Attempts, &available, &occurred, &created,
		&processed, &errText, &e.OrderKey, &targetRule}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return store.Event{}, notFound(err)
	}
	e.ConversationID, e.ContactID, e.ChannelSource, e.CausedBy =
		strPtr(conversation), strPtr(contact), strPtr(channel), strPtr(causedBy)
	var err error
	if e.Payload, err = store.StoredPayload(e.ID, payload); err != nil {
		return store.Event{}, err
	}
	e.AvailableAt, e.OccurredAt, e.CreatedAt = fromMS(available), fromMS(occurred), fromMS(created)
	e.ProcessedAt, e.Error, e.TargetRuleID = timePtr(processed), strPtr(errText), int64Ptr(targetRule)
	return e, nil
}

// The ingestion statements (see multiRow).
var (
	// New events go straight into events; those a hand-off claims are
	// written processing, with their lease (see IngestAndClaim).
	insertEvents = multiRow{prefix: `INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id,
		payload, payload_hash, source, channel_source, caused_by, status, available_at, occurred_at, created_at,
		order_key, target_rule_id, attempts, lease_owner, lease_fence, lease_expires_at, processed_at) VALUES `, width: 21}

	// A key older than the TTL is dead: the next request that uses it
	// takes the row over.
	upsertKeys = multiRow{
		prefix: `INSERT INTO idempotency_keys (workspace_id, key, request_hash, event_id, created_at) VALUES `,
		width:  5,
		suffix: ` ON CONFLICT (workspace_id, key) DO UPDATE SET request_hash = excluded.request_hash,
			event_id = excluded.event_id, created_at = excluded.created_at`,
	}

	// liveKeysQuery reads the keys used since a cutoff, with their events.
	liveKeysQuery = multiRow{
		prefix: `WITH wanted (workspace_id, key, cutoff) AS (VALUES `,
		width:  3,
		suffix: `)
			SELECT ` + eventColumnsOf("e") + `, k.key, k.request_hash
			FROM wanted w
			JOIN idempotency_keys k ON k.workspace_id = w.workspace_id AND k.key = w.key
			JOIN events e ON e.id = k.event_id
			WHERE k.created_at > w.cutoff`,
	}

	// busyKeysQuery returns the order keys, among those given, that have
	// an unfinished event (through events_unfinished, whose condition the
	// query repeats so that SQLite uses it).
	busyKeysQuery = multiRow{
		prefix: `WITH k (workspace_id, order_key) AS (VALUES `,
		width:  2,
		suffix: `)
			SELECT k.workspace_id, k.order_key FROM k
			WHERE EXISTS (SELECT 1 FROM events e
				WHERE e.workspace_id = k.workspace_id AND e.order_key = k.order_key
				  AND e.status IN ('pending', 'processing'))`,
	}
)

// getEventQuery reads one event of a workspace (?1) by id (?2).
const getEventQuery = `SELECT ` + eventColumns + ` FROM events WHERE workspace_id = ?1 AND id = ?2`

// IngestEvents stores the groups in one transaction (IngestAndClaim
// without a hand-off).
func (s *Store) IngestEvents(ctx context.Context, groups []*store.IngestGroup) error {
	_, err := s.IngestAndClaim(ctx, groups, store.HandOff{})
	return err
}

// IngestAndClaim stores the groups in one transaction: their idempotency
// keys are looked up in one query, then the new events and keys are
// written with multi-row INSERTs. The events h may claim are written
// processing under their lease, and the settled ones finished with what
// their outcomes write: the single writer sees every commit before it,
// so the check that their order keys have nothing unfinished is exact,
// as it is for a claim.
func (s *Store) IngestAndClaim(ctx context.Context, groups []*store.IngestGroup, h store.HandOff) ([]store.Claim, error) {
	now := s.now()
	for _, g := range groups {
		g.Results, g.Err, g.Index = nil, nil, 0
		store.CheckGroup(g)
	}
	s.prepare(ctx, insertEvents, upsertKeys, liveKeysQuery, busyKeysQuery, upsertConversations)
	var claims []store.Claim
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		found, err := s.liveKeys(ctx, tx, groups, now)
		if err != nil {
			return err
		}
		plan := store.PlanIngest(groups, found, now)
		if cands := plan.Candidates(h); len(cands) > 0 {
			busy, err := s.busyKeys(ctx, tx, &plan, cands)
			if err != nil {
				return err
			}
			claims = plan.Claim(h, cands, busy, now)
		}
		args := make([]any, 0, len(plan.Events)*insertEvents.width)
		for i := range plan.Events {
			e := &plan.Events[i]
			var owner, fence, expires any
			if len(plan.Fences) > 0 && plan.Fences[i] != 0 {
				owner, fence, expires = plan.Owner, plan.Fences[i], ms(plan.LeaseExpiresAt)
			}
			args = append(args, e.ID, e.WorkspaceID, e.EventType, e.ConversationID, e.ContactID, string(e.Payload),
				e.PayloadHash, e.Source, e.ChannelSource, e.CausedBy, e.Status, ms(e.AvailableAt), ms(e.OccurredAt),
				ms(e.CreatedAt), e.OrderKey, e.TargetRuleID, e.Attempts, owner, fence, expires, msOrNil(e.ProcessedAt))
		}
		if err := s.execRows(ctx, tx, insertEvents, args); err != nil {
			return err
		}
		args = args[:0]
		for _, k := range plan.Keys {
			args = append(args, k.WorkspaceID, k.Key, k.RequestHash, k.EventID, ms(now))
		}
		if err := s.execRows(ctx, tx, upsertKeys, args); err != nil {
			return err
		}
		if settled := plan.SettledPositions(); len(settled) > 0 {
			return s.writeOutcomes(ctx, tx, plan.SettleRows(settled, now))
		}
		return nil
	})
	if err != nil {
		for _, g := range groups {
			g.Results, g.Err, g.Index = nil, nil, 0
		}
		return nil, wrap("ingest events", err)
	}
	return claims, nil
}

// busyKeys returns which of the candidates' order keys have an unfinished
// event.
func (s *Store) busyKeys(ctx context.Context, tx *sql.Tx, plan *store.IngestPlan, cands []int) (map[store.OrderRef]bool, error) {
	args := make([]any, 0, len(cands)*2)
	for _, i := range cands {
		args = append(args, plan.Events[i].WorkspaceID, plan.Events[i].OrderKey)
	}
	busy := map[store.OrderRef]bool{}
	err := s.queryRows(ctx, tx, busyKeysQuery, args, func(r *sql.Rows) error {
		var ref store.OrderRef
		if err := r.Scan(&ref.WorkspaceID, &ref.OrderKey); err != nil {
			return err
		}
		busy[ref] = true
		return nil
	})
	return busy, err
}

// liveKeys returns the idempotency keys of the groups that were used in
// the last 24 hours, with their events.
func (s *Store) liveKeys(ctx context.Context, tx *sql.Tx, groups []*store.IngestGroup, now time.Time) (map[store.IngestKey]store.IngestHit, error) {
	var args []any
	seen := map[store.IngestKey]bool{}
	cutoff := ms(now.Add(-idempotencyTTL))
	for _, g := range groups {
		if g.Err != nil {
			continue
		}
		for i := range g.Events {
			ne := &g.Events[i]
			ref := store.IngestKey{WorkspaceID: ne.WorkspaceID, Key: ne.IdempotencyKey}
			if ne.IdempotencyKey != "" && !seen[ref] {
				seen[ref] = true
				args = append(args, ref.WorkspaceID, ref.Key, cutoff)
			}
		}
	}
	found := map[store.IngestKey]store.IngestHit{}
	err := s.queryRows(ctx, tx, liveKeysQuery, args, func(r *sql.Rows) error {
		var (
			key string
			hit store.IngestHit
			err error
		)
		if hit.Event, err = scanEvent(r, &key, &hit.RequestHash); err != nil {
			return err
		}
		found[store.IngestKey{WorkspaceID: hit.Event.WorkspaceID, Key: key}] = hit
		return nil
	})
	return found, err
}

// GetEvent returns an event of the workspace.
func (s *Store) GetEvent(ctx context.Context, workspaceID int64, id string) (store.Event, error) {
	e, err := scanEvent(s.read.QueryRowContext(ctx, getEventQuery, workspaceID, strings.ToLower(id)))
	return e, wrap("get event", err)
}

// ListEvents returns a page of the workspace's events matching f, and how
// many match in all.
func (s *Store) ListEvents(ctx context.Context, workspaceID int64, f store.EventFilter, q store.ListQuery) ([]store.Event, int, error) {
	l, err := listOrder(q, "e", "created_at", "id", "processed_at", "attempts")
	if err != nil {
		return nil, 0, wrap("list events", err)
	}
	where := ` FROM events e WHERE e.workspace_id = ?`
	args := []any{workspaceID}
	for _, c := range []struct{ col, v string }{
		{"status", f.Status}, {"event_type", f.EventType}, {"source", f.Source},
		{"payload_hash", f.PayloadHash}, {"conversation_id", f.ConversationID},
	} {
		if c.v != "" {
			where += ` AND e.` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.RuleID != 0 {
		// The events whose decision record names the rule (store.EncodeDecisions).
		where += ` AND e.decided_rules LIKE ?`
		args = append(args, "%,"+strconv.FormatInt(f.RuleID, 10)+",%")
	}
	var (
		out   []store.Event
		total int
	)
	err = s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
			return err
		}
		pageArgs := append(append(append([]any{}, args...), l.args...), l.limit, l.offset)
		rows, err := tx.QueryContext(ctx, `SELECT `+eventColumnsOf("e")+where+l.keyset+l.order+` LIMIT ? OFFSET ?`,
			pageArgs...)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r scanner) (store.Event, error) { return scanEvent(r) })
		return err
	})
	if err != nil {
		return nil, 0, wrap("list events", err)
	}
	return out, total, nil
}

// RetryEvent puts a failed event back on the queue with a fresh attempt
// budget; any other status is store.ErrConflict (with the event).
func (s *Store) RetryEvent(ctx context.Context, workspaceID int64, id string) (store.Event, error) {
	var e store.Event
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanEvent(tx.QueryRowContext(ctx, `
			UPDATE events SET status = 'pending', attempts = 0, available_at = ?, processed_at = NULL, error = NULL
			WHERE workspace_id = ? AND id = ? AND status = 'failed'
			RETURNING `+eventColumns, ms(s.now()), workspaceID, strings.ToLower(id)))
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Not failed: read it for the conflict.
		if e, err = scanEvent(tx.QueryRowContext(ctx, getEventQuery, workspaceID, strings.ToLower(id))); err != nil {
			return err
		}
		return fmt.Errorf("event %s is %s, not failed: %w", e.ID, e.Status, store.ErrConflict)
	})
	return e, wrap("retry event", err)
}

// nextDueQuery reads the queue's earliest available_at. The IN term lets
// the planner use the partial events_queue index (SQLite only uses a
// partial index whose condition appears in the query).
const nextDueQuery = `
	SELECT min(available_at) FROM events
	WHERE status IN ('pending', 'processing') AND status = 'pending'`

// NextEventDue returns the earliest available_at of a pending event.
func (s *Store) NextEventDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.read.QueryRowContext(ctx, nextDueQuery).Scan(&at)
	if err != nil {
		return time.Time{}, false, wrap("find the next event due", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(at.Int64), true, nil
}
