package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
	var err error
	if e.Payload, err = store.StoredPayload(e.ID, e.Payload); err != nil {
		return store.Event{}, err
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

// lockOrderKeys takes a transaction-scoped advisory lock per order key of
// the events an ingest commit may claim or settle, in ascending order (no
// two ingesters deadlock), in a lock space of its own (the two-int form;
// idempotency keys use the one-bigint form). A collision of the 32-bit
// hashes only makes two ingesters wait for each other.
//
// Why: a settled event is written processed, which no unique index
// orders against a claim of an earlier event of its key that another
// ingest commit has in flight (events_one_processing does that between
// claims). Under the lock, taken in a statement before the insert's, the
// insert sees every claim and settle of its keys that came before. (An
// event of the key that a commit with nothing to claim or settle inserts
// at the same moment may still come after it, as after a hand-off's
// claim: events that arrive at once have no order but their commits'.)
const lockOrderKeys = `SELECT pg_advisory_xact_lock(1398956370, k) FROM unnest($1::integer[]) AS k`

// insertClaiming is insertEvents for a commit that settles or hands off
// events (store.IngestPlan.Candidates): of the candidates to claim ($15),
// the first $16 whose order key has nothing unfinished are written
// processing, with one attempt, a fence from event_fences and a lease
// for $17 until $18; those to settle ($19, with their final status in
// $20) whose key has nothing unfinished are written finished, and the
// conversations their outcomes learned ($21–$29, each with its event in
// $30, in key order) upserted as upsertConversations does; the rest are
// written pending. It returns the claimed ids with their fences and the
// settled ids with fence 0.
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
			$19::boolean[], $20::text[])
			AS u (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash, source,
				channel_source, caused_by, occurred_at, order_key, target_rule_id, candidate, settle, final)
	), idle AS (
		SELECT u.id, u.ord, u.settle FROM u
		WHERE (u.candidate OR u.settle) AND NOT EXISTS (
			SELECT 1 FROM events p
			WHERE p.workspace_id = u.workspace_id AND p.order_key = u.order_key
			  AND p.status IN ('pending', 'processing'))
	), pick AS (
		SELECT id FROM idle WHERE NOT settle ORDER BY ord LIMIT $16
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
	), settled AS (
		INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash,
			source, channel_source, caused_by, occurred_at, order_key, target_rule_id,
			status, available_at, created_at, attempts, processed_at)
		SELECT u.id, u.workspace_id, u.event_type, u.conversation_id, u.contact_id, u.payload, u.payload_hash,
			u.source, u.channel_source, u.caused_by, u.occurred_at, u.order_key, u.target_rule_id,
			u.final, $14, $14, 1, $14
		FROM u JOIN idle ON idle.id = u.id AND idle.settle
		ORDER BY u.ord
		RETURNING id, 0::bigint AS lease_fence
	), conv AS (
		INSERT INTO conversations AS c (workspace_id, id, status, assignee_id, tags, priority,
			last_customer_message_at, last_team_response_at, updated_at)
		SELECT cu.workspace_id, cu.id, cu.status, cu.assignee_id, cu.tags, cu.priority,
			cu.last_customer_message_at, cu.last_team_response_at, cu.updated_at
		FROM unnest($21::bigint[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[],
			$27::timestamptz[], $28::timestamptz[], $29::timestamptz[], $30::uuid[]) WITH ORDINALITY
			AS cu (workspace_id, id, status, assignee_id, tags, priority, last_customer_message_at,
				last_team_response_at, updated_at, event_id, ord)
		JOIN settled ON settled.id = cu.event_id
		ORDER BY cu.ord` + conversationConflict + `
	), queued AS (
		INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash,
			source, channel_source, caused_by, occurred_at, order_key, target_rule_id,
			status, available_at, created_at)
		SELECT u.id, u.workspace_id, u.event_type, u.conversation_id, u.contact_id, u.payload, u.payload_hash,
			u.source, u.channel_source, u.caused_by, u.occurred_at, u.order_key, u.target_rule_id,
			'pending', $14, $14
		FROM u WHERE u.id NOT IN (SELECT id FROM claimed UNION ALL SELECT id FROM settled)
		ORDER BY u.ord
	)
	SELECT id, lease_fence FROM claimed UNION ALL SELECT id, lease_fence FROM settled`

// IngestEvents stores the groups in one transaction (IngestAndClaim
// without a hand-off).
func (s *Store) IngestEvents(ctx context.Context, groups []*store.IngestGroup) error {
	_, err := s.IngestAndClaim(ctx, groups, store.HandOff{})
	return err
}

// IngestAndClaim stores the groups in one transaction. A commit with
// nothing to claim, settle or look up is a single statement. Otherwise,
// in one transaction: the idempotency keys are locked (so that another
// node ingesting the same key waits for this commit and then sees it)
// and looked up; then, in one round trip, the order keys of the events to
// claim or settle are locked (lockOrderKeys), the events written,
// claiming and settling with the insert itself (insertClaiming), the
// conversations of those it settled written, the keys, and COMMIT.
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
	var claims []store.Claim
	err := s.pipelined(ctx, nil, func(conn *pgx.Conn) error {
		claims = nil
		var found map[store.IngestKey]store.IngestHit
		if len(refs) > 0 {
			var err error
			if found, err = liveKeys(ctx, conn, refs, now); err != nil {
				return err
			}
			// A retried transaction decides afresh.
			for _, g := range groups {
				g.Results, g.Err, g.Index = nil, nil, 0
				store.CheckGroup(g)
			}
		}
		plan := store.PlanIngest(groups, found, now)
		if len(plan.Events) == 0 && len(refs) == 0 {
			return nil
		}
		cands := plan.Candidates(h)
		if len(cands) == 0 && len(refs) == 0 {
			_, err := conn.Exec(ctx, insertEvents, eventArrays(plan.Events, now)...)
			return err
		}
		b := &pgx.Batch{}
		if len(refs) == 0 {
			b.Queue("BEGIN")
		}
		claimAt := -1 // insertClaiming's place in b
		if len(cands) == 0 {
			b.Queue(insertEvents, eventArrays(plan.Events, now)...)
		} else {
			claimAt = len(b.QueuedQueries) + 1 // after the locks
			if err := queueClaiming(b, &plan, cands, h, now); err != nil {
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
		br := conn.SendBatch(ctx, b)
		var fences map[[16]byte]int64
		for i := range b.QueuedQueries {
			if i != claimAt {
				if _, err := br.Exec(); err != nil {
					br.Close()
					return err
				}
				continue
			}
			var err error
			if fences, err = readFences(br); err != nil {
				br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		if claimAt >= 0 {
			claims = claimedAtIngest(&plan, cands, fences, now)
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

// queueClaiming queues the order-key locks of the candidates and the
// insert that claims and settles them (and writes the conversations of
// those it settled).
func queueClaiming(b *pgx.Batch, plan *store.IngestPlan, cands []int, h store.HandOff, now time.Time) error {
	n := len(plan.Events)
	candidate, settle, final := make([]bool, n), make([]bool, n), make([]*string, n)
	locks := make([]int32, 0, len(cands))
	var (
		settling []int
		eventOf  = map[store.OrderRef][16]byte{} // the event to settle of each order key
	)
	for _, i := range cands {
		e := &plan.Events[i]
		if plan.Settles(i) {
			settle[i], final[i] = true, &plan.Settled[i].Status
			settling = append(settling, i)
			eventOf[store.OrderRef{WorkspaceID: e.WorkspaceID, OrderKey: e.OrderKey}] = uuid.MustParse(e.ID)
		} else {
			candidate[i] = true
		}
		hsh := fnv.New32a()
		fmt.Fprintf(hsh, "%d\x00%s", e.WorkspaceID, e.OrderKey)
		locks = append(locks, int32(hsh.Sum32()))
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)
	// The candidates are the first event of each order key, and a
	// conversation is its events' order key: each conversation row is one
	// event's, found by its key.
	convs := plan.SettleRows(settling, now).Conversations
	events := make([][16]byte, len(convs))
	for k, c := range convs {
		events[k] = eventOf[store.OrderRef{WorkspaceID: c.WorkspaceID, OrderKey: c.ID}]
	}
	cargs, err := conversationArrays(convs)
	if err != nil {
		return err
	}
	b.Queue(lockOrderKeys, locks)
	args := append(eventArrays(plan.Events, now), candidate, h.Limit, h.Owner, ts(now.Add(h.Lease)), settle, final)
	b.Queue(insertClaiming, append(append(args, cargs...), events)...)
	return nil
}

// readFences reads insertClaiming's rows: the claimed and settled ids,
// with their fences (0 for a settled one).
func readFences(br pgx.BatchResults) (map[[16]byte]int64, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	type fenced struct {
		id    [16]byte
		fence int64
	}
	fs, err := collect(rows, func(r scanner) (fenced, error) {
		var x fenced
		err := r.Scan(&x.id, &x.fence)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[[16]byte]int64, len(fs))
	for _, f := range fs {
		out[f.id] = f.fence
	}
	return out, nil
}

// claimedAtIngest marks the candidates the insert settled (Settle) and
// returns those it claimed, in commit order.
func claimedAtIngest(plan *store.IngestPlan, cands []int, fences map[[16]byte]int64, now time.Time) []store.Claim {
	var claims []store.Claim
	for _, i := range cands {
		fence, ok := fences[uuid.MustParse(plan.Events[i].ID)]
		switch {
		case !ok:
		case plan.Settles(i):
			plan.Settle(i, now)
		default:
			claims = append(claims, store.ClaimedAtIngest(plan.Events[i], fence))
		}
	}
	return claims
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
