package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testOutbox checks the deliveries' life: push rows claimed per target
// and settled with their run, pull rows claimed, acked and failed by the
// host, leases that expire, and paused workspaces whose deliveries wait.
func testOutbox(t *testing.T, open ClockOpener) {
	// setupDeliveries completes one event whose matched run has two
	// actions: one pushed to target "t1", one left in the pull outbox.
	setupDeliveries := func(t *testing.T) (*queue, store.Run, []store.Delivery) {
		t.Helper()
		q := setupQueue(t, open)
		r := q.rule(t, "tagger")
		e := q.ingest(t, q.event("conv-1", 1))[0]
		c := q.claim(t, "w", 1)[0]
		now := q.now()
		rn := run(e, r, true, now)
		push, pull := store.Delivery{ID: newUUID(), RunID: rn.ID, RuleID: r.ID, ActionIndex: 0,
			Action: json.RawMessage(`{"type":"add_tag","tag_id":1}`), Target: ptr("1 https://host:443")},
			store.Delivery{ID: newUUID(), RunID: rn.ID, RuleID: r.ID, ActionIndex: 1,
				Action: json.RawMessage(`{"type":"add_note","body":"hi"}`)}
		rn.Result = json.RawMessage(`{"reason":null,"trace":[],"actions":[` +
			`{"index":0,"type":"add_tag","status":"pending","attempts":0,"delivery_id":"` + push.ID + `"},` +
			`{"index":1,"type":"add_note","status":"pending","attempts":0,"delivery_id":"` + pull.ID + `"}]}`)
		wantErr(t, "complete", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{rn}, Deliveries: []store.Delivery{push, pull},
			Counters: []store.CounterDelta{{RuleID: r.ID, Matched: 1, MatchedAt: &now}}}})[0], nil)
		return q, rn, []store.Delivery{push, pull}
	}

	t.Run("PushClaimAndSettle", func(t *testing.T) {
		t.Parallel()
		q, rn, ds := setupDeliveries(t)
		now := q.now()
		got, err := q.s.ClaimPushDeliveries(t.Context(), store.PushClaim{Owner: "a", Now: now, Limit: 10, Lease: time.Minute})
		wantErr(t, "ClaimPushDeliveries", err, nil)
		if len(got) != 1 || got[0].ID != ds[0].ID || got[0].Workspace.Secret == "" || got[0].Event.ID != rn.EventID ||
			string(got[0].Event.Payload) == "" || got[0].RuleName != "tagger" {
			t.Fatalf("claimed %+v; want the push delivery with its workspace, event and rule", got)
		}
		// Leased: nobody else gets it; a full target gets nothing.
		again, err := q.s.ClaimPushDeliveries(t.Context(), store.PushClaim{Owner: "b", Now: now, Limit: 10, Lease: time.Minute})
		wantErr(t, "second claim", err, nil)
		if len(again) != 0 {
			t.Fatalf("a leased delivery was claimed again: %+v", again)
		}
		// A settlement by another claimant is refused.
		err = q.s.SettleDelivery(t.Context(), store.Settlement{WorkspaceID: q.ws.ID, ID: ds[0].ID, Owner: "b",
			At: now, Status: store.DeliverySucceeded})
		wantErr(t, "settle by another owner", err, store.ErrNotLeased)
		// A retry returns it at next, counting the attempt.
		next := now.Add(time.Minute)
		err = q.s.SettleDelivery(t.Context(), store.Settlement{WorkspaceID: q.ws.ID, ID: ds[0].ID, Owner: "a",
			At: now, Status: store.DeliveryPending, Error: ptr("503"), Next: next})
		wantErr(t, "retry", err, nil)
		d, err := q.s.GetDelivery(t.Context(), q.ws.ID, ds[0].ID)
		wantErr(t, "GetDelivery", err, nil)
		if d.Status != store.DeliveryPending || d.Attempts != 1 || !d.AvailableAt.Equal(next) || d.LastError == nil {
			t.Fatalf("after a retry: %+v", d)
		}
		q.clk.Advance(time.Minute)
		got, err = q.s.ClaimPushDeliveries(t.Context(), store.PushClaim{Owner: "a", Now: q.now(), Limit: 10,
			Lease: time.Minute, Room: func(string) int { return 1 }})
		wantErr(t, "claim at next", err, nil)
		if len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("at next: claimed %+v", got)
		}
		wantErr(t, "succeed", q.s.SettleDelivery(t.Context(), store.Settlement{WorkspaceID: q.ws.ID, ID: ds[0].ID,
			Owner: "a", At: q.now(), Status: store.DeliverySucceeded}), nil)
		// One action of two ended: the run is still pending.
		r, err := q.s.GetRun(t.Context(), q.ws.ID, rn.ID)
		wantErr(t, "GetRun", err, nil)
		if r.Status != store.RunPending || r.SettledAt != nil {
			t.Fatalf("run after one of two actions: %s settled %v", r.Status, r.SettledAt)
		}
		// The host acks the other: the run is executed, the rule applied.
		ack, err := q.s.AckOutbox(t.Context(), q.ws.ID, ds[1].ID, q.now())
		wantErr(t, "AckOutbox", err, nil)
		if ack.Status != store.DeliverySucceeded {
			t.Fatalf("acked delivery = %+v", ack)
		}
		_, err = q.s.AckOutbox(t.Context(), q.ws.ID, ds[1].ID, q.now())
		wantErr(t, "AckOutbox again", err, nil)
		r, err = q.s.GetRun(t.Context(), q.ws.ID, rn.ID)
		wantErr(t, "GetRun", err, nil)
		if r.Status != store.RunExecuted || !r.Executed || r.SettledAt == nil {
			t.Fatalf("run after both actions: %s executed %v settled %v", r.Status, r.Executed, r.SettledAt)
		}
		var res struct {
			Actions []struct {
				Status   string `json:"status"`
				Attempts int    `json:"attempts"`
			} `json:"actions"`
		}
		if err := json.Unmarshal(r.Result, &res); err != nil || len(res.Actions) != 2 ||
			res.Actions[0].Status != "succeeded" || res.Actions[0].Attempts != 2 || res.Actions[1].Status != "succeeded" {
			t.Fatalf("run result = %s", r.Result)
		}
		rule, err := q.s.GetRule(t.Context(), q.ws.ID, rn.RuleID)
		wantErr(t, "GetRule", err, nil)
		if rule.AppliedCount != 1 || rule.LastAppliedAt == nil {
			t.Fatalf("rule after the run executed: applied %d at %v", rule.AppliedCount, rule.LastAppliedAt)
		}
		list, total, err := q.s.ListRuns(t.Context(), q.ws.ID, store.RunFilter{Executed: ptr(true)}, store.ListQuery{})
		wantErr(t, "ListRuns executed", err, nil)
		if total != 1 || len(list) != 1 {
			t.Fatalf("executed runs: %d listed, total %d; want 1", len(list), total)
		}
	})

	t.Run("PullOutbox", func(t *testing.T) {
		t.Parallel()
		q, rn, ds := setupDeliveries(t)
		now := q.now()
		got, err := q.s.ClaimOutbox(t.Context(), q.ws.ID, "host", now, 10, time.Minute)
		wantErr(t, "ClaimOutbox", err, nil)
		if len(got) != 1 || got[0].ID != ds[1].ID || got[0].Status != store.DeliveryLeased {
			t.Fatalf("claimed %+v, want the pull delivery leased", got)
		}
		if list, _, _ := q.s.ListDeliveries(t.Context(), q.ws.ID, store.DeliveryFilter{Status: store.DeliveryLeased, Now: now},
			store.ListQuery{}); len(list) != 1 {
			t.Fatalf("leased deliveries: %d, want 1", len(list))
		}
		// The lease expires: the row reads pending and can be claimed again.
		q.clk.Advance(time.Minute)
		list, total, err := q.s.ListDeliveries(t.Context(), q.ws.ID,
			store.DeliveryFilter{Status: store.DeliveryPending, RunID: rn.ID, Now: q.now()}, store.ListQuery{})
		wantErr(t, "ListDeliveries pending", err, nil)
		if total != 2 || len(list) != 2 || list[1].StatusAt(q.now()) != store.DeliveryPending {
			t.Fatalf("pending deliveries after the lease expired: %d/%d %+v", len(list), total, list)
		}
		got, err = q.s.ClaimOutbox(t.Context(), q.ws.ID, "host", q.now(), 10, time.Minute)
		wantErr(t, "ClaimOutbox after expiry", err, nil)
		if len(got) != 1 {
			t.Fatalf("after expiry: claimed %d", len(got))
		}
		d, err := q.s.FailOutbox(t.Context(), q.ws.ID, ds[1].ID, "host down", false, q.now(), time.Time{})
		wantErr(t, "FailOutbox", err, nil)
		if d.Status != store.DeliveryFailed || d.LastError == nil || *d.LastError != "host down" {
			t.Fatalf("failed delivery = %+v", d)
		}
		_, err = q.s.AckOutbox(t.Context(), q.ws.ID, ds[1].ID, q.now())
		wantErr(t, "ack a failed delivery", err, store.ErrConflict)
		// A push delivery is not the host's to settle.
		_, err = q.s.AckOutbox(t.Context(), q.ws.ID, ds[0].ID, q.now())
		wantErr(t, "ack a push delivery", err, store.ErrNotFound)
		r, err := q.s.GetRun(t.Context(), q.ws.ID, rn.ID)
		wantErr(t, "GetRun", err, nil)
		if r.Status != store.RunFailed || r.Executed || r.SettledAt == nil {
			t.Fatalf("run after a failed action: %s", r.Status)
		}
		failed, total, err := q.s.ListRuns(t.Context(), q.ws.ID, store.RunFilter{Status: store.RunFailed}, store.ListQuery{})
		wantErr(t, "ListRuns failed", err, nil)
		if total != 1 || len(failed) != 1 {
			t.Fatalf("failed runs: %d listed, total %d; want 1", len(failed), total)
		}
		// Another workspace sees none of it.
		other, _, _ := createWorkspace(t, q.s, "globex")
		_, err = q.s.GetDelivery(t.Context(), other.ID, ds[0].ID)
		wantErr(t, "GetDelivery of another workspace", err, store.ErrNotFound)
	})

	t.Run("PausedWorkspacesDeliveriesWait", func(t *testing.T) {
		t.Parallel()
		q, _, _ := setupDeliveries(t)
		_, err := q.s.PutControl(t.Context(), store.Control{WorkspaceID: q.ws.ID, IsPaused: true})
		wantErr(t, "PutControl", err, nil)
		got, err := q.s.ClaimPushDeliveries(t.Context(), store.PushClaim{Owner: "a", Now: q.now(), Limit: 10, Lease: time.Minute})
		wantErr(t, "claim while paused", err, nil)
		pulled, err := q.s.ClaimOutbox(t.Context(), q.ws.ID, "host", q.now(), 10, time.Minute)
		wantErr(t, "pull while paused", err, nil)
		if len(got)+len(pulled) != 0 {
			t.Fatalf("claimed %d push and %d pull deliveries of a paused workspace", len(got), len(pulled))
		}
		_, err = q.s.PutControl(t.Context(), store.Control{WorkspaceID: q.ws.ID})
		wantErr(t, "PutControl", err, nil)
		got, err = q.s.ClaimPushDeliveries(t.Context(), store.PushClaim{Owner: "a", Now: q.now(), Limit: 10, Lease: time.Minute})
		wantErr(t, "claim after the pause", err, nil)
		if len(got) != 1 {
			t.Fatalf("after the pause: claimed %d, want 1", len(got))
		}
	})
}

// testReplyCooldowns checks the per-recipient cooldown of automated
// replies: one reply per address and hour, whichever event asks, the
// same event may ask again, and concurrent events get one yes between
// them.
func testReplyCooldowns(t *testing.T, open ClockOpener) {
	t.Run("OnePerHour", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		at := q.now()
		claim := func(addr, event string, at time.Time) bool {
			t.Helper()
			ok, err := q.s.ClaimReplyCooldown(t.Context(), q.ws.ID, addr, event, at)
			wantErr(t, "ClaimReplyCooldown", err, nil)
			return ok
		}
		e1, e2 := newUUID(), newUUID()
		if !claim("ann@acme.test", e1, at) {
			t.Fatal("the first reply to an address was refused")
		}
		if !claim("ann@acme.test", e1, at.Add(time.Second)) {
			t.Error("the same event deciding again (re-processing) was refused")
		}
		if claim("ANN@acme.test", e2, at.Add(59*time.Minute)) {
			t.Error("a second event's reply within the hour was allowed")
		}
		if !claim("bob@acme.test", e2, at) {
			t.Error("another address was refused")
		}
		if !claim("ann@acme.test", e2, at.Add(61*time.Minute)) {
			t.Error("a reply after the hour was refused")
		}
		other, _, _ := createWorkspace(t, q.s, "globex")
		ok, err := q.s.ClaimReplyCooldown(t.Context(), other.ID, "ann@acme.test", newUUID(), at.Add(61*time.Minute))
		if err != nil || !ok {
			t.Errorf("another workspace's reply to the address = %v, %v; want allowed", ok, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		const n = 8
		var (
			wg  sync.WaitGroup
			yes atomic.Int32
		)
		for range n {
			wg.Go(func() {
				ok, err := q.s.ClaimReplyCooldown(context.Background(), q.ws.ID, "ann@acme.test", newUUID(), q.now())
				if err != nil {
					t.Errorf("ClaimReplyCooldown: %v", err)
				}
				if ok {
					yes.Add(1)
				}
			})
		}
		wg.Wait()
		if yes.Load() != 1 {
			t.Fatalf("%d of %d concurrent events may reply; want exactly 1", yes.Load(), n)
		}
	})
}
