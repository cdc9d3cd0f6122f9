package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testEventIngest covers IngestEvents: what it stamps, idempotency keys
// (same and different body, within and after 24 hours, within one group,
// across the groups of one commit, across workspaces) and the rule that a
// failing group stores nothing while its neighbours commit.
func testEventIngest(t *testing.T, open ClockOpener) {
	t.Run("StoresEventsAsSent", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		occurred := time.Date(2030, 2, 28, 8, 0, 0, 999_999_999, time.FixedZone("X", 3600))
		a := q.event("c-1", 1)
		a.OccurredAt = occurred
		a.ChannelSource = ptr("email")
		a.TargetRuleID = ptr[int64](42)
		b := q.event("", 2)
		b.ContactID = ptr("contact-9")
		c := q.event("", 3)
		got := q.ingest(t, a, b, c)
		if len(got) != 3 {
			t.Fatalf("IngestEvents returned %d results, want 3", len(got))
		}
		for i, e := range got {
			if _, err := uuid.Parse(e.ID); err != nil || uuid.MustParse(e.ID).Version() != 7 {
				t.Errorf("event %d id %q is not a UUIDv7", i, e.ID)
			}
			if e.Status != store.EventPending || e.Attempts != 0 || e.ProcessedAt != nil || e.Error != nil {
				t.Errorf("event %d = %+v, want pending, no attempt", i, e)
			}
			if !e.CreatedAt.Equal(epochMS) || !e.AvailableAt.Equal(epochMS) {
				t.Errorf("event %d created_at %v, available_at %v, want both %v", i, e.CreatedAt, e.AvailableAt, epochMS)
			}
			checkStored(t, "CreatedAt", e.CreatedAt)
			wantDiff(t, "GetEvent", e, q.get(t, e.ID))
		}
		if !slices.IsSorted(eventIDs(got)) {
			t.Errorf("ids %v are not increasing within the group", eventIDs(got))
		}
		if want := occurred.UTC().Truncate(time.Millisecond); !got[0].OccurredAt.Equal(want) {
			t.Errorf("OccurredAt = %v, want %v", got[0].OccurredAt, want)
		}
		checkStored(t, "OccurredAt", got[0].OccurredAt)
		if !got[1].OccurredAt.Equal(epochMS) {
			t.Errorf("OccurredAt without one = %v, want the arrival %v", got[1].OccurredAt, epochMS)
		}
		stored := q.get(t, got[0].ID)
		if string(stored.Payload) != string(a.Payload) {
			t.Errorf("payload = %s, want it verbatim: %s", stored.Payload, a.Payload)
		}
		if *stored.ChannelSource != "email" || *stored.TargetRuleID != 42 || stored.PayloadHash != a.PayloadHash {
			t.Errorf("stored event = %+v, want channel, target rule and hash kept", stored)
		}
		for i, want := range []string{"c-1", "contact-9", got[2].ID} {
			if got[i].OrderKey != want {
				t.Errorf("event %d OrderKey = %q, want %q", i, got[i].OrderKey, want)
			}
		}
		if _, err := q.s.GetEvent(t.Context(), q.ws.ID, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetEvent(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := q.s.GetEvent(t.Context(), q.ws.ID, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetEvent(malformed) = %v, want ErrNotFound", err)
		}
	})

	t.Run("IdempotencyKeyWithin24Hours", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		first := q.ingest(t, keyed(q.event("c", 1), "k1", "h1"))[0]
		q.clk.Advance(24*time.Hour - time.Millisecond)

		g := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("c", 1), "k1", "h1")}}
		q.ingestGroups(t, g)
		wantErr(t, "retry with the same body", g.Err, nil)
		if !g.Results[0].Duplicate || g.Results[0].Event.ID != first.ID {
			t.Fatalf("retry = %+v, want a duplicate of %s", g.Results[0], first.ID)
		}
		wantDiff(t, "duplicate's event", first, g.Results[0].Event)

		g = &store.IngestGroup{Events: []store.NewEvent{q.event("c", 5), keyed(q.event("c", 2), "k1", "h2")}}
		q.ingestGroups(t, g)
		if !errors.Is(g.Err, store.ErrIdempotencyConflict) || g.Index != 1 {
			t.Fatalf("different body: Err %v, Index %d; want ErrIdempotencyConflict at 1", g.Err, g.Index)
		}
		wantEventCount(t, q, 1)
	})

	t.Run("IdempotencyKeyAfter24Hours", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		first := q.ingest(t, keyed(q.event("c", 1), "k1", "h1"))[0]
		q.clk.Advance(24 * time.Hour)

		second := q.ingest(t, keyed(q.event("c", 2), "k1", "h2"))[0]
		if second.ID == first.ID {
			t.Fatal("a key older than 24 hours still returned its first event")
		}
		// The key now belongs to the second request.
		g := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("c", 1), "k1", "h1")}}
		q.ingestGroups(t, g)
		if !errors.Is(g.Err, store.ErrIdempotencyConflict) {
			t.Fatalf("first body after the key was taken over: Err = %v, want ErrIdempotencyConflict", g.Err)
		}
		g = &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("c", 2), "k1", "h2")}}
		q.ingestGroups(t, g)
		if g.Err != nil || !g.Results[0].Duplicate || g.Results[0].Event.ID != second.ID {
			t.Fatalf("second body again = %+v, %v; want a duplicate of %s", g.Results, g.Err, second.ID)
		}
		wantEventCount(t, q, 2)
	})

	t.Run("ConflictFailsOnlyItsGroup", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		taken := q.ingest(t, keyed(q.event("c", 1), "taken", "h1"))[0]

		ok1 := &store.IngestGroup{Events: []store.NewEvent{q.event("a", 10), keyed(q.event("a", 11), "fresh", "h")}}
		bad := &store.IngestGroup{Events: []store.NewEvent{
			q.event("b", 20), keyed(q.event("b", 21), "other", "h"), keyed(q.event("b", 22), "taken", "h2"),
		}}
		dup := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("c", 1), "taken", "h1"), q.event("d", 30)}}
		ok2 := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("e", 40), "other", "h")}}
		q.ingestGroups(t, ok1, bad, dup, ok2)

		if !errors.Is(bad.Err, store.ErrIdempotencyConflict) || bad.Index != 2 {
			t.Fatalf("bad group: Err %v, Index %d; want ErrIdempotencyConflict at 2", bad.Err, bad.Index)
		}
		for name, g := range map[string]*store.IngestGroup{"ok1": ok1, "dup": dup, "ok2": ok2} {
			if g.Err != nil || len(g.Results) != len(g.Events) {
				t.Fatalf("group %s: Err %v, %d results; want success", name, g.Err, len(g.Results))
			}
		}
		if !dup.Results[0].Duplicate || dup.Results[0].Event.ID != taken.ID || dup.Results[1].Duplicate {
			t.Errorf("dup group results = %+v, want [duplicate of %s, new]", dup.Results, taken.ID)
		}
		// "other" was used by the failed group only: its tentative use
		// must not leak into ok2.
		if ok2.Results[0].Duplicate {
			t.Error("a key used only by a failed group made a later group a duplicate")
		}
		// taken, ok1 ×2, dup's new event, ok2.
		wantEventCount(t, q, 5)
		for _, conv := range []string{"b"} {
			list, total, err := q.s.ListEvents(t.Context(), q.ws.ID, store.EventFilter{ConversationID: conv}, store.ListQuery{})
			if err != nil || total != 0 || len(list) != 0 {
				t.Errorf("events of the failed group's conversation = %d (total %d, %v), want none", len(list), total, err)
			}
		}
	})

	t.Run("SameKeyTwiceInOneCommit", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		same := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("a", 1), "k", "h"), keyed(q.event("a", 1), "k", "h")}}
		clash := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("b", 1), "j", "h"), keyed(q.event("b", 2), "j", "h2")}}
		later := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("a", 1), "k", "h")}}
		differs := &store.IngestGroup{Events: []store.NewEvent{keyed(q.event("a", 3), "k", "h3")}}
		q.ingestGroups(t, same, clash, later, differs)

		if same.Err != nil || same.Results[0].Duplicate || !same.Results[1].Duplicate ||
			same.Results[1].Event.ID != same.Results[0].Event.ID {
			t.Errorf("same key twice in a group = %+v, %v; want the second a duplicate of the first", same.Results, same.Err)
		}
		if !errors.Is(clash.Err, store.ErrIdempotencyConflict) || clash.Index != 1 {
			t.Errorf("same key, other body, in a group: Err %v, Index %d; want ErrIdempotencyConflict at 1", clash.Err, clash.Index)
		}
		if later.Err != nil || !later.Results[0].Duplicate || later.Results[0].Event.ID != same.Results[0].Event.ID {
			t.Errorf("same key in a later group of the commit = %+v, %v; want a duplicate", later.Results, later.Err)
		}
		if !errors.Is(differs.Err, store.ErrIdempotencyConflict) {
			t.Errorf("other body in a later group of the commit: Err = %v, want ErrIdempotencyConflict", differs.Err)
		}
		wantEventCount(t, q, 1)
	})

	t.Run("ConcurrentRequestsWithOneKey", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		const requests = 8
		for _, tc := range []struct {
			key        string
			sameBody   bool
			wantStored int
		}{{"same", true, 1}, {"different", false, 1}} {
			groups := make([]*store.IngestGroup, requests)
			var wg sync.WaitGroup
			errs := make([]error, requests)
			for i := range groups {
				hash := "h"
				if !tc.sameBody {
					hash = fmt.Sprint("h", i)
				}
				groups[i] = &store.IngestGroup{Events: []store.NewEvent{keyed(q.event(tc.key, i), tc.key, hash)}}
				wg.Go(func() { errs[i] = q.s.IngestEvents(t.Context(), groups[i:i+1]) })
			}
			wg.Wait()
			ids := map[string]bool{}
			fresh, conflicts := 0, 0
			for i, g := range groups {
				wantErr(t, "IngestEvents", errs[i], nil)
				switch {
				case errors.Is(g.Err, store.ErrIdempotencyConflict):
					conflicts++
				case g.Err != nil:
					t.Fatalf("request %d: %v", i, g.Err)
				default:
					ids[g.Results[0].Event.ID] = true
					if !g.Results[0].Duplicate {
						fresh++
					}
				}
			}
			if fresh != 1 || len(ids) != 1 {
				t.Errorf("key %q: %d requests stored an event, %d distinct events returned; want 1 and 1", tc.key, fresh, len(ids))
			}
			if tc.sameBody && conflicts != 0 || !tc.sameBody && conflicts != requests-1 {
				t.Errorf("key %q: %d conflicts", tc.key, conflicts)
			}
			_, total, err := q.s.ListEvents(t.Context(), q.ws.ID, store.EventFilter{ConversationID: tc.key}, store.ListQuery{})
			if err != nil || total != tc.wantStored {
				t.Errorf("key %q: %d events stored (%v), want %d", tc.key, total, err, tc.wantStored)
			}
		}
	})

	t.Run("KeysBelongToTheirWorkspace", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		other, _, _ := createWorkspace(t, q.s, "globex")
		a := q.ingest(t, keyed(q.event("c", 1), "k", "h"))[0]
		g := &store.IngestGroup{Events: []store.NewEvent{keyed(newEvent(other.ID, "c", 2), "k", "h2")}}
		q.ingestGroups(t, g)
		if g.Err != nil || g.Results[0].Duplicate || g.Results[0].Event.ID == a.ID {
			t.Fatalf("the same key in another workspace = %+v, %v; want a new event", g.Results, g.Err)
		}
	})

	t.Run("UnstorableTextFailsOnlyItsGroup", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		bad := &store.IngestGroup{Events: []store.NewEvent{q.event("ok", 1), q.event("nul\x00here", 2)}}
		badUTF8 := &store.IngestGroup{Events: []store.NewEvent{q.event("\xff", 3)}}
		good := &store.IngestGroup{Events: []store.NewEvent{q.event("fine", 4)}}
		q.ingestGroups(t, bad, badUTF8, good)
		if bad.Err == nil || bad.Index != 1 || badUTF8.Err == nil {
			t.Fatalf("groups with a NUL / invalid UTF-8 id: Err %v (index %d) and %v; want errors", bad.Err, bad.Index, badUTF8.Err)
		}
		if errors.Is(bad.Err, store.ErrIdempotencyConflict) {
			t.Errorf("unstorable text reported as %v", bad.Err)
		}
		if good.Err != nil {
			t.Fatalf("good group: %v", good.Err)
		}
		wantEventCount(t, q, 1)
	})
}

// wantEventCount fails unless the workspace holds n events.
func wantEventCount(t *testing.T, q *queue, n int) {
	t.Helper()
	list, total, err := q.s.ListEvents(t.Context(), q.ws.ID, store.EventFilter{}, store.ListQuery{})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if total != n || len(list) != n {
		t.Fatalf("the workspace holds %d events (total %d), want %d", len(list), total, n)
	}
}
