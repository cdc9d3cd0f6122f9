package storetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testOutboxOrder checks that the deliveries listing follows (created_at,
// id) whatever mix of rows it holds: deliveries whose id is derived from
// their run (DeliveryID, created with their event: listed by key) beside
// deliveries whose id or created_at was chosen otherwise (unordered, as
// every row written before the key changed is), in both directions,
// walked by cursor and by offset, filtered by status, and scoped to the
// workspace.
func testOutboxOrder(t *testing.T, open ClockOpener) {
	q := setupQueue(t, open)
	other, _, _ := createWorkspace(t, q.s, "other")
	r := q.rule(t, "tagger")
	var ids []string
	for i := range 8 {
		e := q.ingest(t, q.event(fmt.Sprintf("conv-%d", i), i))[0]
		c := q.claim(t, "w", 1)[0]
		rn := run(e, r, true, q.now())
		derived := store.Delivery{ID: store.DeliveryID(rn.ID, 0), RunID: rn.ID, RuleID: r.ID, ActionIndex: 0,
			Action: json.RawMessage(`{"type":"add_tag","tag_id":1}`)}
		chosen := store.Delivery{ID: newUUID(), RunID: rn.ID, RuleID: r.ID, ActionIndex: 1,
			Action: json.RawMessage(`{"type":"add_note","body":"hi"}`)}
		if i%3 == 0 {
			// Created at a time its id does not carry, between other
			// events' deliveries.
			chosen.CreatedAt = e.CreatedAt.Add(-1500 * time.Millisecond)
		}
		derivedID := derived.ID
		rn.Result = json.RawMessage(`{"reason":null,"trace":[],"actions":[` +
			`{"index":0,"type":"add_tag","status":"pending","attempts":0,"delivery_id":"` + derivedID + `"},` +
			`{"index":1,"type":"add_note","status":"pending","attempts":0,"delivery_id":"` + chosen.ID + `"}]}`)
		wantErr(t, "complete", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{rn}, Deliveries: []store.Delivery{derived, chosen}}})[0], nil)
		ids = append(ids, derivedID, chosen.ID)
		q.clk.Advance(time.Second)
	}
	ctx := t.Context()
	// The other workspace's deliveries must never show.
	oq := &queue{s: q.s, clk: q.clk, ws: other}
	oe := oq.ingest(t, oq.event("conv-o", 99))[0]
	oc := oq.claim(t, "w", 1)[0]
	orule := oq.rule(t, "other-tagger")
	orn := run(oe, orule, true, q.now())
	wantErr(t, "complete other", oq.complete(t, store.Completion{Claim: oc, Outcome: store.Outcome{
		Status: store.EventProcessed, Runs: []store.Run{orn},
		Deliveries: []store.Delivery{{ID: store.DeliveryID(orn.ID, 0), RunID: orn.ID, RuleID: orule.ID, Action: json.RawMessage(`{}`)}}}})[0], nil)

	// The reference: every delivery read by id, sorted by (created_at, id).
	var all []store.Delivery
	for _, id := range ids {
		d, err := q.s.GetDelivery(ctx, q.ws.ID, id)
		wantErr(t, "GetDelivery "+id, err, nil)
		all = append(all, d)
	}
	// Two acked: the status filter keeps the order of what is left.
	for _, id := range []string{ids[3], ids[10]} {
		_, err := q.s.AckOutbox(ctx, q.ws.ID, id, q.now())
		wantErr(t, "AckOutbox", err, nil)
	}
	now := q.now()
	sorted := func(desc bool, status string) []string {
		var out []string
		list := slices.Clone(all)
		slices.SortFunc(list, func(a, b store.Delivery) int {
			c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
			if desc {
				return -c
			}
			return c
		})
		for _, d := range list {
			acked := d.ID == ids[3] || d.ID == ids[10]
			if status == "" || (status == store.DeliverySucceeded) == acked {
				out = append(out, d.ID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		desc   bool
		status string
	}{{false, ""}, {true, ""}, {false, store.DeliveryPending}, {true, store.DeliveryPending}, {false, store.DeliverySucceeded}} {
		t.Run(fmt.Sprintf("desc=%v,status=%q", tc.desc, tc.status), func(t *testing.T) {
			want := sorted(tc.desc, tc.status)
			f := store.DeliveryFilter{Status: tc.status, Now: now}
			// Whole.
			got, total, err := q.s.ListDeliveries(ctx, q.ws.ID, f, store.ListQuery{Desc: tc.desc})
			wantErr(t, "ListDeliveries", err, nil)
			if !slices.Equal(deliveryIDs(got), want) || total != len(want) {
				t.Fatalf("listed %v (total %d)\nwant   %v (%d)", deliveryIDs(got), total, want, len(want))
			}
			// By cursor, three at a time.
			var walked []string
			lq := store.ListQuery{Desc: tc.desc, Limit: 3}
			for range len(want) + 1 {
				page, _, err := q.s.ListDeliveries(ctx, q.ws.ID, f, lq)
				wantErr(t, "ListDeliveries page", err, nil)
				walked = append(walked, deliveryIDs(page)...)
				if len(page) < lq.Limit {
					break
				}
				last := page[len(page)-1]
				lq.AfterTime, lq.AfterID = &last.CreatedAt, last.ID
			}
			if !slices.Equal(walked, want) {
				t.Fatalf("cursor walk %v\nwant        %v", walked, want)
			}
			// By offset, four at a time.
			walked = nil
			for off := 0; off < len(want)+4; off += 4 {
				page, _, err := q.s.ListDeliveries(ctx, q.ws.ID, f, store.ListQuery{Desc: tc.desc, Limit: 4, Offset: off})
				wantErr(t, "ListDeliveries offset", err, nil)
				walked = append(walked, deliveryIDs(page)...)
			}
			if !slices.Equal(walked, want) {
				t.Fatalf("offset walk %v\nwant        %v", walked, want)
			}
		})
	}
}

func deliveryIDs(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
