package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testCounterShards checks that a rule's counters and the run totals are
// exact when many completions of the same rules commit at once (each adds
// to a shard of its own; reads sum them): on PostgreSQL the workers'
// transactions really overlap, on SQLite they queue on the one writer.
func testCounterShards(t *testing.T, open ClockOpener) {
	t.Run("ExactUnderConcurrentCompletions", func(t *testing.T) {
		t.Parallel()
		const (
			events  = 240
			workers = 8
			batch   = 5
		)
		q := setupQueue(t, open)
		a, b, c := q.rule(t, "always"), q.rule(t, "often"), q.rule(t, "never")
		for start := 0; start < events; start += 60 {
			var group []store.NewEvent
			for i := start; i < start+60; i++ {
				group = append(group, q.event("", i)) // no conversation: every event claimable at once
			}
			q.ingest(t, group...)
		}
		now := q.now()
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			done     int
			failures []string
		)
		deadline := time.Now().Add(60 * time.Second)
		for w := range workers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					claims, err := q.s.ClaimEvents(t.Context(), fmt.Sprintf("worker-%d", w), batch, lease)
					if err != nil {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("ClaimEvents: %v", err))
						mu.Unlock()
						return
					}
					if len(claims) == 0 {
						mu.Lock()
						finished := done == events
						mu.Unlock()
						if finished {
							return
						}
						time.Sleep(time.Millisecond)
						continue
					}
					items := make([]store.Completion, len(claims))
					for i, cl := range claims {
						e := cl.Event
						items[i] = store.Completion{Claim: cl, Outcome: store.Outcome{
							Status: store.EventProcessed,
							Runs:   []store.Run{runAt(e, a, true, now, 0), runAt(e, b, true, now, 1), runAt(e, c, false, now, 2)},
							Counters: []store.CounterDelta{
								{RuleID: a.ID, Matched: 1, MatchedAt: &now},
								{RuleID: b.ID, Matched: 1, MatchedAt: &now},
							},
						}}
					}
					errs, err := q.s.CompleteEvents(t.Context(), items)
					mu.Lock()
					if err != nil {
						failures = append(failures, fmt.Sprintf("CompleteEvents: %v", err))
					}
					for i, err := range errs {
						if err != nil {
							failures = append(failures, fmt.Sprintf("CompleteEvents item %s: %v", items[i].Claim.Event.ID, err))
						} else {
							done++
						}
					}
					stop := len(failures) > 0
					mu.Unlock()
					if stop {
						return
					}
				}
			})
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("%d failures, first: %s", len(failures), failures[0])
		}
		if done != events {
			t.Fatalf("completed %d events of %d", done, events)
		}

		for _, want := range []struct {
			id      int64
			matches int64
		}{{a.ID, events}, {b.ID, events}, {c.ID, 0}} {
			r, err := q.s.GetRule(t.Context(), q.ws.ID, want.id)
			wantErr(t, "GetRule", err, nil)
			if r.MatchCount != want.matches || r.AppliedCount != 0 || (want.matches > 0) != (r.LastMatchedAt != nil) ||
				r.LastMatchedAt != nil && !r.LastMatchedAt.Equal(now) {
				t.Errorf("rule %s: match_count %d, applied_count %d, last matched %v; want %d, 0, %v",
					r.Name, r.MatchCount, r.AppliedCount, r.LastMatchedAt, want.matches, now)
			}
		}
		listed, err := q.s.ListRules(t.Context(), q.ws.ID, store.RuleFilter{})
		wantErr(t, "ListRules", err, nil)
		for _, r := range listed {
			if r.ID == a.ID && r.MatchCount != events {
				t.Errorf("ListRules: rule %s match_count %d, want %d", r.Name, r.MatchCount, events)
			}
		}

		yes, no := true, false
		for _, tc := range []struct {
			what string
			f    store.RunFilter
			want int
		}{
			{"every run", store.RunFilter{}, 3 * events},
			{"matched", store.RunFilter{Matched: &yes}, 2 * events},
			{"not matched", store.RunFilter{Matched: &no}, events},
			{"rule always", store.RunFilter{RuleID: a.ID}, events},
			{"rule never", store.RunFilter{RuleID: c.ID}, events},
			{"rule often, matched", store.RunFilter{RuleID: b.ID, Matched: &yes}, events},
		} {
			_, total, err := q.s.ListRuns(t.Context(), q.ws.ID, tc.f, store.ListQuery{Limit: 1})
			wantErr(t, "ListRuns "+tc.what, err, nil)
			if total != tc.want {
				t.Errorf("ListRuns %s: total %d, want %d", tc.what, total, tc.want)
			}
		}

		// A rule with counters can be deleted (its counter rows go with it).
		wantErr(t, "DeleteRule", q.s.DeleteRule(t.Context(), q.ws.ID, c.ID), nil)
	})
}

// CheckMigration0011 is the half of each store's migration 0011 test that
// reads: after the migration, rule 1 of workspace 1 (counters 7/3, last
// matched at matched, applied at applied, rollups 9/7/3/1 in hour 100) and
// rule 2 (no counts; rollups 4/0/0/0 in hour 100) read as before, and a
// rollup of another shard, inserted with exec, adds to them.
func CheckMigration0011(t *testing.T, s store.Store, matched, applied time.Time, exec func(query string) error) {
	t.Helper()
	ctx := t.Context()
	r, err := s.GetRule(ctx, 1, 1)
	if err != nil {
		t.Fatalf("GetRule: %v", err)
	}
	if r.MatchCount != 7 || r.AppliedCount != 3 || r.LastMatchedAt == nil || !r.LastMatchedAt.Equal(matched) ||
		r.LastAppliedAt == nil || !r.LastAppliedAt.Equal(applied) {
		t.Errorf("rule after 0011: %d/%d, %v, %v; want 7/3, %v, %v",
			r.MatchCount, r.AppliedCount, r.LastMatchedAt, r.LastAppliedAt, matched, applied)
	}
	r2, err := s.GetRule(ctx, 1, 2)
	if err != nil || r2.MatchCount != 0 || r2.LastMatchedAt != nil {
		t.Errorf("untouched rule after 0011: %v, %d, %v", err, r2.MatchCount, r2.LastMatchedAt)
	}
	// New counts of another shard add to the migrated ones.
	if err := exec(`INSERT INTO run_rollups (workspace_id, rule_id, hour, shard, evaluated, matched, executed, failed)
		VALUES (1, 1, 100, 3, 2, 1, 0, 0)`); err != nil {
		t.Fatalf("insert rollup shard: %v", err)
	}
	yes, no := true, false
	for _, tc := range []struct {
		f    store.RunFilter
		want int
	}{
		{store.RunFilter{}, 15}, {store.RunFilter{RuleID: 1}, 11}, {store.RunFilter{RuleID: 1, Matched: &yes}, 8},
		{store.RunFilter{Matched: &no}, 7},
	} {
		_, total, err := s.ListRuns(ctx, 1, tc.f, store.ListQuery{Limit: 1})
		if err != nil || total != tc.want {
			t.Errorf("ListRuns(%+v): total %d, %v; want %d", tc.f, total, err, tc.want)
		}
	}
}
