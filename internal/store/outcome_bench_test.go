package store

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkFlattenOutcomes flattens a completion batch shaped like
// switchboard bench's: 20 events, each evaluated by 70 rules of which 10
// matched with one action delivered.
func BenchmarkFlattenOutcomes(b *testing.B) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	items := make([]Completion, 20)
	accepted := make([]bool, len(items))
	for i := range items {
		ev := Event{ID: fmt.Sprintf("01a23749-be64-7c69-be5e-%012x", i), WorkspaceID: 1, CreatedAt: now}
		o := Outcome{Status: EventProcessed}
		for r := range 70 {
			run := Run{RuleID: int64(r + 1), RuleName: "rule", RuleVersion: 1, Status: RunNotMatched,
				Reason: "conditions_not_met"}
			if r%7 == 0 {
				run.Matched, run.Status, run.Reason = true, RunPending, ""
				run.ID = RunID(ev.ID, now, run.RuleID, r)
				run.Actions = []byte(`[{"type":"add_tag","tag_id":1,"tag_name":"t","tag_external_id":null}]`)
				d := DeliveryID(run.ID, 0)
				run.ActionStates = []ActionState{{Index: 0, Type: "add_tag", Status: DeliveryPending, DeliveryID: d}}
				o.Deliveries = append(o.Deliveries, Delivery{ID: d, RunID: run.ID, ActionIndex: 0})
				o.Counters = append(o.Counters, CounterDelta{RuleID: run.RuleID, Matched: 1, MatchedAt: &now})
			}
			o.Runs = append(o.Runs, run)
		}
		items[i], accepted[i] = Completion{Claim: Claim{Event: ev, Fence: 1}, Outcome: o}, true
	}
	b.ReportAllocs()
	for b.Loop() {
		FlattenOutcomes(items, accepted, now)
	}
}
