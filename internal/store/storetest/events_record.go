package storetest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// The decision record (store/decisions.go) keeps a run that did not match
// in its event's row and a matched one also as a row of runs. These tests
// hold it to the reference model: the one-row-per-run list the store kept
// before the record, with each run as the old store would read it back.

// recordModel is what a test completed: the outcome each accepted
// completion gave, per event, from which the runs the old store would hold
// are derived (expectRuns).
type recordModel struct {
	ws    int64
	given map[string][]store.Run // event id → the runs its accepted completion carried
	order []string               // event ids, as ingested
	// versions holds each rule as it was at each version the test made:
	// a run shows its rule as of the run's version.
	versions map[[2]int64]rules.Rule
}

func newRecordModel(ws int64) *recordModel {
	return &recordModel{ws: ws, given: map[string][]store.Run{}, versions: map[[2]int64]rules.Rule{}}
}

// version records a rule as it is at its current version.
func (m *recordModel) version(r rules.Rule) { m.versions[[2]int64{r.ID, int64(r.Version)}] = r }

// accepted records an accepted completion's runs.
func (m *recordModel) accepted(eventID string, runs []store.Run) {
	m.given[eventID] = slices.Clone(runs)
}

// recordRules are the rule definitions non-matched runs show: each rule
// as it was at the run's version, else (a version the store never kept)
// as it is now; a deleted rule without a kept version is absent.
type recordRules map[int64]rules.Rule

// defsAt is defs with g's rule as of g's version, when the model knows it.
func (m *recordModel) defsAt(defs recordRules, g store.Run) recordRules {
	v, ok := m.versions[[2]int64{g.RuleID, int64(g.RuleVersion)}]
	if !ok {
		return defs
	}
	out := recordRules{g.RuleID: v}
	return out
}

// expectRuns reads the events' final state and the rules' current
// definitions, and returns every run the old store would hold, in
// (created_at, id) order.
func (m *recordModel) expectRuns(t testing.TB, s store.Store) []store.Run {
	t.Helper()
	defs := recordRules{}
	list, err := s.ListRules(t.Context(), m.ws, store.RuleFilter{})
	if err != nil {
		t.Fatalf("ListRules: %v", err)
	}
	for _, r := range list {
		defs[r.ID] = r
	}
	var out []store.Run
	for _, id := range m.order {
		given, ok := m.given[id]
		if !ok {
			continue
		}
		e, err := s.GetEvent(t.Context(), m.ws, id)
		if err != nil {
			t.Fatalf("GetEvent(%s): %v", id, err)
		}
		seen := map[int64]bool{}
		for _, g := range given {
			if seen[g.RuleID] {
				continue // the first run of a rule wins
			}
			seen[g.RuleID] = true
			out = append(out, expectRun(e, g, m.defsAt(defs, g), len(seen)-1))
		}
	}
	slices.SortFunc(out, func(a, b store.Run) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// expectRun is the run a completion's run g leaves, as the old store read
// it: a matched run as written; one that did not match with its status,
// the event's processed_at as settled_at, and a result of its reason and
// trace (the failing condition taken from the rule's current conditions).
func expectRun(e store.Event, g store.Run, defs recordRules, pos int) store.Run {
	r := store.Run{
		ID: store.RunID(e.ID, e.CreatedAt, g.RuleID, pos), WorkspaceID: e.WorkspaceID, EventID: e.ID, RuleID: g.RuleID,
		RuleVersion: g.RuleVersion, ConversationID: e.ConversationID, ContactID: e.ContactID, Matched: g.Matched,
		CreatedAt: e.CreatedAt, EventType: e.EventType, EventSource: e.Source, EventStatus: e.Status,
		ChannelSource: e.ChannelSource,
	}
	// A run's name is its rule's as of the run's version (see defsAt),
	// matched or not; a run that names no version keeps the name it has.
	if def, exists := defs[g.RuleID]; exists {
		r.RuleName = def.Name
	}
	if g.RuleVersion == 0 {
		r.RuleName = g.RuleName
	}
	if g.Matched {
		r.Executed, r.Status, r.Result = g.Executed, g.Status, g.Result
		if len(r.Result) == 0 {
			r.Result = json.RawMessage(`{}`)
		}
		if g.SettledAt != nil {
			r.SettledAt = ptr(g.SettledAt.UTC().Truncate(time.Millisecond))
		}
		return r
	}
	r.Status, r.SettledAt, r.Reason = store.RunNotMatched, e.ProcessedAt, g.Reason
	def, exists := defs[g.RuleID]
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
	}{Reason: g.Reason, Trace: []trace{}, Actions: []any{}}
	if g.Reason == "conditions_not_met" {
		r.FailedPath, r.FailedActual = g.FailedPath, modelCap(g.FailedActual)
		tr := trace{Path: g.FailedPath, Condition: json.RawMessage("null"), Actual: r.FailedActual}
		if exists {
			tr.Condition = modelConditionAt(def.Conditions, g.FailedPath)
		}
		if tr.Actual == nil {
			tr.Actual = json.RawMessage("null")
		}
		doc.Trace = append(doc.Trace, tr)
	}
	r.Result, _ = json.Marshal(doc)
	return r
}

// modelCap is the value a decision keeps (store.MaxActualBytes): null as
// nil; a short value as it is; a long string as its longest prefix, cut
// at a character boundary, whose JSON fits; any other long value as nil.
// (The tests' strings need no escaping, so "longest" is well defined.)
func modelCap(v json.RawMessage) json.RawMessage {
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	if len(v) <= store.MaxActualBytes {
		return v
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil
	}
	for n := len(s); n >= 0; n-- {
		if n < len(s) && !utf8.RuneStart(s[n]) {
			continue
		}
		b, _ := json.Marshal(s[:n])
		if len(b) <= store.MaxActualBytes {
			return b
		}
	}
	return json.RawMessage(`""`)
}

// modelConditionAt walks a trace path ("conditions[1].any[0]") in a
// rule's conditions; null when it leads nowhere.
func modelConditionAt(conds json.RawMessage, path string) json.RawMessage {
	var cur any
	if json.Unmarshal(conds, &cur) != nil {
		return json.RawMessage("null")
	}
	rest, ok := strings.CutPrefix(path, "conditions")
	for ok && rest != "" {
		if rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			list, isList := cur.([]any)
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || !isList || err != nil || i < 0 || i >= len(list) {
				return json.RawMessage("null")
			}
			cur, rest = list[i], rest[end+1:]
			continue
		}
		name := strings.TrimPrefix(rest, ".")
		if j := strings.IndexAny(name, ".["); j >= 0 {
			name = name[:j]
		}
		obj, isObj := cur.(map[string]any)
		if rest[0] != '.' || !isObj || obj[name] == nil {
			return json.RawMessage("null")
		}
		cur, rest = obj[name], rest[1+len(name):]
	}
	if !ok {
		return json.RawMessage("null")
	}
	b, _ := json.Marshal(cur)
	return b
}

// jsonEqual compares JSON documents by value: PostgreSQL may keep a
// rule's conditions as jsonb, which normalises spacing and key order.
var jsonEqual = gocmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
})

// recordFixture is a workspace with runs of every kind (see
// setupRecordFixture) and its model.
type recordFixture struct {
	*queue
	m       *recordModel
	rules   []rules.Rule // by index; [renamed] was renamed, [deleted] deleted
	events  []store.Event
	noRuns  store.Event // completed without any rule evaluated
	pending store.Event // never claimed
	lost    []store.Event
}

const (
	recordRenamed = 2
	recordDeleted = 3
	recordUnused  = 7 // never evaluated
)

// recordConditions are every fixture rule's conditions; the traces point
// into them.
const recordConditions = `[{"field":"message.subject","operator":"contains","value":"urgent"},` +
	`{"any":[{"field":"contact.email","operator":"equals","value":"a@b.test"},` +
	`{"field":"message.body","operator":"contains","value":"refund"}]}]`

// recordActuals are the values failing conditions read: short ones, null,
// a string and an object longer than store.MaxActualBytes, and a long
// string whose cut falls inside a two-byte character.
var recordActuals = []json.RawMessage{
	json.RawMessage(`"Re: Invoice"`), json.RawMessage(`42`), json.RawMessage(`null`), nil,
	json.RawMessage(`"` + strings.Repeat("a", 1000) + `"`),
	json.RawMessage(`{"long":"` + strings.Repeat("b", 400) + `"}`),
	json.RawMessage(`"` + strings.Repeat("xé", 200) + `"`),
	json.RawMessage(`["short", 1, true]`),
}

var recordPaths = []string{"conditions[0]", "conditions[1].any[0]", "conditions[1].any[1]", "conditions[1]", "conditions[9]"}

// recordReasons are the reasons a run that did not match records.
var recordReasons = []string{"conditions_not_met", "rollout_excluded", "cooldown", "loop_prevented", "evaluation_limit"}

// outcomeGen makes outcomes that cycle through every reason, value and
// path, so that a fixture of a few dozen events holds each of them.
type outcomeGen struct {
	rng                    *rand.Rand
	reason, actual, path   int
	status                 int
	matchedShare, maxRules int
}

// runs returns the runs of one event by the rules (a subset, in random
// order), at the completion time now.
func (g *outcomeGen) runs(rs []rules.Rule, now time.Time) []store.Run {
	n := g.rng.IntN(min(g.maxRules, len(rs)) + 1)
	picked := slices.Clone(rs)
	g.rng.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
	out := make([]store.Run, 0, n)
	for _, r := range picked[:n] {
		run := store.Run{ID: newUUID(), RuleID: r.ID, RuleName: r.Name, RuleVersion: 1 + g.rng.IntN(3), CreatedAt: now}
		if g.rng.IntN(100) < g.matchedShare {
			run.Matched = true
			switch g.status % 3 {
			case 0:
				run.Status = store.RunPending
			case 1:
				run.Status, run.Executed, run.SettledAt = store.RunExecuted, true, &now
			case 2:
				run.Status, run.SettledAt = store.RunFailed, &now
			}
			g.status++
			run.Result = json.RawMessage(fmt.Sprintf(`{"reason":null,"trace":[],"actions":[{"type":"add_note","n":%d}]}`, g.status))
		} else {
			run.Status, run.SettledAt = store.RunNotMatched, &now
			run.Reason = recordReasons[g.reason%len(recordReasons)]
			g.reason++
			if run.Reason == "conditions_not_met" {
				run.FailedPath = recordPaths[g.path%len(recordPaths)]
				run.FailedActual = recordActuals[g.actual%len(recordActuals)]
				g.path++
				g.actual++
			}
		}
		out = append(out, run)
	}
	return out
}

// setupRecordFixture builds the fixture:
//
//   - 12 rules (so ids 1 and 11 coexist: "rule 1" must not find rule 11's
//     runs); rule [recordUnused] is never evaluated;
//   - two events re-processed after a lost lease: one completed by the
//     new owner before the late completion arrives, one after it;
//   - 40 events in commits of 1 to 5 (same millisecond), the clock moving
//     0 ms, 1 ms, a second or over an hour between commits, and a burst of
//     70 events in one commit (more than a listing reads at a time), each
//     completed in batches of 1 to 9 with random runs: every reason,
//     matched runs pending, executed and failed, skipped events, an event
//     with two runs of one rule (the first wins);
//   - an event completed without runs, one never claimed;
//   - then rule [recordRenamed] renamed and rule [recordDeleted] deleted.
func setupRecordFixture(t *testing.T, open ClockOpener) *recordFixture {
	t.Helper()
	f := &recordFixture{queue: setupQueue(t, open)}
	f.m = newRecordModel(f.ws.ID)
	for i := range 12 {
		r := newRule(f.ws.ID, fmt.Sprintf("rule-%02d", i))
		r.TriggerType, r.Conditions = rules.TriggerIncoming, json.RawMessage(recordConditions)
		f.rules = append(f.rules, createRule(t, f.s, r, nil))
		f.m.version(f.rules[len(f.rules)-1])
	}
	used := slices.Delete(slices.Clone(f.rules), recordUnused, recordUnused+1)
	gen := &outcomeGen{rng: rand.New(rand.NewPCG(8, 8)), matchedShare: 30, maxRules: 7}
	ctx := t.Context()

	// Lost leases.
	f.lost = f.ingestEvents(t, f.event("lost-a", 1), f.event("lost-b", 2))
	old := f.claim(t, "slow", 10)
	f.clk.Advance(lease)
	fresh := f.claim(t, "fast", 10)
	byEvent := func(a, b store.Claim) int { return cmp.Compare(a.Event.ID, b.Event.ID) }
	slices.SortFunc(old, byEvent)
	slices.SortFunc(fresh, byEvent)
	if len(old) != 2 || len(fresh) != 2 || old[0].Event.ID != fresh[0].Event.ID || old[1].Event.ID != fresh[1].Event.ID {
		t.Fatalf("claims %v, then after the leases expired %v; want both events each time", claimedIDs(old), claimedIDs(fresh))
	}
	now := f.now()
	winA := store.Completion{Claim: fresh[0], Outcome: store.Outcome{Status: store.EventProcessed, Runs: gen.runs(used, now)}}
	for len(winA.Outcome.Runs) < 3 {
		winA.Outcome.Runs = gen.runs(used, now)
	}
	wantErr(t, "winning completion", f.complete(t, winA)[0], nil)
	f.m.accepted(fresh[0].Event.ID, winA.Outcome.Runs)
	lateA := store.Completion{Claim: old[0], Outcome: store.Outcome{Status: store.EventProcessed, Runs: gen.runs(used, now)}}
	lateB := store.Completion{Claim: old[1], Outcome: store.Outcome{Status: store.EventProcessed, Runs: gen.runs(used, now)}}
	lateB.Outcome.Runs = append(lateB.Outcome.Runs, store.Run{ID: newUUID(), RuleID: f.rules[recordUnused].ID,
		RuleName: "never", Status: store.RunNotMatched, Reason: "cooldown"})
	errs := f.complete(t, lateA, lateB)
	wantErr(t, "late completion (after the winner's)", errs[0], store.ErrLeaseLost)
	wantErr(t, "late completion (before the winner's)", errs[1], store.ErrLeaseLost)
	f.clk.Advance(time.Millisecond)
	now = f.now()
	winB := store.Completion{Claim: fresh[1], Outcome: store.Outcome{Status: store.EventProcessed, Runs: gen.runs(used, now)}}
	for len(winB.Outcome.Runs) < 3 {
		winB.Outcome.Runs = gen.runs(used, now)
	}
	errs = f.complete(t, winB, lateA)
	wantErr(t, "winning completion", errs[0], nil)
	wantErr(t, "late completion, again", errs[1], store.ErrLeaseLost)
	f.m.accepted(fresh[1].Event.ID, winB.Outcome.Runs)

	// The history.
	steps := []time.Duration{0, time.Millisecond, time.Second, 61 * time.Minute, time.Millisecond, 0, 3 * time.Second}
	for i := 0; i < 40; {
		n := min(1+gen.rng.IntN(5), 40-i)
		batch := make([]store.NewEvent, n)
		for j := range batch {
			conv := ""
			if (i+j)%3 == 0 {
				conv = fmt.Sprintf("c%d", (i+j)%4)
			}
			batch[j] = f.event(conv, i+j)
			if (i+j)%4 == 1 {
				batch[j].ContactID, batch[j].ChannelSource = ptr("ann"), ptr("email")
			}
		}
		f.ingestEvents(t, batch...)
		i += n
		f.clk.Advance(steps[i%len(steps)])
	}
	burst := make([]store.NewEvent, 70)
	for j := range burst {
		burst[j] = f.event("", 100+j)
	}
	f.ingestEvents(t, burst...)
	f.clk.Advance(time.Second)
	f.noRuns = f.ingestEvents(t, f.event("", 500))[0]

	completed := 0
	for round := 0; ; round++ {
		claims := f.claim(t, "w", 500)
		if len(claims) == 0 {
			break
		}
		f.clk.Advance(time.Duration(round%3) * time.Millisecond)
		for len(claims) > 0 {
			n := min(1+gen.rng.IntN(9), len(claims))
			now := f.now()
			items := make([]store.Completion, n)
			for j, c := range claims[:n] {
				o := store.Outcome{Status: store.EventProcessed}
				if c.Event.ID != f.noRuns.ID {
					o.Runs = gen.runs(used, now)
				}
				if completed%7 == 3 {
					o.Status = store.EventSkipped
				}
				if completed%11 == 5 && len(o.Runs) > 0 {
					// A second run of the first rule, with the other
					// outcome: the first one is the run.
					dup := o.Runs[0]
					dup.ID = newUUID()
					if dup.Matched {
						dup.Matched, dup.Executed, dup.Status, dup.Reason = false, false, store.RunNotMatched, "cooldown"
					} else {
						dup.Matched, dup.Status, dup.Reason, dup.FailedPath, dup.FailedActual = true, store.RunPending, "", "", nil
					}
					o.Runs = append(o.Runs, dup)
				}
				items[j] = store.Completion{Claim: c, Outcome: o}
				completed++
			}
			for j, err := range f.complete(t, items...) {
				wantErr(t, "CompleteEvents", err, nil)
				f.m.accepted(items[j].Claim.Event.ID, items[j].Outcome.Runs)
			}
			claims = claims[n:]
			f.clk.Advance(time.Duration(gen.rng.IntN(2)) * time.Millisecond)
		}
	}
	f.pending = f.ingestEvents(t, f.event("", 600))[0]

	renamed := f.rules[recordRenamed]
	renamed.Name = "renamed rule"
	var err error
	if f.rules[recordRenamed], err = f.s.UpdateRule(ctx, renamed); err != nil {
		t.Fatalf("UpdateRule: %v", err)
	}
	f.m.version(f.rules[recordRenamed])
	wantErr(t, "DeleteRule", f.s.DeleteRule(ctx, f.ws.ID, f.rules[recordDeleted].ID), nil)
	return f
}

// ingestEvents ingests one commit and adds its events to the model.
func (f *recordFixture) ingestEvents(t *testing.T, events ...store.NewEvent) []store.Event {
	t.Helper()
	out := f.ingest(t, events...)
	for _, e := range out {
		f.m.order = append(f.m.order, e.ID)
		f.events = append(f.events, e)
	}
	return out
}

// testEventRecord checks every listing of runs, and of the events a rule
// recorded a run for, against the reference model.
func testEventRecord(t *testing.T, open ClockOpener) {
	t.Run("Fixture", func(t *testing.T) {
		t.Parallel()
		testRecordFixture(t, open)
	})
	t.Run("Property", func(t *testing.T) {
		t.Parallel()
		testRecordProperty(t, open)
	})
}

func testRecordFixture(t *testing.T, open ClockOpener) {
	f := setupRecordFixture(t, open)
	all := f.m.expectRuns(t, f.s)
	checkRecordFixture(t, f, all)
	checkRunListings(t, f.s, f.ws.ID, all, f.filterValues(), true)
	checkGetRuns(t, f.s, f.ws.ID, all)

	// A run id that names no run, in a millisecond that has some.
	e := f.events[len(f.events)/2]
	_, err := f.s.GetRun(t.Context(), f.ws.ID, store.RunID(e.ID, e.CreatedAt, f.rules[recordUnused].ID, 0))
	wantErr(t, "GetRun(no such rule for the event)", err, store.ErrNotFound)
	other, _, _ := createWorkspace(t, f.s, "globex")
	_, err = f.s.GetRun(t.Context(), other.ID, all[0].ID)
	wantErr(t, "GetRun(another workspace)", err, store.ErrNotFound)
	if list, total, err := f.s.ListRuns(t.Context(), other.ID, store.RunFilter{}, store.ListQuery{}); err != nil || len(list) != 0 || total != 0 {
		t.Errorf("ListRuns(another workspace) = %d runs, total %d, %v", len(list), total, err)
	}

	for _, e := range append(f.events, f.noRuns, f.pending) {
		want := []int64{}
		for _, r := range all {
			if r.EventID == e.ID {
				want = append(want, r.RuleID)
			}
		}
		slices.Sort(want)
		got, err := f.s.RunRuleIDs(t.Context(), f.ws.ID, e.ID)
		wantErr(t, "RunRuleIDs", err, nil)
		wantDiff(t, "RunRuleIDs("+e.ID+")", want, got)
	}
	checkRuleEvents(t, f.s, f.ws.ID, all, f.ruleIDs())
}

// checkRecordFixture checks that the fixture holds what it promises, so
// that the listings below compare something.
func checkRecordFixture(t *testing.T, f *recordFixture, all []store.Run) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range all {
		seen[r.Status]++
		if !r.Matched {
			seen[r.Reason]++
		}
		if len(r.FailedActual) > 0 && bytes.HasPrefix(r.FailedActual, []byte(`"aaaa`)) {
			seen["capped"]++
			if len(r.FailedActual) != store.MaxActualBytes {
				t.Errorf("capped actual is %d bytes, want %d", len(r.FailedActual), store.MaxActualBytes)
			}
		}
		if r.RuleID == f.rules[recordRenamed].ID {
			seen["renamed "+strconv.FormatBool(r.Matched)]++
		}
		if r.RuleID == f.rules[recordDeleted].ID {
			seen["deleted "+strconv.FormatBool(r.Matched)]++
		}
	}
	for _, k := range append(slices.Clone(recordReasons), store.RunNotMatched, store.RunPending, store.RunExecuted,
		store.RunFailed, "capped", "renamed true", "renamed false", "deleted true", "deleted false") {
		if seen[k] == 0 {
			t.Errorf("the fixture has no run of kind %q", k)
		}
	}
	if len(all) < 100 {
		t.Errorf("the fixture has %d runs, want at least 100", len(all))
	}
	for _, e := range f.lost {
		if n := len(slices.DeleteFunc(slices.Clone(all), func(r store.Run) bool { return r.EventID != e.ID })); n < 3 {
			t.Errorf("re-processed event %s has %d runs, want those of the winning completion (≥ 3)", e.ID, n)
		}
	}
}

// ruleIDs are the rule ids the listings are filtered by: every rule, the
// unused and deleted ones included, and one that never existed.
func (f *recordFixture) ruleIDs() []int64 {
	return append(ids(f.rules), 9999)
}

// filterValues are the values each filter of ListRuns is tried with:
// every rule with every event filter value would be slow, so the rules
// are crossed with "any event" and the events with "any rule" and rules
// [0] and [10] (ids 1 and 11).
func (f *recordFixture) filterValues() runFilterValues {
	return runFilterValues{
		rules: []int64{0, f.rules[0].ID, f.rules[recordRenamed].ID, f.rules[recordDeleted].ID, f.rules[10].ID,
			f.rules[1].ID, f.rules[recordUnused].ID, 9999},
		walkedRules: 4,
		events:      []string{"", f.lost[0].ID, f.lost[1].ID, f.events[10].ID, f.noRuns.ID, f.pending.ID, newUUID()},
		eventRules:  []int64{0, f.rules[0].ID, f.rules[10].ID},
	}
}

// runFilterValues are the values filters are tried with: rules with
// every event value in eventRules, the others only with events[0].
type runFilterValues struct {
	rules []int64
	// walkedRules of rules (the first ones) are also walked page by page
	// in every order.
	walkedRules int
	events      []string
	eventRules  []int64
}

// filters is the combinations of the filters' values (see
// runFilterValues), each with every matched, executed and status value.
func (v runFilterValues) filters() []store.RunFilter {
	var out []store.RunFilter
	for _, rule := range v.rules {
		for i, ev := range v.events {
			if i > 0 && !slices.Contains(v.eventRules, rule) {
				continue
			}
			for _, m := range []*bool{nil, ptr(true), ptr(false)} {
				for _, x := range []*bool{nil, ptr(true), ptr(false)} {
					for _, st := range []string{"", store.RunNotMatched, store.RunPending, store.RunExecuted, store.RunFailed} {
						out = append(out, store.RunFilter{RuleID: rule, EventID: ev, Matched: m, Executed: x, Status: st})
					}
				}
			}
		}
	}
	return out
}

func describeFilter(f store.RunFilter) string {
	s := fmt.Sprintf("rule=%d event=%q status=%q", f.RuleID, f.EventID, f.Status)
	if f.Matched != nil {
		s += fmt.Sprintf(" matched=%v", *f.Matched)
	}
	if f.Executed != nil {
		s += fmt.Sprintf(" executed=%v", *f.Executed)
	}
	return s
}

// listRuns is ListRuns, which must succeed.
func listRuns(t testing.TB, s store.Store, ws int64, f store.RunFilter, q store.ListQuery) ([]store.Run, int) {
	t.Helper()
	list, total, err := s.ListRuns(t.Context(), ws, f, q)
	if err != nil {
		t.Fatalf("ListRuns(%s, %+v): %v", describeFilter(f), q, err)
	}
	return list, total
}

// checkRunListings compares ListRuns with the model: every filter
// combination listed whole; and for the first walkedRules rules, by matched
// (full true), every sort in both directions, offset pages and keyset
// walks with pages of 3. Listed runs are compared field by field.
func checkRunListings(t testing.TB, s store.Store, ws int64, all []store.Run, v runFilterValues, full bool) {
	t.Helper()
	for _, f := range v.filters() {
		want, wantTotal := refRuns(all, f, store.ListQuery{})
		got, total := listRuns(t, s, ws, f, store.ListQuery{})
		if diff := diffRuns(want, got); diff != "" {
			t.Errorf("ListRuns(%s): %s", describeFilter(f), diff)
		}
		if total != wantTotal {
			t.Errorf("ListRuns(%s) total = %d, want %d", describeFilter(f), total, wantTotal)
		}
	}
	if !full {
		return
	}
	var walked []store.RunFilter
	for i, rule := range v.rules {
		if i >= v.walkedRules {
			break
		}
		for _, m := range []*bool{nil, ptr(false), ptr(true)} {
			walked = append(walked, store.RunFilter{RuleID: rule, Matched: m})
		}
		if rule != 0 { // the workspace's whole list takes long to walk by 3: twice is enough
			walked = append(walked, store.RunFilter{RuleID: rule, Executed: ptr(false)},
				store.RunFilter{RuleID: rule, Status: store.RunNotMatched})
		}
	}
	walked = append(walked, store.RunFilter{EventID: v.events[1]}, store.RunFilter{EventID: v.events[3], Matched: ptr(false)})
	for _, f := range walked {
		for _, sortBy := range []string{"", "created_at", "id"} {
			for _, desc := range []bool{false, true} {
				q := store.ListQuery{SortBy: sortBy, Desc: desc}
				want, _ := refRuns(all, f, q)
				got, _ := listRuns(t, s, ws, f, q)
				if diff := diffIDs(runIDs(want), runIDs(got)); diff != "" {
					t.Errorf("ListRuns(%s, sort %q desc %v): %s", describeFilter(f), sortBy, desc, diff)
				}
			}
		}
		for _, desc := range []bool{false, true} {
			want, wantTotal := refRuns(all, f, store.ListQuery{Desc: desc})
			for _, limit := range []int{7, 50} {
				if f.RuleID == 0 && f.EventID == "" && limit < 50 {
					continue // every page reads the ones before: quadratic
				}
				if got := walkOffset(t, s, ws, f, desc, limit, wantTotal); !slices.Equal(runIDs(want), runIDs(got)) {
					t.Errorf("ListRuns(%s, desc %v) by offset pages of %d: %s", describeFilter(f), desc, limit,
						diffIDs(runIDs(want), runIDs(got)))
				}
			}
			if got := walkKeyset(t, s, ws, f, desc, 3, wantTotal); !slices.Equal(runIDs(want), runIDs(got)) {
				t.Errorf("ListRuns(%s, desc %v) by keyset pages of 3: %s", describeFilter(f), desc,
					diffIDs(runIDs(want), runIDs(got)))
			}
		}
	}
}

// walkOffset lists every page of limit runs by offset; each page's total
// must be wantTotal.
func walkOffset(t testing.TB, s store.Store, ws int64, f store.RunFilter, desc bool, limit, wantTotal int) []store.Run {
	t.Helper()
	var out []store.Run
	for page := 0; page <= wantTotal/limit+1; page++ {
		list, total := listRuns(t, s, ws, f, store.ListQuery{Limit: limit, Offset: page * limit, Desc: desc})
		if total != wantTotal {
			t.Errorf("ListRuns(%s, offset %d) total = %d, want %d", describeFilter(f), page*limit, total, wantTotal)
		}
		if len(list) > limit {
			t.Errorf("ListRuns(%s, limit %d) returned %d runs", describeFilter(f), limit, len(list))
		}
		out = append(out, list...)
		if len(list) < limit {
			return out
		}
	}
	t.Errorf("ListRuns(%s) by offset pages of %d did not end", describeFilter(f), limit)
	return out
}

// walkKeyset lists every page of limit runs, each after the last run of
// the page before; each page's total must be wantTotal.
func walkKeyset(t testing.TB, s store.Store, ws int64, f store.RunFilter, desc bool, limit, wantTotal int) []store.Run {
	t.Helper()
	var out []store.Run
	q := store.ListQuery{Limit: limit, Desc: desc}
	for page := 0; page <= wantTotal/limit+1; page++ {
		list, total := listRuns(t, s, ws, f, q)
		if total != wantTotal {
			t.Errorf("ListRuns(%s, keyset page %d) total = %d, want %d", describeFilter(f), page, total, wantTotal)
		}
		if len(list) > limit {
			t.Errorf("ListRuns(%s, limit %d) returned %d runs", describeFilter(f), limit, len(list))
		}
		out = append(out, list...)
		if len(list) < limit {
			return out
		}
		last := list[len(list)-1]
		q.AfterTime, q.AfterID = &last.CreatedAt, last.ID
	}
	t.Errorf("ListRuns(%s) by keyset pages of %d did not end", describeFilter(f), limit)
	return out
}

// diffRuns describes how got differs from want (ids, then each run
// field by field), or returns "".
func diffRuns(want, got []store.Run) string {
	if diff := diffIDs(runIDs(want), runIDs(got)); diff != "" {
		return diff
	}
	for i := range want {
		if diff := gocmp.Diff(want[i], got[i], jsonEqual); diff != "" {
			return fmt.Sprintf("run %s mismatch (-want +got):\n%s", want[i].ID, diff)
		}
	}
	return ""
}

// checkGetRuns reads every run by id.
func checkGetRuns(t testing.TB, s store.Store, ws int64, all []store.Run) {
	t.Helper()
	for _, want := range all {
		got, err := s.GetRun(t.Context(), ws, want.ID)
		if err != nil {
			t.Errorf("GetRun(%s) of rule %d (matched %v): %v", want.ID, want.RuleID, want.Matched, err)
			continue
		}
		if diff := gocmp.Diff(want, got, jsonEqual); diff != "" {
			t.Errorf("GetRun(%s) mismatch (-want +got):\n%s", want.ID, diff)
		}
	}
}

// checkRuleEvents compares ListEvents filtered by rule with the model
// (the events for which the rule has a run): every sort in both
// directions, and keyset walks with pages of 3.
func checkRuleEvents(t testing.TB, s store.Store, ws int64, all []store.Run, ruleIDs []int64) {
	t.Helper()
	events := map[string]store.Event{}
	for _, r := range all {
		if _, ok := events[r.EventID]; !ok {
			e, err := s.GetEvent(t.Context(), ws, r.EventID)
			if err != nil {
				t.Fatalf("GetEvent: %v", err)
			}
			events[r.EventID] = e
		}
	}
	for _, rule := range ruleIDs {
		var of []store.Event
		for _, r := range all {
			if r.RuleID == rule {
				of = append(of, events[r.EventID])
			}
		}
		for _, sortBy := range []string{"created_at", "id", "processed_at", "attempts"} {
			for _, desc := range []bool{false, true} {
				want := refEvents(of, sortBy, desc)
				list, total, err := s.ListEvents(t.Context(), ws, store.EventFilter{RuleID: rule}, store.ListQuery{SortBy: sortBy, Desc: desc})
				if err != nil {
					t.Fatalf("ListEvents(rule %d): %v", rule, err)
				}
				if diff := diffIDs(eventIDs(want), eventIDs(list)); diff != "" {
					t.Errorf("ListEvents(rule %d, sort %s desc %v): %s", rule, sortBy, desc, diff)
				}
				if total != len(want) {
					t.Errorf("ListEvents(rule %d) total = %d, want %d", rule, total, len(want))
				}
			}
		}
		for _, desc := range []bool{false, true} {
			want := refEvents(of, "created_at", desc)
			var got []store.Event
			q := store.ListQuery{Limit: 3, Desc: desc}
			for page := 0; page <= len(want)/3+1; page++ {
				list, total, err := s.ListEvents(t.Context(), ws, store.EventFilter{RuleID: rule}, q)
				if err != nil {
					t.Fatalf("ListEvents(rule %d): %v", rule, err)
				}
				if total != len(want) {
					t.Errorf("ListEvents(rule %d, keyset) total = %d, want %d", rule, total, len(want))
				}
				got = append(got, list...)
				if len(list) < 3 {
					break
				}
				last := list[len(list)-1]
				q.AfterTime, q.AfterID = &last.CreatedAt, last.ID
			}
			if diff := diffIDs(eventIDs(want), eventIDs(got)); diff != "" {
				t.Errorf("ListEvents(rule %d, desc %v) by keyset pages of 3: %s", rule, desc, diff)
			}
		}
	}
}

// refEvents orders events as ListEvents does: by the column, then id
// (processed_at: unprocessed last ascending, first descending).
func refEvents(events []store.Event, sortBy string, desc bool) []store.Event {
	out := slices.Clone(events)
	slices.SortFunc(out, func(a, b store.Event) int {
		var c int
		switch sortBy {
		case "id":
		case "processed_at":
			switch {
			case a.ProcessedAt == nil && b.ProcessedAt == nil:
			case a.ProcessedAt == nil:
				c = 1
			case b.ProcessedAt == nil:
				c = -1
			default:
				c = a.ProcessedAt.Compare(*b.ProcessedAt)
			}
		case "attempts":
			c = cmp.Compare(a.Attempts, b.Attempts)
		default:
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		c = cmp.Or(c, cmp.Compare(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	if out == nil {
		out = []store.Event{}
	}
	return out
}
