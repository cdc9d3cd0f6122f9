package storetest

import (
	"sync"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testEventHandOff covers IngestAndClaim: which events a commit claims for
// its node (the first of each order key with nothing unfinished before it,
// outside the excluded workspaces, up to the limit), that those are
// claims like any other (processing, one attempt, a lease that expires,
// a fence CompleteEvents checks), and that the rest of the queue keeps its
// order around them.
func testEventHandOff(t *testing.T, open ClockOpener) {
	claims := func(t *testing.T, q *queue, h store.HandOff, events ...store.NewEvent) ([]store.Claim, []store.Event) {
		t.Helper()
		g := &store.IngestGroup{Events: events}
		got, err := q.s.IngestAndClaim(t.Context(), []*store.IngestGroup{g}, h)
		if err != nil || g.Err != nil {
			t.Fatalf("IngestAndClaim: %v, group error %v", err, g.Err)
		}
		stored := make([]store.Event, len(g.Results))
		for i, r := range g.Results {
			stored[i] = r.Event
			if !r.Duplicate && r.Event.Status != store.EventPending {
				t.Errorf("result %d has status %q, want pending (accepted, not processed)", i, r.Event.Status)
			}
		}
		return got, stored
	}
	hand := func(limit int, exclude ...int64) store.HandOff {
		return store.HandOff{Owner: "node", Limit: limit, Lease: lease, Exclude: exclude}
	}

	t.Run("ClaimsTheHeadsOfIdleOrderKeys", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		x1 := q.ingest(t, q.event("x", 1))[0] // pending: x is busy
		got, evs := claims(t, q, hand(2), q.event("x", 2), q.event("y", 3), q.event("y", 4), q.event("", 5),
			q.event("", 6))
		// x2 waits for x1, y4 for y3; the limit stops before event 6.
		wantDiff(t, "claims", []string{evs[1].ID, evs[3].ID}, claimedIDs(got))
		for _, c := range got {
			if c.Fence == 0 || c.Event.Status != store.EventProcessing || c.Event.Attempts != 1 {
				t.Errorf("claim %+v: want processing, attempt 1, a fence", c)
			}
			stored := q.get(t, c.Event.ID)
			if stored.Status != store.EventProcessing || stored.Attempts != 1 {
				t.Errorf("stored %s: status %q, attempts %d; want processing, 1", stored.ID, stored.Status, stored.Attempts)
			}
		}
		// The queue's claim takes what was not handed off, in order, and
		// not what waits for a handed-off event.
		wantDiff(t, "claim", []string{x1.ID, evs[4].ID}, q.claimIDs(t, 10))
		q.completeOK(t, got[0])
		wantDiff(t, "claim after y3 completed", []string{evs[2].ID}, q.claimIDs(t, 10))
		// A hand-off's lease expires like any other: the event is claimed
		// again, its attempt counted.
		q.clk.Advance(lease + 1)
		var again []store.Claim
		for _, c := range q.claim(t, "other", 10) {
			if c.Event.ID == evs[3].ID {
				again = append(again, c)
			}
		}
		if len(again) != 1 || again[0].Event.Attempts != 2 || again[0].Fence == got[1].Fence {
			t.Fatalf("claim after the lease expired = %+v, want event 5 at attempt 2 with a new fence", again)
		}
		if errs := q.complete(t, processed(got[1])); errs[0] == nil {
			t.Error("CompleteEvents accepted the expired hand-off's fence")
		}
	})

	t.Run("NothingWhenNotAsked", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		for name, h := range map[string]store.HandOff{
			"limit 0":    hand(0),
			"excluded":   hand(10, q.ws.ID+1000, q.ws.ID),
			"zero value": {},
		} {
			got, _ := claims(t, q, h, q.event(name, 1))
			wantDiff(t, name+": claims", []string{}, claimedIDs(got))
		}
		if n := len(q.claimIDs(t, 10)); n != 3 {
			t.Errorf("claim found %d events, want the 3 not handed off", n)
		}
	})

	t.Run("ConcurrentCommitsClaimOneOfAKey", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		const n = 8
		claimed, _ := commitConcurrently(t, q, n, func(i int) store.NewEvent { return q.event("k", i) })
		_, total, err := q.s.ListEvents(t.Context(), q.ws.ID, store.EventFilter{}, store.ListQuery{Limit: 1})
		if err != nil || total != n {
			t.Fatalf("ListEvents: %d events, %v; want all %d stored", total, err, n)
		}
		// The rest are queued behind the claimed one, then taken one by one.
		takeOneByOne(t, q, claimed, n-len(claimed))
	})

	t.Run("NotADuplicate", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		first := q.ingest(t, keyed(q.event("k", 1), "key-1", "r1"))[0]
		q.completeOK(t, q.claim(t, "w", 10)...)
		got, evs := claims(t, q, hand(10), keyed(q.event("k", 1), "key-1", "r1"))
		wantDiff(t, "claims", []string{}, claimedIDs(got))
		if evs[0].ID != first.ID {
			t.Errorf("duplicate answered event %s, want the first, %s", evs[0].ID, first.ID)
		}
	})
}

// commitConcurrently runs n commits of one event each at once, event(i)
// the i-th, each offering a hand-off, and returns what they claimed and
// their results. At most one of them may claim: the events are expected
// to share an order key.
func commitConcurrently(t *testing.T, q *queue, n int, event func(i int) store.NewEvent) ([]store.Claim, []store.Ingested) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed []store.Claim
		results []store.Ingested
	)
	for i := range n {
		wg.Go(func() {
			g := &store.IngestGroup{Events: []store.NewEvent{event(i)}}
			got, err := q.s.IngestAndClaim(t.Context(), []*store.IngestGroup{g},
				store.HandOff{Owner: "node", Limit: 10, Lease: lease})
			if err != nil || g.Err != nil {
				t.Errorf("IngestAndClaim: %v, group error %v", err, g.Err)
				return
			}
			mu.Lock()
			claimed, results = append(claimed, got...), append(results, g.Results...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(claimed) > 1 {
		t.Fatalf("%d commits claimed an event of the same order key", len(claimed))
	}
	return claimed, results
}

// takeOneByOne completes the claims, then claims and completes the
// waiting events of their order key, which must come one at a time.
func takeOneByOne(t *testing.T, q *queue, claimed []store.Claim, waiting int) {
	t.Helper()
	q.completeOK(t, claimed...)
	for range waiting {
		c := q.claim(t, "w", 10)
		if len(c) != 1 {
			t.Fatalf("claim took %d events of one order key, want 1", len(c))
		}
		q.completeOK(t, c...)
	}
}
