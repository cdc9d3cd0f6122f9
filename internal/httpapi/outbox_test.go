package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The pull outbox (docs/concepts.md#deliveries-and-the-outbox) through the real router, on both stores:
// actions of a workspace without actions_url are claimed, acked and failed
// by the host, and their runs settle with them.

// outboxRow is an outbox action as the API returns it.
type outboxRow struct {
	ID             string          `json:"id"`
	EventID        string          `json:"event_id"`
	RuleID         int64           `json:"rule_id"`
	RunID          string          `json:"run_id"`
	ConversationID *string         `json:"conversation_id"`
	Action         json.RawMessage `json:"action"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	LastError      *string         `json:"last_error"`
	CreatedAt      string          `json:"created_at"`
}

var outboxRowFields = []string{"id", "event_id", "rule_id", "run_id", "conversation_id", "action", "status",
	"attempts", "last_error", "created_at"}

// pullAction makes, in ws (which has no actions_url), a rule that tags and
// an event it matches, processed: one action waits in the pull outbox.
// It returns the rule, the event and the action's id.
func (e *env) pullAction(t testing.TB, ws *tenant) (rule, ingested, string) {
	t.Helper()
	trigger := "custom." + unique("pull")
	r := e.newRule(t, ws, with(ruleBody(), "trigger_type", trigger,
		"actions", []any{map[string]any{"type": "add_tag", "tag_id": e.newTag(t, ws)}}))
	ev := e.newEvent(t, ws, with(eventBody(), "event_type", trigger))
	e.process(t)
	var runs page[run]
	e.do(t, "GET", "/v1/automation/runs?event_id="+ev.ID, ws.Admin.Token, nil).expect(t, 200).decode(t, &runs)
	if len(runs.Data) != 1 || len(runs.Data[0].Result.Actions) != 1 || runs.Data[0].Result.Actions[0].DeliveryID == nil {
		t.Fatalf("event %s: runs %+v, want one run with one delivered action", ev.ID, runs.Data)
	}
	return r, ev, *runs.Data[0].Result.Actions[0].DeliveryID
}

func (e *env) claim(t testing.TB, token string, body any) []outboxRow {
	t.Helper()
	var l struct {
		Data []outboxRow `json:"data"`
	}
	e.do(t, "POST", "/v1/actions/claim", token, body).expect(t, 200).decode(t, &l)
	return l.Data
}

func (e *env) getAction(t testing.TB, token, id string) outboxRow {
	t.Helper()
	var a outboxRow
	e.do(t, "GET", "/v1/actions/"+id, token, nil).expect(t, 200).decode(t, &a)
	return a
}

func (e *env) getRun(t testing.TB, ws *tenant, id string) run {
	t.Helper()
	var r run
	e.do(t, "GET", "/v1/automation/runs/"+id, ws.Admin.Token, nil).expect(t, 200).decode(t, &r)
	return r
}

func actionIDs(rows []outboxRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func TestPullOutboxClaimAndAck(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r, ev, id := e.pullAction(t, e.A)

		// Every role may pull: hosts use agent tokens.
		got := e.claim(t, e.A.Agent.Token, map[string]any{"limit": 10, "lease_secs": 30})
		if len(got) != 1 || got[0].ID != id {
			t.Fatalf("claimed %v, want [%s]", actionIDs(got), id)
		}
		a := got[0]
		var action struct {
			Type  string `json:"type"`
			TagID int64  `json:"tag_id"`
		}
		if err := json.Unmarshal(a.Action, &action); err != nil || action.Type != "add_tag" || action.TagID == 0 {
			t.Errorf("claimed action %s (%v), want an add_tag", a.Action, err)
		}
		if a.EventID != ev.ID || a.RuleID != r.ID || a.Status != "leased" || a.Attempts != 0 || a.LastError != nil ||
			a.ConversationID == nil || a.CreatedAt != ts(t0) {
			t.Errorf("claimed row %+v", a)
		}
		raw := e.do(t, "GET", "/v1/actions/"+id, e.A.Agent.Token, nil).expect(t, 200)
		if diff := strings.Join(keys(t, raw.Body), ","); diff != strings.Join(sorted(outboxRowFields), ",") {
			t.Errorf("row fields %s, want %v", diff, outboxRowFields)
		}
		// Leased: no other claim takes it, whoever asks.
		if again := e.claim(t, e.A.Supervisor.Token, "{}"); len(again) != 0 {
			t.Fatalf("a leased action was claimed again: %v", actionIDs(again))
		}
		if run := e.getRun(t, e.A, a.RunID); run.Status != "pending" || run.Executed || run.SettledAt != nil {
			t.Fatalf("run before the ack: %+v", run)
		}

		e.clock.Advance(time.Second)
		var acked outboxRow
		first := e.do(t, "POST", "/v1/actions/"+id+"/ack", e.A.Agent.Token, nil).expect(t, 200)
		first.decode(t, &acked)
		if acked.Status != "succeeded" || acked.Attempts != 1 || acked.ID != id {
			t.Fatalf("acked row %+v", acked)
		}
		// Idempotent: the same answer, nothing counted twice.
		e.clock.Advance(time.Second)
		if again := e.do(t, "POST", "/v1/actions/"+id+"/ack", e.A.Admin.Token, nil).expect(t, 200); string(again.Body) != string(first.Body) {
			t.Errorf("second ack = %s, want %s", again.Body, first.Body)
		}
		run := e.getRun(t, e.A, a.RunID)
		if run.Status != "executed" || !run.Executed || run.SettledAt == nil || *run.SettledAt != ts(t0.Add(time.Second)) ||
			len(run.Result.Actions) != 1 || run.Result.Actions[0].Status != "succeeded" || run.Result.Actions[0].Attempts != 1 {
			t.Fatalf("run after the ack: %+v", run)
		}
		if got := e.getRule(t, e.A, r.ID); got.AppliedCount != 1 || got.LastAppliedAt == nil || got.MatchCount != 1 {
			t.Errorf("rule after the ack: applied %d at %v, matched %d; want 1, now, 1", got.AppliedCount, got.LastAppliedAt, got.MatchCount)
		}
		// Ended: failing it is a conflict, and it is never claimed again.
		e.do(t, "POST", "/v1/actions/"+id+"/fail", e.A.Agent.Token, map[string]any{"error": "late"}).problem(t, 409)
		if got := e.claim(t, e.A.Agent.Token, nil); len(got) != 0 {
			t.Errorf("a succeeded action was claimed: %v", actionIDs(got))
		}
		if got := e.getRule(t, e.A, r.ID); got.AppliedCount != 1 {
			t.Errorf("applied_count moved to %d", got.AppliedCount)
		}
	})
}

func TestPullOutboxFail(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		_, _, id := e.pullAction(t, e.A)
		e.claim(t, e.A.Agent.Token, map[string]any{"limit": 1})

		// A retry: pending again after the first backoff step (30 s ± 20 %).
		var a outboxRow
		e.do(t, "POST", "/v1/actions/"+id+"/fail", e.A.Agent.Token,
			map[string]any{"error": "helpdesk busy", "retry": true}).expect(t, 200).decode(t, &a)
		if a.Status != "pending" || a.Attempts != 1 || a.LastError == nil || *a.LastError != "helpdesk busy" {
			t.Fatalf("after a retried failure: %+v", a)
		}
		if got := e.claim(t, e.A.Agent.Token, nil); len(got) != 0 {
			t.Fatalf("claimed during the backoff: %v", actionIDs(got))
		}
		if run := e.getRun(t, e.A, a.RunID); run.Status != "pending" || run.Result.Actions[0].Attempts != 1 {
			t.Fatalf("run after a retried failure: %+v", run)
		}
		e.clock.Advance(23 * time.Second)
		if got := e.claim(t, e.A.Agent.Token, nil); len(got) != 0 {
			t.Fatalf("claimed before the shortest backoff: %v", actionIDs(got))
		}
		e.clock.Advance(14 * time.Second)
		got := e.claim(t, e.A.Agent.Token, nil)
		if len(got) != 1 || got[0].ID != id || got[0].Attempts != 1 {
			t.Fatalf("after the backoff: claimed %+v", got)
		}

		// Without retry: failed for good, and so is the run.
		e.do(t, "POST", "/v1/actions/"+id+"/fail", e.A.Agent.Token,
			map[string]any{"error": "tag not found", "retry": false}).expect(t, 200).decode(t, &a)
		if a.Status != "failed" || a.Attempts != 2 || *a.LastError != "tag not found" {
			t.Fatalf("after a final failure: %+v", a)
		}
		run := e.getRun(t, e.A, a.RunID)
		if run.Status != "failed" || run.Executed || run.SettledAt == nil || run.Result.Actions[0].Status != "failed" {
			t.Fatalf("run after a final failure: %+v", run)
		}
		if r := e.getRule(t, e.A, run.RuleID); r.AppliedCount != 0 {
			t.Errorf("applied_count %d after a failed run", r.AppliedCount)
		}
		e.do(t, "POST", "/v1/actions/"+id+"/ack", e.A.Agent.Token, nil).expectProblem(t, 409)
		e.do(t, "POST", "/v1/actions/"+id+"/fail", e.A.Agent.Token, map[string]any{"error": "x"}).expectProblem(t, 409)
		if got := e.getAction(t, e.A.Agent.Token, id); got.Status != "failed" || got.Attempts != 2 {
			t.Errorf("a refused settlement changed the row: %+v", got)
		}
	})
}

// TestPullOutboxRetriesRunOut: retry asks for another attempt, but after
// the last attempt of the schedule the action fails for good.
func TestPullOutboxRetriesRunOut(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		_, _, id := e.pullAction(t, e.A)
		var a outboxRow
		for attempt := 1; ; attempt++ {
			e.do(t, "POST", "/v1/actions/"+id+"/fail", e.A.Agent.Token,
				map[string]any{"error": "down", "retry": true}).expect(t, 200).decode(t, &a)
			if a.Status == "failed" {
				if attempt != 8 || a.Attempts != 8 || !strings.Contains(*a.LastError, "gave up after 8 attempts") {
					t.Fatalf("failed for good at attempt %d: %+v", attempt, a)
				}
				break
			}
			if a.Status != "pending" || attempt >= 8 {
				t.Fatalf("attempt %d: %+v", attempt, a)
			}
			e.clock.Advance(2 * time.Hour) // past any backoff step
		}
		if run := e.getRun(t, e.A, a.RunID); run.Status != "failed" {
			t.Errorf("run after the retries ran out: %+v", run)
		}
	})
}

func TestPullOutboxLeaseExpiry(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		_, _, id := e.pullAction(t, e.A)
		if got := e.claim(t, e.A.Agent.Token, map[string]any{"lease_secs": 5}); len(got) != 1 {
			t.Fatalf("claimed %v", actionIDs(got))
		}
		e.clock.Advance(4 * time.Second)
		if got := e.getAction(t, e.A.Agent.Token, id); got.Status != "leased" {
			t.Fatalf("inside the lease: %+v", got)
		}
		var l page[outboxRow]
		e.do(t, "GET", "/v1/actions?status=leased", e.A.Agent.Token, nil).expect(t, 200).decode(t, &l)
		if l.Total != 1 {
			t.Errorf("leased total %d inside the lease", l.Total)
		}
		e.clock.Advance(time.Second) // the lease ends at this instant
		if got := e.getAction(t, e.A.Agent.Token, id); got.Status != "pending" {
			t.Fatalf("after the lease: %+v", got)
		}
		for status, want := range map[string]int{"pending": 1, "leased": 0} {
			e.do(t, "GET", "/v1/actions?status="+status, e.A.Agent.Token, nil).expect(t, 200).decode(t, &l)
			if l.Total != want || len(l.Data) != want || (want == 1 && l.Data[0].Status != "pending") {
				t.Errorf("status=%s after the lease: %+v", status, l)
			}
		}
		// Another token takes it over; the first holder's ack still counts
		// (the host acks what it did).
		got := e.claim(t, e.A.Supervisor.Token, nil)
		if len(got) != 1 || got[0].ID != id || got[0].Status != "leased" {
			t.Fatalf("claim after the lease: %+v", got)
		}
		e.do(t, "POST", "/v1/actions/"+id+"/ack", e.A.Agent.Token, nil).expect(t, 200)
	})
}

func TestPullOutboxValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		_, _, id := e.pullAction(t, e.A)
		tests := []struct {
			name, method, path string
			body               any
			status             int
			field              string
		}{
			{"limit 0", "POST", "/v1/actions/claim", map[string]any{"limit": 0}, 422, "limit"},
			{"limit 501", "POST", "/v1/actions/claim", map[string]any{"limit": 501}, 422, "limit"},
			{"limit null", "POST", "/v1/actions/claim", `{"limit": null}`, 422, "limit"},
			{"limit a string", "POST", "/v1/actions/claim", map[string]any{"limit": "10"}, 422, "limit"},
			{"lease_secs 4", "POST", "/v1/actions/claim", map[string]any{"lease_secs": 4}, 422, "lease_secs"},
			{"lease_secs 3601", "POST", "/v1/actions/claim", map[string]any{"lease_secs": 3601}, 422, "lease_secs"},
			{"lease_secs fractional", "POST", "/v1/actions/claim", `{"lease_secs": 5.5}`, 422, "lease_secs"},
			{"unknown field", "POST", "/v1/actions/claim", map[string]any{"limit": 1, "owner": "me"}, 400, "owner"},
			{"not an object", "POST", "/v1/actions/claim", `[1]`, 422, ""},
			{"not JSON", "POST", "/v1/actions/claim", `{"limit": 1`, 400, ""},
			{"fail without error", "POST", "/v1/actions/" + id + "/fail", map[string]any{"retry": true}, 422, "error"},
			{"fail with blank error", "POST", "/v1/actions/" + id + "/fail", map[string]any{"error": "  "}, 422, "error"},
			{"fail with a control character", "POST", "/v1/actions/" + id + "/fail", map[string]any{"error": "a\u0007b"}, 422, "error"},
			{"fail with a long error", "POST", "/v1/actions/" + id + "/fail", map[string]any{"error": strings.Repeat("x", 2001)}, 422, "error"},
			{"fail with retry a string", "POST", "/v1/actions/" + id + "/fail", map[string]any{"error": "x", "retry": "yes"}, 422, "retry"},
			{"fail with an unknown field", "POST", "/v1/actions/" + id + "/fail", map[string]any{"error": "x", "later": 1}, 400, "later"},
			{"fail without a body", "POST", "/v1/actions/" + id + "/fail", nil, 400, ""},
			{"list by a bad status", "GET", "/v1/actions?status=done", nil, 400, "status"},
			{"list by an empty status", "GET", "/v1/actions?status=", nil, 400, "status"},
			{"list by a bad run_id", "GET", "/v1/actions?run_id=12", nil, 400, "run_id"},
			{"list by a bad rule_id", "GET", "/v1/actions?rule_id=0", nil, 400, "rule_id"},
			{"list with a bad cursor", "GET", "/v1/actions?cursor=x", nil, 400, "cursor"},
			{"list with page and cursor", "GET", "/v1/actions?page=1&cursor=" + url.QueryEscape(ts(t0)+"|"+id), nil, 400, "cursor"},
			{"list sorted by id", "GET", "/v1/actions?sort_by=id", nil, 400, "sort_by"},
			{"list with per_page 0", "GET", "/v1/actions?per_page=0", nil, 400, "per_page"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(t, tc.method, tc.path, e.A.Agent.Token, tc.body)
				if tc.field == "" {
					r.problem(t, tc.status)
					return
				}
				r.expectProblem(t, tc.status, tc.field)
			})
		}
		// Nothing above touched the action.
		if a := e.getAction(t, e.A.Agent.Token, id); a.Status != "pending" || a.Attempts != 0 {
			t.Errorf("after refused requests: %+v", a)
		}
		// An empty body takes the defaults.
		if got := e.claim(t, e.A.Agent.Token, nil); len(got) != 1 {
			t.Errorf("claim without a body: %v", actionIDs(got))
		}
	})
}

// TestPullOutboxScope: actions are the workspace's own, and only pull
// actions are the host's to settle; pushed ones are listed all the same.
func TestPullOutboxScope(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		_, _, id := e.pullAction(t, e.A)
		if got := e.claim(t, e.B.Admin.Token, nil); len(got) != 0 {
			t.Fatalf("B claimed A's actions: %v", actionIDs(got))
		}
		e.do(t, "GET", "/v1/actions/"+id, e.B.Admin.Token, nil).problem(t, 404)
		e.do(t, "POST", "/v1/actions/"+id+"/ack", e.B.Admin.Token, nil).problem(t, 404)
		e.do(t, "POST", "/v1/actions/"+id+"/fail", e.B.Admin.Token, map[string]any{"error": "x"}).problem(t, 404)
		var l page[outboxRow]
		e.do(t, "GET", "/v1/actions", e.B.Admin.Token, nil).expect(t, 200).decode(t, &l)
		if l.Total != 0 || len(l.Data) != 0 {
			t.Errorf("B lists %+v", l)
		}
		if a := e.getAction(t, e.A.Agent.Token, id); a.Status != "pending" {
			t.Errorf("B's calls changed A's action: %+v", a)
		}

		// With an actions_url, actions are pushed by this service (its
		// delivery workers do not run here): not claimable, not the
		// host's to ack or fail, but listed and readable.
		e.do(t, "PATCH", "/v1/workspace", e.A.Admin.Token,
			map[string]any{"actions_url": "https://helpdesk.example.com/hooks"}).expect(t, 200)
		_, _, pushed := e.pullAction(t, e.A)
		if got := e.claim(t, e.A.Agent.Token, nil); len(got) != 1 || got[0].ID != id {
			t.Fatalf("claimed %v, want only the pull action %s", actionIDs(got), id)
		}
		e.do(t, "POST", "/v1/actions/"+pushed+"/ack", e.A.Agent.Token, nil).problem(t, 404)
		e.do(t, "POST", "/v1/actions/"+pushed+"/fail", e.A.Agent.Token, map[string]any{"error": "x"}).problem(t, 404)
		if a := e.getAction(t, e.A.Agent.Token, pushed); a.Status != "pending" || a.Attempts != 0 {
			t.Errorf("pushed action: %+v", a)
		}
		e.do(t, "GET", "/v1/actions", e.A.Agent.Token, nil).expect(t, 200).decode(t, &l)
		if l.Total != 2 {
			t.Errorf("the listing shows %d actions, want the pull and the pushed one", l.Total)
		}
	})
}

func TestPullOutboxListing(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r1, _, a1 := e.pullAction(t, e.A)
		e.clock.Advance(time.Second)
		_, _, a2 := e.pullAction(t, e.A)
		e.clock.Advance(time.Second)
		_, ev3, a3 := e.pullAction(t, e.A)
		e.do(t, "POST", "/v1/actions/"+a2+"/ack", e.A.Agent.Token, nil).expect(t, 200)

		list := func(query string) page[outboxRow] {
			t.Helper()
			var l page[outboxRow]
			e.do(t, "GET", "/v1/actions?"+query, e.A.Agent.Token, nil).expect(t, 200).decode(t, &l)
			return l
		}
		var runs page[run]
		e.do(t, "GET", "/v1/automation/runs?event_id="+ev3.ID, e.A.Admin.Token, nil).expect(t, 200).decode(t, &runs)
		tests := []struct {
			query string
			want  []string
			total int
		}{
			{"", []string{a3, a2, a1}, 3},
			{"sort_order=asc", []string{a1, a2, a3}, 3},
			{"status=pending", []string{a3, a1}, 2},
			{"status=succeeded", []string{a2}, 1},
			{"status=failed", []string{}, 0},
			{"status=skipped", []string{}, 0},
			{fmt.Sprintf("rule_id=%d", r1.ID), []string{a1}, 1},
			{"run_id=" + runs.Data[0].ID, []string{a3}, 1},
			{"run_id=01900000-0000-7000-8000-000000000000", []string{}, 0},
			{"per_page=2", []string{a3, a2}, 3},
			{"per_page=2&page=2", []string{a1}, 3},
		}
		for _, tc := range tests {
			t.Run(tc.query, func(t *testing.T) {
				l := list(tc.query)
				if got := strings.Join(actionIDs(l.Data), ","); got != strings.Join(tc.want, ",") || l.Total != tc.total {
					t.Errorf("ids %s total %d, want %v total %d", got, l.Total, tc.want, tc.total)
				}
			})
		}
		// Keyset: next_cursor walks the list, in cursor mode page is null.
		first := list("per_page=2")
		if first.NextCursor == nil || first.Page == nil || *first.Page != 1 {
			t.Fatalf("first page: %+v", first)
		}
		next := list("per_page=2&cursor=" + url.QueryEscape(*first.NextCursor))
		if got := actionIDs(next.Data); len(got) != 1 || got[0] != a1 || next.NextCursor != nil || next.Page != nil || next.Total != 3 {
			t.Errorf("cursor page: %+v", next)
		}
	})
}
