package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// recordPropChecks is how many random histories the property tries per
// dialect (rapid's own -rapid.checks applies to every property of the
// binary; a fresh workspace per history keeps each one cheap).
const recordPropChecks = 12

// propTB reports a failure through rapid (so that it shrinks the
// history) while the store calls use the test's context.
type propTB struct {
	testing.TB
	rt *rapid.T
}

func (p propTB) Errorf(format string, args ...any) { p.rt.Fatalf(format, args...) }
func (p propTB) Fatalf(format string, args ...any) { p.rt.Fatalf(format, args...) }
func (p propTB) Error(args ...any)                 { p.rt.Fatal(args...) }
func (p propTB) Fatal(args ...any)                 { p.rt.Fatal(args...) }

// testRecordProperty: random events (random conversations, several in
// one millisecond, the clock moving 0 ms to hours between commits) and
// random outcomes (rules × matched or not, every reason), completed in
// random batches; listed by rule, by event and globally with random
// filters and page sizes, walking every page by keyset and by offset:
// the runs are the model's, each once, in order, and totals equal counts.
// One store serves every history, each in a workspace of its own.
func testRecordProperty(t *testing.T, open ClockOpener) {
	clk := clock.NewFake(epoch)
	s := open(t, clk)
	var checks int
	failed := false
	rapid.Check(t, func(rt *rapid.T) {
		if checks++; checks > recordPropChecks && !failed {
			return // enough histories; once one fails, every call runs so that it shrinks
		}
		failed = true // cleared when this history passes
		tb := propTB{TB: t, rt: rt}
		q := &queue{s: s, clk: clk}
		q.ws, _, _ = createWorkspace(t, s, fmt.Sprintf("prop-%d", checks))
		rs := make([]rules.Rule, rapid.IntRange(1, 6).Draw(rt, "rules"))
		for i := range rs {
			rs[i] = createRule(t, s, newRule(q.ws.ID, fmt.Sprintf("r%d", i)), nil)
		}
		m := newRecordModel(q.ws.ID)
		var events []store.Event
		nEvents := rapid.IntRange(1, 30).Draw(rt, "events")
		for len(events) < nEvents {
			n := min(rapid.IntRange(1, 8).Draw(rt, "commit"), nEvents-len(events))
			batch := make([]store.NewEvent, n)
			for j := range batch {
				batch[j] = q.event(rapid.SampledFrom([]string{"", "", "a", "b", "c"}).Draw(rt, "conversation"), len(events)+j)
			}
			for _, e := range q.ingest(t, batch...) {
				m.order = append(m.order, e.ID)
				events = append(events, e)
			}
			clk.Advance(rapid.SampledFrom([]time.Duration{0, time.Millisecond, time.Second, 90 * time.Minute}).Draw(rt, "advance"))
		}
		for {
			claims := q.claim(t, "prop", 500)
			if len(claims) == 0 {
				break
			}
			for len(claims) > 0 {
				n := rapid.IntRange(1, len(claims)).Draw(rt, "batch")
				now := q.now()
				items := make([]store.Completion, n)
				for i, c := range claims[:n] {
					items[i] = store.Completion{Claim: c, Outcome: store.Outcome{Status: store.EventProcessed,
						Runs: drawRuns(rt, rs, now)}}
				}
				for i, err := range q.complete(t, items...) {
					if err != nil {
						rt.Fatalf("CompleteEvents item %d: %v", i, err)
					}
					m.accepted(items[i].Claim.Event.ID, items[i].Outcome.Runs)
				}
				claims = claims[n:]
				clk.Advance(rapid.SampledFrom([]time.Duration{0, time.Millisecond}).Draw(rt, "advance"))
			}
		}
		all := m.expectRuns(tb, s)

		ruleIDs := append([]int64{0}, ids(rs)...)
		for range rapid.IntRange(1, 6).Draw(rt, "listings") {
			f := store.RunFilter{RuleID: rapid.SampledFrom(ruleIDs).Draw(rt, "rule")}
			if rapid.IntRange(0, 3).Draw(rt, "by event") == 0 {
				f.EventID = rapid.SampledFrom(events).Draw(rt, "event").ID
			}
			f.Matched = rapid.SampledFrom([]*bool{nil, nil, ptr(true), ptr(false)}).Draw(rt, "matched")
			f.Executed = rapid.SampledFrom([]*bool{nil, nil, ptr(true), ptr(false)}).Draw(rt, "executed")
			f.Status = rapid.SampledFrom([]string{"", "", "", store.RunNotMatched, store.RunPending, store.RunExecuted,
				store.RunFailed}).Draw(rt, "status")
			desc := rapid.Bool().Draw(rt, "desc")
			limit := rapid.IntRange(1, 12).Draw(rt, "limit")
			want, wantTotal := refRuns(all, f, store.ListQuery{Desc: desc})
			whole, total := listRuns(tb, s, q.ws.ID, f, store.ListQuery{Desc: desc})
			if diff := diffRuns(want, whole); diff != "" || total != wantTotal {
				rt.Fatalf("ListRuns(%s, desc %v) total %d (want %d): %s", describeFilter(f), desc, total, wantTotal, diff)
			}
			if got := walkKeyset(tb, s, q.ws.ID, f, desc, limit, wantTotal); !slices.Equal(runIDs(want), runIDs(got)) {
				rt.Fatalf("ListRuns(%s, desc %v) by keyset pages of %d: %s", describeFilter(f), desc, limit,
					diffIDs(runIDs(want), runIDs(got)))
			}
			if got := walkOffset(tb, s, q.ws.ID, f, desc, limit, wantTotal); !slices.Equal(runIDs(want), runIDs(got)) {
				rt.Fatalf("ListRuns(%s, desc %v) by offset pages of %d: %s", describeFilter(f), desc, limit,
					diffIDs(runIDs(want), runIDs(got)))
			}
		}
		for _, e := range events {
			want := []int64{}
			for _, r := range all {
				if r.EventID == e.ID {
					want = append(want, r.RuleID)
				}
			}
			slices.Sort(want)
			got, err := s.RunRuleIDs(t.Context(), q.ws.ID, e.ID)
			if err != nil || !slices.Equal(want, got) {
				rt.Fatalf("RunRuleIDs(%s) = %v, %v; want %v", e.ID, got, err, want)
			}
		}
		checkRuleEvents(tb, s, q.ws.ID, all, ids(rs))
		checkGetRuns(tb, s, q.ws.ID, all)
		failed = false
	})
}

// drawRuns draws an event's outcome: each rule evaluated or not (in a
// drawn order), matched or not, with a status or a reason.
func drawRuns(rt *rapid.T, rs []rules.Rule, now time.Time) []store.Run {
	order := rapid.Permutation(rs).Draw(rt, "rule order")
	var out []store.Run
	for _, r := range order {
		if !rapid.Bool().Draw(rt, "evaluated") {
			continue
		}
		run := store.Run{ID: newUUID(), RuleID: r.ID, RuleName: r.Name, RuleVersion: rapid.IntRange(0, 3).Draw(rt, "version"),
			CreatedAt: now}
		switch st := rapid.SampledFrom([]string{store.RunNotMatched, store.RunNotMatched, store.RunPending,
			store.RunExecuted, store.RunFailed}).Draw(rt, "status"); st {
		case store.RunNotMatched:
			run.Status, run.SettledAt = st, &now
			run.Reason = rapid.SampledFrom(recordReasons).Draw(rt, "reason")
			if run.Reason == "conditions_not_met" {
				run.FailedPath = rapid.SampledFrom(recordPaths).Draw(rt, "path")
				run.FailedActual = rapid.SampledFrom(recordActuals).Draw(rt, "actual")
			}
		default:
			run.Matched, run.Status, run.Executed = true, st, st == store.RunExecuted
			if st != store.RunPending {
				run.SettledAt = &now
			}
		}
		out = append(out, run)
	}
	return out
}
