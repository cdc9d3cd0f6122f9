package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/switchboard-hq/switchboard/internal/store"
)

var _ store.Events = (*Store)(nil)

// idempotencyTTL is how long an Idempotency-Key is honoured (docs/concepts.md#events).
const idempotencyTTL = 24 * time.Hour

const eventColumns = store.EventColumns

// eventColumnsOf is eventColumns qualified by a table alias.
func eventColumnsOf(alias string) string { return store.ColumnsOf(eventColumns, alias) }

func scanEvent(row scanner, extra ...any) (store.Event, error) {
	var e store.Event
	dest := []any{&e.ID, &e.WorkspaceID, &e.EventType, &e.ConversationID, &e.ContactID, &e.Payload, &e.PayloadHash,
		&e.Source, &e.ChannelSource, &e.CausedBy, &e.Status, &e.Attempts, &e.AvailableAt, &e.OccurredAt, &e.CreatedAt,
		&e.ProcessedAt, &e.Error, &e.OrderKey, &e.TargetRuleID}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return store.Event{}, notFound(err)
	}
	e.AvailableAt, e.OccurredAt, e.CreatedAt = e.AvailableAt.UTC(), e.OccurredAt.UTC(), e.CreatedAt.UTC()
	e.ProcessedAt = utcPtr(e.ProcessedAt)
	return e, nil
}

// insertEvents writes any number of events in one statement: each column
// travels as one array, so the statement text (and its prepared plan)
// never changes with the batch size.
const insertEvents = `
	INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash,
		source, channel_source, caused_by, occurred_at, order_key, target_rule_id,
		status, available_at, created_at)
	SELECT u.*, 'pending', $14, $14
	FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::bigint[]) AS u`

// lockKeys takes a transaction-scoped advisory lock per idempotency key
// (by a 64-bit hash; a collision only makes two ingesters wait for each
// other), in ascending order so that two ingesters cannot deadlock. unnest
// hands the keys to the function in array order.
const lockKeys = `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`

// liveKeysQuery reads the keys used in the last 24 hours, with their
// events. It runs after lockKeys, in a statement of its own (so with a
// snapshot taken after the locks): it sees every key another transaction
// committed, and none of these keys can be committed by another until
// this transaction ends.
var liveKeysQuery = `
	SELECT ` + eventColumnsOf("e") + `, k.Key, k.request_hash
	FROM unnest($1::bigint[], $2::text[]) AS w (workspace_id, key)
	JOIN idempotency_keys k ON k.workspace_id = w.workspace_id AND k.Key = w.key
	JOIN events e ON e.id = k.event_id
	WHERE k.created_at > $3`

// A key older than the TTL is dead: the next request that uses it takes
// the row over. Under the key locks no live key can be in the way.
const upsertKeys = `
	INSERT INTO idempotency_keys (workspace_id, key, request_hash, event_id, created_at)
	SELECT u.*, $5 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::uuid[]) AS u
	ON CONFLICT (workspace_id, key) DO UPDATE SET request_hash = excluded.request_hash,
		event_id = excluded.event_id, created_at = excluded.created_at`

// insertClaiming is insertEvents for a commit that settles or hands off
// events (store.IngestPlan.Candidates): of the candidates to claim ($15),
// the first $16 whose order key has nothing unfinished, and every one of
// those to settle ($19) whose key has nothing unfinished, are written
// processing, with one attempt, a fence from event_fences and a lease for
// $17 until $18; the rest are written pending. It returns the claimed ids
// and fences. The settled ones are then finished by the same transaction
// (finishEvents): claimed first, so that events_one_processing orders them
// against every other claim of their key, as below.
//
// Two nodes may hand off an event of the same order key at once, each
// seeing nothing unfinished: events_one_processing lets one of them in,
// and ON CONFLICT DO NOTHING turns the other's row away from the claimed
// insert (after waiting for the first to commit), so that the pending
// insert, which takes every row not claimed, stores it in the queue.
// Which of two events ingested at once on two nodes comes first is
// decided by their commits, as it is for the workers' claim.
const insertClaiming = `
	WITH u AS (
		SELECT u.*, row_number() OVER () AS ord
		FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[], $13::bigint[], $15::boolean[],
			$19::boolean[])
			AS u (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash, source,
				channel_source, caused_by, occurred_at, order_key, target_rule_id, candidate, settle)
	), idle AS (
		SELECT u.id, u.ord, u.settle FROM u
		WHERE (u.candidate OR u.settle) AND NOT EXISTS (
			SELECT 1 FROM events p
			WHERE p.workspace_id = u.workspace_id AND p.order_key = u.order_key
			  AND p.status IN ('pending', 'processing'))
	), pick AS (
		SELECT id FROM idle WHERE settle
		UNION ALL
		(SELECT id FROM idle WHERE NOT settle ORDER BY ord LIMIT $16)
	), claimed AS (
		INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash,
			source, channel_source, caused_by, occurred_at, order_key, target_rule_id,
			status, available_at, created_at, attempts, lease_owner, lease_fence, lease_expires_at)
		SELECT u.id, u.workspace_id, u.event_type, u.conversation_id, u.contact_id, u.payload, u.payload_hash,
			u.source, u.channel_source, u.caused_by, u.occurred_at, u.order_key, u.target_rule_id,
			'processing', $14, $14, 1, $17, nextval('event_fences'), $18
		FROM u JOIN pick ON pick.id = u.id
		ORDER BY u.ord
		ON CONFLICT DO NOTHING
		RETURNING id, lease_fence
	), queued AS (
		INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash,
			source, channel_source, caused_by, occurred_at, order_key, target_rule_id,
			status, available_at, created_at)
		SELECT u.id, u.workspace_id, u.event_type, u.conversation_id, u.contact_id, u.payload, u.payload_hash,
			u.source, u.channel_source, u.caused_by, u.occurred_at, u.order_key, u.target_rule_id,
			'pending', $14, $14
		FROM u WHERE u.id NOT IN (SELECT id FROM claimed)
		ORDER BY u.ord
	)
	SELECT id, lease_fence FROM claimed`

// IngestEvents stores the groups in one transaction (IngestAndClaim
// without a hand-off).
func (s *Store) IngestEvents(ctx context.Context, groups []*store.IngestGroup) error {
	_, err := s.IngestAndClaim(ctx, groups, store.HandOff{})
	return err
}

// IngestAndClaim stores the groups in one transaction. Without idempotency
// keys that is a single statement; with keys, the keys are locked (so
// that another node ingesting the same key waits for this commit and then
// sees it), looked up, and the new events and keys written. A hand-off
// claims with the insert itself (insertClaiming).
func (s *Store) IngestAndClaim(ctx context.Context, groups []*store.IngestGroup, h store.HandOff) ([]store.Claim, error) {
	now := s.now()
	var refs []store.IngestKey
	seen := map[store.IngestKey]bool{}
	for _, g := range groups {
		g.Results, g.Err, g.Index = nil, nil, 0
		if store.CheckGroup(g); g.Err != nil {
			continue
		}
		for i := range g.Events {
			ne := &g.Events[i]
			ref := store.IngestKey{WorkspaceID: ne.WorkspaceID, Key: ne.IdempotencyKey}
			if ne.IdempotencyKey != "" && !seen[ref] {
				seen[ref] = true
				refs = append(refs, ref)
			}
		}
	}
	var (
		claims []store.Claim
		err    error
	)
	if len(refs) == 0 && !anySettled(groups) {
		plan := store.PlanIngest(groups, nil, now)
		if len(plan.Events) > 0 {
			claims, _, err = s.insertEvents(ctx, s.pool, &plan, h, now)
		}
	} else {
		// A transaction: the keys are locked in it (liveKeys), and the
		// settled events are finished in it.
		shard := int16(s.shard.Add(1) % store.CounterShards)
		err = s.pipelined(ctx, nil, func(conn *pgx.Conn) error {
			var found map[store.IngestKey]store.IngestHit
			if len(refs) > 0 {
				var err error
				if found, err = liveKeys(ctx, conn, refs, now); err != nil {
					return err
				}
			} else if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
				return err
			}
			// A retried transaction decides afresh.
			for _, g := range groups {
				g.Results, g.Err, g.Index = nil, nil, 0
				store.CheckGroup(g)
			}
			plan := store.PlanIngest(groups, found, now)
			b := &pgx.Batch{}
			var settled []int
			if len(plan.Candidates(h)) == 0 {
				b.Queue(insertEvents, eventArrays(plan.Events, now)...)
			} else if claims, settled, err = s.insertEvents(ctx, conn, &plan, h, now); err != nil {
				return err
			}
			if len(settled) > 0 {
				if err := queueSettled(b, &plan, settled, now, shard); err != nil {
					return err
				}
			}
			if len(plan.Keys) > 0 {
				ws, keys, hashes, ids := make([]int64, len(plan.Keys)), make([]string, len(plan.Keys)),
					make([]string, len(plan.Keys)), make([][16]byte, len(plan.Keys))
				for i, k := range plan.Keys {
					ws[i], keys[i], hashes[i], ids[i] = k.WorkspaceID, k.Key, k.RequestHash, uuid.MustParse(k.EventID)
				}
				b.Queue(upsertKeys, ws, keys, hashes, ids, now)
			}
			b.Queue("COMMIT")
			return conn.SendBatch(ctx, b).Close()
		})
	}
	if err != nil {
		for _, g := range groups {
			g.Results, g.Err, g.Index = nil, nil, 0
		}
		return nil, wrap("ingest events", err)
	}
	return claims, nil
}

// execQuerier is what a pool and a connection have in common here.
type execQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// insertEvents writes the plan's events, claiming those h may claim and
// those to settle (insertClaiming), and returns the claims in commit
// order and the positions of the events claimed to be settled.
func (s *Store) insertEvents(ctx context.Context, q execQuerier, plan *store.IngestPlan, h store.HandOff, now time.Time) ([]store.Claim, []int, error) {
	cands := plan.Candidates(h)
	args := eventArrays(plan.Events, now)
	if len(cands) == 0 {
		_, err := q.Exec(ctx, insertEvents, args...)
		return nil, nil, err
	}
	candidate, settle := make([]bool, len(plan.Events)), make([]bool, len(plan.Events))
	for _, i := range cands {
		if plan.Settles(i) {
			settle[i] = true
		} else {
			candidate[i] = true
		}
	}
	expires := ts(now.Add(h.Lease))
	rows, err := q.Query(ctx, insertClaiming, append(args, candidate, h.Limit, h.Owner, expires, settle)...)
	if err != nil {
		return nil, nil, err
	}
	fences := map[[16]byte]int64{}
	for rows.Next() {
		var (
			id    [16]byte
			fence int64
		)
		if err := rows.Scan(&id, &fence); err != nil {
			rows.Close()
			return nil, nil, err
		}
		fences[id] = fence
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var (
		claims  []store.Claim
		settled []int
	)
	for _, i := range cands {
		fence, ok := fences[uuid.MustParse(plan.Events[i].ID)]
		switch {
		case !ok:
		case settle[i]:
			settled = append(settled, i)
			setFence(plan, i, fence)
		default:
			claims = append(claims, store.ClaimedAtIngest(plan.Events[i], fence))
		}
	}
	return claims, settled, nil
}

// setFence records the fence the claim of the event at i got.
func setFence(plan *store.IngestPlan, i int, fence int64) {
	if len(plan.Fences) != len(plan.Events) {
		plan.Fences = make([]int64, len(plan.Events))
	}
	plan.Fences[i] = fence
}

// queueSettled queues, in the ingest transaction, the finish of the
// events it claimed to settle (their fence check cannot fail there) and
// the rows their outcomes write, counters and rollups to shard.
func queueSettled(b *pgx.Batch, plan *store.IngestPlan, settled []int, now time.Time, shard int16) error {
	slices.SortFunc(settled, func(x, y int) int { return strings.Compare(plan.Events[x].ID, plan.Events[y].ID) })
	n := len(settled)
	var (
		ids              = make([][16]byte, n)
		ws, fences       = make([]int64, n), make([]int64, n)
		statuses, chains = make([]string, n), make([]*string, n)
		hops             = make([]int32, n)
		decided          = make([]*string, n)
		decisions        = make([][]byte, n)
	)
	for k, i := range settled {
		plan.Settle(i, now)
		e := &plan.Events[i]
		ids[k], ws[k], fences[k], statuses[k] = uuid.MustParse(e.ID), e.WorkspaceID, plan.Fences[i], e.Status
	}
	b.Queue(finishEvents, ids, ws, fences, statuses, hops, chains, now, decided, decisions)
	rows, ok := plan.SettledRows(now)
	if !ok {
		return nil
	}
	ob, err := outcomeBatch(rows, shard)
	if err != nil {
		return err
	}
	for _, qq := range ob.QueuedQueries {
		b.Queue(qq.SQL, qq.Arguments...)
	}
	return nil
}

// anySettled reports whether a group carries an event to settle.
func anySettled(groups []*store.IngestGroup) bool {
	for _, g := range groups {
		for i := range g.Events {
			if store.Settleable(g.Events[i].Settled) {
				return true
			}
		}
	}
	return false
}

// eventArrays is insertEvents' arguments.
func eventArrays(events []store.Event, now time.Time) []any {
	n := len(events)
	var (
		ids                               = make([][16]byte, n)
		types, hashes, sources, keys      = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ws                                = make([]int64, n)
		convs, contacts, channels, causes = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		payloads                          = make([][]byte, n)
		occurred                          = make([]time.Time, n)
		targets                           = make([]*int64, n)
	)
	for i := range events {
		e := &events[i]
		// The store made the id (newID): it parses.
		ids[i], ws[i], types[i], convs[i], contacts[i] = uuid.MustParse(e.ID), e.WorkspaceID, e.EventType, e.ConversationID, e.ContactID
		payloads[i], hashes[i], sources[i], channels[i], causes[i] = e.Payload, e.PayloadHash, e.Source, e.ChannelSource, e.CausedBy
		if payloads[i] == nil {
			payloads[i] = []byte{}
		}
		occurred[i], keys[i], targets[i] = e.OccurredAt, e.OrderKey, e.TargetRuleID
	}
	return []any{ids, ws, types, convs, contacts, payloads, hashes, sources, channels, causes, occurred, keys, targets, now}
}

// liveKeys opens the transaction, locks the keys and returns those used
// in the last 24 hours, with their events, in one round trip.
func liveKeys(ctx context.Context, conn *pgx.Conn, refs []store.IngestKey, now time.Time) (map[store.IngestKey]store.IngestHit, error) {
	locks := make([]int64, 0, len(refs))
	ws, keys := make([]int64, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", r.WorkspaceID, r.Key)
		locks = append(locks, int64(h.Sum64()))
		ws[i], keys[i] = r.WorkspaceID, r.Key
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockKeys, locks)
	b.Queue(liveKeysQuery, ws, keys, now.Add(-idempotencyTTL))
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	found := map[store.IngestKey]store.IngestHit{}
	for rows.Next() {
		var (
			key string
			hit store.IngestHit
		)
		if hit.Event, err = scanEvent(rows, &key, &hit.RequestHash); err != nil {
			rows.Close()
			return nil, err
		}
		found[store.IngestKey{WorkspaceID: hit.Event.WorkspaceID, Key: key}] = hit
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return found, br.Close()
}

// GetEvent returns an event of the workspace.
func (s *Store) GetEvent(ctx context.Context, workspaceID int64, id string) (store.Event, error) {
	uid, ok := parseID(id)
	if !ok {
		return store.Event{}, wrap("get event", store.ErrNotFound)
	}
	e, err := scanEvent(s.pool.QueryRow(ctx,
		`SELECT `+eventColumns+` FROM events WHERE workspace_id = $1 AND id = $2`, workspaceID, uid))
	return e, wrap("get event", err)
}

// ListEvents returns a page of the workspace's events matching f, and how
// many match in all.
func (s *Store) ListEvents(ctx context.Context, workspaceID int64, f store.EventFilter, q store.ListQuery) ([]store.Event, int, error) {
	var a args
	where := ` FROM events e WHERE e.workspace_id = ` + a.add(workspaceID)
	for _, c := range []struct{ col, v string }{
		{"status", f.Status}, {"event_type", f.EventType}, {"source", f.Source},
		{"payload_hash", f.PayloadHash}, {"conversation_id", f.ConversationID},
	} {
		if !store.ValidText(c.v) {
			// No stored event has it; PostgreSQL would refuse the query.
			return []store.Event{}, 0, nil
		}
		if c.v != "" {
			where += ` AND e.` + c.col + ` = ` + a.add(c.v)
		}
	}
	if f.RuleID != 0 {
		// The events whose decision record names the rule (store.EncodeDecisions).
		where += ` AND e.decided_rules LIKE ` + a.add("%,"+strconv.FormatInt(f.RuleID, 10)+",%")
	}
	countArgs := len(a)
	page, err := listOrder(q, "e", &a, "created_at", "id", "processed_at", "attempts")
	if err != nil {
		return nil, 0, wrap("list events", err)
	}
	var (
		out   []store.Event
		total int
	)
	err = s.inReadTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT count(*)`+where, a[:countArgs]...)
		b.Queue(`SELECT `+eventColumnsOf("e")+where+page, a...)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if err := br.QueryRow().Scan(&total); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if out, err = collect(rows, func(r scanner) (store.Event, error) { return scanEvent(r) }); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return nil, 0, wrap("list events", err)
	}
	return out, total, nil
}

// RetryEvent puts a failed event back on the queue with a fresh attempt
// budget; any other status is store.ErrConflict (with the event).
func (s *Store) RetryEvent(ctx context.Context, workspaceID int64, id string) (store.Event, error) {
	uid, ok := parseID(id)
	if !ok {
		return store.Event{}, wrap("retry event", store.ErrNotFound)
	}
	e, err := scanEvent(s.pool.QueryRow(ctx, `
		UPDATE events SET status = 'pending', attempts = 0, available_at = $1, processed_at = NULL, error = NULL
		WHERE workspace_id = $2 AND id = $3 AND status = 'failed'
		RETURNING `+eventColumns, s.now(), workspaceID, uid))
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return e, wrap("retry event", err)
	}
	if e, err = s.GetEvent(ctx, workspaceID, id); err != nil {
		return e, err
	}
	return e, wrap("retry event", fmt.Errorf("event %s is %s, not failed: %w", e.ID, e.Status, store.ErrConflict))
}

// NextEventDue returns the earliest available_at of a pending event.
func (s *Store) NextEventDue(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	// The IN term lets the planner use the partial events_queue index.
	err := s.pool.QueryRow(ctx, `
		SELECT min(available_at) FROM events
		WHERE status IN ('pending', 'processing') AND status = 'pending'`).Scan(&at)
	if err != nil {
		return time.Time{}, false, wrap("find the next event due", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}
