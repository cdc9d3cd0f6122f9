package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testEventLeaseRenewal covers ExtendLeases and ClaimEvents' exclusion
// of workspaces (the two halves of "a worker keeps its lease while it
// works, and one workspace's events never occupy every worker"): ExtendLeases: a worker that renews its
// claims keeps its events past the first lease, and no other claim takes
// them; a claim that is no longer current (taken over, settled, released)
// is not renewed and says so.
func testEventLeaseRenewal(t *testing.T, open ClockOpener) {
	t.Run("ClaimExcludesWorkspaces", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		other, _, _ := createWorkspace(t, q.s, "globex")
		third, _, _ := createWorkspace(t, q.s, "initech")
		// Many of acme's events come first; globex's and initech's after.
		var acme []store.NewEvent
		for i := range 5 {
			acme = append(acme, q.event(fmt.Sprintf("a%d", i), i))
		}
		a := q.ingest(t, acme...)
		g := q.ingest(t, newEvent(other.ID, "g", 10))[0]
		i := q.ingest(t, newEvent(third.ID, "i", 11))[0]

		claims, err := q.s.ClaimEvents(t.Context(), "w", 2, lease, q.ws.ID)
		wantErr(t, "ClaimEvents excluding acme", err, nil)
		wantDiff(t, "claimed excluding acme", []string{g.ID, i.ID}, claimedIDs(claims))
		claims, err = q.s.ClaimEvents(t.Context(), "w", 10, lease, q.ws.ID, other.ID, third.ID)
		wantErr(t, "ClaimEvents excluding every workspace", err, nil)
		wantDiff(t, "claimed excluding every workspace", []string{}, claimedIDs(claims))
		wantDiff(t, "claimed excluding nothing", eventIDs(a[:3]), q.claimIDs(t, 3))
		// An expired lease is excluded too.
		q.clk.Advance(lease)
		claims, err = q.s.ClaimEvents(t.Context(), "w", 10, lease, q.ws.ID)
		wantErr(t, "ClaimEvents after expiry", err, nil)
		wantDiff(t, "reclaimed excluding acme", []string{g.ID, i.ID}, claimedIDs(claims))
	})

	extend := func(t *testing.T, q *queue, claims ...store.Claim) []bool {
		t.Helper()
		held, err := q.s.ExtendLeases(t.Context(), claims, lease)
		wantErr(t, "ExtendLeases", err, nil)
		if len(held) != len(claims) {
			t.Fatalf("ExtendLeases returned %d results for %d claims", len(held), len(claims))
		}
		return held
	}

	t.Run("RenewedLeaseIsKept", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		evs := q.ingest(t, q.event("x", 1), q.event("y", 2))
		claims := q.claim(t, "slow", 10)
		// Renewed every two thirds of a lease for three leases: the
		// events are never due to anyone else.
		for range 4 {
			q.clk.Advance(lease * 2 / 3)
			wantDiff(t, "held", []bool{true, true}, extend(t, q, claims...))
			wantDiff(t, "claim by another worker", []string{}, q.claimIDs(t, 10))
		}
		for i, e := range evs {
			got := q.get(t, e.ID)
			if got.Status != store.EventProcessing || got.Attempts != 1 {
				t.Fatalf("event %d after the renewals: %s, attempt %d; want processing, 1", i, got.Status, got.Attempts)
			}
		}
		// The renewal runs from the time it was made.
		q.clk.Advance(lease - time.Millisecond)
		wantDiff(t, "claim just before the renewed lease ends", []string{}, q.claimIDs(t, 10))
		q.completeOK(t, claims...)
	})

	t.Run("TakenOverIsNotRenewed", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		e := q.ingest(t, q.event("x", 1))[0]
		old := q.claim(t, "slow", 1)[0]
		q.clk.Advance(lease)
		fresh := q.claim(t, "fast", 1)
		if len(fresh) != 1 || fresh[0].Event.ID != e.ID || fresh[0].Event.Attempts != 2 {
			t.Fatalf("claim after expiry = %+v, want the event at attempt 2", fresh)
		}
		// Both claims in one call: only the current one is renewed.
		wantDiff(t, "held (old, fresh)", []bool{false, true}, extend(t, q, old, fresh[0]))
		wantDiff(t, "held (old)", []bool{false}, extend(t, q, old))
		q.clk.Advance(lease - time.Millisecond)
		wantDiff(t, "claim while the fresh claim is renewed", []string{}, q.claimIDs(t, 10))
		wantErr(t, "late completion", q.complete(t, processed(old))[0], store.ErrLeaseLost)
		wantErr(t, "completion under the renewed lease", q.complete(t, processed(fresh[0]))[0], nil)
	})

	t.Run("ExpiredButNotTakenIsRenewed", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		q.ingest(t, q.event("x", 1))
		c := q.claim(t, "slow", 1)[0]
		q.clk.Advance(lease + time.Second)
		// No one claimed it meanwhile: the fence is still current, so the
		// worker keeps it.
		wantDiff(t, "held", []bool{true}, extend(t, q, c))
		wantDiff(t, "claim after the renewal", []string{}, q.claimIDs(t, 10))
		q.completeOK(t, c)
	})

	t.Run("SettledIsNotRenewed", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		q.ingest(t, q.event("a", 1), q.event("b", 2), q.event("c", 3), q.event("d", 4))
		claims := q.claim(t, "w", 10)
		q.completeOK(t, claims[0])
		wantErr(t, "FailEvent", q.s.FailEvent(t.Context(), claims[1], "boom", nil), nil)
		wantErr(t, "ReleaseEvent", q.s.ReleaseEvent(t.Context(), claims[2]), nil)
		wantDiff(t, "held", []bool{false, false, false, true}, extend(t, q, claims...))
		if got := q.get(t, claims[0].Event.ID); got.Status != store.EventProcessed {
			t.Fatalf("completed event after ExtendLeases: %s", got.Status)
		}
		if got := q.get(t, claims[2].Event.ID); got.Status != store.EventPending {
			t.Fatalf("released event after ExtendLeases: %s", got.Status)
		}
		wantDiff(t, "held of nothing", []bool{}, extend(t, q))
	})
}
