package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The outbox. Every action to deliver is a row of deliveries, written in
// the transaction that decided it. Push rows (Target set) are claimed by
// this service's delivery workers; pull rows wait for the host to claim
// them (POST /v1/actions/claim). A claim leases a row: status leased,
// lease_owner the claimant, available_at the lease's end — so a row whose
// lease expired is due again by the same index that finds pending rows.
// When a delivery ends (success, or failure for good) its run's
// per-action status, status, executed and settled_at move, and with them
// the rule's applied_count and the rollups, in the same transaction.

// ErrNotLeased: the delivery is not leased to this claimant (its lease
// expired and was taken over, or it was never claimed).
var ErrNotLeased = errors.New("store: the delivery is not leased to this claimant")

// deliveryColumns are read FROM deliveryFrom: what a delivery shows of its
// run and event is theirs (an empty event id and rule 0 once a run has
// been purged), and an action stored NULL is its run's entry.
const deliveryColumns = `d.id, d.workspace_id, d.run_id, dr.event_id, coalesce(dr.rule_id, 0), d.action_index,
	de.conversation_id, de.contact_id, d.action, dr.actions, d.target, d.status, d.attempts, d.last_error,
	d.available_at, d.created_at`

const deliveryFrom = ` FROM deliveries d LEFT JOIN runs dr ON dr.workspace_id = d.workspace_id AND dr.id = d.run_id LEFT JOIN events de ON de.id = dr.event_id`

func scanDelivery(r Scanner, extra ...any) (Delivery, error) {
	var (
		d                   Delivery
		eventID             *string
		action, runsActions []byte
	)
	err := r.Scan(append([]any{&d.ID, &d.WorkspaceID, &d.RunID, &eventID, &d.RuleID, &d.ActionIndex,
		&d.ConversationID, &d.ContactID, &action, &runsActions, &d.Target, &d.Status, &d.Attempts, &d.LastError,
		&d.AvailableAt, &d.CreatedAt}, extra...)...)
	if eventID != nil {
		d.EventID = *eventID
	}
	switch {
	case action != nil:
		d.Action = action
	case runsActions != nil:
		d.Action = ActionAt(expandActions(runsActions), d.ActionIndex)
	}
	if d.Action == nil {
		d.Action = json.RawMessage(`{}`)
	}
	return d, err
}

func scanDeliveryRow(r Scanner) (Delivery, error) { return scanDelivery(r) }

// StatusAt is the status the API shows at now: a lease that has expired
// has returned the row to pending.
func (d Delivery) StatusAt(now time.Time) string {
	if d.Status == DeliveryLeased && !d.AvailableAt.After(now) {
		return DeliveryPending
	}
	return d.Status
}

// PushClaim asks for due push deliveries.
type PushClaim struct {
	Owner string
	Now   time.Time
	Limit int
	Lease time.Duration
	// Room says how many more deliveries of a target the claimant may
	// take (its per-target concurrency); nil means no limit.
	Room func(target string) int
}

// PushDelivery is a leased push delivery with what sending it needs.
type PushDelivery struct {
	Delivery
	Workspace Workspace
	Event     Event // the decided event: templates, reply headers, the webhook body
	RuleName  string
}

// pausedWorkspace holds back the deliveries of a workspace paused at $1:
// they wait, and resume after the pause.
const notPaused = ` AND NOT EXISTS (
	SELECT 1 FROM controls c WHERE c.workspace_id = d.workspace_id AND c.is_paused
	  AND (c.paused_until IS NULL OR c.paused_until > $1))`

// ClaimPushDeliveries leases up to c.Limit due push deliveries, oldest
// first, at most c.Room(target) of each target.
func (s *SQL) ClaimPushDeliveries(ctx context.Context, c PushClaim) ([]PushDelivery, error) {
	if c.Limit <= 0 {
		return nil, nil
	}
	var out []PushDelivery
	err := s.d.Write(ctx, func(q Querier) error {
		type due struct {
			workspaceID int64
			id, target  string
		}
		cands, err := queryAll(ctx, q, func(r Scanner) (due, error) {
			var x due
			return x, r.Scan(&x.workspaceID, &x.id, &x.target)
		}, `SELECT d.workspace_id, d.id, d.target FROM deliveries d
			WHERE d.target IS NOT NULL AND d.status IN ('pending', 'leased') AND d.available_at <= $1`+notPaused+`
			ORDER BY d.available_at LIMIT $2`+s.d.SkipLocked(), c.Now, c.Limit*4)
		if err != nil {
			return err
		}
		taken := map[string]int{}
		var (
			spaces []int64 // in order of first appearance
			ids    = map[int64][]string{}
			n      int
		)
		for _, x := range cands {
			if n == c.Limit {
				break
			}
			if c.Room != nil && taken[x.target] >= c.Room(x.target) {
				continue
			}
			taken[x.target]++
			if ids[x.workspaceID] == nil {
				spaces = append(spaces, x.workspaceID)
			}
			ids[x.workspaceID] = append(ids[x.workspaceID], x.id)
			n++
		}
		// The key is (workspace_id, id): each workspace's rows are taken
		// by key, one statement each (the due rows are rarely of many).
		for _, ws := range spaces {
			list, arg := s.d.List(4, UUIDs(ids[ws]))
			if _, err := q.Exec(ctx, `UPDATE deliveries SET status = 'leased', lease_owner = $1, available_at = $2
				WHERE workspace_id = $3 AND id IN `+list, c.Owner, c.Now.Add(c.Lease), ws, arg); err != nil {
				return err
			}
			list, arg = s.d.List(2, UUIDs(ids[ws]))
			leased, err := s.pushDeliveries(ctx, q, `WHERE d.workspace_id = $1 AND d.id IN `+list, ws, arg)
			if err != nil {
				return err
			}
			out = append(out, leased...)
		}
		slices.SortFunc(out, func(a, b PushDelivery) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		return nil
	})
	return out, wrap("claim deliveries", err)
}

// pushDeliveries reads the push deliveries where says, with what sending
// them needs.
func (s *SQL) pushDeliveries(ctx context.Context, q Querier, where string, args ...any) ([]PushDelivery, error) {
	return queryAll(ctx, q, func(r Scanner) (PushDelivery, error) {
		var (
			p                 PushDelivery
			smtp, alertEmails []byte
			w                 = &p.Workspace
			e                 = &p.Event
			payload           []byte
			ruleName          *string
		)
		var err error
		p.Delivery, err = scanDelivery(r, &w.ID, &w.Name, &w.Timezone, &w.ActionsURL, &smtp, &w.AlertWebhookURL,
			&alertEmails, &w.RetentionDays, &w.Secret, &w.PreviousSecret, &w.PreviousSecretUntil, &w.CreatedAt,
			&w.UpdatedAt, &e.EventType, &e.ConversationID, &e.ContactID, &payload, &e.PayloadHash, &e.Source,
			&e.ChannelSource, &e.CausedBy, &e.Status, &e.OccurredAt, &e.CreatedAt, &e.ProcessedAt, &e.Attempts,
			&e.AvailableAt, &e.Error, &ruleName)
		if err != nil {
			return p, err
		}
		e.ID, e.WorkspaceID = p.EventID, p.WorkspaceID
		if e.Payload, err = StoredPayload(e.ID, payload); err != nil {
			return p, err
		}
		if smtp != nil {
			w.SMTP = new(SMTPSettings)
			if err := json.Unmarshal(smtp, w.SMTP); err != nil {
				return p, fmt.Errorf("workspace %d: smtp: %w", w.ID, err)
			}
		}
		if ruleName != nil {
			p.RuleName = *ruleName
		}
		return p, nil
	}, `SELECT `+deliveryColumns+`, w.id, w.name, w.timezone, w.actions_url, w.smtp, w.alert_webhook_url,
				w.alert_emails, w.retention_days, w.secret, w.previous_secret, w.previous_secret_until, w.created_at,
				w.updated_at, coalesce(e.event_type, ''), e.conversation_id, e.contact_id, e.payload,
				coalesce(e.payload_hash, ''), coalesce(e.source, ''), e.channel_source, e.caused_by,
				coalesce(e.status, ''), coalesce(e.occurred_at, d.created_at), coalesce(e.created_at, d.created_at),
				e.processed_at, coalesce(e.attempts, 0), coalesce(e.available_at, d.created_at), e.error, r.name
			`+deliveryFrom+`
			JOIN workspaces w ON w.id = d.workspace_id
			LEFT JOIN events e ON e.id = dr.event_id
			LEFT JOIN rules r ON r.workspace_id = d.workspace_id AND r.id = dr.rule_id
			`+where, args...)
}

// Settlement is the end of one delivery attempt.
type Settlement struct {
	WorkspaceID int64
	ID          string
	// Owner is the claimant; the attempt is refused (ErrNotLeased) unless
	// the delivery is still leased to it. Empty settles whoever holds it
	// (the host's ack and fail of pull deliveries).
	Owner  string
	At     time.Time
	Status string  // succeeded, failed (for good), or pending (retried at Next)
	Error  *string // the attempt's error
	Next   time.Time
}

// SettleDelivery records an attempt's end and moves the run with it.
func (s *SQL) SettleDelivery(ctx context.Context, st Settlement) error {
	err := s.d.Write(ctx, func(q Querier) error { return s.settle(ctx, q, st) })
	return wrap("settle delivery "+st.ID, err)
}

func (s *SQL) settle(ctx context.Context, q Querier, st Settlement) error {
	if !slices.Contains([]string{DeliverySucceeded, DeliveryFailed, DeliveryPending}, st.Status) {
		return fmt.Errorf("settle to %q: %w", st.Status, errBadStatus)
	}
	if err := CheckTexts("error", st.Error); err != nil {
		return err
	}
	id := hexID(st.ID)
	if id == "" {
		return ErrNotFound
	}
	available := st.At
	if st.Status == DeliveryPending {
		available = st.Next
	}
	var (
		runID    string
		index    int
		attempts int
	)
	err := q.QueryRow(ctx, `
		UPDATE deliveries SET status = $1, attempts = attempts + 1, last_error = $2, available_at = $3,
			lease_owner = NULL
		WHERE workspace_id = $4 AND id = $5 AND status = 'leased' AND ($6 = '' OR lease_owner = $6)
		RETURNING run_id, action_index, attempts`,
		st.Status, st.Error, available, st.WorkspaceID, id, st.Owner).Scan(&runID, &index, &attempts)
	if IsNotFound(err) {
		return ErrNotLeased
	}
	if err != nil {
		return err
	}
	return s.moveRun(ctx, q, st.WorkspaceID, runID, index, st.Status, attempts, st.Error, st.At)
}

// ActionState is one entry of a matched run's result.actions.
type ActionState struct {
	Index      int     `json:"index"`
	Type       string  `json:"type"`
	Status     string  `json:"status"`
	Reason     string  `json:"reason,omitempty"`
	Attempts   int     `json:"attempts"`
	Error      *string `json:"error,omitempty"`
	DeliveryID string  `json:"delivery_id,omitempty"`
}

// moveRun applies a delivery's new state to its run: the action's entry,
// and when every action has ended, the run's status, settled_at, the
// rule's applied_count and the rollups.
func (s *SQL) moveRun(ctx context.Context, q Querier, workspaceID int64, runID string, index int,
	status string, attempts int, errMsg *string, at time.Time) error {
	var (
		result    []byte
		runStatus string
		ruleID    int64
		created   time.Time
	)
	err := q.QueryRow(ctx, `SELECT result, status, rule_id, created_at FROM runs
		WHERE workspace_id = $1 AND id = $2`+s.d.ForUpdate(), workspaceID, runID).Scan(&result, &runStatus, &ruleID, &created)
	if IsNotFound(err) {
		return nil // purged (retention): nothing to move
	}
	if err != nil {
		return err
	}
	if result, err = expandResult(runID, result); err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(result, &doc); err != nil {
		return fmt.Errorf("run %s: result: %w", runID, err)
	}
	var actions []ActionState
	if raw, ok := doc["actions"]; ok {
		if err := json.Unmarshal(raw, &actions); err != nil {
			return fmt.Errorf("run %s: result actions: %w", runID, err)
		}
	}
	for i := range actions {
		if actions[i].Index == index {
			actions[i].Status, actions[i].Attempts, actions[i].Error = status, attempts, errMsg
		}
	}
	next := RunExecuted
	for _, a := range actions {
		switch a.Status {
		case DeliveryFailed:
			next = RunFailed
		case DeliveryPending, DeliveryLeased:
			if next != RunFailed {
				next = RunPending
			}
		}
	}
	if len(doc) == 3 && string(doc["reason"]) == "null" && string(doc["trace"]) == "[]" && actions != nil {
		result = compactResult(runID, actions) // as CompleteEvents writes it (result.go)
	} else {
		if doc["actions"], err = json.Marshal(actions); err != nil {
			return err
		}
		if result, err = json.Marshal(doc); err != nil {
			return err
		}
	}
	if runStatus != RunPending || next == RunPending {
		_, err := q.Exec(ctx, `UPDATE runs SET result = $1 WHERE workspace_id = $2 AND id = $3`,
			string(result), workspaceID, runID)
		return err
	}
	executed := next == RunExecuted
	if _, err := q.Exec(ctx, `UPDATE runs SET result = $1, status = $2, executed = $3, settled_at = $4
		WHERE workspace_id = $5 AND id = $6`, string(result), next, executed, at, workspaceID, runID); err != nil {
		return err
	}
	ex, fl := 0, 1
	shard := ShardOf(runID) // runs settle concurrently too: spread them over the shards
	if executed {
		ex, fl = 1, 0
		if _, err := q.Exec(ctx, `
			INSERT INTO rule_counters (rule_id, shard, workspace_id, match_count, applied_count, last_applied_at)
			VALUES ($1, $2, $3, 0, 1, $4)
			ON CONFLICT (rule_id, shard) DO UPDATE SET applied_count = rule_counters.applied_count + 1,
				last_applied_at = CASE WHEN rule_counters.last_applied_at IS NULL OR rule_counters.last_applied_at < $4
					THEN $4 ELSE rule_counters.last_applied_at END`, ruleID, shard, workspaceID, at); err != nil {
			return err
		}
	}
	_, err = q.Exec(ctx, `
		INSERT INTO run_rollups (workspace_id, rule_id, hour, shard, evaluated, matched, executed, failed)
		VALUES ($1, $2, $3, $4, 0, 0, $5, $6)
		ON CONFLICT (workspace_id, rule_id, hour, shard) DO UPDATE SET
			executed = run_rollups.executed + excluded.executed, failed = run_rollups.failed + excluded.failed`,
		workspaceID, ruleID, HourOf(created), shard, ex, fl)
	return err
}

// ClaimOutbox leases up to limit due pull deliveries of the workspace to
// owner, oldest first.
func (s *SQL) ClaimOutbox(ctx context.Context, workspaceID int64, owner string, now time.Time, limit int,
	lease time.Duration) ([]Delivery, error) {
	var out []Delivery
	err := s.d.Write(ctx, func(q Querier) error {
		ids, err := queryAll(ctx, q, func(r Scanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		}, `SELECT d.id FROM deliveries d
			WHERE d.workspace_id = $2 AND d.target IS NULL AND d.status IN ('pending', 'leased')
			  AND d.available_at <= $1`+notPaused+`
			ORDER BY d.available_at LIMIT $3`+s.d.SkipLocked(), now, workspaceID, limit)
		if err != nil || len(ids) == 0 {
			out = []Delivery{}
			return err
		}
		list, arg := s.d.List(4, UUIDs(ids))
		if _, err := q.Exec(ctx, `UPDATE deliveries SET status = 'leased', lease_owner = $1, available_at = $2
			WHERE workspace_id = $3 AND id IN `+list, owner, now.Add(lease), workspaceID, arg); err != nil {
			return err
		}
		list, arg = s.d.List(2, UUIDs(ids))
		out, err = queryAll(ctx, q, scanDeliveryRow, `SELECT `+deliveryColumns+deliveryFrom+`
			WHERE d.workspace_id = $1 AND d.id IN `+list+` ORDER BY d.created_at, d.id`, workspaceID, arg)
		return err
	})
	return out, wrap("claim outbox actions", err)
}

// AckOutbox marks a pull delivery succeeded; acking a succeeded one again
// changes nothing. A delivery that failed or was skipped is ErrConflict.
func (s *SQL) AckOutbox(ctx context.Context, workspaceID int64, id string, at time.Time) (Delivery, error) {
	return s.endOutbox(ctx, "ack outbox action", workspaceID, id, Settlement{Status: DeliverySucceeded, At: at})
}

// FailOutbox records a host's failed attempt at a pull delivery: retried
// (pending again at next) or failed for good.
func (s *SQL) FailOutbox(ctx context.Context, workspaceID int64, id, msg string, retry bool, at, next time.Time) (Delivery, error) {
	st := Settlement{Status: DeliveryFailed, At: at, Error: &msg}
	if retry {
		st.Status, st.Next = DeliveryPending, next
	}
	return s.endOutbox(ctx, "fail outbox action", workspaceID, id, st)
}

func (s *SQL) endOutbox(ctx context.Context, op string, workspaceID int64, id string, st Settlement) (Delivery, error) {
	var out Delivery
	err := s.d.Write(ctx, func(q Querier) error {
		d, err := getDelivery(ctx, q, workspaceID, id)
		if err != nil {
			return err
		}
		if d.Target != nil {
			return ErrNotFound // pushed by this service: not the host's to settle
		}
		switch {
		case d.Status == DeliverySucceeded && st.Status == DeliverySucceeded:
			out = d
			return nil
		case d.Status != DeliveryPending && d.Status != DeliveryLeased:
			return fmt.Errorf("the action is %s: %w", d.Status, ErrConflict)
		}
		if d.Status == DeliveryPending {
			// Acked or failed without a claim: take it first.
			if _, err := q.Exec(ctx, `UPDATE deliveries SET status = 'leased' WHERE workspace_id = $1 AND id = $2`,
				workspaceID, d.ID); err != nil {
				return err
			}
		}
		st.WorkspaceID, st.ID = workspaceID, d.ID
		if err := s.settle(ctx, q, st); err != nil {
			return err
		}
		out, err = getDelivery(ctx, q, workspaceID, d.ID)
		return err
	})
	return out, wrap(op, err)
}

func getDelivery(ctx context.Context, q Querier, workspaceID int64, id string) (Delivery, error) {
	id = hexID(id)
	if id == "" {
		return Delivery{}, ErrNotFound
	}
	return scanDelivery(q.QueryRow(ctx, `SELECT `+deliveryColumns+deliveryFrom+`
		WHERE d.workspace_id = $1 AND d.id = $2`, workspaceID, id))
}

// GetDelivery returns a delivery of the workspace.
func (s *SQL) GetDelivery(ctx context.Context, workspaceID int64, id string) (Delivery, error) {
	d, err := getDelivery(ctx, s.d.Reader(), workspaceID, id)
	return d, wrap("get delivery", err)
}

// DeliveryFilter narrows ListDeliveries. Status "pending" includes
// leased rows whose lease expired at Now; "leased" excludes them.
type DeliveryFilter struct {
	Status string
	RunID  string
	RuleID int64
	Now    time.Time
}

// runDeliveryIDs returns the delivery ids a run's result lists (none for
// an unknown run or one that did not match).
func runDeliveryIDs(ctx context.Context, q Querier, workspaceID int64, runID string) ([]string, error) {
	if runID == "" {
		return nil, nil
	}
	var result []byte
	err := q.QueryRow(ctx, `SELECT result FROM runs WHERE workspace_id = $1 AND id = $2`, workspaceID, runID).Scan(&result)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if result, err = expandResult(runID, result); err != nil {
		return nil, err
	}
	var doc struct {
		Actions []ActionState `json:"actions"`
	}
	if err := json.Unmarshal(result, &doc); err != nil {
		return nil, fmt.Errorf("run %s: result: %w", runID, err)
	}
	var ids []string
	for _, a := range doc.Actions {
		if id := hexID(a.DeliveryID); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// ListDeliveries returns a page of the workspace's deliveries by
// (created_at, id), and how many match.
func (s *SQL) ListDeliveries(ctx context.Context, workspaceID int64, f DeliveryFilter, lq ListQuery) ([]Delivery, int, error) {
	where := ` WHERE d.workspace_id = $1`
	args := []any{workspaceID}
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(cond, len(args))
	}
	switch f.Status {
	case "":
	case DeliveryPending:
		add(` AND (d.status = 'pending' OR (d.status = 'leased' AND d.available_at <= $%d))`, f.Now)
	case DeliveryLeased:
		add(` AND d.status = 'leased' AND d.available_at > $%d`, f.Now)
	default:
		add(` AND d.status = $%d`, f.Status)
	}
	if f.RunID != "" {
		// A run's deliveries are the ones its result lists: found by key,
		// with no index on run_id.
		ids, err := runDeliveryIDs(ctx, s.d.Reader(), workspaceID, hexID(f.RunID))
		if err != nil {
			return nil, 0, wrap("list deliveries", err)
		}
		if len(ids) == 0 {
			return []Delivery{}, 0, nil
		}
		add(` AND d.run_id = $%d`, hexID(f.RunID))
		list, arg := s.d.List(len(args)+1, UUIDs(ids))
		args = append(args, arg)
		where += ` AND d.id IN ` + list
	}
	from := ` FROM deliveries d`
	if f.RuleID != 0 {
		add(` AND dr.rule_id = $%d`, f.RuleID)
		from = deliveryFrom
	}
	var (
		out   []Delivery
		total int
	)
	err := s.d.Read(ctx, func(q Querier) error {
		if err := q.QueryRow(ctx, `SELECT count(*)`+from+where, args...).Scan(&total); err != nil {
			return err
		}
		var err error
		out, err = keyPage[Delivery]{selectFrom: `SELECT ` + deliveryColumns + deliveryFrom, where: where, alias: "d",
			args: args, scan: scanDeliveryRow, key: func(d Delivery) (time.Time, string) { return d.CreatedAt, d.ID },
		}.read(ctx, q, lq)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list deliveries", err)
	}
	return out, total, nil
}
