package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testEventClaims covers which events ClaimEvents hands out: the oldest
// due ones, never two of one order key at once, an order key's events in
// (created_at, id) order.
func testEventClaims(t *testing.T, open ClockOpener) {
	t.Run("OneAtATimePerConversation", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		x := q.ingest(t, q.event("x", 1), q.event("x", 2), q.event("x", 3))
		q.clk.Advance(time.Millisecond)
		y := q.ingest(t, q.event("y", 4))

		claims := q.claim(t, "w", 10)
		wantDiff(t, "first claim", []string{x[0].ID, y[0].ID}, claimedIDs(claims))
		for _, c := range claims {
			e := c.Event
			if e.Status != store.EventProcessing || e.Attempts != 1 {
				t.Errorf("claimed event = status %s, attempts %d; want processing, 1", e.Status, e.Attempts)
			}
			wantDiff(t, "claimed event as stored", e, q.get(t, e.ID))
		}
		if claims[0].Fence == claims[1].Fence {
			t.Errorf("two claims share the fence %d", claims[0].Fence)
		}
		wantDiff(t, "claim while the heads are processing", []string{}, q.claimIDs(t, 10))

		q.completeOK(t, claims[0])
		wantDiff(t, "claim after x1 completed", []string{x[1].ID}, q.claimIDs(t, 10))
	})

	t.Run("OldestFirst", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		var want []string
		for i := range 6 {
			// Events without a conversation or contact do not wait for
			// each other.
			want = append(want, q.ingest(t, q.event("", i))[0].ID)
			if i%2 == 0 {
				q.clk.Advance(time.Millisecond)
			}
		}
		wantDiff(t, "first claim", want[:4], q.claimIDs(t, 4))
		wantDiff(t, "second claim", want[4:], q.claimIDs(t, 4))
	})

	t.Run("ContactWithoutConversationIsTheKey", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		a, b := q.event("", 1), q.event("", 2)
		a.ContactID, b.ContactID = ptr("ann"), ptr("ann")
		evs := q.ingest(t, a, b)
		claims := q.claim(t, "w", 10)
		wantDiff(t, "claim", []string{evs[0].ID}, claimedIDs(claims))
		q.completeOK(t, claims...)
		wantDiff(t, "claim after the first", []string{evs[1].ID}, q.claimIDs(t, 10))
	})

	t.Run("OrderKeysAreScopedByWorkspace", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		other, _, _ := createWorkspace(t, q.s, "globex")
		a := q.ingest(t, q.event("shared", 1))[0]
		g := &store.IngestGroup{Events: []store.NewEvent{newEvent(other.ID, "shared", 2)}}
		q.ingestGroups(t, g)
		wantDiff(t, "claim", []string{a.ID, g.Results[0].Event.ID}, q.claimIDs(t, 10))
	})

	t.Run("RetryWaitsForItsKey", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		evs := q.ingest(t, q.event("x", 1), q.event("x", 2), q.event("x", 3))
		c := q.claim(t, "w", 1)[0]
		// A retry in the future holds back the rest of the conversation.
		retryAt := q.now().Add(time.Minute)
		wantErr(t, "FailEvent", q.s.FailEvent(t.Context(), c, "boom", &retryAt), nil)
		wantDiff(t, "claim before the retry is due", []string{}, q.claimIDs(t, 10))
		q.clk.Advance(time.Minute)
		c = q.claim(t, "w", 10)[0]
		if c.Event.ID != evs[0].ID || c.Event.Attempts != 2 {
			t.Fatalf("claim when the retry is due = %s (attempt %d), want %s (attempt 2)", c.Event.ID, c.Event.Attempts, evs[0].ID)
		}

		// A failed event does not hold its conversation back; re-queued by
		// RetryEvent while a later event is processing, it waits for it.
		wantErr(t, "FailEvent", q.s.FailEvent(t.Context(), c, "fatal", nil), nil)
		second := q.claim(t, "w", 10)
		wantDiff(t, "claim after the first failed", []string{evs[1].ID}, claimedIDs(second))
		if _, err := q.s.RetryEvent(t.Context(), q.ws.ID, evs[0].ID); err != nil {
			t.Fatalf("RetryEvent: %v", err)
		}
		wantDiff(t, "claim while the second is processing", []string{}, q.claimIDs(t, 10))
		q.completeOK(t, second...)
		wantDiff(t, "claim after the second completed", []string{evs[0].ID}, q.claimIDs(t, 10))
	})

	t.Run("NextEventDue", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		if _, ok, err := q.s.NextEventDue(t.Context()); ok || err != nil {
			t.Fatalf("NextEventDue on an empty queue = %v, %v; want none", ok, err)
		}
		q.ingest(t, q.event("a", 1))
		q.clk.Advance(time.Second)
		q.ingest(t, q.event("b", 2))
		at, ok, err := q.s.NextEventDue(t.Context())
		if err != nil || !ok || !at.Equal(epochMS) {
			t.Fatalf("NextEventDue = %v, %v, %v; want %v", at, ok, err, epochMS)
		}
		checkStored(t, "NextEventDue", at)
		claims := q.claim(t, "w", 10)
		retryAt := q.now().Add(time.Minute)
		wantErr(t, "FailEvent", q.s.FailEvent(t.Context(), claims[0], "boom", &retryAt), nil)
		q.completeOK(t, claims[1])
		at, ok, err = q.s.NextEventDue(t.Context())
		if err != nil || !ok || !at.Equal(retryAt) {
			t.Fatalf("NextEventDue with a retry pending = %v, %v, %v; want %v", at, ok, err, retryAt)
		}
		q.clk.Set(retryAt)
		q.completeOK(t, q.claim(t, "w", 10)...)
		if _, ok, err := q.s.NextEventDue(t.Context()); ok || err != nil {
			t.Fatalf("NextEventDue with nothing pending = %v, %v; want none", ok, err)
		}
		if got := q.claim(t, "w", 0); len(got) != 0 {
			t.Fatalf("ClaimEvents(limit 0) = %d claims", len(got))
		}
	})
}

// testEventLeases covers leases and their fences: expiry and reclaim, the
// late worker refused, the attempt budget, FailEvent, ReleaseEvent and
// RetryEvent.
func testEventLeases(t *testing.T, open ClockOpener) {
	t.Run("ExpiredLeaseIsReclaimed", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		r := q.rule(t, "r")
		e := q.ingest(t, q.event("x", 1))[0]
		old := q.claim(t, "slow", 1)[0]
		if !old.Event.AvailableAt.Equal(epochMS) {
			t.Fatalf("AvailableAt = %v", old.Event.AvailableAt)
		}
		q.clk.Advance(lease - time.Millisecond)
		wantDiff(t, "claim before the lease expires", []string{}, q.claimIDs(t, 10))
		q.clk.Advance(time.Millisecond)
		claims := q.claim(t, "fast", 10)
		if len(claims) != 1 || claims[0].Event.ID != e.ID || claims[0].Event.Attempts != 2 {
			t.Fatalf("claim after expiry = %+v, want the event again, attempt 2", claims)
		}
		fresh := claims[0]
		if fresh.Fence == old.Fence {
			t.Fatalf("the reclaim reused fence %d", old.Fence)
		}

		late := store.Completion{Claim: old, Outcome: store.Outcome{Status: store.EventProcessed,
			Runs: []store.Run{run(e, r, false, q.now())}}}
		wantErr(t, "late completion", q.complete(t, late)[0], store.ErrLeaseLost)
		wantErr(t, "late FailEvent", q.s.FailEvent(t.Context(), old, "x", nil), store.ErrLeaseLost)
		wantErr(t, "late ReleaseEvent", q.s.ReleaseEvent(t.Context(), old), store.ErrLeaseLost)
		if ids, err := q.s.RunRuleIDs(t.Context(), q.ws.ID, e.ID); err != nil || len(ids) != 0 {
			t.Fatalf("runs after the refused completion = %v, %v; want none", ids, err)
		}
		if got := q.get(t, e.ID); got.Status != store.EventProcessing || got.Attempts != 2 {
			t.Fatalf("event after the late calls = %s, attempt %d; want processing, 2", got.Status, got.Attempts)
		}

		wantErr(t, "completion under the new lease", q.complete(t, store.Completion{Claim: fresh,
			Outcome: store.Outcome{Status: store.EventProcessed, Runs: []store.Run{run(e, r, false, q.now())}}})[0], nil)
		wantErr(t, "second completion", q.complete(t, processed(fresh))[0], store.ErrLeaseLost)
		if ids, err := q.s.RunRuleIDs(t.Context(), q.ws.ID, e.ID); err != nil || len(ids) != 1 {
			t.Fatalf("runs after the completion = %v, %v; want one", ids, err)
		}
	})

	t.Run("FiveExpiredLeasesFailTheEvent", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		evs := q.ingest(t, q.event("x", 1), q.event("x", 2))
		for attempt := 1; attempt <= 5; attempt++ {
			c := q.claim(t, "w", 10)
			if len(c) != 1 || c[0].Event.ID != evs[0].ID || c[0].Event.Attempts != attempt {
				t.Fatalf("claim %d = %+v, want the first event at attempt %d", attempt, c, attempt)
			}
			q.clk.Advance(lease)
		}
		// The claim that fails the first event hands out nothing of its
		// conversation; the next claim does.
		wantDiff(t, "claim after the fifth lease expired", []string{}, q.claimIDs(t, 10))
		got := q.get(t, evs[0].ID)
		if got.Status != store.EventFailed || got.Error == nil || *got.Error != "lease expired after 5 attempts" ||
			got.ProcessedAt == nil || !got.ProcessedAt.Equal(q.now()) || got.Attempts != 5 {
			t.Fatalf("event after five expired leases = %+v, want failed with the lease error", got)
		}
		wantDiff(t, "the conversation moves on", []string{evs[1].ID}, q.claimIDs(t, 10))
	})

	t.Run("FailEvent", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		e := q.ingest(t, q.event("x", 1))[0]
		c := q.claim(t, "w", 1)[0]
		retryAt := q.now().Add(90*time.Second + 500*time.Microsecond)
		wantErr(t, "FailEvent with a retry", q.s.FailEvent(t.Context(), c, "boom", &retryAt), nil)
		got := q.get(t, e.ID)
		if got.Status != store.EventPending || got.Attempts != 1 || got.Error == nil || *got.Error != "boom" ||
			!got.AvailableAt.Equal(retryAt.Truncate(time.Millisecond)) || got.ProcessedAt != nil {
			t.Fatalf("event after a failure with retry = %+v", got)
		}
		wantErr(t, "FailEvent twice", q.s.FailEvent(t.Context(), c, "boom", &retryAt), store.ErrLeaseLost)

		q.clk.Set(retryAt)
		c = q.claim(t, "w", 1)[0]
		wantErr(t, "final FailEvent", q.s.FailEvent(t.Context(), c, "bad \x00 bytes \xff", nil), nil)
		got = q.get(t, e.ID)
		if got.Status != store.EventFailed || got.Attempts != 2 || got.Error == nil || got.ProcessedAt == nil ||
			!got.ProcessedAt.Equal(q.now()) {
			t.Fatalf("event after a final failure = %+v", got)
		}
		wantDiff(t, "claim of a failed event", []string{}, q.claimIDs(t, 10))
	})

	t.Run("ReleaseEvent", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		e := q.ingest(t, q.event("x", 1))[0]
		c := q.claim(t, "w", 1)[0]
		wantErr(t, "ReleaseEvent", q.s.ReleaseEvent(t.Context(), c), nil)
		if got := q.get(t, e.ID); got.Status != store.EventPending || got.Attempts != 0 {
			t.Fatalf("released event = %s, attempts %d; want pending, 0", got.Status, got.Attempts)
		}
		wantErr(t, "ReleaseEvent twice", q.s.ReleaseEvent(t.Context(), c), store.ErrLeaseLost)
		again := q.claim(t, "w", 1)
		if len(again) != 1 || again[0].Event.Attempts != 1 || again[0].Fence == c.Fence {
			t.Fatalf("claim after release = %+v, want attempt 1 with a new fence", again)
		}
	})

	t.Run("RetryEvent", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		evs := q.ingest(t, q.event("x", 1), q.event("y", 2))
		claims := q.claim(t, "w", 10)
		wantErr(t, "FailEvent", q.s.FailEvent(t.Context(), claims[0], "fatal", nil), nil)
		q.completeOK(t, claims[1])
		q.clk.Advance(time.Hour)

		got, err := q.s.RetryEvent(t.Context(), q.ws.ID, evs[0].ID)
		wantErr(t, "RetryEvent", err, nil)
		if got.Status != store.EventPending || got.Attempts != 0 || got.Error != nil || got.ProcessedAt != nil ||
			!got.AvailableAt.Equal(q.now()) {
			t.Fatalf("retried event = %+v, want pending, no attempts, no error, available now", got)
		}
		wantDiff(t, "retried event as stored", got, q.get(t, evs[0].ID))

		got, err = q.s.RetryEvent(t.Context(), q.ws.ID, evs[0].ID)
		wantErr(t, "RetryEvent of a pending event", err, store.ErrConflict)
		if got.ID != evs[0].ID || got.Status != store.EventPending {
			t.Errorf("RetryEvent conflict returned %+v, want the event", got)
		}
		_, err = q.s.RetryEvent(t.Context(), q.ws.ID, evs[1].ID)
		wantErr(t, "RetryEvent of a processed event", err, store.ErrConflict)
		_, err = q.s.RetryEvent(t.Context(), q.ws.ID, newUUID())
		wantErr(t, "RetryEvent of an unknown event", err, store.ErrNotFound)
		_, err = q.s.RetryEvent(t.Context(), q.ws.ID, "nope")
		wantErr(t, "RetryEvent of a malformed id", err, store.ErrNotFound)
		wantDiff(t, "claim", []string{evs[0].ID}, q.claimIDs(t, 10))
	})
}

// testEventConcurrency runs eight workers against one store: every event
// must be processed exactly once, no two events of one conversation may
// be held at once, and each conversation's events must complete in
// (created_at, id) order.
func testEventConcurrency(t *testing.T, open ClockOpener) {
	t.Run("WorkersKeepOrderAndExclusivity", func(t *testing.T) {
		t.Parallel()
		const (
			events        = 500
			conversations = 20
			workers       = 8
		)
		q := setupQueue(t, open)
		want := map[string][]string{} // conversation → event ids in (created_at, id) order
		for start := 0; start < events; start += 50 {
			var batch []store.NewEvent
			for i := start; i < start+50; i++ {
				batch = append(batch, q.event(fmt.Sprintf("conv-%02d", i%conversations), i))
			}
			for _, e := range q.ingest(t, batch...) {
				want[*e.ConversationID] = append(want[*e.ConversationID], e.ID)
			}
			if start%100 == 0 {
				q.clk.Advance(time.Millisecond)
			}
		}

		var (
			mu        sync.Mutex
			held      = map[string]string{} // conversation → the event a worker holds
			completed = map[string][]string{}
			done      = map[string]int{}
			failures  []string
			wg        sync.WaitGroup
		)
		fail := func(format string, args ...any) {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		deadline := time.Now().Add(60 * time.Second)
		for w := range workers {
			wg.Go(func() {
				owner := fmt.Sprintf("worker-%d", w)
				for {
					mu.Lock()
					finished := len(done) == events || len(failures) > 0
					mu.Unlock()
					if finished || time.Now().After(deadline) {
						return
					}
					claims, err := q.s.ClaimEvents(t.Context(), owner, 8, time.Hour)
					if err != nil {
						mu.Lock()
						fail("%s: ClaimEvents: %v", owner, err)
						mu.Unlock()
						return
					}
					if len(claims) == 0 {
						time.Sleep(5 * time.Millisecond) // nothing claimable: let the others finish
						continue
					}
					items := make([]store.Completion, len(claims))
					mu.Lock()
					for i, c := range claims {
						conv := *c.Event.ConversationID
						if other, busy := held[conv]; busy {
							fail("%s claimed %s of %s while %s is held", owner, c.Event.ID, conv, other)
						}
						held[conv] = c.Event.ID
						items[i] = processed(c)
					}
					mu.Unlock()
					time.Sleep(100 * time.Microsecond) // "process"
					// Released before the commit: the next event of the
					// conversation cannot be claimed until it is done.
					mu.Lock()
					for _, c := range claims {
						conv := *c.Event.ConversationID
						delete(held, conv)
						completed[conv] = append(completed[conv], c.Event.ID)
					}
					mu.Unlock()
					errs, err := q.s.CompleteEvents(t.Context(), items)
					mu.Lock()
					if err != nil {
						fail("%s: CompleteEvents: %v", owner, err)
					}
					for i, e := range errs {
						if e != nil {
							fail("%s: completing %s: %v", owner, claims[i].Event.ID, e)
						}
						done[claims[i].Event.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, f := range failures {
			t.Error(f)
		}
		if len(done) != events {
			t.Fatalf("%d of %d events completed", len(done), events)
		}
		for id, n := range done {
			if n != 1 {
				t.Errorf("event %s completed %d times", id, n)
			}
		}
		for conv, ids := range want {
			if !slices.Equal(ids, completed[conv]) {
				t.Errorf("%s completed in order %v, want %v", conv, completed[conv], ids)
			}
		}
		list, total, err := q.s.ListEvents(t.Context(), q.ws.ID, store.EventFilter{Status: store.EventProcessed}, store.ListQuery{Limit: 1})
		if err != nil || total != events || len(list) != 1 {
			t.Fatalf("processed events: total %d, %v; want %d", total, err, events)
		}
	})
}
