package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// maxAttempts is how many claims an event gets (docs/concepts.md#events: "failed — 5
// processing errors"); a lease that expires on the last one fails the
// event instead of handing it out again.
const maxAttempts = 5

// leaseExpiredError is the error of an event whose last lease expired.
const leaseExpiredError = "lease expired after 5 attempts"

// claimQuery leases the oldest due events. An event is due when it is
// pending and available, or processing with an expired lease (its worker
// is presumed dead; the attempt it spent is counted). A due event whose
// expired lease was its last attempt is not handed out but failed by the
// same statement; the events of its order key wait for the next claim (as
// on PostgreSQL, where the statement sees the state before its changes).
// A pending event is only taken when no event of its order key is
// processing and none created before it is unfinished, so the events of a
// conversation run one at a time in (created_at, id) order. Every claim
// draws a fresh random fence, so a worker whose lease was taken over
// cannot complete.
//
// The writer connection runs claims one at a time (BEGIN IMMEDIATE), each
// seeing every earlier commit: no two claims can take two events of one
// order key. events_one_processing holds the same as a constraint.
//
// SET expressions read the row as it was, so spent is the same test in
// each of them.
var claimQuery = strings.NewReplacer("spent", `(status = 'processing' AND attempts >= `+strconv.Itoa(maxAttempts)+`)`).
	Replace(`
	UPDATE OR FAIL events SET
		status = CASE WHEN spent THEN 'failed' ELSE 'processing' END,
		attempts = CASE WHEN spent THEN attempts ELSE attempts + 1 END,
		error = CASE WHEN spent THEN '` + leaseExpiredError + `' ELSE error END,
		processed_at = CASE WHEN spent THEN ?1 ELSE processed_at END,
		lease_owner = CASE WHEN spent THEN NULL ELSE ?2 END,
		lease_fence = CASE WHEN spent THEN NULL ELSE random() END,
		lease_expires_at = CASE WHEN spent THEN NULL ELSE ?3 END
	WHERE id IN (
		SELECT e.id FROM events e
		WHERE e.status IN ('pending', 'processing')
		  AND CASE e.status WHEN 'pending' THEN e.available_at <= ?1 ELSE e.lease_expires_at <= ?1 END
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
		LIMIT %d)
	RETURNING ` + eventColumns + `, coalesce(lease_fence, 0)`)

// claimExcludingQuery is claimQuery passing over the workspaces of ?4, a
// JSON array. The claim without exclusions keeps its own text, so the
// common case keeps its plan exactly.
var claimExcludingQuery = strings.Replace(claimQuery,
	"WHERE e.status IN ('pending', 'processing')",
	"WHERE e.status IN ('pending', 'processing')\n\t\t  AND e.workspace_id NOT IN (SELECT value FROM json_each(?4))", 1)

// ClaimEvents leases up to limit due events, oldest first. The excluded
// workspaces are one JSON array parameter, so each of the two statements
// keeps one text (and prepared plan).
func (s *Store) ClaimEvents(ctx context.Context, owner string, limit int, lease time.Duration, exclude ...int64) ([]store.Claim, error) {
	if limit <= 0 {
		return []store.Claim{}, nil
	}
	now := s.now()
	// The limit is written into the text: SQLite re-prepares a statement
	// every time a LIMIT parameter is bound (its planner reads the value),
	// which cost more than the claim itself (15 % of the server's CPU with
	// no rules). The workers always ask for the same batch size, so one
	// text per size is prepared once.
	query := fmt.Sprintf(claimQuery, limit)
	args := []any{ms(now), owner, ms(now.Add(lease))}
	if len(exclude) > 0 {
		b, err := json.Marshal(exclude)
		if err != nil {
			return nil, wrap("claim events", err)
		}
		query = fmt.Sprintf(claimExcludingQuery, limit)
		args = append(args, string(b))
	}
	var claims []store.Claim
	claim := single(query)
	s.prepare(ctx, claim)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			rows *sql.Rows
			err  error
		)
		if st := s.stmt(ctx, tx, stmtKey{claim, 0}); st != nil {
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = tx.QueryContext(ctx, query, args...)
		}
		if err != nil {
			return err
		}
		claims, err = collect(rows, func(r scanner) (store.Claim, error) {
			var c store.Claim
			var err error
			c.Event, err = scanEvent(r, &c.Fence)
			return c, err
		})
		return err
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

// The completion statements: one multi-row statement per table for the
// whole batch (see multiRow). Each says OR FAIL: with SQLite's default
// (ABORT) a multi-row statement copies every page it first touches into a
// statement journal, so that a constraint error can undo that statement
// alone — 5 % of the server's CPU with 100 rules. Any error here rolls the
// whole transaction back, so nothing needs undoing statement by statement.
var (
	// finishEvents is the fence check and the final status in one: an
	// item whose event is no longer processing under its fence updates
	// nothing and is refused.
	finishEvents = multiRow{
		prefix: `WITH done (id, workspace_id, fence, status, hops, caused_by_rules, processed_at, decided_rules,
			decisions, payload) AS (VALUES `,
		width: 10,
		suffix: `)
			UPDATE OR FAIL events SET status = done.status, processed_at = done.processed_at, hops = done.hops,
				caused_by_rules = done.caused_by_rules, decided_rules = done.decided_rules,
				decisions = done.decisions, payload = coalesce(done.payload, events.payload), error = NULL,
				lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL
			FROM done
			WHERE events.id = done.id AND events.workspace_id = done.workspace_id
			  AND events.status = 'processing' AND events.lease_fence = done.fence
			RETURNING events.id`,
	}

	insertRuns = multiRow{prefix: `INSERT OR FAIL INTO runs (id, workspace_id, event_id, rule_id, rule_name,
		matched, executed, status, result, actions, created_at, settled_at, rule_version) VALUES `, width: 13,
		suffix: ` ON CONFLICT DO NOTHING`}

	// Stretches that end, then those that begin (keeping one in progress).
	cancelWaits = multiRow{prefix: `DELETE FROM waits WHERE workspace_id = ? AND conversation_id = ? AND kind = ?`}
	startWaits  = multiRow{
		prefix: `INSERT OR FAIL INTO waits (workspace_id, conversation_id, rule_id, kind, since, due_at, payload, fired) VALUES `,
		width:  8,
		suffix: ` ON CONFLICT (workspace_id, conversation_id, rule_id) DO NOTHING`,
	}

	// The hourly run counts add up (in shard 0: see store.CounterShards).
	upsertRollups = multiRow{
		prefix: `INSERT OR FAIL INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed, shard) VALUES `,
		width:  8,
		suffix: ` ON CONFLICT (workspace_id, rule_id, hour, shard) DO UPDATE SET
			evaluated = evaluated + excluded.evaluated, matched = matched + excluded.matched,
			executed = executed + excluded.executed, failed = failed + excluded.failed`,
	}
	insertDeliveries = multiRow{prefix: `INSERT OR FAIL INTO deliveries (id, workspace_id, run_id, action_index, action,
		status, attempts, last_error, available_at, created_at, target, unordered) VALUES `, width: 12,
		suffix: ` ON CONFLICT DO NOTHING`}

	// Counters add up in shard 0 of rule_counters (the single writer never
	// waits on a row: see store.CounterShards); the last_* times only move
	// forward (max() of a NULL is NULL, hence the coalesce).
	moveCounters = multiRow{
		prefix: `INSERT OR FAIL INTO rule_counters (rule_id, workspace_id, match_count, applied_count, last_matched_at,
			last_applied_at, shard) VALUES `,
		width: 7,
		suffix: ` ON CONFLICT (rule_id, shard) DO UPDATE SET
			match_count = match_count + excluded.match_count, applied_count = applied_count + excluded.applied_count,
			last_matched_at = coalesce(max(last_matched_at, excluded.last_matched_at), last_matched_at, excluded.last_matched_at),
			last_applied_at = coalesce(max(last_applied_at, excluded.last_applied_at), last_applied_at, excluded.last_applied_at)`,
	}

	upsertCooldowns = multiRow{
		prefix: `INSERT OR FAIL INTO rule_cooldowns (rule_id, key, workspace_id, matched_at) VALUES `,
		width:  4,
		suffix: ` ON CONFLICT (rule_id, key) DO UPDATE
			SET matched_at = max(matched_at, excluded.matched_at), workspace_id = excluded.workspace_id`,
	}

	// What the event did not tell (NULL) keeps the stored value.
	upsertConversations = multiRow{
		prefix: `INSERT OR FAIL INTO conversations (workspace_id, id, status, assignee_id, tags, priority,
			last_customer_message_at, last_team_response_at, updated_at) VALUES `,
		width: 9,
		suffix: ` ON CONFLICT (workspace_id, id) DO UPDATE SET
			status = coalesce(excluded.status, status),
			assignee_id = coalesce(excluded.assignee_id, assignee_id),
			tags = coalesce(excluded.tags, tags),
			priority = coalesce(excluded.priority, priority),
			last_customer_message_at = coalesce(excluded.last_customer_message_at, last_customer_message_at),
			last_team_response_at = coalesce(excluded.last_team_response_at, last_team_response_at),
			updated_at = excluded.updated_at`,
	}
)

// CompleteEvents commits a batch of outcomes in one transaction: one
// statement checks every item's fence and sets its final status, then one
// multi-row statement per table writes what the accepted items decided.
func (s *Store) CompleteEvents(ctx context.Context, items []store.Completion) ([]error, error) {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return errs, nil
	}
	now := s.now()
	// Everything but the writes is done before the transaction: the one
	// writer connection is the store's bottleneck, and checking, encoding
	// and flattening the outcomes would hold it for a sixth of its time.
	args := make([]any, 0, len(items)*finishEvents.width)
	valid := make([]bool, len(items))
	byID := make(map[string]int, len(items))
	for i := range items {
		it := &items[i]
		if errs[i] = store.CheckOutcome(&it.Outcome); errs[i] != nil {
			continue
		}
		if _, dup := byID[it.Claim.Event.ID]; dup {
			continue // the same claim twice: the first one settles it
		}
		var chain any
		if it.Outcome.CausedByRules != nil {
			b, err := json.Marshal(it.Outcome.CausedByRules)
			if err != nil {
				return nil, wrap("complete events", err)
			}
			chain = string(b)
		}
		rec, err := store.RecordOf(&it.Outcome)
		if err != nil {
			errs[i] = err
			continue
		}
		byID[it.Claim.Event.ID] = i
		valid[i] = true
		var payload any // NULL: as stored
		if p := store.PackedPayload(it.Claim.Event.Payload); p != nil {
			payload = p
		}
		args = append(args, it.Claim.Event.ID, it.Claim.Event.WorkspaceID, it.Claim.Fence,
			it.Outcome.Status, it.Outcome.Hops, chain, ms(now), rec.RuleIDs, rec.Decisions, payload)
	}
	rows := store.FlattenOutcomes(items, valid, now)

	accepted := make([]bool, len(items))
	s.prepare(ctx, finishEvents, insertRuns, insertDeliveries, moveCounters, upsertCooldowns,
		upsertConversations, upsertRollups, startWaits)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(accepted)
		err := s.queryRows(ctx, tx, finishEvents, args, func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			accepted[byID[id]] = true
			return nil
		})
		if err != nil {
			return err
		}
		if slices.Equal(accepted, valid) {
			return s.writeOutcomes(ctx, tx, rows)
		}
		// A lease was lost meanwhile: only the accepted items write.
		return s.writeOutcomes(ctx, tx, store.FlattenOutcomes(items, accepted, now))
	})
	if err != nil {
		return nil, wrap("complete events", err)
	}
	for i := range items {
		if !accepted[i] && errs[i] == nil {
			errs[i] = store.ErrLeaseLost
		} else if errs[i] != nil {
			errs[i] = wrap("complete event "+items[i].Claim.Event.ID, errs[i])
		}
	}
	return errs, nil
}

// writeOutcomes writes the rows of the accepted completions.
func (s *Store) writeOutcomes(ctx context.Context, tx *sql.Tx, r store.OutcomeRows) error {
	args := make([]any, 0, len(r.Runs)*insertRuns.width)
	for i := range r.Runs {
		run := &r.Runs[i]
		args = append(args, run.ID, run.WorkspaceID, run.EventID, run.RuleID, run.RuleName, run.Matched,
			run.Executed, run.Status, string(run.Result), textOrNil(run.Actions), ms(run.CreatedAt),
			msOrNil(run.SettledAt), run.RuleVersion)
	}
	if err := s.execRows(ctx, tx, insertRuns, args); err != nil {
		return err
	}
	for _, c := range r.WaitCancels {
		if _, err := tx.ExecContext(ctx, cancelWaits.prefix, c.WorkspaceID, c.ConversationID, c.Kind); err != nil {
			return err
		}
	}
	args = args[:0]
	for _, w := range r.WaitStarts {
		args = append(args, w.WorkspaceID, w.ConversationID, w.RuleID, w.Kind, ms(w.Since), ms(w.DueAt), string(w.Payload), false)
	}
	if err := s.execRows(ctx, tx, startWaits, args); err != nil {
		return err
	}
	args = args[:0]
	for _, r := range r.Rollups {
		args = append(args, r.WorkspaceID, r.RuleID, r.Hour, r.Evaluated, r.Matched, r.Executed, r.Failed, 0)
	}
	if err := s.execRows(ctx, tx, upsertRollups, args); err != nil {
		return err
	}
	args = args[:0]
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		args = append(args, d.ID, d.WorkspaceID, d.RunID, d.ActionIndex, textOrNil(d.Action), d.Status,
			d.Attempts, d.LastError, ms(d.AvailableAt), ms(d.CreatedAt), d.Target, unordered(d.ID, d.CreatedAt))
	}
	if err := s.execRows(ctx, tx, insertDeliveries, args); err != nil {
		return err
	}
	args = args[:0]
	for _, c := range r.Counters {
		args = append(args, c.RuleID, c.WorkspaceID, c.Matched, c.Applied, msOrNil(c.MatchedAt), msOrNil(c.AppliedAt), 0)
	}
	if err := s.execRows(ctx, tx, moveCounters, args); err != nil {
		return err
	}
	args = args[:0]
	for _, c := range r.Cooldowns {
		args = append(args, c.RuleID, c.Key, c.WorkspaceID, ms(c.MatchedAt))
	}
	if err := s.execRows(ctx, tx, upsertCooldowns, args); err != nil {
		return err
	}
	args = args[:0]
	for i := range r.Conversations {
		c := &r.Conversations[i]
		var status, tags any
		if c.Status != "" {
			status = c.Status
		}
		if c.Tags != nil {
			b, err := json.Marshal(c.Tags)
			if err != nil {
				return err
			}
			tags = string(b)
		}
		args = append(args, c.WorkspaceID, c.ID, status, c.AssigneeID, tags, c.Priority,
			msOrNil(c.LastCustomerMessageAt), msOrNil(c.LastTeamResponseAt), ms(c.UpdatedAt))
	}
	return s.execRows(ctx, tx, upsertConversations, args)
}

// settle runs a fence-checked update of one claimed event; no row means
// the claim is stale (store.ErrLeaseLost).
func (s *Store) settle(ctx context.Context, op string, c store.Claim, query string, args ...any) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, append(args, c.Event.ID, c.Fence)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	return wrap(op, err)
}

// FailEvent records a processing error. The attempt was counted when the
// event was claimed.
func (s *Store) FailEvent(ctx context.Context, c store.Claim, msg string, retryAt *time.Time) error {
	msg = store.Sanitize(msg)
	const where = ` WHERE id = ? AND status = 'processing' AND lease_fence = ?`
	if retryAt != nil {
		return s.settle(ctx, "fail event", c, `
			UPDATE events SET status = 'pending', available_at = ?, error = ?,
				lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL`+where, ms(*retryAt), msg)
	}
	return s.settle(ctx, "fail event", c, `
		UPDATE events SET status = 'failed', processed_at = ?, error = ?,
			lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL`+where, ms(s.now()), msg)
}

// ReleaseEvent hands a claimed event back without counting the attempt.
func (s *Store) ReleaseEvent(ctx context.Context, c store.Claim) error {
	return s.settle(ctx, "release event", c, `
		UPDATE events SET status = 'pending', attempts = max(attempts - 1, 0),
			lease_owner = NULL, lease_fence = NULL, lease_expires_at = NULL
		WHERE id = ? AND status = 'processing' AND lease_fence = ?`)
}

// extendLeases is the fence check and the renewal in one: a row whose
// event is no longer processing under its fence is not extended.
var extendLeases = multiRow{
	prefix: `WITH held (id, fence, expires) AS (VALUES `,
	width:  3,
	suffix: `)
		UPDATE events SET lease_expires_at = held.expires
		FROM held
		WHERE events.id = held.id AND events.status = 'processing' AND events.lease_fence = held.fence
		RETURNING events.id, events.lease_fence`,
}

// ExtendLeases renews the claims that are still current, in one
// transaction.
func (s *Store) ExtendLeases(ctx context.Context, claims []store.Claim, lease time.Duration) ([]bool, error) {
	held := make([]bool, len(claims))
	if len(claims) == 0 {
		return held, nil
	}
	expires := ms(s.now().Add(lease))
	byID := make(map[string][]int, len(claims))
	args := make([]any, 0, len(claims)*extendLeases.width)
	for i, c := range claims {
		byID[c.Event.ID] = append(byID[c.Event.ID], i)
		args = append(args, c.Event.ID, c.Fence, expires)
	}
	s.prepare(ctx, extendLeases)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(held)
		return s.queryRows(ctx, tx, extendLeases, args, func(r *sql.Rows) error {
			var (
				id    string
				fence int64
			)
			if err := r.Scan(&id, &fence); err != nil {
				return err
			}
			// The same event twice, under two fences: only the current
			// one is held.
			for _, i := range byID[id] {
				held[i] = held[i] || claims[i].Fence == fence
			}
			return nil
		})
	})
	if err != nil {
		return nil, wrap("extend leases", err)
	}
	return held, nil
}

// textOrNil is a JSON document as TEXT, or NULL when there is none.
// unordered is a row's unordered column: 1, or NULL (store.Unordered).
func unordered(id string, created time.Time) any {
	if store.Unordered(id, created) {
		return 1
	}
	return nil
}

func textOrNil(doc []byte) any {
	if len(doc) == 0 {
		return nil
	}
	return string(doc)
}
