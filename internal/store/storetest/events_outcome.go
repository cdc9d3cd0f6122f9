package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testEventCompletion covers what CompleteEvents writes (runs, deliveries,
// activity, counters, cooldowns, conversation state, the event's final
// status and loop-prevention facts) and what it refuses.
func testEventCompletion(t *testing.T, open ClockOpener) {
	t.Run("WritesTheOutcome", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		r1, r2 := q.rule(t, "tagger"), q.rule(t, "ignored")
		ne := q.event("conv-1", 1)
		ne.ContactID, ne.ChannelSource = ptr("ann"), ptr("email")
		e := q.ingest(t, ne)[0]
		q.clk.Advance(time.Second)
		c := q.claim(t, "w", 1)[0]
		now := q.now()

		matched := run(e, r1, true, now)
		matched.Actions = json.RawMessage(`[{"type":"add_tag","tag_id":3},{"type":"set_priority","priority":"high"}]`)
		missed := runAt(e, r2, false, now, 1)
		delivery := store.Delivery{
			ID: newUUID(), WorkspaceID: q.ws.ID, RunID: matched.ID, EventID: e.ID, RuleID: r1.ID, ActionIndex: 0,
			ConversationID: e.ConversationID, ContactID: e.ContactID, Action: json.RawMessage(`{"type":"add_tag","tag_id":3}`),
			Status: store.DeliveryPending, AvailableAt: now, CreatedAt: now,
		}
		// The second action's delivery says something else than the run's
		// entry: it keeps its own.
		own := store.Delivery{
			ID: newUUID(), WorkspaceID: q.ws.ID, RunID: matched.ID, EventID: e.ID, RuleID: r1.ID, ActionIndex: 1,
			ConversationID: e.ConversationID, ContactID: e.ContactID, Action: json.RawMessage(`{"type":"set_priority","priority":"low"}`),
			Status: store.DeliveryPending, AvailableAt: now, CreatedAt: now,
		}
		conv := &store.Conversation{
			WorkspaceID: q.ws.ID, ID: "conv-1", Status: "open", AssigneeID: ptr("m-7"), Tags: []string{"vip", "billing"},
			Priority: ptr("high"), LastCustomerMessageAt: ptr(epochMS), UpdatedAt: epochMS,
		}
		errs := q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status:     store.EventProcessed,
			Runs:       []store.Run{matched, missed},
			Deliveries: []store.Delivery{delivery, own},
			Counters: []store.CounterDelta{
				{RuleID: r1.ID, Matched: 1, MatchedAt: &now},
			},
			Cooldowns:     []store.Cooldown{{RuleID: r1.ID, Key: "conv-1", MatchedAt: now}},
			Conversation:  conv,
			Hops:          1,
			CausedByRules: []int64{99},
		}})
		wantErr(t, "CompleteEvents", errs[0], nil)

		got := q.get(t, e.ID)
		if got.Status != store.EventProcessed || got.ProcessedAt == nil || !got.ProcessedAt.Equal(now) || got.Error != nil {
			t.Fatalf("completed event = %+v, want processed at %v", got, now)
		}
		for _, want := range []store.Run{matched, missed} {
			r, err := q.s.GetRun(t.Context(), q.ws.ID, want.ID)
			wantErr(t, "GetRun", err, nil)
			want.EventStatus = store.EventProcessed
			wantDiff(t, "run "+want.RuleName, want, r)
			checkStored(t, "run CreatedAt", r.CreatedAt)
		}
		for _, want := range []store.Delivery{delivery, own} {
			d, err := q.s.GetDelivery(t.Context(), q.ws.ID, want.ID)
			wantErr(t, "GetDelivery", err, nil)
			wantDiff(t, "delivery", want, d)
		}
		acts, total, err := q.s.ListActivities(t.Context(), q.ws.ID, "conv-1", store.ListQuery{})
		wantErr(t, "ListActivities", err, nil)
		wantDiff(t, "activity", []store.Activity{{ID: matched.ID, WorkspaceID: q.ws.ID, ConversationID: "conv-1",
			Kind: "automation_applied", RuleID: r1.ID, RuleName: r1.Name, EventID: e.ID, RunID: matched.ID,
			Actions: matched.Actions, CreatedAt: matched.CreatedAt}}, acts)
		if total != 1 {
			t.Errorf("activity total = %d, want 1", total)
		}

		ids, err := q.s.RunRuleIDs(t.Context(), q.ws.ID, e.ID)
		wantErr(t, "RunRuleIDs", err, nil)
		wantDiff(t, "RunRuleIDs", sorted([]int64{r1.ID, r2.ID}), ids)

		after, err := q.s.GetRule(t.Context(), q.ws.ID, r1.ID)
		wantErr(t, "GetRule", err, nil)
		if after.MatchCount != 1 || after.AppliedCount != 0 || after.LastMatchedAt == nil || !after.LastMatchedAt.Equal(now) ||
			after.LastAppliedAt != nil || !after.UpdatedAt.Equal(r1.UpdatedAt) {
			t.Errorf("rule after a match = counts %d/%d, last matched %v, applied %v, updated %v; want 1/0, %v, nil, %v",
				after.MatchCount, after.AppliedCount, after.LastMatchedAt, after.LastAppliedAt, after.UpdatedAt, now, r1.UpdatedAt)
		}
		cds, err := q.s.Cooldowns(t.Context(), q.ws.ID, "conv-1", []int64{r1.ID, r2.ID})
		wantErr(t, "Cooldowns", err, nil)
		wantDiff(t, "Cooldowns", []store.Cooldown{{RuleID: r1.ID, Key: "conv-1", MatchedAt: now}}, cds)

		gotConv, err := q.s.GetConversation(t.Context(), q.ws.ID, "conv-1")
		wantErr(t, "GetConversation", err, nil)
		wantDiff(t, "conversation", *conv, gotConv)

		chain, hops, err := q.s.DeliveryOrigin(t.Context(), q.ws.ID, delivery.ID)
		wantErr(t, "DeliveryOrigin", err, nil)
		if hops != 2 || len(chain) != 2 || chain[0] != 99 || chain[1] != r1.ID {
			t.Errorf("DeliveryOrigin = %v, %d; want [99 %d], 2", chain, hops, r1.ID)
		}
		_, _, err = q.s.DeliveryOrigin(t.Context(), q.ws.ID, newUUID())
		wantErr(t, "DeliveryOrigin(unknown)", err, store.ErrNotFound)
		_, _, err = q.s.DeliveryOrigin(t.Context(), q.ws.ID, "not-a-uuid")
		wantErr(t, "DeliveryOrigin(malformed)", err, store.ErrNotFound)

		// An event caused by that delivery carries the chain on.
		next := q.ingest(t, q.event("conv-1", 2))[0]
		c = q.claim(t, "w", 1)[0]
		d2 := delivery
		d2.ID, d2.RunID, d2.EventID = newUUID(), newUUID(), next.ID
		r := run(next, r1, true, now)
		r.ID = d2.RunID
		wantErr(t, "CompleteEvents", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{r}, Deliveries: []store.Delivery{d2},
			Hops: hops, CausedByRules: chain,
		}})[0], nil)
		chain, hops, err = q.s.DeliveryOrigin(t.Context(), q.ws.ID, d2.ID)
		wantErr(t, "DeliveryOrigin", err, nil)
		wantDiff(t, "second-hop chain", []int64{99, r1.ID, r1.ID}, chain)
		if hops != 3 {
			t.Errorf("second-hop hops = %d, want 3", hops)
		}
	})

	t.Run("SkippedLearnsTheConversation", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		e := q.ingest(t, q.event("c", 1))[0]
		c := q.claim(t, "w", 1)[0]
		wantErr(t, "CompleteEvents", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status:       store.EventSkipped,
			Conversation: &store.Conversation{WorkspaceID: q.ws.ID, ID: "c", Status: "closed"},
		}})[0], nil)
		if got := q.get(t, e.ID); got.Status != store.EventSkipped || got.ProcessedAt == nil {
			t.Fatalf("skipped event = %+v", got)
		}
		conv, err := q.s.GetConversation(t.Context(), q.ws.ID, "c")
		wantErr(t, "GetConversation", err, nil)
		if conv.Status != "closed" || conv.Tags != nil || conv.AssigneeID != nil || !conv.UpdatedAt.Equal(q.now()) {
			t.Errorf("conversation = %+v, want closed, nothing else known, updated now", conv)
		}
		_, err = q.s.GetConversation(t.Context(), q.ws.ID, "unknown")
		wantErr(t, "GetConversation(unknown)", err, store.ErrNotFound)
	})

	t.Run("ConversationStateMerges", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		q.ingest(t, q.event("c", 1), q.event("c", 2), q.event("c", 3))
		steps := []store.Conversation{
			{ID: "c", Status: "open", AssigneeID: ptr("m-1"), Tags: []string{"a"}, Priority: ptr("low"),
				LastCustomerMessageAt: ptr(epochMS), UpdatedAt: epochMS},
			// Knows only the team's reply (an empty priority is not
			// knowing it): everything else stays.
			{ID: "c", Priority: ptr(""), LastTeamResponseAt: ptr(epochMS.Add(time.Minute)), UpdatedAt: epochMS.Add(time.Minute)},
			// Unassigned, untagged, closed.
			{ID: "c", Status: "closed", AssigneeID: ptr(""), Tags: []string{}, UpdatedAt: epochMS.Add(2 * time.Minute)},
		}
		for i := range steps {
			c := q.claim(t, "w", 1)[0]
			steps[i].WorkspaceID = q.ws.ID
			wantErr(t, "CompleteEvents", q.complete(t, store.Completion{Claim: c,
				Outcome: store.Outcome{Status: store.EventProcessed, Conversation: &steps[i]}})[0], nil)
		}
		got, err := q.s.GetConversation(t.Context(), q.ws.ID, "c")
		wantErr(t, "GetConversation", err, nil)
		wantDiff(t, "merged conversation", store.Conversation{
			WorkspaceID: q.ws.ID, ID: "c", Status: "closed", AssigneeID: ptr(""), Tags: []string{}, Priority: ptr("low"),
			LastCustomerMessageAt: ptr(epochMS), LastTeamResponseAt: ptr(epochMS.Add(time.Minute)),
			UpdatedAt: epochMS.Add(2 * time.Minute),
		}, got)

		// Two states of one conversation in one batch merge in batch order.
		q.ingest(t, q.event("p", 4), q.event("q", 5))
		claims := q.claim(t, "w", 10)
		if len(claims) != 2 {
			t.Fatalf("claimed %d events, want 2", len(claims))
		}
		first := &store.Conversation{ID: "shared", Status: "open", Tags: []string{"a"}, UpdatedAt: epochMS}
		second := &store.Conversation{ID: "shared", Priority: ptr("high"), Tags: []string{"b"}, UpdatedAt: epochMS.Add(time.Second)}
		for i, err := range q.complete(t,
			store.Completion{Claim: claims[0], Outcome: store.Outcome{Status: store.EventProcessed, Conversation: first}},
			store.Completion{Claim: claims[1], Outcome: store.Outcome{Status: store.EventProcessed, Conversation: second}},
		) {
			wantErr(t, fmt.Sprintf("item %d", i), err, nil)
		}
		got, err = q.s.GetConversation(t.Context(), q.ws.ID, "shared")
		wantErr(t, "GetConversation", err, nil)
		wantDiff(t, "conversation merged within a batch", store.Conversation{
			WorkspaceID: q.ws.ID, ID: "shared", Status: "open", Tags: []string{"b"}, Priority: ptr("high"),
			UpdatedAt: epochMS.Add(time.Second),
		}, got)
	})

	t.Run("BatchAcceptsAndRefusesPerItem", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		r := q.rule(t, "r")
		evs := q.ingest(t, q.event("a", 1), q.event("b", 2), q.event("c", 3), q.event("d", 4))
		claims := q.claim(t, "w", 10)
		now := q.now()
		stale := claims[1]
		stale.Fence++
		bad := run(evs[3], r, false, now)
		bad.Status = "bogus"
		second := now.Add(time.Second)
		errs := q.complete(t,
			store.Completion{Claim: claims[0], Outcome: store.Outcome{Status: store.EventProcessed,
				Runs:      []store.Run{run(evs[0], r, true, now), run(evs[0], r, false, now)}, // (event, rule) twice
				Counters:  []store.CounterDelta{{RuleID: r.ID, Matched: 1, Applied: 1, MatchedAt: &now, AppliedAt: &now}},
				Cooldowns: []store.Cooldown{{RuleID: r.ID, Key: "k", MatchedAt: second}},
			}},
			store.Completion{Claim: stale, Outcome: store.Outcome{Status: store.EventProcessed,
				Runs:     []store.Run{run(evs[1], r, true, now)},
				Counters: []store.CounterDelta{{RuleID: r.ID, Matched: 100}},
			}},
			store.Completion{Claim: claims[2], Outcome: store.Outcome{Status: store.EventProcessed,
				Runs:      []store.Run{run(evs[2], r, true, now)},
				Counters:  []store.CounterDelta{{RuleID: r.ID, Matched: 1, MatchedAt: &second}},
				Cooldowns: []store.Cooldown{{RuleID: r.ID, Key: "k", MatchedAt: now}},
			}},
			store.Completion{Claim: claims[3], Outcome: store.Outcome{Status: store.EventProcessed, Runs: []store.Run{bad}}},
		)
		wantErr(t, "item 0", errs[0], nil)
		wantErr(t, "item 1 (stale fence)", errs[1], store.ErrLeaseLost)
		wantErr(t, "item 2", errs[2], nil)
		if errs[3] == nil || errors.Is(errs[3], store.ErrLeaseLost) {
			t.Errorf("item 3 (invalid run status): error = %v, want an error of its own", errs[3])
		}
		for i, want := range []string{store.EventProcessed, store.EventProcessing, store.EventProcessed, store.EventProcessing} {
			if got := q.get(t, evs[i].ID).Status; got != want {
				t.Errorf("event %d status = %s, want %s", i, got, want)
			}
		}
		runs, total, err := q.s.ListRuns(t.Context(), q.ws.ID, store.RunFilter{RuleID: r.ID}, store.ListQuery{})
		wantErr(t, "ListRuns", err, nil)
		if total != 2 || len(runs) != 2 {
			t.Fatalf("runs = %d (total %d), want 2: one per accepted event, the duplicate dropped", len(runs), total)
		}
		for _, run := range runs {
			if run.EventID == evs[0].ID && !run.Matched {
				t.Error("the second run of (event, rule) replaced the first")
			}
		}
		after, err := q.s.GetRule(t.Context(), q.ws.ID, r.ID)
		wantErr(t, "GetRule", err, nil)
		if after.MatchCount != 2 || after.AppliedCount != 1 || !after.LastMatchedAt.Equal(second) || !after.LastAppliedAt.Equal(now) {
			t.Errorf("counters = %d/%d, last matched %v, applied %v; want 2/1, %v, %v",
				after.MatchCount, after.AppliedCount, after.LastMatchedAt, after.LastAppliedAt, second, now)
		}
		cds, err := q.s.Cooldowns(t.Context(), q.ws.ID, "k", []int64{r.ID})
		wantErr(t, "Cooldowns", err, nil)
		wantDiff(t, "cooldown (the latest match)", []store.Cooldown{{RuleID: r.ID, Key: "k", MatchedAt: second}}, cds)

		// Counters only move forward in time.
		c := claims[3]
		earlier := epochMS.Add(-time.Hour)
		wantErr(t, "CompleteEvents", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status:    store.EventProcessed,
			Counters:  []store.CounterDelta{{RuleID: r.ID, Matched: 1, MatchedAt: &earlier}},
			Cooldowns: []store.Cooldown{{RuleID: r.ID, Key: "k", MatchedAt: earlier}},
		}})[0], nil)
		after, _ = q.s.GetRule(t.Context(), q.ws.ID, r.ID)
		if after.MatchCount != 3 || !after.LastMatchedAt.Equal(second) {
			t.Errorf("after an older match: count %d, last matched %v; want 3, %v", after.MatchCount, after.LastMatchedAt, second)
		}
		cds, _ = q.s.Cooldowns(t.Context(), q.ws.ID, "k", []int64{r.ID})
		wantDiff(t, "cooldown after an older match", []store.Cooldown{{RuleID: r.ID, Key: "k", MatchedAt: second}}, cds)
	})

	t.Run("DefaultsAndFirstHopOrigin", func(t *testing.T) {
		t.Parallel()
		q := setupQueue(t, open)
		r := q.rule(t, "r")
		e := q.ingest(t, q.event("c", 1))[0]
		c := q.claim(t, "w", 1)[0]
		first := run(e, r, true, q.now())
		d := store.Delivery{ID: newUUID(), RunID: first.ID, RuleID: r.ID, Action: json.RawMessage(`{}`)}
		wantErr(t, "CompleteEvents", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{first}, Deliveries: []store.Delivery{d},
		}})[0], nil)
		runs, total, err := q.s.ListRuns(t.Context(), q.ws.ID, store.RunFilter{EventID: e.ID}, store.ListQuery{})
		wantErr(t, "ListRuns", err, nil)
		if total != 1 || runs[0].ID != first.ID || runs[0].EventStatus != store.EventProcessed {
			t.Fatalf("runs of the event = %+v, want the first only", runs)
		}
		// An event from the host itself starts no chain.
		chain, hops, err := q.s.DeliveryOrigin(t.Context(), q.ws.ID, d.ID)
		if err != nil || hops != 1 || len(chain) != 1 || chain[0] != r.ID {
			t.Fatalf("DeliveryOrigin of a first-hop delivery = %v, %d, %v; want [%d], 1", chain, hops, err, r.ID)
		}
		if got := q.get(t, e.ID); got.Status != store.EventProcessed {
			t.Fatalf("event = %s, want processed", got.Status)
		}
	})
}
