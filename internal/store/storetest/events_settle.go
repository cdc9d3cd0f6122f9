package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// testEventSettle covers the events a commit stores finished
// (store.NewEvent.Settled): which of them it settles (the first of each
// order key in the commit, when the key has nothing unfinished in the
// store, with or without a hand-off),
// that a settled event is stored as its outcome says and writes what the
// outcome writes, and that the others are queued as usual.
func testEventSettle(t *testing.T, open ClockOpener) {
	settled := func(conv, status string) *store.Outcome {
		o := &store.Outcome{Status: status}
		if conv != "" {
			at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			o.Conversation = &store.Conversation{ID: conv, Status: "open", LastCustomerMessageAt: &at, UpdatedAt: at}
		}
		return o
	}
	settle := func(e store.NewEvent, status string) store.NewEvent {
		conv := ""
		if e.ConversationID != nil {
			conv = *e.ConversationID
		}
		e.Settled = settled(conv, status)
		if e.Settled.Conversation != nil {
			e.Settled.Conversation.WorkspaceID = e.WorkspaceID
		}
		return e
	}
	commit := func(t *testing.T, q *queue, h store.HandOff, events ...store.NewEvent) ([]store.Claim, []store.Ingested) {
		t.Helper()
		g := &store.IngestGroup{Events: events}
		claims, err := q.s.IngestAndClaim(t.Context(), []*store.IngestGroup{g}, h)
		if err != nil || g.Err != nil {
			t.Fatalf("IngestAndClaim: %v, group error %v", err, g.Err)
		}
		for i, r := range g.Results {
			if !r.Duplicate && r.Event.Status != store.EventPending {
				t.Errorf("result %d has status %q, want pending (the status it was accepted with)", i, r.Event.Status)
			}
		}
		return claims, g.Results
	}
	wantSettled := func(t *testing.T, q *queue, results []store.Ingested, want ...bool) {
		t.Helper()
		for i, r := range results {
			if r.Settled != want[i] {
				t.Errorf("result %d: Settled = %v, want %v", i, r.Settled, want[i])
			}
			stored := q.get(t, r.Event.ID)
			switch {
			case want[i] && (stored.Status == store.EventPending || stored.Status == store.EventProcessing ||
				stored.Attempts != 1 || stored.ProcessedAt == nil):
				t.Errorf("settled event %d stored %q, attempts %d, processed_at %v; want finished, 1, set",
					i, stored.Status, stored.Attempts, stored.ProcessedAt)
			case !want[i] && stored.Status != store.EventPending && stored.Status != store.EventProcessing:
				t.Errorf("event %d stored %q, want it left to the workers", i, stored.Status)
			}
		}
	}

	t.Run("IdleKeysSettle", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		busy := q.ingest(t, q.event("busy", 1))[0]
		_, res := commit(t, q, store.HandOff{},
			settle(q.event("a", 2), store.EventProcessed), // settles
			settle(q.event("a", 3), store.EventProcessed), // not its key's first in the commit: queued
			q.event("b", 4), // not settleable: queued
			settle(q.event("busy", 5), store.EventSkipped), // behind a stored one: queued
			settle(q.event("", 6), store.EventSkipped),     // no order key of its own to wait for
		)
		wantSettled(t, q, res, true, false, false, false, true)
		if got := q.get(t, res[4].Event.ID).Status; got != store.EventSkipped {
			t.Errorf("event settled skipped is stored %q", got)
		}
		// What the outcome writes is written: the conversation.
		conv, err := q.s.GetConversation(t.Context(), q.ws.ID, "a")
		wantErr(t, "GetConversation", err, nil)
		if conv.Status != "open" || conv.LastCustomerMessageAt == nil {
			t.Errorf("conversation a = %+v, want the settled outcome's state", conv)
		}
		// An event left to the workers writes nothing of its outcome yet.
		if _, err := q.s.GetConversation(t.Context(), q.ws.ID, "busy"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConversation(busy) = %v, want not found: the event behind a stored one was not settled", err)
		}
		// The workers get the rest, each key's in order: its head now.
		wantDiff(t, "claim", []string{busy.ID, res[1].Event.ID, res[2].Event.ID}, q.claimIDs(t, 10))
	})

	t.Run("WithAHandOff", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		claims, res := commit(t, q, store.HandOff{Owner: "node", Limit: 1, Lease: lease},
			q.event("x", 1), // claimed
			q.event("y", 2), // over the limit: queued
			settle(q.event("z", 3), store.EventProcessed), // settled: not counted against the limit
			settle(q.event("x", 4), store.EventProcessed), // behind a claimed one: queued
		)
		wantDiff(t, "claims", []string{res[0].Event.ID}, claimedIDs(claims))
		wantSettled(t, q, res, false, false, true, false)
		q.completeOK(t, claims...)
		wantDiff(t, "claim", []string{res[1].Event.ID, res[3].Event.ID}, q.claimIDs(t, 10))
	})

	t.Run("OnlySettleableOutcomes", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		withRun := settle(q.event("r", 1), store.EventProcessed)
		withRun.Settled.Runs = []store.Run{{RuleID: 1, Reason: "conditions_not_met", Status: store.RunNotMatched}}
		badStatus := settle(q.event("s", 2), store.EventFailed)
		otherConversation := settle(q.event("t", 3), store.EventProcessed)
		otherConversation.Settled.Conversation.ID = "not-t"
		_, res := commit(t, q, store.HandOff{}, withRun, badStatus, otherConversation)
		wantSettled(t, q, res, false, false, false)
		if _, err := q.s.GetConversation(t.Context(), q.ws.ID, "not-t"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConversation(not-t) = %v, want not found: an outcome teaches its own event's conversation only", err)
		}
	})

	t.Run("ConcurrentCommitsOfAKey", func(t *testing.T) {
		// Commits of one order key at once, some settling, some handing
		// off: each sees the others that committed before it, so at most
		// one is claimed and none settles behind an unfinished one.
		t.Parallel()
		q := setupQueue(t, open)
		claimed, results := commitConcurrently(t, q, 8, func(i int) store.NewEvent {
			if i%2 == 0 {
				return settle(q.event("k", i), store.EventProcessed)
			}
			return q.event("k", i)
		})
		waiting := 0
		for _, r := range results {
			stored := q.get(t, r.Event.ID)
			switch {
			case r.Settled && stored.Status != store.EventProcessed:
				t.Errorf("settled event stored %q", stored.Status)
			case !r.Settled && stored.Status == store.EventPending:
				waiting++
			}
		}
		// What waits is taken one at a time once the claim is done.
		takeOneByOne(t, q, claimed, waiting)
	})

	t.Run("OrderProperty", func(t *testing.T) {
		// Random commits of settleable and other events over three
		// conversations, with and without hand-offs, random claims, and
		// completions in random order: the events of a conversation
		// finish in the order they were committed, and no two of them
		// are ever claimed at once.
		t.Parallel()
		clk := clock.NewFake(epoch)
		s := open(t, clk)
		histories := 0
		rapid.Check(t, func(rt *rapid.T) {
			histories++
			q := &queue{s: s, clk: clk}
			q.ws, _, _ = createWorkspace(t, s, fmt.Sprintf("settle-prop-%d", histories))
			var (
				committed = map[string][]string{} // conversation → its events, in commit order
				finished  = map[string][]string{} // … in the order they finished
				keyOf     = map[string]string{}
				held      []store.Claim
				n         int
			)
			hold := func(cs []store.Claim) {
				for _, c := range cs {
					if _, ours := keyOf[c.Event.ID]; !ours {
						// Left pending by an earlier history (one store
						// serves them all): finished, out of the way.
						q.complete(t, processed(c))
						continue
					}
					for _, h := range held {
						if keyOf[h.Event.ID] == keyOf[c.Event.ID] {
							rt.Fatalf("events %s and %s of %s claimed at once", h.Event.ID, c.Event.ID, keyOf[c.Event.ID])
						}
					}
					held = append(held, c)
				}
			}
			for range rapid.IntRange(1, 30).Draw(rt, "steps") {
				switch rapid.IntRange(0, 2).Draw(rt, "step") {
				case 0:
					var events []store.NewEvent
					for range rapid.IntRange(1, 4).Draw(rt, "events") {
						n++
						e := q.event(rapid.SampledFrom([]string{"a", "b", "c"}).Draw(rt, "conversation"), n)
						if rapid.Bool().Draw(rt, "settleable") {
							e = settle(e, store.EventProcessed)
						}
						events = append(events, e)
					}
					h := store.HandOff{Owner: "node", Limit: rapid.IntRange(0, 2).Draw(rt, "hand-off"), Lease: lease}
					g := &store.IngestGroup{Events: events}
					claims, err := s.IngestAndClaim(t.Context(), []*store.IngestGroup{g}, h)
					if err != nil || g.Err != nil {
						rt.Fatalf("IngestAndClaim: %v, %v", err, g.Err)
					}
					for i, r := range g.Results {
						k := *events[i].ConversationID
						keyOf[r.Event.ID] = k
						committed[k] = append(committed[k], r.Event.ID)
						if r.Settled {
							finished[k] = append(finished[k], r.Event.ID)
						}
					}
					hold(claims)
				case 1:
					hold(q.claim(t, "worker", rapid.IntRange(1, 3).Draw(rt, "claim")))
				case 2:
					if len(held) == 0 {
						continue
					}
					i := rapid.IntRange(0, len(held)-1).Draw(rt, "complete")
					c := held[i]
					held = slices.Delete(held, i, i+1)
					if errs := q.complete(t, processed(c)); errs[0] != nil {
						rt.Fatalf("CompleteEvents: %v", errs[0])
					}
					finished[keyOf[c.Event.ID]] = append(finished[keyOf[c.Event.ID]], c.Event.ID)
				}
				for k, done := range finished {
					if !slices.Equal(done, committed[k][:len(done)]) {
						rt.Fatalf("conversation %s: finished %v, committed %v", k, done, committed[k])
					}
				}
				clk.Advance(time.Duration(rapid.IntRange(0, 2).Draw(rt, "ms")) * time.Millisecond)
			}
		})
	})

	t.Run("DuplicatesAreNotSettledAgain", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		_, first := commit(t, q, store.HandOff{}, keyed(settle(q.event("k", 1), store.EventProcessed), "key-1", "r1"))
		_, again := commit(t, q, store.HandOff{}, keyed(settle(q.event("k", 1), store.EventProcessed), "key-1", "r1"))
		if !first[0].Settled || !again[0].Duplicate || again[0].Settled || again[0].Event.ID != first[0].Event.ID {
			t.Errorf("first %+v, again %+v: want the first settled and the retry its duplicate", first[0], again[0])
		}
	})
}
