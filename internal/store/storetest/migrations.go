package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// CheckMigration0014 checks, after the step that keys deliveries by
// (workspace_id, id), two deliveries of workspace 1's run of event: older
// (written before the step, unordered: unorderedIDs is what the store's
// unordered mark names) and newer (created at the time its id carries).
// Both are found by id and listed by created_at, newer first.
func CheckMigration0014(t *testing.T, s store.Store, event, run, older, newer string, at time.Time, unorderedIDs []string) {
	t.Helper()
	ctx := t.Context()
	if !slices.Equal(unorderedIDs, []string{older}) {
		t.Errorf("unordered deliveries = %v, want only %s", unorderedIDs, older)
	}
	for _, id := range []string{older, newer} {
		if d, err := s.GetDelivery(ctx, 1, id); err != nil || d.RunID != run || d.EventID != event {
			t.Errorf("GetDelivery(%s) = %+v, %v", id, d, err)
		}
	}
	list, total, err := s.ListDeliveries(ctx, 1, store.DeliveryFilter{Now: at}, store.ListQuery{Limit: 10})
	if got := deliveryIDs(list); err != nil || total != 2 || !slices.Equal(got, []string{newer, older}) {
		t.Errorf("ListDeliveries = %v, %d, %v; want [%s %s] (by created_at)", got, total, err, newer, older)
	}
}

// CheckMigration0015 checks, after the step that keys runs by
// (workspace_id, id), two matched runs of workspace 1: older (made before
// the decision record, unordered: unorderedIDs is what the store's
// unordered mark names) and newer, created before it. Both are found by
// id and listed among the matched runs by created_at, both ways.
func CheckMigration0015(t *testing.T, s store.Store, older, newer string, unorderedIDs []string) {
	t.Helper()
	ctx := t.Context()
	if !slices.Equal(unorderedIDs, []string{older}) {
		t.Errorf("unordered runs = %v, want only %s", unorderedIDs, older)
	}
	for _, id := range []string{older, newer} {
		if r, err := s.GetRun(ctx, 1, id); err != nil || r.ID != id {
			t.Errorf("GetRun(%s) = %+v, %v", id, r, err)
		}
	}
	yes := true
	for _, desc := range []bool{false, true} {
		list, _, err := s.ListRuns(ctx, 1, store.RunFilter{Matched: &yes}, store.ListQuery{Limit: 10, Desc: desc})
		want := []string{newer, older}
		if desc {
			slices.Reverse(want)
		}
		if got := runIDs(list); err != nil || !slices.Equal(got, want) {
			t.Errorf("ListRuns(matched, desc %v) = %v, %v; want %v", desc, got, err, want)
		}
	}
}
