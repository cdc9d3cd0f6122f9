package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// testActivities checks a conversation's timeline as ListActivities reads
// it: every entry CompleteEvents wrote for the conversation and no other,
// ordered by (created_at, id) either way, paged by offset and by keyset,
// and scoped to its workspace.
func testActivities(t *testing.T, open ClockOpener) {
	q := setupQueue(t, open)
	other, _, _ := createWorkspace(t, q.s, "globex")
	r := q.rule(t, "tagger")

	// Five entries for conv-1 over three events: two share a created_at
	// (the id breaks the tie); one entry for conv-2; one for another
	// workspace's conv-1.
	var want []store.Activity // conv-1's, oldest first
	for i, n := range []int{1, 2, 2} {
		e := q.ingest(t, q.event("conv-1", 10+i))[0]
		c := q.claim(t, "w", 1)[0]
		now := q.now()
		rn := run(e, r, true, now)
		var acts []store.Activity
		for j := range n {
			acts = append(acts, store.Activity{ID: newUUID(), WorkspaceID: q.ws.ID, ConversationID: "conv-1",
				Kind: "automation_applied", RuleID: r.ID, RuleName: r.Name, EventID: e.ID, RunID: rn.ID,
				Actions: json.RawMessage(`[{"index":` + string(rune('0'+j)) + `,"type":"add_tag","tag_id":1}]`), CreatedAt: now})
		}
		if i == 1 {
			acts = append(acts, store.Activity{ID: newUUID(), WorkspaceID: q.ws.ID, ConversationID: "conv-2",
				Kind: "automation_applied", RuleID: r.ID, RuleName: r.Name, EventID: e.ID, RunID: rn.ID,
				Actions: json.RawMessage(`[]`), CreatedAt: now})
		}
		wantErr(t, "complete", q.complete(t, store.Completion{Claim: c, Outcome: store.Outcome{
			Status: store.EventProcessed, Runs: []store.Run{rn}, Activities: acts}})[0], nil)
		for _, a := range acts {
			if a.ConversationID == "conv-1" {
				want = append(want, a)
			}
		}
		q.clk.Advance(time.Second)
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
			Status: store.EventProcessed, Runs: []store.Run{rn}, Activities: []store.Activity{{ID: newUUID(),
				WorkspaceID: other.ID, ConversationID: "conv-1", Kind: "automation_applied", RuleID: rn.RuleID,
				RuleName: "theirs", EventID: e.ID, RunID: rn.ID, Actions: json.RawMessage(`[]`), CreatedAt: oq.now()}}}})[0], nil)
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
