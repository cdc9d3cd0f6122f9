package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
		payload                                  string
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
	e.Payload = json.RawMessage(payload)
	e.AvailableAt, e.OccurredAt, e.CreatedAt = fromMS(available), fromMS(occurred), fromMS(created)
	e.ProcessedAt, e.Error, e.TargetRuleID = timePtr(processed), strPtr(errText), int64Ptr(targetRule)
	return e, nil
}

// The ingestion statements (see multiRow).
var (
	// New events go to the inbox (see IngestEvents).
	insertEvents = multiRow{prefix: `INSERT INTO event_inbox (id, workspace_id, event_type, conversation_id, contact_id,
		payload, payload_hash, source, channel_source, caused_by, status, available_at, occurred_at, created_at,
		order_key, target_rule_id) VALUES `, width: 16}

	// A key older than the TTL is dead: the next request that uses it
	// takes the row over.
	upsertKeys = multiRow{
		prefix: `INSERT INTO idempotency_keys (workspace_id, key, request_hash, event_id, created_at) VALUES `,
		width:  5,
		suffix: ` ON CONFLICT (workspace_id, key) DO UPDATE SET request_hash = excluded.request_hash,
			event_id = excluded.event_id, created_at = excluded.created_at`,
	}

	// liveKeysQuery reads the keys used since a cutoff, with their events,
	// which are in events or, not claimed yet, in the inbox. The inbox has
	// no index on id: CROSS JOIN keeps the (rare) live keys in the outer
	// loop, so that a commit without one never reads the inbox.
	liveKeysQuery = multiRow{
		prefix: `WITH wanted (workspace_id, key, cutoff) AS (VALUES `,
		width:  3,
		suffix: `), hits AS (
				SELECT k.Key, k.request_hash, k.event_id
				FROM wanted w
				JOIN idempotency_keys k ON k.workspace_id = w.workspace_id AND k.Key = w.key
				WHERE k.created_at > w.cutoff)
			SELECT ` + eventColumnsOf("e") + `, h.key, h.request_hash
			FROM hits h JOIN events e ON e.id = h.event_id
			UNION ALL
			SELECT ` + eventColumnsOf("i") + `, h.key, h.request_hash
			FROM hits h CROSS JOIN event_inbox i WHERE i.id = h.event_id`,
	}

	// promoteInbox moves the inbox into events, in arrival order, and
	// clearInbox empties it (in the same transaction); see promote.
	promoteInbox = single(`INSERT INTO events (` + eventColumns + `)
		SELECT ` + eventColumns + ` FROM event_inbox ORDER BY seq`)
	clearInbox = single(`DELETE FROM event_inbox`)
)

// getEventQuery reads one event of a workspace (?1) by id (?2) wherever it
// is: in events, else still in the inbox.
const getEventQuery = `
	SELECT ` + eventColumns + ` FROM events WHERE workspace_id = ?1 AND id = ?2
	UNION ALL
	SELECT ` + eventColumns + ` FROM event_inbox WHERE workspace_id = ?1 AND id = ?2
	LIMIT 1`

// promote moves every event of the inbox into events, inside tx (a write
// transaction). It runs at the start of every claim, which holds the
// single writer anyway, so the claim sees every ingested event; the
// events keep the created_at and id they were given at ingestion, so the
// order of an order key's events does not depend on when they move. An
// empty inbox writes nothing (the claim's transaction stays read-only
// when nothing is due).
func (s *Store) promote(ctx context.Context, tx *sql.Tx) error {
	res, err := s.execSingle(ctx, tx, promoteInbox)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	_, err = s.execSingle(ctx, tx, clearInbox)
	return err
}

// promotePending promotes the inbox for a read that must see every event
// (ListEvents): a reader checks whether the inbox holds anything, and only
// then is the writer taken.
func (s *Store) promotePending(ctx context.Context) error {
	var pending bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM event_inbox)`).Scan(&pending); err != nil {
		return err
	}
	if !pending {
		return nil
	}
	s.prepare(ctx, promoteInbox, clearInbox)
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.promote(ctx, tx) })
}

// execSingle runs a single (not multi-row) statement in tx, prepared when
// prepare has prepared it.
func (s *Store) execSingle(ctx context.Context, tx *sql.Tx, m multiRow, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, tx, stmtKey{m, 0}); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, m.prefix, args...)
}

// IngestEvents stores the groups in one transaction: their idempotency
// keys are looked up in one query, then the new events and keys are
// written with multi-row INSERTs.
//
// New events are appended to event_inbox, not inserted into events
// (migration 0003): the 202 needs only the durable append, and the inbox
// has no secondary index, so a commit writes a few sequential pages
// instead of a page per event in each of events' random-key indexes. The
// events' indexes are maintained in bulk by the next claim, which promotes
// the inbox (promote) in its own transaction. Idempotency keys point at
// the event's id, which stays the same when it moves; a duplicate finds
// its event in either table.
func (s *Store) IngestEvents(ctx context.Context, groups []*store.IngestGroup) error {
	now := s.now()
	for _, g := range groups {
		g.Results, g.Err, g.Index = nil, nil, 0
		store.CheckGroup(g)
	}
	s.prepare(ctx, insertEvents, upsertKeys, liveKeysQuery)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		found, err := s.liveKeys(ctx, tx, groups, now)
		if err != nil {
			return err
		}
		plan := store.PlanIngest(groups, found, now)
		args := make([]any, 0, len(plan.Events)*16)
		for i := range plan.Events {
			e := &plan.Events[i]
			args = append(args, e.ID, e.WorkspaceID, e.EventType, e.ConversationID, e.ContactID, string(e.Payload),
				e.PayloadHash, e.Source, e.ChannelSource, e.CausedBy, e.Status, ms(e.AvailableAt), ms(e.OccurredAt),
				ms(e.CreatedAt), e.OrderKey, e.TargetRuleID)
		}
		if err := s.execRows(ctx, tx, insertEvents, args); err != nil {
			return err
		}
		args = args[:0]
		for _, k := range plan.Keys {
			args = append(args, k.WorkspaceID, k.Key, k.RequestHash, k.EventID, ms(now))
		}
		return s.execRows(ctx, tx, upsertKeys, args)
	})
	if err != nil {
		for _, g := range groups {
			g.Results, g.Err, g.Index = nil, nil, 0
		}
		return wrap("ingest events", err)
	}
	return nil
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

// GetEvent returns an event of the workspace, from events or, not claimed
// yet, from the inbox (one statement: one snapshot, so an event promoted
// meanwhile is not missed).
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
	// A listing must see every event stored before it: the inbox's
	// events are moved into events (and their indexes) first.
	if err := s.promotePending(ctx); err != nil {
		return nil, 0, wrap("list events", err)
	}
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
		// Not failed: it may be anywhere, the inbox included.
		if e, err = scanEvent(tx.QueryRowContext(ctx, getEventQuery, workspaceID, strings.ToLower(id))); err != nil {
			return err
		}
		return fmt.Errorf("event %s is %s, not failed: %w", e.ID, e.Status, store.ErrConflict)
	})
	return e, wrap("retry event", err)
}

// nextDueQuery reads the queue's earliest available_at, the inbox's
// events (all pending) included. The IN term lets the planner use the
// partial events_queue index (SQLite only uses a partial index whose
// condition appears in the query). Reading the inbox, which only holds
// what arrived since the last claim, spares an idle worker the writer a
// promotion would take; the claim it leads to promotes.
const nextDueQuery = `
	SELECT min(at) FROM (
		SELECT min(available_at) AS at FROM events
		WHERE status IN ('pending', 'processing') AND status = 'pending'
		UNION ALL
		SELECT min(available_at) FROM event_inbox)`

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
