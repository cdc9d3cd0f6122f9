package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reading runs: a matched run is a row of runs; every run, matched or not,
// is an entry of its event's decision record (decisions.go). Listings that
// can only return matched runs read the rows; the others walk the events
// in (created_at, id) order and expand their records, reading the rows of
// the matched entries they return. Totals come from run_rollups.

// runColumns are read with the run's event (LEFT JOIN events e), which
// holds the facts a run shows of it: an event purged before its runs
// reads as empty.
const runColumns = `r.id, r.workspace_id, r.event_id, r.rule_id, r.rule_name, e.conversation_id, e.contact_id,
	r.matched, r.executed, r.status, r.result, r.actions, r.created_at, r.settled_at, coalesce(e.event_type, ''),
	coalesce(e.source, ''), coalesce(e.status, ''), e.channel_source, r.rule_version`

func scanRun(row Scanner) (Run, error) {
	var (
		r               Run
		result, actions []byte
	)
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.EventID, &r.RuleID, &r.RuleName, &r.ConversationID, &r.ContactID,
		&r.Matched, &r.Executed, &r.Status, &result, &actions, &r.CreatedAt, &r.SettledAt, &r.EventType,
		&r.EventSource, &r.EventStatus, &r.ChannelSource, &r.RuleVersion)
	if err != nil {
		return r, err
	}
	if r.Result, err = expandResult(r.ID, result); err != nil {
		return r, err
	}
	if actions != nil {
		r.Actions = expandActions(actions)
	}
	return r, err
}

// recordEvent is what a run's event contributes to it.
type recordEvent struct {
	id, status, eventType, source  string
	conversation, contact, channel *string
	created                        time.Time
	processed                      *time.Time
	decidedRules                   *string
	decisions                      []byte
	workspaceID                    int64
}

const recordEventColumns = `e.id, e.workspace_id, e.status, e.event_type, e.source, e.conversation_id,
	e.contact_id, e.channel_source, e.created_at, e.processed_at, e.decided_rules, e.decisions`

func scanRecordEvent(row Scanner) (recordEvent, error) {
	var e recordEvent
	err := row.Scan(&e.id, &e.workspaceID, &e.status, &e.eventType, &e.source, &e.conversation, &e.contact,
		&e.channel, &e.created, &e.processed, &e.decidedRules, &e.decisions)
	return e, err
}

// ruleDef is what a run shows of its rule: the name, and the conditions a
// trace points into.
type ruleDef struct {
	name       string
	conditions json.RawMessage
}

// ruleKey names a rule as it was at one version.
type ruleKey struct {
	id      int64
	version int
}

// ruleDefs returns what the runs of these rules show, each rule as it was
// at the run's version (rule_versions; kept after a rule is deleted), or,
// for a run that names no version (made before versions existed), the
// rule as it is now.
func ruleDefs(ctx context.Context, q Querier, d Driver, workspaceID int64, keys []ruleKey) (map[ruleKey]ruleDef, error) {
	out := make(map[ruleKey]ruleDef, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var (
		cond    []string
		args    = []any{workspaceID}
		current []int64
	)
	for _, k := range keys {
		if k.version <= 0 {
			current = append(current, k.id)
			continue
		}
		args = append(args, k.id, k.version)
		cond = append(cond, fmt.Sprintf("(rule_id = $%d AND version = $%d)", len(args)-1, len(args)))
	}
	if len(cond) > 0 {
		rows, err := q.Query(ctx, `SELECT rule_id, version, definition FROM rule_versions
			WHERE workspace_id = $1 AND (`+strings.Join(cond, " OR ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k   ruleKey
				doc []byte
				def struct {
					Name       string          `json:"name"`
					Conditions json.RawMessage `json:"conditions"`
				}
			)
			if err := rows.Scan(&k.id, &k.version, &doc); err != nil {
				return nil, err
			}
			if err := json.Unmarshal(doc, &def); err != nil {
				return nil, fmt.Errorf("rule %d version %d: %w", k.id, k.version, err)
			}
			conds := def.Conditions
			var text string
			if json.Unmarshal(conds, &text) == nil {
				conds = json.RawMessage(text) // versions keep the conditions as submitted, as text
			}
			out[k] = ruleDef{name: def.Name, conditions: conds}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	// A version that is not kept (runs made before rule history, or a
	// version never recorded) shows the rule as it is now.
	for _, k := range keys {
		if _, ok := out[k]; !ok && k.version > 0 && !slices.Contains(current, k.id) {
			current = append(current, k.id)
		}
	}
	if len(current) > 0 {
		list, arg := d.List(2, current)
		rows, err := q.Query(ctx, `SELECT id, name, conditions FROM rules WHERE workspace_id = $1 AND id IN `+list,
			workspaceID, arg)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id    int64
				def   ruleDef
				conds []byte
			)
			if err := rows.Scan(&id, &def.name, &conds); err != nil {
				return nil, err
			}
			def.conditions = conds
			for _, k := range keys {
				if _, ok := out[k]; !ok && k.id == id {
					out[k] = def
				}
			}
			out[ruleKey{id: id}] = def
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// expand returns the runs an event's record holds (every evaluated rule,
// in id order), the matched ones as placeholders to be replaced by their
// rows. keep selects the decisions to expand.
func expand(e recordEvent, keep func(Decision) bool) ([]Run, error) {
	if e.decidedRules == nil || e.decisions == nil {
		return nil, nil
	}
	ds, err := DecodeDecisions(*e.decidedRules, e.decisions)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.id, err)
	}
	out := make([]Run, 0, len(ds))
	for pos, d := range ds {
		if keep != nil && !keep(d) {
			continue
		}
		r := Run{ID: RunID(e.id, e.created, d.RuleID, pos), WorkspaceID: e.workspaceID, EventID: e.id, RuleID: d.RuleID,
			RuleVersion: d.RuleVersion, ConversationID: e.conversation, ContactID: e.contact, Matched: d.Matched,
			Status: RunNotMatched, CreatedAt: e.created, SettledAt: e.processed, EventType: e.eventType,
			EventSource: e.source, EventStatus: e.status, ChannelSource: e.channel,
			Reason: d.Reason, FailedPath: d.Path, FailedActual: d.Actual}
		if d.Matched {
			r.Status = RunPending // until its row is read
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Run) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// finish fills in what the record leaves out: the rule's name, the
// non-matched runs' result (reason and trace), and the matched runs' rows.
func (s *SQL) finish(ctx context.Context, q Querier, workspaceID int64, runs []Run) ([]Run, error) {
	var (
		keys    []ruleKey
		matched []string
	)
	for _, r := range runs {
		if len(r.Result) != 0 {
			continue // a row already
		}
		if r.Matched {
			matched = append(matched, r.ID)
		}
		// Matched rows are named from the same definitions (nameRuns).
		if k := (ruleKey{r.RuleID, r.RuleVersion}); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	defs, err := ruleDefs(ctx, q, s.d, workspaceID, keys)
	if err != nil {
		return nil, err
	}
	rows := map[string]Run{}
	if len(matched) > 0 {
		// By key: (workspace_id, id).
		list, arg := s.d.List(2, UUIDs(matched))
		found, err := queryAll(ctx, q, scanRun, `
			SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id
			WHERE r.workspace_id = $1 AND r.id IN `+list, workspaceID, arg)
		if err != nil {
			return nil, err
		}
		for _, r := range found {
			if r.RuleName == "" {
				r.RuleName = defs[ruleKey{r.RuleID, r.RuleVersion}].name
			}
			rows[r.ID] = r
		}
	}
	out := runs[:0]
	for _, r := range runs {
		if r.Matched && len(r.Result) == 0 {
			row, ok := rows[r.ID]
			if !ok {
				continue // purged with its event's other rows
			}
			row.EventStatus = r.EventStatus
			out = append(out, row)
			continue
		}
		if len(r.Result) == 0 {
			def := defs[ruleKey{r.RuleID, r.RuleVersion}]
			r.RuleName = def.name
			r.Result = nonMatchResult(r, def.conditions)
		}
		out = append(out, r)
	}
	return out, nil
}

// nonMatchResult is the result of a run that did not match, as the API
// shows it: the reason and, for conditions_not_met, the failing condition
// with the value it read.
func nonMatchResult(r Run, conditions json.RawMessage) json.RawMessage {
	type trace struct {
		Path      string          `json:"path"`
		Condition json.RawMessage `json:"condition"`
		Actual    json.RawMessage `json:"actual"`
		Result    bool            `json:"result"`
	}
	doc := struct {
		Reason  string  `json:"reason"`
		Trace   []trace `json:"trace"`
		Actions []any   `json:"actions"`
	}{Reason: r.Reason, Trace: []trace{}, Actions: []any{}}
	if r.Reason == "conditions_not_met" {
		t := trace{Path: r.FailedPath, Condition: conditionAt(conditions, r.FailedPath), Actual: r.FailedActual}
		if t.Actual == nil {
			t.Actual = json.RawMessage("null")
		}
		doc.Trace = append(doc.Trace, t)
	}
	b, _ := json.Marshal(doc)
	return b
}

// conditionAt returns the condition a trace path ("conditions[1].any[0]",
// "conditions[0].not") names in a rule's conditions, or null.
func conditionAt(conditions json.RawMessage, path string) json.RawMessage {
	rest, ok := strings.CutPrefix(path, "conditions")
	cur := conditions
	for ok && rest != "" {
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			var list []json.RawMessage
			if end < 0 || err != nil || json.Unmarshal(cur, &list) != nil || i < 0 || i >= len(list) {
				return json.RawMessage("null")
			}
			cur, rest = list[i], rest[end+1:]
		case rest[0] == '.':
			name := rest[1:]
			if j := strings.IndexAny(name, ".["); j >= 0 {
				name = name[:j]
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal(cur, &obj) != nil || obj[name] == nil {
				return json.RawMessage("null")
			}
			cur, rest = obj[name], rest[1+len(name):]
		default:
			return json.RawMessage("null")
		}
	}
	if !ok || len(cur) == 0 {
		return json.RawMessage("null")
	}
	return cur
}

// nameRuns fills in the rule name of the run rows that store none: a run
// made at a rule version keeps the number, and its name is that
// version's (rule_versions), like a non-matched run's.
func nameRuns(ctx context.Context, q Querier, d Driver, workspaceID int64, runs []Run) error {
	var keys []ruleKey
	for _, r := range runs {
		if k := (ruleKey{r.RuleID, r.RuleVersion}); r.RuleName == "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	defs, err := ruleDefs(ctx, q, d, workspaceID, keys)
	if err != nil {
		return err
	}
	for i := range runs {
		if runs[i].RuleName == "" {
			runs[i].RuleName = defs[ruleKey{runs[i].RuleID, runs[i].RuleVersion}].name
		}
	}
	return nil
}

// runRows reads run rows, named (nameRuns).
func (s *SQL) runRows(ctx context.Context, q Querier, workspaceID int64, query string, args ...any) ([]Run, error) {
	runs, err := queryAll(ctx, q, scanRun, query, args...)
	if err != nil {
		return nil, err
	}
	return runs, nameRuns(ctx, q, s.d, workspaceID, runs)
}

// GetRun returns a run of the workspace: a matched run's row, else the
// entry of its event's record that the id names.
func (s *SQL) GetRun(ctx context.Context, workspaceID int64, id string) (Run, error) {
	id = hexID(id)
	created, ok := runIDTime(id)
	if !ok {
		return Run{}, wrap("get run", ErrNotFound)
	}
	var out Run
	err := s.d.Read(ctx, func(q Querier) error {
		r, err := scanRun(q.QueryRow(ctx, `
			SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id
			WHERE r.workspace_id = $1 AND r.id = $2`, workspaceID, id))
		if err == nil {
			named := []Run{r}
			err = nameRuns(ctx, q, s.d, workspaceID, named)
			out = named[0]
			return err
		}
		if !IsNotFound(err) {
			return err
		}
		// The events of that millisecond: few, found through events_list.
		evs, err := queryAll(ctx, q, scanRecordEvent, `
			SELECT `+recordEventColumns+` FROM events e
			WHERE e.workspace_id = $1 AND e.created_at = $2 AND e.decisions IS NOT NULL`, workspaceID, created)
		if err != nil {
			return err
		}
		for _, e := range evs {
			runs, err := expand(e, nil)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if r.ID == id && !r.Matched {
					got, err := s.finish(ctx, q, workspaceID, []Run{r})
					if err != nil || len(got) == 0 {
						return err
					}
					out = got[0]
					return nil
				}
			}
		}
		return ErrNotFound
	})
	return out, wrap("get run", err)
}

// IsNotFound reports whether err is (or wraps) ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// RunRuleIDs returns the rules that already have a run for the event.
func (s *SQL) RunRuleIDs(ctx context.Context, workspaceID int64, eventID string) ([]int64, error) {
	id := hexID(eventID)
	if id == "" {
		return []int64{}, nil
	}
	var out []int64
	err := s.d.Read(ctx, func(q Querier) error {
		var rules *string
		err := q.QueryRow(ctx, `SELECT decided_rules FROM events WHERE workspace_id = $1 AND id = $2`,
			workspaceID, id).Scan(&rules)
		if err != nil && !IsNotFound(err) {
			return err
		}
		if rules != nil {
			for _, t := range strings.Split(strings.Trim(*rules, ","), ",") {
				if n, err := strconv.ParseInt(t, 10, 64); err == nil {
					out = append(out, n)
				}
			}
		}
		rows, err := queryAll(ctx, q, scanID, `
			SELECT r.rule_id FROM runs r WHERE r.workspace_id = $1 AND r.event_id = $2`+s.d.LegacyRuns("r"), workspaceID, id)
		for _, r := range rows {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
		return err
	})
	slices.Sort(out)
	if out == nil {
		out = []int64{}
	}
	return out, wrap("read an event's runs", err)
}

// runClass is what a run is for the filters: not matched, pending,
// executed or failed.
type runClass uint8

const (
	classNotMatched runClass = 1 << iota
	classPending
	classExecuted
	classFailed
	classAll = classNotMatched | classPending | classExecuted | classFailed
)

func classOf(status string) runClass {
	switch status {
	case RunPending:
		return classPending
	case RunExecuted:
		return classExecuted
	case RunFailed:
		return classFailed
	}
	return classNotMatched
}

// classes is the set of runs f admits.
func (f RunFilter) classes() runClass {
	c := classAll
	if f.Matched != nil {
		if *f.Matched {
			c &= classPending | classExecuted | classFailed
		} else {
			c &= classNotMatched
		}
	}
	if f.Executed != nil {
		if *f.Executed {
			c &= classExecuted
		} else {
			c &^= classExecuted
		}
	}
	if f.Status != "" {
		c &= classOf(f.Status)
	}
	return c
}

// runTotal counts the runs of the classes from the rollups.
func runTotal(ctx context.Context, q Querier, workspaceID, ruleID int64, c runClass) (int, error) {
	var ev, m, ex, fl int64
	err := q.QueryRow(ctx, `
		SELECT coalesce(sum(evaluated), 0), coalesce(sum(matched), 0), coalesce(sum(executed), 0),
		       coalesce(sum(failed), 0)
		FROM run_rollups WHERE workspace_id = $1 AND (CAST($2 AS BIGINT) = 0 OR rule_id = $2)`,
		workspaceID, ruleID).Scan(&ev, &m, &ex, &fl)
	if err != nil {
		return 0, err
	}
	var n int64
	for cl, v := range map[runClass]int64{classNotMatched: ev - m, classPending: m - ex - fl,
		classExecuted: ex, classFailed: fl} {
		if c&cl != 0 {
			n += v
		}
	}
	return int(n), nil
}

// ListRuns returns a page of the workspace's runs matching f, and how many
// match in all.
func (s *SQL) ListRuns(ctx context.Context, workspaceID int64, f RunFilter, q ListQuery) ([]Run, int, error) {
	if q.SortBy != "" && q.SortBy != "created_at" && q.SortBy != "id" {
		return nil, 0, wrap("list runs", fmt.Errorf("cannot sort runs by %q", q.SortBy))
	}
	var (
		out   []Run
		total int
	)
	err := s.d.Read(ctx, func(tx Querier) error {
		var err error
		switch c := f.classes(); {
		case c == 0:
			out, total = []Run{}, 0
		case f.EventID != "":
			out, total, err = s.eventRuns(ctx, tx, workspaceID, f, q)
		case c&classNotMatched == 0:
			if out, err = s.matchedRuns(ctx, tx, workspaceID, f, q); err == nil {
				total, err = runTotal(ctx, tx, workspaceID, f.RuleID, c)
			}
		default:
			if out, err = s.walkRuns(ctx, tx, workspaceID, f, q); err == nil {
				total, err = runTotal(ctx, tx, workspaceID, f.RuleID, c)
			}
		}
		return err
	})
	if err != nil {
		return nil, 0, wrap("list runs", err)
	}
	return out, total, nil
}

// runBefore orders runs as a listing does: by (created_at, id), which for
// runs is their id order too, descending when desc.
func runCompare(a, b Run, desc bool) int {
	c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	if desc {
		return -c
	}
	return c
}

// afterCursor reports whether r comes strictly after the keyset position.
func afterCursor(r Run, q ListQuery) bool {
	if q.AfterTime == nil {
		return true
	}
	return runCompare(r, Run{CreatedAt: *q.AfterTime, ID: strings.ToLower(q.AfterID)}, q.Desc) > 0
}

// eventRuns lists the runs of one event (at most one per rule of the
// workspace): read whole, then filtered, ordered and paged.
func (s *SQL) eventRuns(ctx context.Context, q Querier, workspaceID int64, f RunFilter, lq ListQuery) ([]Run, int, error) {
	id := hexID(f.EventID)
	if id == "" {
		return []Run{}, 0, nil
	}
	evs, err := queryAll(ctx, q, scanRecordEvent, `
		SELECT `+recordEventColumns+` FROM events e WHERE e.workspace_id = $1 AND e.id = $2`, workspaceID, id)
	if err != nil {
		return nil, 0, err
	}
	var runs []Run
	if len(evs) == 1 {
		if runs, err = expand(evs[0], nil); err != nil {
			return nil, 0, err
		}
	}
	// Rows without a record entry: runs made before the record existed.
	legacy, err := s.runRows(ctx, q, workspaceID, `
		SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id
		WHERE r.workspace_id = $1 AND r.event_id = $2`+s.d.LegacyRuns("r"), workspaceID, id)
	if err != nil {
		return nil, 0, err
	}
	for _, r := range legacy {
		if !slices.ContainsFunc(runs, func(x Run) bool { return x.ID == r.ID }) {
			runs = append(runs, r)
		}
	}
	if runs, err = s.finish(ctx, q, workspaceID, runs); err != nil {
		return nil, 0, err
	}
	c := f.classes()
	runs = slices.DeleteFunc(runs, func(r Run) bool {
		return (f.RuleID != 0 && r.RuleID != f.RuleID) || c&classOf(r.Status) == 0
	})
	total := len(runs)
	slices.SortFunc(runs, func(a, b Run) int { return runCompare(a, b, lq.Desc) })
	runs = slices.DeleteFunc(runs, func(r Run) bool { return !afterCursor(r, lq) })
	if lq.AfterTime == nil {
		runs = runs[min(max(lq.Offset, 0), len(runs)):]
	}
	if lq.Limit > 0 && len(runs) > lq.Limit {
		runs = runs[:lq.Limit]
	}
	return runs, total, nil
}

// matchedRuns lists rows of runs: the listings that admit no run that did
// not match.
func (s *SQL) matchedRuns(ctx context.Context, q Querier, workspaceID int64, f RunFilter, lq ListQuery) ([]Run, error) {
	where := ` WHERE r.workspace_id = $1 AND r.matched = $2`
	args := []any{workspaceID, true}
	if f.RuleID != 0 {
		args = append(args, f.RuleID)
		where += fmt.Sprintf(` AND r.rule_id = $%d`, len(args))
	}
	if f.Executed != nil {
		args = append(args, *f.Executed)
		where += fmt.Sprintf(` AND r.executed = $%d`, len(args))
	}
	if f.Status != "" {
		args = append(args, f.Status)
		where += fmt.Sprintf(` AND r.status = $%d`, len(args))
	}
	const from = ` FROM runs r LEFT JOIN events e ON e.id = r.event_id`
	if f.RuleID == 0 {
		// The workspace's matched runs: by key (keyorder.go).
		runs, err := keyPage[Run]{selectFrom: `SELECT ` + runColumns + from, where: where, alias: "r", args: args,
			scan: scanRun, key: func(r Run) (time.Time, string) { return r.CreatedAt, r.ID }}.read(ctx, q, lq)
		if err != nil {
			return nil, err
		}
		return runs, nameRuns(ctx, q, s.d, workspaceID, runs)
	}
	// A rule's: runs_rule holds them in (created_at, id) order.
	dir, op := "ASC", ">"
	if lq.Desc {
		dir, op = "DESC", "<"
	}
	offset := int64(max(lq.Offset, 0))
	if lq.AfterTime != nil {
		args = append(args, *lq.AfterTime, strings.ToLower(lq.AfterID))
		where += fmt.Sprintf(` AND (r.created_at, r.id) %s ($%d, $%d)`, op, len(args)-1, len(args))
		offset = 0
	}
	limit, _ := pageArgs(Page{Limit: lq.Limit})
	args = append(args, limit, offset)
	return s.runRows(ctx, q, workspaceID, `SELECT `+runColumns+from+
		where+fmt.Sprintf(` ORDER BY r.created_at %s, r.id %s LIMIT $%d OFFSET $%d`, dir, dir, len(args)-1, len(args)),
		args...)
}

// walkChunk is how many events a listing reads at a time.
const walkChunk = 64

// walkRuns lists runs by walking the workspace's events in order and
// expanding their records: every listing that admits runs that did not
// match. The events of one millisecond are always expanded together, so
// their runs (which share created_at) come out in id order. A rule's
// listing walks only the hours its rollups say it was evaluated in, so a
// rule that runs rarely does not cost a walk of every event.
func (s *SQL) walkRuns(ctx context.Context, q Querier, workspaceID int64, f RunFilter, lq ListQuery) ([]Run, error) {
	c := f.classes()
	var hours []int64 // a rule's listing: the hours to walk, in walk order
	if f.RuleID != 0 {
		var err error
		if hours, err = ruleHours(ctx, q, workspaceID, f.RuleID, lq); err != nil || len(hours) == 0 {
			return nil, err
		}
	}
	where := ` WHERE e.workspace_id = $1 AND e.decided_rules IS NOT NULL`
	args := []any{workspaceID}
	if f.RuleID != 0 {
		args = append(args, "%,"+strconv.FormatInt(f.RuleID, 10)+",%")
		where += fmt.Sprintf(` AND e.decided_rules LIKE $%d`, len(args))
	}
	dir, op, opEq := "ASC", ">", ">="
	if lq.Desc {
		dir, op, opEq = "DESC", "<", "<="
	}
	keep := func(d Decision) bool {
		if f.RuleID != 0 && d.RuleID != f.RuleID {
			return false
		}
		if d.Matched {
			return c&(classPending|classExecuted|classFailed) != 0 // filtered once their rows are read
		}
		return c&classNotMatched != 0
	}
	want := -1 // rows to collect before stopping
	if lq.Limit > 0 {
		want = lq.Limit
	}
	skip := 0 // runs to pass over first (offset mode)
	if lq.AfterTime == nil {
		skip = max(lq.Offset, 0)
	}
	var (
		out     []Run
		pending []Run // expanded, not yet sure to be complete for their millisecond
		pos     *recordEvent
	)
	for {
		qa := append([]any{}, args...)
		w := where
		switch {
		case pos != nil:
			qa = append(qa, pos.created, pos.id)
			w += fmt.Sprintf(` AND (e.created_at, e.id) %s ($%d, $%d)`, op, len(qa)-1, len(qa))
		case lq.AfterTime != nil:
			qa = append(qa, *lq.AfterTime)
			w += fmt.Sprintf(` AND e.created_at %s $%d`, opEq, len(qa))
		}
		if hours != nil {
			qa = append(qa, time.UnixMilli(hours[0]*3_600_000).UTC(), time.UnixMilli((hours[0]+1)*3_600_000).UTC())
			w += fmt.Sprintf(` AND e.created_at >= $%d AND e.created_at < $%d`, len(qa)-1, len(qa))
		}
		qa = append(qa, walkChunk)
		evs, err := queryAll(ctx, q, scanRecordEvent, `SELECT `+recordEventColumns+` FROM events e`+w+
			fmt.Sprintf(` ORDER BY e.created_at %s, e.id %s LIMIT $%d`, dir, dir, len(qa)), qa...)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.decisions == nil {
				// Completed before the record existed: its runs are rows.
				rows, err := s.runRows(ctx, q, workspaceID, `
					SELECT `+runColumns+` FROM runs r LEFT JOIN events e ON e.id = r.event_id
					WHERE r.workspace_id = $1 AND r.event_id = $2`+s.d.LegacyRuns("r"), workspaceID, e.id)
				if err != nil {
					return nil, err
				}
				for _, r := range rows {
					if f.RuleID == 0 || r.RuleID == f.RuleID {
						pending = append(pending, r)
					}
				}
				continue
			}
			runs, err := expand(e, keep)
			if err != nil {
				return nil, err
			}
			pending = append(pending, runs...)
		}
		// The walk (or, for a rule, this hour) is done when a chunk comes
		// back short; no later hour shares a millisecond with this one.
		last := len(evs) < walkChunk
		if len(evs) > 0 {
			pos = &evs[len(evs)-1]
		}
		more := false // another hour follows
		if last && len(hours) > 1 {
			hours, more = hours[1:], true
		}
		// Runs of the last millisecond read may have company in the next
		// chunk; the others are final. Sorted, they are at the end.
		slices.SortFunc(pending, func(a, b Run) int { return runCompare(a, b, lq.Desc) })
		n := len(pending)
		if !last && pos != nil {
			if cut := slices.IndexFunc(pending, func(r Run) bool { return r.CreatedAt.Equal(pos.created) }); cut >= 0 {
				n = cut
			}
		}
		ready := slices.DeleteFunc(slices.Clone(pending[:n]), func(r Run) bool { return !afterCursor(r, lq) })
		pending = append([]Run(nil), pending[n:]...)
		// Only the runs the page needs are finished (rows read, results
		// built). When every matched class is admitted, or none, a run's
		// place is known before its row is read, and offset runs are
		// skipped without reading them.
		exact := c&(classPending|classExecuted|classFailed) == 0 || c&(classPending|classExecuted|classFailed) == classPending|classExecuted|classFailed
		if exact && skip > 0 {
			k := min(skip, len(ready))
			ready, skip = ready[k:], skip-k
		}
		for len(ready) > 0 && (want < 0 || len(out) < want) {
			step := len(ready)
			if want >= 0 {
				step = min(step, max(want-len(out), 16))
			}
			done, err := s.finish(ctx, q, workspaceID, ready[:step])
			if err != nil {
				return nil, err
			}
			ready = ready[step:]
			for _, r := range done {
				if c&classOf(r.Status) == 0 {
					continue
				}
				if skip > 0 {
					skip--
					continue
				}
				out = append(out, r)
			}
		}
		if (last && !more) || (want >= 0 && len(out) >= want) {
			break
		}
	}
	if lq.Limit > 0 && len(out) > lq.Limit {
		out = out[:lq.Limit]
	}
	return out, nil
}

// ruleHours returns the hours (HourOf) in which the rule's runs were made,
// from its rollups, in the listing's order, from the cursor's hour on.
// (Runs made before the record existed may be later than their event;
// migration 0010 gave their events' hours a rollup row with no counts.)
func ruleHours(ctx context.Context, q Querier, workspaceID, ruleID int64, lq ListQuery) ([]int64, error) {
	dir, cmp, from := "ASC", ">=", int64(-1)<<62
	if lq.Desc {
		dir, cmp, from = "DESC", "<=", int64(1)<<62
	}
	if lq.AfterTime != nil {
		from = HourOf(*lq.AfterTime)
	}
	hours, err := queryAll(ctx, q, func(r Scanner) (int64, error) {
		var h int64
		return h, r.Scan(&h)
	}, `SELECT DISTINCT hour FROM run_rollups WHERE workspace_id = $1 AND rule_id = $2
		AND hour `+cmp+` $3 ORDER BY hour `+dir, workspaceID, ruleID, from)
	if err != nil {
		return nil, err
	}
	if hours == nil {
		hours = []int64{}
	}
	return hours, nil
}

// Cooldowns returns when each of ruleIDs last matched key.
func (s *SQL) Cooldowns(ctx context.Context, workspaceID int64, key string, ruleIDs []int64) ([]Cooldown, error) {
	if len(ruleIDs) == 0 || !ValidText(key) {
		return []Cooldown{}, nil
	}
	list, arg := s.d.List(1, ruleIDs)
	out, err := queryAll(ctx, s.d.Reader(), func(r Scanner) (Cooldown, error) {
		var c Cooldown
		return c, r.Scan(&c.RuleID, &c.Key, &c.MatchedAt)
	}, `
		SELECT rule_id, key, matched_at FROM rule_cooldowns
		WHERE rule_id IN `+list+` AND key = $2 AND workspace_id = $3
		ORDER BY rule_id`, arg, key, workspaceID)
	return out, wrap("read cooldowns", err)
}

// GetConversation returns what the engine has learned of a conversation.
func (s *SQL) GetConversation(ctx context.Context, workspaceID int64, id string) (Conversation, error) {
	if !ValidText(id) {
		return Conversation{}, wrap("get conversation", ErrNotFound)
	}
	var (
		c      = Conversation{WorkspaceID: workspaceID}
		status *string
		tags   []byte
	)
	err := s.d.Reader().QueryRow(ctx, `
		SELECT id, status, assignee_id, tags, priority, last_customer_message_at, last_team_response_at, updated_at
		FROM conversations WHERE workspace_id = $1 AND id = $2`, workspaceID, id).
		Scan(&c.ID, &status, &c.AssigneeID, &tags, &c.Priority, &c.LastCustomerMessageAt, &c.LastTeamResponseAt, &c.UpdatedAt)
	if err != nil {
		return Conversation{}, wrap("get conversation", err)
	}
	if status != nil {
		c.Status = *status
	}
	if tags != nil {
		if err := json.Unmarshal(tags, &c.Tags); err != nil {
			return Conversation{}, wrap("get conversation", fmt.Errorf("decode tags: %w", err))
		}
	}
	return c, nil
}
