package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// RecordShape is the history BenchRecordReads stores.
type RecordShape struct {
	Events int // completed events
	Rules  int // rules evaluated for every event
	// Matched of those rules match each event (a different set for
	// consecutive events, so every rule has matched runs throughout).
	Matched int
	// PerMillisecond events share each created_at (one ingest commit):
	// what GetRun of a run that did not match reads through.
	PerMillisecond int
	// RareEvery: one more rule, evaluated only for every RareEvery-th
	// event (a rule of a trigger few events have), whose listings must
	// read past the events it did not evaluate.
	RareEvery int
}

// RecordIssueShape is issue 8's read target: 200,000 events × 100 rules,
// 10 of which match each event; 50 events a millisecond (far more than
// a node ingests, so GetRun's millisecond is a crowded one).
var RecordIssueShape = RecordShape{Events: 200_000, Rules: 100, Matched: 10, PerMillisecond: 50, RareEvery: 1000}

// BenchRecordReads stores the shape's history through the store API on
// clk's store s (ingest in commits of PerMillisecond events, one
// millisecond apart on clk; claim and complete in batches of 1,000), then
// measures each read of issue 8's list, as sub-benchmarks: a rule's first
// page of runs (Limit 50, newest first), a keyset page in the middle of
// its history, its first page of runs that did not match, GetRun of a
// run that did not match and of one that did, the workspace's first
// page, and the rare rule's first pages. settle (when not nil) runs after
// the build (say, ANALYZE). Each read checks what it returned.
func BenchRecordReads(b *testing.B, s store.Store, clk *clock.Fake, shape RecordShape, settle func(context.Context) error) {
	ctx := context.Background()
	start := time.Now()
	ws, rs := BenchWorkspace(b, s, shape.Rules+1)
	rare := rs[shape.Rules]
	rs = rs[:shape.Rules]
	buildRecordHistory(b, s, clk, ws.ID, rs, rare, shape)
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatalf("settle: %v", err)
		}
	}
	b.Logf("built %d events × %d rules in %v", shape.Events, shape.Rules, time.Since(start).Round(time.Second))

	rule := rs[len(rs)/2]
	ruleRuns := func(f store.RunFilter, q store.ListQuery, want int) []store.Run {
		list, total, err := s.ListRuns(ctx, ws.ID, f, q)
		if err != nil {
			b.Fatalf("ListRuns: %v", err)
		}
		if len(list) != want || total == 0 {
			b.Fatalf("ListRuns(%+v, %+v) = %d runs of %d, want %d", f, q, len(list), total, want)
		}
		return list
	}
	// The event in the middle of the history (found by the events'
	// offset: the runs' would walk half of it), and its runs.
	evs, _, err := s.ListEvents(ctx, ws.ID, store.EventFilter{}, store.ListQuery{Limit: 1, Offset: shape.Events / 2})
	if err != nil || len(evs) != 1 {
		b.Fatalf("ListEvents(the middle event) = %d, %v", len(evs), err)
	}
	var mid, matched, notMatched store.Run
	for _, r := range ruleRuns(store.RunFilter{EventID: evs[0].ID}, store.ListQuery{}, shape.Rules+boolInt(shape.RareEvery > 0 &&
		shape.Events/2%shape.RareEvery == 0)) {
		switch {
		case r.RuleID == rule.ID:
			mid = r
		case r.Matched:
			matched = r
		default:
			notMatched = r
		}
	}
	if mid.ID == "" || matched.ID == "" || notMatched.ID == "" {
		b.Fatalf("the middle event lacks a run of the rule, a matched run or one that did not match")
	}
	rareWant := min(50, (shape.Events+shape.RareEvery-1)/max(shape.RareEvery, 1))

	for _, bc := range []struct {
		name string
		read func()
	}{
		{"rule-first-page", func() { ruleRuns(store.RunFilter{RuleID: rule.ID}, store.ListQuery{Limit: 50, Desc: true}, 50) }},
		{"rule-keyset-middle", func() {
			ruleRuns(store.RunFilter{RuleID: rule.ID}, store.ListQuery{Limit: 50, Desc: true, AfterTime: &mid.CreatedAt, AfterID: mid.ID}, 50)
		}},
		{"rule-not-matched-first-page", func() {
			ruleRuns(store.RunFilter{RuleID: rule.ID, Matched: ptr(false)}, store.ListQuery{Limit: 50, Desc: true}, 50)
		}},
		{"rule-matched-first-page", func() {
			ruleRuns(store.RunFilter{RuleID: rule.ID, Matched: ptr(true)}, store.ListQuery{Limit: 50, Desc: true}, 50)
		}},
		{"get-run-not-matched", func() { getRun(b, s, ws.ID, notMatched.ID, false) }},
		{"get-run-matched", func() { getRun(b, s, ws.ID, matched.ID, true) }},
		{"global-first-page", func() { ruleRuns(store.RunFilter{}, store.ListQuery{Limit: 50, Desc: true}, 50) }},
		{"rare-rule-first-page", func() {
			ruleRuns(store.RunFilter{RuleID: rare.ID}, store.ListQuery{Limit: 50, Desc: true}, rareWant)
		}},
		{"rare-rule-not-matched-first-page", func() {
			ruleRuns(store.RunFilter{RuleID: rare.ID, Matched: ptr(false)}, store.ListQuery{Limit: 50, Desc: true}, rareWant)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.read()
			}
		})
	}
}

func getRun(b *testing.B, s store.Store, ws int64, id string, matched bool) {
	r, err := s.GetRun(context.Background(), ws, id)
	if err != nil || r.ID != id || r.Matched != matched {
		b.Fatalf("GetRun(%s) = %s matched %v, %v", id, r.ID, r.Matched, err)
	}
}

// buildRecordHistory ingests and completes the shape's events: each
// evaluated by every rule, Matched of them matching (executed), the
// others failing their first condition; the rare rule, for every
// RareEvery-th event, not matching.
func buildRecordHistory(b *testing.B, s store.Store, clk *clock.Fake, ws int64, rs []rules.Rule, rare rules.Rule, shape RecordShape) {
	ctx := context.Background()
	for first := 0; first < shape.Events; first += shape.PerMillisecond {
		g := &store.IngestGroup{Events: BenchEvents(ws, first, min(shape.PerMillisecond, shape.Events-first))}
		if err := s.IngestEvents(ctx, []*store.IngestGroup{g}); err != nil {
			b.Fatalf("IngestEvents: %v", err)
		}
		clk.Advance(time.Millisecond)
	}
	actual := json.RawMessage(`"Re: Invoice"`)
	result := json.RawMessage(`{"reason":null,"trace":[],"actions":[{"type":"add_note","status":"succeeded"}]}`)
	n := 0
	for n < shape.Events {
		claims, err := s.ClaimEvents(ctx, "bench", 2000, time.Hour)
		if err != nil {
			b.Fatalf("ClaimEvents: %v", err)
		}
		if len(claims) == 0 {
			b.Fatalf("ClaimEvents found nothing after %d of %d events", n, shape.Events)
		}
		for len(claims) > 0 {
			batch := claims[:min(1000, len(claims))]
			claims = claims[len(batch):]
			now := clk.Now()
			items := make([]store.Completion, len(batch))
			for i, c := range batch {
				o := store.Outcome{Status: store.EventProcessed, Runs: make([]store.Run, 0, len(rs)+1)}
				for j, r := range rs {
					run := store.Run{ID: store.RunID(c.Event.ID, c.Event.CreatedAt, r.ID, j), RuleID: r.ID, RuleName: r.Name, RuleVersion: 1, CreatedAt: now}
					if ((j-n-i)%len(rs)+len(rs))%len(rs) < shape.Matched { // rules n+i … n+i+Matched-1

						run.Matched, run.Executed, run.Status, run.Result, run.SettledAt = true, true, store.RunExecuted, result, &now
					} else {
						run.Status, run.Reason, run.FailedPath, run.FailedActual = store.RunNotMatched, "conditions_not_met", "conditions[0]", actual
					}
					o.Runs = append(o.Runs, run)
				}
				if shape.RareEvery > 0 && (n+i)%shape.RareEvery == 0 {
					o.Runs = append(o.Runs, store.Run{ID: store.RunID(c.Event.ID, c.Event.CreatedAt, rare.ID, len(rs)), RuleID: rare.ID, RuleName: rare.Name,
						Status: store.RunNotMatched, Reason: "rollout_excluded", CreatedAt: now})
				}
				items[i] = store.Completion{Claim: c, Outcome: o}
			}
			errs, err := s.CompleteEvents(ctx, items)
			if err != nil {
				b.Fatalf("CompleteEvents: %v", err)
			}
			for _, err := range errs {
				if err != nil {
					b.Fatalf("CompleteEvents item: %v", err)
				}
			}
			n += len(batch)
		}
	}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
