package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// testActivities checks a conversation's timeline as ListActivities reads
// it: one entry per matched run of the conversation's events and no
// other, ordered by (created_at, id) either way, paged by offset and by
// keyset, and scoped to its workspace.
func testActivities(t *testing.T, open ClockOpener) {
	q := setupQueue(t, open)
	other, _, _ := createWorkspace(t, q.s, "globex")
	rs := []rules.Rule{q.rule(t, "tagger"), q.rule(t, "noter"), q.rule(t, "missed")}

	// Five entries for conv-1 over three events: runs of one event share
	// a created_at (the id breaks the tie); a run that did not match is no
	// entry. One entry for conv-2, one for an event without a
	// conversation (on no timeline), one for another workspace's conv-1.
	entry := func(e store.Event, rn store.Run, conv string) store.Activity {
		return store.Activity{ID: rn.ID, WorkspaceID: e.WorkspaceID, ConversationID: conv, Kind: "automation_applied",
			RuleID: rn.RuleID, RuleName: rn.RuleName, EventID: e.ID, RunID: rn.ID, Actions: rn.Actions, CreatedAt: rn.CreatedAt}
	}
	var want []store.Activity // conv-1's, oldest first
	for i, n := range []int{1, 2, 2} {
		e := q.ingest(t, q.event("conv-1", 10+i))[0]
		c := q.claim(t, "w", 1)[0]
		now := q.now()
		var runs []store.Run
		for j := range n {
			rn := runAt(e, rs[j], true, now, j)
			rn.Actions = json.RawMessage(`[{"type":"add_tag","tag_id":` + string(rune('1'+j)) + `}]`)
			runs = append(runs, rn)
			want = append(want, entry(e, rn, "conv-1"))
		}
		runs = append(runs, runAt(e, rs[2], false, now, n))
		wantErr(t, "complete", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: runs}})[0], nil)
		q.clk.Advance(time.Second)
	}
	for _, conv := range []string{"conv-2", ""} {
		ne := q.event(conv, 20)
		if conv == "" {
			ne.ConversationID, ne.ContactID = nil, ptr("ann")
		}
		e := q.ingest(t, ne)[0]
		c := q.claim(t, "w", 1)[0]
		rn := run(e, rs[0], true, q.now())
		rn.Actions = json.RawMessage(`[]`)
		wantErr(t, "complete "+conv, q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{rn}}})[0], nil)
	}
	slices.SortFunc(want, func(a, b store.Activity) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	{
		oq := &queue{s: q.s, clk: q.clk, ws: other}
		e := oq.ingest(t, oq.event("conv-1", 99))[0]
		c := oq.claim(t, "w", 1)[0]
		rn := run(e, createRule(t, q.s, newRule(other.ID, "theirs"), nil), true, oq.now())
		wantErr(t, "complete other", oq.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{rn}}})[0], nil)
	}
	reversed := slices.Clone(want)
	slices.Reverse(reversed)
	ids := func(as []store.Activity) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.ID
		}
		return out
	}
	at := func(a store.Activity) *time.Time { t := a.CreatedAt; return &t }

	tests := []struct {
		name      string
		ws        int64
		conv      string
		q         store.ListQuery
		want      []store.Activity
		wantTotal int
	}{
		{"all ascending", q.ws.ID, "conv-1", store.ListQuery{}, want, 5},
		{"all descending", q.ws.ID, "conv-1", store.ListQuery{Desc: true}, reversed, 5},
		{"first page", q.ws.ID, "conv-1", store.ListQuery{Desc: true, Limit: 2}, reversed[:2], 5},
		{"offset page", q.ws.ID, "conv-1", store.ListQuery{Desc: true, Limit: 2, Offset: 2}, reversed[2:4], 5},
		{"offset past the end", q.ws.ID, "conv-1", store.ListQuery{Limit: 2, Offset: 9}, nil, 5},
		// A cursor inside a millisecond shared by two entries: the id
		// decides, so nothing is skipped or repeated.
		{"cursor descending", q.ws.ID, "conv-1", store.ListQuery{Desc: true, Limit: 2,
			AfterTime: at(reversed[1]), AfterID: reversed[1].ID}, reversed[2:4], 5},
		{"cursor ascending ignores offset", q.ws.ID, "conv-1", store.ListQuery{Limit: 10, Offset: 3,
			AfterTime: at(want[1]), AfterID: strings.ToUpper(want[1].ID)}, want[2:], 5},
		{"cursor at the end", q.ws.ID, "conv-1", store.ListQuery{Desc: true, Limit: 10,
			AfterTime: at(reversed[4]), AfterID: reversed[4].ID}, nil, 5},
		{"another conversation", q.ws.ID, "conv-2", store.ListQuery{}, nil, 1},
		{"unknown conversation", q.ws.ID, "conv-9", store.ListQuery{}, nil, 0},
		{"not valid text", q.ws.ID, "conv\x00", store.ListQuery{}, nil, 0},
		{"another workspace", other.ID, "conv-1", store.ListQuery{}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := q.s.ListActivities(t.Context(), tc.ws, tc.conv, tc.q)
			wantErr(t, "ListActivities", err, nil)
			if total != tc.wantTotal {
				t.Errorf("total = %d, want %d", total, tc.wantTotal)
			}
			if got == nil {
				t.Errorf("ListActivities returned nil, want an empty slice")
			}
			if tc.ws != q.ws.ID || tc.conv != "conv-1" {
				if tc.ws == other.ID && (len(got) != 1 || got[0].RuleName != "theirs") {
					t.Errorf("another workspace's timeline = %+v", got)
				}
				if tc.conv == "conv-2" && len(got) != 1 {
					t.Errorf("conv-2's timeline = %+v", got)
				}
				return
			}
			if tc.want == nil {
				tc.want = []store.Activity{}
			}
			wantDiff(t, "ids", ids(tc.want), ids(got))
			wantDiff(t, "entries", tc.want, got)
			for _, a := range got {
				checkStored(t, "CreatedAt", a.CreatedAt)
			}
		})
	}
}
