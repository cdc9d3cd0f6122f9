package storetest

import (
	"errors"
	"testing"
	"time"

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
		_, res := commit(t, q, store.HandOff{}, withRun, badStatus)
		wantSettled(t, q, res, false, false)
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
