package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// history is a workspace with five events in every state and three runs:
//
//	e0 c1 incoming api   hash 0  processed  attempts 1  runs: rA executed, rB not matched
//	e1 c1 response email hash 1  pending    attempts 0
//	e2 c2 incoming api   hash 0  processed  attempts 1  runs: rA pending
//	e3 c2 incoming api   hash 3  pending    attempts 0  (created with e2: same created_at)
//	e4 -  incoming api   hash 4  failed     attempts 2
//
// processed_at: e2 < e0 < e4.
type history struct {
	*queue
	e      []store.Event
	rA, rB rules.Rule
	runs   []store.Run // e2-rA, e0-rA, e0-rB
}

func setupHistory(t *testing.T, open ClockOpener) *history {
	t.Helper()
	h := &history{queue: setupQueue(t, open)}
	h.rA, h.rB = h.rule(t, "rA"), h.rule(t, "rB")
	e1 := h.event("c1", 1)
	e1.EventType, e1.Source = rules.TriggerResponse, "email-bridge"
	e2 := h.event("c2", 0)
	for _, batch := range [][]store.NewEvent{{h.event("c1", 0)}, {e1}, {e2, h.event("c2", 3)}, {h.event("", 4)}} {
		h.e = append(h.e, h.ingest(t, batch...)...)
		h.clk.Advance(time.Second)
	}
	claims := h.claim(t, "w", 10) // e0, e2, e4
	wantDiff(t, "history claim", []string{h.e[0].ID, h.e[2].ID, h.e[4].ID}, claimedIDs(claims))
	now := h.now()
	wantErr(t, "FailEvent", h.s.FailEvent(t.Context(), claims[2], "boom", &now), nil)

	runE2 := run(h.e[2], h.rA, true, now)
	wantErr(t, "complete e2", h.complete(t, store.Completion{Claim: claims[1],
		Outcome: store.Outcome{Status: store.EventProcessed, Runs: []store.Run{runE2}}})[0], nil)
	h.clk.Advance(time.Second)
	now = h.now()
	executed := run(h.e[0], h.rA, true, now)
	executed.Status, executed.Executed, executed.SettledAt = store.RunExecuted, true, &now
	missed := runAt(h.e[0], h.rB, false, now, 1)
	missed.SettledAt = &now
	wantErr(t, "complete e0", h.complete(t, store.Completion{Claim: claims[0],
		Outcome: store.Outcome{Status: store.EventProcessed, Runs: []store.Run{executed, missed}}})[0], nil)
	h.runs = []store.Run{runE2, executed, missed}
	h.clk.Advance(time.Second)

	claims = h.claim(t, "w", 10) // e1, e3, e4
	wantDiff(t, "history second claim", []string{h.e[1].ID, h.e[3].ID, h.e[4].ID}, claimedIDs(claims))
	wantErr(t, "ReleaseEvent", h.s.ReleaseEvent(t.Context(), claims[0]), nil)
	wantErr(t, "ReleaseEvent", h.s.ReleaseEvent(t.Context(), claims[1]), nil)
	wantErr(t, "FailEvent", h.s.FailEvent(t.Context(), claims[2], "fatal", nil), nil)
	return h
}

// ids names events of the history by index.
func (h *history) ids(idx ...int) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = h.e[n].ID
	}
	return out
}

// list returns the ids of ListEvents and its total.
func (h *history) list(t *testing.T, f store.EventFilter, q store.ListQuery) ([]string, int) {
	t.Helper()
	list, total, err := h.s.ListEvents(t.Context(), h.ws.ID, f, q)
	if err != nil {
		t.Fatalf("ListEvents(%+v, %+v): %v", f, q, err)
	}
	return eventIDs(list), total
}

// testEventListings covers ListEvents and ListRuns: every filter, every
// sort order in both directions, offset pages, keyset pages that stay
// stable while new rows arrive, and totals.
func testEventListings(t *testing.T, open ClockOpener) {
	t.Run("Events", func(t *testing.T) {
		t.Parallel()
		h := setupHistory(t, open)
		for _, tc := range []struct {
			name string
			f    store.EventFilter
			q    store.ListQuery
			want []int
		}{
			{"all, created_at asc", store.EventFilter{}, store.ListQuery{}, []int{0, 1, 2, 3, 4}},
			{"all, created_at desc", store.EventFilter{}, store.ListQuery{Desc: true}, []int{4, 3, 2, 1, 0}},
			{"id asc", store.EventFilter{}, store.ListQuery{SortBy: "id"}, []int{0, 1, 2, 3, 4}},
			{"id desc", store.EventFilter{}, store.ListQuery{SortBy: "id", Desc: true}, []int{4, 3, 2, 1, 0}},
			{"processed_at asc, unprocessed last", store.EventFilter{}, store.ListQuery{SortBy: "processed_at"}, []int{2, 0, 4, 1, 3}},
			{"processed_at desc, unprocessed first", store.EventFilter{}, store.ListQuery{SortBy: "processed_at", Desc: true}, []int{3, 1, 4, 0, 2}},
			{"attempts asc", store.EventFilter{}, store.ListQuery{SortBy: "attempts"}, []int{1, 3, 0, 2, 4}},
			{"attempts desc", store.EventFilter{}, store.ListQuery{SortBy: "attempts", Desc: true}, []int{4, 2, 0, 3, 1}},
			{"status processed", store.EventFilter{Status: store.EventProcessed}, store.ListQuery{}, []int{0, 2}},
			{"status pending", store.EventFilter{Status: store.EventPending}, store.ListQuery{}, []int{1, 3}},
			{"status failed", store.EventFilter{Status: store.EventFailed}, store.ListQuery{}, []int{4}},
			{"event_type", store.EventFilter{EventType: rules.TriggerResponse}, store.ListQuery{}, []int{1}},
			{"source", store.EventFilter{Source: "email-bridge"}, store.ListQuery{}, []int{1}},
			{"payload_hash", store.EventFilter{PayloadHash: fmt.Sprintf("%064x", 0)}, store.ListQuery{}, []int{0, 2}},
			{"conversation", store.EventFilter{ConversationID: "c2"}, store.ListQuery{}, []int{2, 3}},
			{"rule A", store.EventFilter{RuleID: h.rA.ID}, store.ListQuery{}, []int{0, 2}},
			{"rule B", store.EventFilter{RuleID: h.rB.ID}, store.ListQuery{}, []int{0}},
			{"conversation and status", store.EventFilter{ConversationID: "c1", Status: store.EventProcessed}, store.ListQuery{}, []int{0}},
			{"nothing matches", store.EventFilter{Source: "nope"}, store.ListQuery{}, []int{}},
			{"unstorable text matches nothing", store.EventFilter{ConversationID: "c\x00"}, store.ListQuery{}, []int{}},
		} {
			got, total := h.list(t, tc.f, tc.q)
			if diff := diffIDs(h.ids(tc.want...), got); diff != "" {
				t.Errorf("%s: %s", tc.name, diff)
			}
			if total != len(tc.want) {
				t.Errorf("%s: total = %d, want %d", tc.name, total, len(tc.want))
			}
		}

		got, total := h.list(t, store.EventFilter{}, store.ListQuery{Limit: 2, Offset: 2})
		wantDiff(t, "offset page", h.ids(2, 3), got)
		if total != 5 {
			t.Errorf("offset page total = %d, want 5", total)
		}
		got, _ = h.list(t, store.EventFilter{}, store.ListQuery{Limit: 2, Offset: 4, SortBy: "attempts", Desc: true})
		wantDiff(t, "last offset page", h.ids(1), got)

		if _, _, err := h.s.ListEvents(t.Context(), h.ws.ID, store.EventFilter{}, store.ListQuery{SortBy: "payload"}); err == nil {
			t.Error("ListEvents sorted by an unknown column succeeded")
		}
		at := h.e[0].CreatedAt
		if _, _, err := h.s.ListEvents(t.Context(), h.ws.ID, store.EventFilter{}, store.ListQuery{AfterTime: &at, AfterID: "x"}); err == nil {
			t.Error("ListEvents after a malformed id succeeded")
		}
	})

	t.Run("EventKeysetPages", func(t *testing.T) {
		t.Parallel()
		h := setupHistory(t, open)
		after := func(e store.Event, desc bool) store.ListQuery {
			at := e.CreatedAt
			// Offset is ignored with a keyset position.
			return store.ListQuery{Limit: 2, Offset: 3, Desc: desc, AfterTime: &at, AfterID: e.ID}
		}
		// Descending, newest first; new events arrive between pages.
		got, total := h.list(t, store.EventFilter{}, store.ListQuery{Limit: 2, Desc: true})
		wantDiff(t, "desc page 1", h.ids(4, 3), got)
		if total != 5 {
			t.Errorf("first page total = %d, want 5", total)
		}
		h.ingest(t, h.event("c9", 9))
		// e3 and e2 share created_at: the next page starts at e2, by id.
		got, total = h.list(t, store.EventFilter{}, after(h.e[3], true))
		wantDiff(t, "desc page 2", h.ids(2, 1), got)
		if total != 6 {
			t.Errorf("keyset total = %d, want every matching row (6)", total)
		}
		got, _ = h.list(t, store.EventFilter{}, after(h.e[1], true))
		wantDiff(t, "desc page 3", h.ids(0), got)

		// Ascending; the new event comes at the end.
		got, _ = h.list(t, store.EventFilter{}, after(h.e[1], false))
		wantDiff(t, "asc page after e1", h.ids(2, 3), got)
		h.clk.Advance(time.Second)
		late := h.ingest(t, h.event("c9", 10))[0]
		list, _, err := h.s.ListEvents(t.Context(), h.ws.ID, store.EventFilter{}, after(h.e[3], false))
		wantErr(t, "ListEvents", err, nil)
		if len(list) != 2 || list[0].ID != h.e[4].ID || list[1].ID == late.ID {
			t.Errorf("asc page after e3 = %v, want e4 then the first new event", eventIDs(list))
		}
		// A position in the middle of a filtered list.
		got, total = h.list(t, store.EventFilter{ConversationID: "c2"}, after(h.e[2], false))
		wantDiff(t, "filtered keyset page", h.ids(3), got)
		if total != 2 {
			t.Errorf("filtered keyset total = %d, want 2", total)
		}
		// A keyset position with only a time.
		at := h.e[2].CreatedAt
		got, _ = h.list(t, store.EventFilter{}, store.ListQuery{AfterTime: &at, Desc: true})
		wantDiff(t, "desc before a time", h.ids(1, 0), got)
	})

	t.Run("Runs", func(t *testing.T) {
		t.Parallel()
		h := setupHistory(t, open)
		for _, tc := range []struct {
			name string
			f    store.RunFilter
			q    store.ListQuery
		}{
			{"all, created_at asc", store.RunFilter{}, store.ListQuery{}},
			{"all, created_at desc", store.RunFilter{}, store.ListQuery{Desc: true}},
			{"id asc", store.RunFilter{}, store.ListQuery{SortBy: "id"}},
			{"id desc", store.RunFilter{}, store.ListQuery{SortBy: "id", Desc: true}},
			{"rule", store.RunFilter{RuleID: h.rA.ID}, store.ListQuery{}},
			{"rule B", store.RunFilter{RuleID: h.rB.ID}, store.ListQuery{Desc: true}},
			{"event", store.RunFilter{EventID: h.e[0].ID}, store.ListQuery{}},
			{"event and rule", store.RunFilter{EventID: h.e[0].ID, RuleID: h.rB.ID}, store.ListQuery{}},
			{"matched", store.RunFilter{Matched: ptr(true)}, store.ListQuery{}},
			{"not matched", store.RunFilter{Matched: ptr(false)}, store.ListQuery{}},
			{"executed", store.RunFilter{Executed: ptr(true)}, store.ListQuery{}},
			{"not executed", store.RunFilter{Executed: ptr(false)}, store.ListQuery{}},
			{"status", store.RunFilter{Status: store.RunPending}, store.ListQuery{}},
			{"status not matched", store.RunFilter{Status: store.RunNotMatched}, store.ListQuery{Desc: true}},
			{"malformed event id", store.RunFilter{EventID: "nope"}, store.ListQuery{}},
			{"offset page", store.RunFilter{}, store.ListQuery{Limit: 1, Offset: 1}},
			{"offset page of a rule", store.RunFilter{RuleID: h.rA.ID}, store.ListQuery{Limit: 1, Offset: 1, Desc: true}},
			{"keyset", store.RunFilter{}, store.ListQuery{Limit: 5, Desc: true, AfterTime: &h.runs[1].CreatedAt, AfterID: h.runs[2].ID}},
			{"keyset asc", store.RunFilter{}, store.ListQuery{Limit: 5, AfterTime: &h.runs[1].CreatedAt, AfterID: h.runs[1].ID}},
		} {
			want, wantTotal := refRuns(h.runs, tc.f, tc.q)
			list, total, err := h.s.ListRuns(t.Context(), h.ws.ID, tc.f, tc.q)
			if err != nil {
				t.Fatalf("%s: ListRuns: %v", tc.name, err)
			}
			if diff := diffIDs(runIDs(want), runIDs(list)); diff != "" {
				t.Errorf("%s: %s", tc.name, diff)
			}
			if total != wantTotal {
				t.Errorf("%s: total = %d, want %d", tc.name, total, wantTotal)
			}
		}

		for _, want := range h.runs {
			got, err := h.s.GetRun(t.Context(), h.ws.ID, want.ID)
			wantErr(t, "GetRun", err, nil)
			want.EventStatus = store.EventProcessed
			wantDiff(t, "GetRun", want, got)
		}
		_, err := h.s.GetRun(t.Context(), h.ws.ID, newUUID())
		wantErr(t, "GetRun(unknown)", err, store.ErrNotFound)
		_, err = h.s.GetRun(t.Context(), h.ws.ID, "nope")
		wantErr(t, "GetRun(malformed)", err, store.ErrNotFound)
		if _, _, err := h.s.ListRuns(t.Context(), h.ws.ID, store.RunFilter{}, store.ListQuery{SortBy: "attempts"}); err == nil {
			t.Error("ListRuns sorted by attempts succeeded")
		}
	})
}

// testEventIsolation checks that another workspace reaches none of a
// workspace's events, runs, deliveries, cooldowns or conversations.
func testEventIsolation(t *testing.T, open ClockOpener) {
	t.Run("AnotherWorkspacesEventsAreNotFound", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		r := q.rule(t, "r")
		e := q.ingest(t, keyed(q.event("c", 1), "key", "h"))[0]
		c := q.claim(t, "w", 1)[0]
		now := q.now()
		rn := run(e, r, true, now)
		d := store.Delivery{ID: newUUID(), RunID: rn.ID, RuleID: r.ID, Action: []byte(`{}`)}
		wantErr(t, "CompleteEvents", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{rn}, Deliveries: []store.Delivery{d},
			Cooldowns:    []store.Cooldown{{RuleID: r.ID, Key: "c", MatchedAt: now}},
			Conversation: &store.Conversation{WorkspaceID: q.ws.ID, ID: "c", Status: "open"},
		}})[0], nil)
		failed := q.ingest(t, q.event("f", 2))[0]
		fc := q.claim(t, "w", 1)[0]
		wantErr(t, "FailEvent", q.s.FailEvent(t.Context(), fc, "x", nil), nil)

		b, _, _ := createWorkspace(t, q.s, "globex")
		ctx := t.Context()
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"GetEvent", func() error { _, err := q.s.GetEvent(ctx, b.ID, e.ID); return err }},
			{"RetryEvent", func() error { _, err := q.s.RetryEvent(ctx, b.ID, failed.ID); return err }},
			{"GetRun", func() error { _, err := q.s.GetRun(ctx, b.ID, rn.ID); return err }},
			{"DeliveryOrigin", func() error { _, _, err := q.s.DeliveryOrigin(ctx, b.ID, d.ID); return err }},
			{"GetConversation", func() error { _, err := q.s.GetConversation(ctx, b.ID, "c"); return err }},
		} {
			wantErr(t, tc.name+" from another workspace", tc.call(), store.ErrNotFound)
		}
		for name, f := range map[string]store.EventFilter{
			"all": {}, "conversation": {ConversationID: "c"}, "rule": {RuleID: r.ID},
			"hash": {PayloadHash: e.PayloadHash},
		} {
			list, total, err := q.s.ListEvents(ctx, b.ID, f, store.ListQuery{})
			if err != nil || total != 0 || len(list) != 0 {
				t.Errorf("ListEvents(%s) from another workspace = %d rows, total %d, %v", name, len(list), total, err)
			}
		}
		for name, f := range map[string]store.RunFilter{"all": {}, "rule": {RuleID: r.ID}, "event": {EventID: e.ID}} {
			list, total, err := q.s.ListRuns(ctx, b.ID, f, store.ListQuery{})
			if err != nil || total != 0 || len(list) != 0 {
				t.Errorf("ListRuns(%s) from another workspace = %d rows, total %d, %v", name, len(list), total, err)
			}
		}
		if ids, err := q.s.RunRuleIDs(ctx, b.ID, e.ID); err != nil || len(ids) != 0 {
			t.Errorf("RunRuleIDs from another workspace = %v, %v", ids, err)
		}
		if cds, err := q.s.Cooldowns(ctx, b.ID, "c", []int64{r.ID}); err != nil || len(cds) != 0 {
			t.Errorf("Cooldowns from another workspace = %v, %v", cds, err)
		}
		if got := q.get(t, failed.ID); got.Status != store.EventFailed {
			t.Errorf("RetryEvent from another workspace changed the event to %s", got.Status)
		}
	})
}

// diffIDs describes how got differs from want, or returns "".
func diffIDs(want, got []string) string {
	if len(want) == len(got) {
		same := true
		for i := range want {
			same = same && want[i] == got[i]
		}
		if same {
			return ""
		}
	}
	return fmt.Sprintf("ids = %v, want %v", got, want)
}

// refRuns is the reference model of run listings: the runs as the old
// one-row-per-run store held them, filtered, ordered by (created_at, id)
// (ids sort the same way) and paged as ListRuns must, with the total of
// every run that matches the filter.
func refRuns(all []store.Run, f store.RunFilter, q store.ListQuery) ([]store.Run, int) {
	var out []store.Run
	for _, r := range all {
		switch {
		case f.RuleID != 0 && r.RuleID != f.RuleID,
			f.EventID != "" && r.EventID != f.EventID,
			f.Matched != nil && r.Matched != *f.Matched,
			f.Executed != nil && r.Executed != *f.Executed,
			f.Status != "" && r.Status != f.Status:
			continue
		}
		out = append(out, r)
	}
	order := func(a, b store.Run) int {
		c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		if q.Desc {
			return -c
		}
		return c
	}
	slices.SortFunc(out, order)
	total := len(out)
	if q.AfterTime != nil {
		at := store.Run{CreatedAt: *q.AfterTime, ID: q.AfterID}
		out = slices.DeleteFunc(out, func(r store.Run) bool { return order(r, at) <= 0 })
	} else {
		out = out[min(q.Offset, len(out)):]
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	if out == nil {
		out = []store.Run{}
	}
	return out, total
}
