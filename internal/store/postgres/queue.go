package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// maxAttempts is how many claims an event gets (docs/concepts.md#events: "failed — 5
// processing errors"); a lease that expires on the last one fails the
// event instead of handing it out again.
const maxAttempts = 5

// leaseExpiredError is the error of an event whose last lease expired.
const leaseExpiredError = "lease expired after 5 attempts"

// claimQuery leases the oldest due events in one statement. An event is
// due when it is pending and available, or processing with an expired
// lease (its worker is presumed dead; the attempt it spent is counted). A
// due event whose expired lease was its last attempt is not handed out but
// failed by the same statement (spent); the events of its order key wait
// for the next claim, since the statement sees the state before its own
// changes. Finding both in one scan of events_queue keeps the claim to one
// index walk.
//
// A pending event is only taken when no event of its order key is
// processing and none created before it is unfinished, so the events of a
// conversation run one at a time, in (created_at, id) order. Why two
// nodes claiming at once cannot take two events of one key:
//
//   - Candidates are locked FOR UPDATE SKIP LOCKED, so two claims never
//     take the same row; a row another claim changed and committed is
//     re-checked on its new version (a processing event with a live lease
//     no longer qualifies).
//   - For two different events A < B of one key to be taken, B's claim
//     must have seen A finished. A finished event only becomes unfinished
//     again through RetryEvent; without it, once B's claim sees A
//     finished, A can never be claimed again, and while A is pending or
//     processing in a claim's snapshot, B is not taken.
//   - An ingest's hand-off (IngestAndClaim) takes B the same way: only
//     when, in its snapshot, nothing of the key is unfinished.
//   - RetryEvent is the one race left: a claim may take B having seen A
//     failed while, in between, A is retried and claimed by another node
//     that did not yet see B processing. events_one_processing (unique on
//     (workspace_id, order_key) among processing events) refuses the
//     second of those commits; the claim is then retried and sees the
//     first.
//
// Every claim draws a fence from the event_fences sequence, so a fence is
// never reused and a worker whose lease was taken over cannot complete.
var claimQuery = `
	WITH due AS (
		SELECT e.id, e.status = 'processing' AND e.attempts >= ` + strconv.Itoa(maxAttempts) + ` AS spent
		FROM events e
		WHERE e.status IN ('pending', 'processing')
		  AND CASE e.status WHEN 'pending' THEN e.available_at <= $1 ELSE e.lease_expires_at <= $1 END
		  AND e.workspace_id <> ALL($5::bigint[])
		  AND (e.status = 'processing' OR (
		        -- Two seeks: nothing of the key before it is unfinished
		        -- (events_unfinished), and nothing of the key is processing
		        -- (events_one_processing), which only a RetryEvent makes
		        -- possible for a later event.
		        NOT EXISTS (
		          SELECT 1 FROM events p
		          WHERE p.workspace_id = e.workspace_id AND p.order_key = e.order_key
		            AND p.status IN ('pending', 'processing')
		            AND (p.created_at, p.id) < (e.created_at, e.id))
		        AND NOT EXISTS (
		          SELECT 1 FROM events p
		          WHERE p.workspace_id = e.workspace_id AND p.order_key = e.order_key
		            AND p.status = 'processing')))
		ORDER BY e.created_at, e.id
		LIMIT $2
		FOR UPDATE OF e SKIP LOCKED
	)
	UPDATE events e SET
		status = CASE WHEN due.spent THEN 'failed' ELSE 'processing' END,
		attempts = CASE WHEN due.spent THEN e.attempts ELSE e.attempts + 1 END,
		error = CASE WHEN due.spent THEN '` + leaseExpiredError + `' ELSE e.error END,
		processed_at = CASE WHEN due.spent THEN $1::timestamptz ELSE e.processed_at END,
		lease_owner = CASE WHEN due.spent THEN NULL ELSE $3::text END,
		lease_fence = CASE WHEN due.spent THEN NULL ELSE nextval('event_fences') END,
		lease_expires_at = CASE WHEN due.spent THEN NULL ELSE $4::timestamptz END
	FROM due WHERE e.id = due.id
	RETURNING ` + eventColumnsOf("e") + `, coalesce(e.lease_fence, 0)`

// claimPlan pins the claim's plan to an ordered walk of events_queue that
// stops after limit events, whatever the statistics say. Left to itself,
// the planner picks a bitmap scan and a sort of the whole backlog when
// its statistics are stale — which they are right after a burst of
// ingestion, when claims matter most — and evaluates the order-key checks
// for every queued event. The claim is also planned afresh each time
// (plan_cache_mode): pgx prepares it once per connection, and after five
// runs PostgreSQL may switch to a generic plan chosen without the
// parameters' values, on whatever statistics a fresh table had then, and
// keep it for the connection's life. SET LOCAL ends with the claim's
// transaction.
const claimPlan = `SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true),
	set_config('plan_cache_mode', 'force_custom_plan', true)`

// ClaimEvents leases up to limit due events, oldest first, in one round
// trip: BEGIN, the plan settings, the claim and COMMIT are pipelined. The
// excluded workspaces are one array parameter (empty: none).
func (s *Store) ClaimEvents(ctx context.Context, owner string, limit int, lease time.Duration, exclude ...int64) ([]store.Claim, error) {
	if limit <= 0 {
		return []store.Claim{}, nil
	}
	var claims []store.Claim
	// The one-processing guard only fires in the RetryEvent race described
	// on claimQuery; the claim is then simply made again.
	retryable := func(err error) bool {
		code, pe := pgCode(err)
		return code == codeUniqueViolation && pe.ConstraintName == "events_one_processing"
	}
	err := s.pipelined(ctx, retryable, func(conn *pgx.Conn) error {
		now := s.now()
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(asyncCommit)
		b.Queue(claimPlan)
		b.Queue(claimQuery, now, limit, owner, now.Add(lease), append([]int64{}, exclude...))
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		for range 3 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if claims, err = collect(rows, func(r scanner) (store.Claim, error) {
			var c store.Claim
			var err error
			c.Event, err = scanEvent(r, &c.Fence)
			return c, err
		}); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return nil, wrap("claim events", err)
	}
	// Spent events were failed, not claimed; RETURNING has no order.
	claims = slices.DeleteFunc(claims, func(c store.Claim) bool { return c.Event.Status != store.EventProcessing })
	slices.SortFunc(claims, func(a, b store.Claim) int {
		return cmp.Or(a.Event.CreatedAt.Compare(b.Event.CreatedAt), cmp.Compare(a.Event.ID, b.Event.ID))
	})
	return claims, nil
}

// asyncCommit lets a claim's or a completion's COMMIT return before
// PostgreSQL has flushed it to its WAL. Neither needs to survive a
// database crash on its own: a lost claim leaves the event pending, a lost
// completion leaves it processing under a lease that expires, and
// re-processing it decides the same runs and the same delivery ids
// (derived ones). Whatever acts on a completion commits synchronously
// after it (a delivery's claim, an ingest's 202, an API write), and the
// WAL is flushed in order, so nothing is sent or acknowledged on the
// strength of a completion the database could still lose. Ingestion keeps
// synchronous commits: a 202 survives a crash.
const asyncCommit = `SET LOCAL synchronous_commit = off`

// The completion statements. Each takes its rows as one array per column,
// so a batch costs one statement per table whatever its size, and the
// statements' text (and prepared plans) never change.
const (
	// finishEvents is the fence check and the final status in one: an
	// item whose event is no longer processing under its fence updates
	// nothing and is refused.
	finishEvents = `
		UPDATE events e SET status = u.status, processed_at = $7, hops = u.hops,
			caused_by_rules = u.chain::bigint[], decided_rules = u.decided_rules, decisions = u.decisions,
			payload = coalesce(u.payload, e.payload),
			error = NULL, lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL
		FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::integer[], $6::text[], $8::text[],
			$9::bytea[], $10::bytea[])
			AS u (id, workspace_id, fence, status, hops, chain, decided_rules, decisions, payload)
		WHERE e.id = u.id AND e.workspace_id = u.workspace_id
		  AND e.status = 'processing' AND e.lease_fence = u.fence
		RETURNING e.id`

	insertRuns = `
		INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, matched, executed, status, result,
			actions, created_at, settled_at, rule_version)
		SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::bigint[], $5::text[], $6::boolean[],
			$7::boolean[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[],
			$13::integer[])
		ON CONFLICT DO NOTHING`

	// Stretches that end, then those that begin (keeping one in progress).
	cancelWaits = `
		DELETE FROM waits w USING unnest($1::bigint[], $2::text[], $3::text[]) AS c (workspace_id, conversation_id, kind)
		WHERE w.workspace_id = c.workspace_id AND w.conversation_id = c.conversation_id AND w.kind = c.kind`
	startWaits = `
		INSERT INTO waits (workspace_id, conversation_id, rule_id, kind, since, due_at, payload, fired)
		SELECT *, false FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[],
			$6::timestamptz[], $7::text[])
		ON CONFLICT (workspace_id, conversation_id, rule_id) DO NOTHING`

	// The hourly run counts add up, in key order (see CompleteEvents), in
	// the transaction's shard ($8).
	upsertRollups = `
		INSERT INTO run_rollups AS r (workspace_id, rule_id, hour, evaluated, matched, executed, failed, shard)
		SELECT *, $8::smallint FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
			$6::bigint[], $7::bigint[])
		ON CONFLICT (workspace_id, rule_id, hour, shard) DO UPDATE SET
			evaluated = r.evaluated + excluded.evaluated, matched = r.matched + excluded.matched,
			executed = r.executed + excluded.executed, failed = r.failed + excluded.failed`

	insertDeliveries = `
		INSERT INTO deliveries (id, workspace_id, run_id, action_index, action, status, attempts, last_error,
			available_at, created_at, target, unordered)
		SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::integer[], $5::text[], $6::text[],
			$7::integer[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::boolean[])
		ON CONFLICT DO NOTHING`

	// Counters add up in the transaction's shard ($7) of rule_counters;
	// the last_* times only move forward (greatest() ignores NULLs).
	moveCounters = `
		INSERT INTO rule_counters AS c (rule_id, workspace_id, match_count, applied_count, last_matched_at,
			last_applied_at, shard)
		SELECT *, $7::smallint FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
			$5::timestamptz[], $6::timestamptz[])
		ON CONFLICT (rule_id, shard) DO UPDATE SET
			match_count = c.match_count + excluded.match_count, applied_count = c.applied_count + excluded.applied_count,
			last_matched_at = greatest(c.last_matched_at, excluded.last_matched_at),
			last_applied_at = greatest(c.last_applied_at, excluded.last_applied_at)`

	upsertCooldowns = `
		INSERT INTO rule_cooldowns (rule_id, key, workspace_id, matched_at)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::timestamptz[])
		ON CONFLICT (rule_id, key) DO UPDATE
			SET matched_at = greatest(rule_cooldowns.matched_at, excluded.matched_at),
				workspace_id = excluded.workspace_id`

	// What the event did not tell (NULL) keeps the stored value.
	upsertConversations = `
		INSERT INTO conversations AS c (workspace_id, id, status, assignee_id, tags, priority,
			last_customer_message_at, last_team_response_at, updated_at)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::timestamptz[], $8::timestamptz[], $9::timestamptz[])` + conversationConflict

	conversationConflict = `
		ON CONFLICT (workspace_id, id) DO UPDATE SET
			status = coalesce(excluded.status, c.status),
			assignee_id = coalesce(excluded.assignee_id, c.assignee_id),
			tags = coalesce(excluded.tags, c.tags),
			priority = coalesce(excluded.priority, c.priority),
			last_customer_message_at = coalesce(excluded.last_customer_message_at, c.last_customer_message_at),
			last_team_response_at = coalesce(excluded.last_team_response_at, c.last_team_response_at),
			updated_at = excluded.updated_at`
)

// CompleteEvents commits a batch of outcomes in one transaction and two
// round trips: BEGIN and one statement that checks every item's fence and
// sets its final status; then one statement per table that writes what
// the accepted items decided, and COMMIT. Rows that several transactions
// may lock (events, cooldowns, conversations, counters, rollups) are
// written in key order, so concurrent completions queue instead of
// deadlocking; a deadlock that happens anyway is retried. The counters and
// rollups, which every completion adds to, are written last and in a
// shard of the transaction's own (see store.CounterShards).
func (s *Store) CompleteEvents(ctx context.Context, items []store.Completion) ([]error, error) {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return errs, nil
	}
	now := s.now()
	byID := make(map[[16]byte]int, len(items))
	for i := range items {
		it := &items[i]
		if errs[i] = store.CheckOutcome(&it.Outcome); errs[i] != nil {
			continue
		}
		id, ok := parseID(it.Claim.Event.ID)
		if _, dup := byID[id]; !ok || dup {
			continue // not a claim this store made, or the same claim twice: refused
		}
		byID[id] = i
	}
	// The fence check, in event id order (the order rows are locked in).
	n := len(byID)
	ids := make([][16]byte, 0, n)
	for id := range byID {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	var (
		statuses, chains = make([]string, n), make([]*string, n)
		ws, fences       = make([]int64, n), make([]int64, n)
		hops             = make([]int32, n)
		decided          = make([]*string, n)
		decisions        = make([][]byte, n)
		payloads         = make([][]byte, n) // nil: as stored
	)
	for k, id := range ids {
		it := &items[byID[id]]
		ws[k], fences[k] = it.Claim.Event.WorkspaceID, it.Claim.Fence
		rec, err := store.RecordOf(&it.Outcome)
		if err != nil {
			errs[byID[id]] = err // refused alone:
			fences[k] = -1       // no claim holds a negative fence, so its row is not updated
		}
		decided[k], decisions[k] = rec.RuleIDs, rec.Decisions
		payloads[k] = store.PackedPayload(it.Claim.Event.Payload)
		statuses[k], hops[k] = it.Outcome.Status, int32(it.Outcome.Hops)
		if it.Outcome.CausedByRules != nil {
			chains[k] = ptr(int64Array(it.Outcome.CausedByRules))
		}
	}

	accepted := make([]bool, len(items))
	// Completions take the shards in turn, so the few that run at once on
	// this node add to different counter and rollup rows.
	shard := int16(s.shard.Add(1) % store.CounterShards)
	err := s.pipelined(ctx, nil, func(conn *pgx.Conn) error {
		clear(accepted)
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(asyncCommit)
		b.Queue(finishEvents, ids, ws, fences, statuses, hops, chains, now, decided, decisions, payloads)
		br := conn.SendBatch(ctx, b)
		for range 2 {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		done, err := collect(rows, func(r scanner) ([16]byte, error) {
			var id [16]byte
			err := r.Scan(&id)
			return id, err
		})
		if err != nil {
			br.Close()
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		for _, id := range done {
			if i := byID[id]; errs[i] == nil {
				accepted[i] = true
			}
		}
		b, err = outcomeBatch(store.FlattenOutcomes(items, accepted, now), shard)
		if err != nil {
			return err
		}
		b.Queue("COMMIT")
		return conn.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, wrap("complete events", err)
	}
	for i := range items {
		if errs[i] != nil {
			errs[i] = wrap("complete event "+items[i].Claim.Event.ID, errs[i])
		} else if !accepted[i] {
			errs[i] = store.ErrLeaseLost
		}
	}
	return errs, nil
}

// conversationArrays is upsertConversations' arguments.
func conversationArrays(cs []store.Conversation) ([]any, error) {
	n := len(cs)
	var (
		ws                                    = make([]int64, n)
		ids                                   = make([]string, n)
		statuses, assignees, tags, priorities = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		lastCustomer, lastTeam                = make([]*time.Time, n), make([]*time.Time, n)
		updated                               = make([]time.Time, n)
	)
	for i := range cs {
		c := &cs[i]
		ws[i], ids[i], assignees[i], priorities[i] = c.WorkspaceID, c.ID, c.AssigneeID, c.Priority
		if c.Status != "" {
			statuses[i] = ptr(c.Status)
		}
		if c.Tags != nil {
			t, err := json.Marshal(c.Tags)
			if err != nil {
				return nil, err
			}
			tags[i] = ptr(string(t))
		}
		lastCustomer[i], lastTeam[i], updated[i] = tsPtr(c.LastCustomerMessageAt), tsPtr(c.LastTeamResponseAt), c.UpdatedAt
	}
	return []any{ws, ids, statuses, assignees, tags, priorities, lastCustomer, lastTeam, updated}, nil
}

// outcomeBatch queues one statement per table that has rows; counters and
// rollups go to shard.
func outcomeBatch(r store.OutcomeRows, shard int16) (*pgx.Batch, error) {
	b := &pgx.Batch{}
	if n := len(r.Runs); n > 0 {
		ids, err := parseIDs(r.Runs, func(x *store.Run) string { return x.ID })
		if err != nil {
			return nil, err
		}
		events, err := parseIDs(r.Runs, func(x *store.Run) string { return x.EventID })
		if err != nil {
			return nil, err
		}
		var (
			ws, rules                = make([]int64, n), make([]int64, n)
			names, statuses, results = make([]string, n), make([]string, n), make([]string, n)
			actions                  = make([]*string, n)
			matched, executed        = make([]bool, n), make([]bool, n)
			created                  = make([]time.Time, n)
			settled                  = make([]*time.Time, n)
			versions                 = make([]int32, n)
		)
		for i := range r.Runs {
			x := &r.Runs[i]
			ws[i], rules[i], names[i] = x.WorkspaceID, x.RuleID, x.RuleName
			matched[i], executed[i], statuses[i] = x.Matched, x.Executed, x.Status
			results[i], actions[i], created[i], settled[i] = string(x.Result), textOrNil(x.Actions), x.CreatedAt, tsPtr(x.SettledAt)
			versions[i] = int32(x.RuleVersion)
		}
		b.Queue(insertRuns, ids, ws, events, rules, names, matched, executed, statuses, results, actions,
			created, settled, versions)
	}
	if n := len(r.WaitCancels); n > 0 {
		ws, convs, kinds := make([]int64, n), make([]string, n), make([]string, n)
		for i, c := range r.WaitCancels {
			ws[i], convs[i], kinds[i] = c.WorkspaceID, c.ConversationID, c.Kind
		}
		b.Queue(cancelWaits, ws, convs, kinds)
	}
	if n := len(r.WaitStarts); n > 0 {
		ws, convs, kinds, payloads := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		rules, since, due := make([]int64, n), make([]time.Time, n), make([]time.Time, n)
		for i, w := range r.WaitStarts {
			ws[i], convs[i], rules[i], kinds[i] = w.WorkspaceID, w.ConversationID, w.RuleID, w.Kind
			since[i], due[i], payloads[i] = w.Since, w.DueAt, string(w.Payload)
		}
		b.Queue(startWaits, ws, convs, rules, kinds, since, due, payloads)
	}
	if n := len(r.Deliveries); n > 0 {
		ids, err := parseIDs(r.Deliveries, func(d *store.Delivery) string { return d.ID })
		if err != nil {
			return nil, err
		}
		runs, err := parseIDs(r.Deliveries, func(d *store.Delivery) string { return d.RunID })
		if err != nil {
			return nil, err
		}
		var (
			ws                 = make([]int64, n)
			indexes, attempts  = make([]int32, n), make([]int32, n)
			lastError, actions = make([]*string, n), make([]*string, n)
			statuses           = make([]string, n)
			targets            = make([]*string, n)
			available, created = make([]time.Time, n), make([]time.Time, n)
			unordered          = make([]*bool, n) // NULL, or true (store.Unordered)
			yes                = true
		)
		for i := range r.Deliveries {
			d := &r.Deliveries[i]
			ws[i], indexes[i], actions[i], statuses[i] = d.WorkspaceID, int32(d.ActionIndex), textOrNil(d.Action), d.Status
			attempts[i], lastError[i], available[i], created[i] = int32(d.Attempts), d.LastError, d.AvailableAt, d.CreatedAt
			targets[i] = d.Target
			if store.Unordered(d.ID, d.CreatedAt) {
				unordered[i] = &yes
			}
		}
		b.Queue(insertDeliveries, ids, ws, runs, indexes, actions, statuses, attempts, lastError, available,
			created, targets, unordered)
	}
	if n := len(r.Cooldowns); n > 0 {
		var (
			rules, ws = make([]int64, n), make([]int64, n)
			keys      = make([]string, n)
			at        = make([]time.Time, n)
		)
		for i, c := range r.Cooldowns {
			rules[i], keys[i], ws[i], at[i] = c.RuleID, c.Key, c.WorkspaceID, c.MatchedAt
		}
		b.Queue(upsertCooldowns, rules, keys, ws, at)
	}
	if len(r.Conversations) > 0 {
		args, err := conversationArrays(r.Conversations)
		if err != nil {
			return nil, err
		}
		b.Queue(upsertConversations, args...)
	}
	// Last, so that the rows every completion shares (each rule's
	// counters, then its hourly rollups: the order moveRun locks them in)
	// are held only until the COMMIT that follows, not while the rows
	// above are written. Queued first, they made concurrent completions
	// wait on each other for the whole of their writes.
	if n := len(r.Counters); n > 0 {
		var (
			rules, ws, matched, applied = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
			matchedAt, appliedAt        = make([]*time.Time, n), make([]*time.Time, n)
		)
		for i, c := range r.Counters {
			rules[i], ws[i], matched[i], applied[i] = c.RuleID, c.WorkspaceID, c.Matched, c.Applied
			matchedAt[i], appliedAt[i] = c.MatchedAt, c.AppliedAt
		}
		b.Queue(moveCounters, rules, ws, matched, applied, matchedAt, appliedAt, shard)
	}
	if n := len(r.Rollups); n > 0 {
		cols := make([][]int64, 7)
		for i := range cols {
			cols[i] = make([]int64, n)
		}
		for i, x := range r.Rollups {
			cols[0][i], cols[1][i], cols[2][i], cols[3][i] = x.WorkspaceID, x.RuleID, x.Hour, x.Evaluated
			cols[4][i], cols[5][i], cols[6][i] = x.Matched, x.Executed, x.Failed
		}
		b.Queue(upsertRollups, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], shard)
	}
	return b, nil
}

// int64Array is ids as a PostgreSQL array literal ({1,2,3}).
func int64Array(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, '}'))
}

func ptr[T any](v T) *T { return &v }

// settle runs a fence-checked update of one claimed event; no row means
// the claim is stale (store.ErrLeaseLost).
func (s *Store) settle(ctx context.Context, op string, c store.Claim, query string, args ...any) error {
	id, ok := parseID(c.Event.ID)
	if !ok {
		return wrap(op, store.ErrLeaseLost)
	}
	tag, err := s.pool.Exec(ctx, query, append([]any{id, c.Fence}, args...)...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, store.ErrLeaseLost)
	}
	return nil
}

// FailEvent records a processing error. The attempt was counted when the
// event was claimed.
func (s *Store) FailEvent(ctx context.Context, c store.Claim, msg string, retryAt *time.Time) error {
	msg = store.Sanitize(msg)
	const where = ` WHERE id = $1 AND status = 'processing' AND lease_fence = $2`
	if retryAt != nil {
		return s.settle(ctx, "fail event", c, `
			UPDATE events SET status = 'pending', available_at = $3, error = $4,
				lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL`+where, ts(*retryAt), msg)
	}
	return s.settle(ctx, "fail event", c, `
		UPDATE events SET status = 'failed', processed_at = $3, error = $4,
			lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL`+where, s.now(), msg)
}

// ReleaseEvent hands a claimed event back without counting the attempt.
func (s *Store) ReleaseEvent(ctx context.Context, c store.Claim) error {
	return s.settle(ctx, "release event", c, `
		UPDATE events SET status = 'pending', attempts = greatest(attempts - 1, 0),
			lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL
		WHERE id = $1 AND status = 'processing' AND lease_fence = $2`)
}

// extendLeases is the fence check and the renewal in one: a row whose
// event is no longer processing under its fence is not extended.
const extendLeases = `
	UPDATE events e SET lease_expires_at = $3
	FROM unnest($1::uuid[], $2::bigint[]) AS h (id, fence)
	WHERE e.id = h.id AND e.status = 'processing' AND e.lease_fence = h.fence
	RETURNING e.id, e.lease_fence`

// ExtendLeases renews the claims that are still current, in one
// statement. Rows are passed in event id order, the order CompleteEvents
// locks them in; a deadlock that happens anyway is retried.
func (s *Store) ExtendLeases(ctx context.Context, claims []store.Claim, lease time.Duration) ([]bool, error) {
	held := make([]bool, len(claims))
	if len(claims) == 0 {
		return held, nil
	}
	type current struct {
		id    [16]byte
		fence int64
	}
	items := make([]current, 0, len(claims))
	for _, c := range claims {
		if id, ok := parseID(c.Event.ID); ok {
			items = append(items, current{id, c.Fence})
		}
	}
	slices.SortFunc(items, func(a, b current) int {
		return cmp.Or(bytes.Compare(a.id[:], b.id[:]), cmp.Compare(a.fence, b.fence))
	})
	ids, fences := make([][16]byte, len(items)), make([]int64, len(items))
	for i, it := range items {
		ids[i], fences[i] = it.id, it.fence
	}
	var extended []current
	err := s.pipelined(ctx, nil, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, extendLeases, ids, fences, s.now().Add(lease))
		if err != nil {
			return err
		}
		extended, err = collect(rows, func(r scanner) (current, error) {
			var c current
			err := r.Scan(&c.id, &c.fence)
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, wrap("extend leases", err)
	}
	live := make(map[current]bool, len(extended))
	for _, c := range extended {
		live[c] = true
	}
	for i, c := range claims {
		if id, ok := parseID(c.Event.ID); ok {
			held[i] = live[current{id, c.Fence}]
		}
	}
	return held, nil
}

// textOrNil is a JSON document as text, or NULL when there is none.
func textOrNil(doc []byte) *string {
	if len(doc) == 0 {
		return nil
	}
	s := string(doc)
	return &s
}
