package httpapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Conversations (docs/concepts.md#workspaces-members-tokens-and-roles, docs/concepts.md#processing) through the real router: the state the
// engine learns from events and from the actions rules decide, and the
// automation timeline.

type conversation struct {
	ID                    string   `json:"id"`
	Status                string   `json:"status"`
	AssigneeID            *string  `json:"assignee_id"`
	Tags                  []string `json:"tags"`
	Priority              *string  `json:"priority"`
	LastCustomerMessageAt *string  `json:"last_customer_message_at"`
	LastTeamResponseAt    *string  `json:"last_team_response_at"`
	UpdatedAt             string   `json:"updated_at"`
}

type activityEntry struct {
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`
	RuleID    int64            `json:"rule_id"`
	RuleName  string           `json:"rule_name"`
	EventID   string           `json:"event_id"`
	RunID     string           `json:"run_id"`
	Actions   []map[string]any `json:"actions"`
	CreatedAt string           `json:"created_at"`
}

var (
	conversationFields = []string{"id", "status", "assignee_id", "tags", "priority", "last_customer_message_at",
		"last_team_response_at", "updated_at"}
	activityFields = []string{"id", "kind", "rule_id", "rule_name", "event_id", "run_id", "actions", "created_at"}
)

func (e *env) getConversation(t testing.TB, token, id string) conversation {
	t.Helper()
	var c conversation
	r := e.do(t, "GET", "/v1/conversations/"+url.PathEscape(id), token, nil).expect(t, 200)
	if got := strings.Join(keys(t, r.Body), ","); got != strings.Join(sorted(conversationFields), ",") {
		t.Errorf("conversation fields %s, want %v", got, conversationFields)
	}
	r.decode(t, &c)
	return c
}

func TestConversationState(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		conv := unique("conv")
		e.do(t, "GET", "/v1/conversations/"+conv, e.A.Agent.Token, nil).problem(t, 404)

		// A customer message carrying the host's view of the conversation.
		asked := t0.Add(-time.Hour)
		e.newEvent(t, e.A, map[string]any{"event_type": "messages.incoming", "conversation_id": conv,
			"occurred_at": ts(asked), "payload": map[string]any{
				"conversation": map[string]any{"id": conv, "status": "OPENED", "assignee_id": "u-1", "tags": []any{"vip"}, "priority": "high"},
				"message":      map[string]any{"subject": "Help", "from_email": "ann@example.com"}}})
		e.process(t)
		c := e.getConversation(t, e.A.Agent.Token, conv)
		if c.ID != conv || c.Status != "open" || c.AssigneeID == nil || *c.AssigneeID != "u-1" || !slices.Equal(c.Tags, []string{"vip"}) ||
			c.Priority == nil || *c.Priority != "high" || c.LastCustomerMessageAt == nil || *c.LastCustomerMessageAt != ts(asked) ||
			c.LastTeamResponseAt != nil || c.UpdatedAt == "" {
			t.Fatalf("after a customer message: %+v", c)
		}

		// A team response, then a rule whose actions change the state.
		answered := t0.Add(-30 * time.Minute)
		e.newEvent(t, e.A, map[string]any{"event_type": "messages.response", "conversation_id": conv,
			"occurred_at": ts(answered), "payload": map[string]any{"message": map[string]any{"body": "On it"}}})
		e.process(t)
		c = e.getConversation(t, e.A.Supervisor.Token, conv)
		if c.LastTeamResponseAt == nil || *c.LastTeamResponseAt != ts(answered) || *c.LastCustomerMessageAt != ts(asked) ||
			c.Status != "open" || *c.AssigneeID != "u-1" {
			t.Fatalf("after a team response: %+v", c)
		}

		var tag struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		e.do(t, "POST", "/v1/tags", e.A.Admin.Token, map[string]any{"name": unique("urgent")}).expect(t, 201).decode(t, &tag)
		e.newRule(t, e.A, with(ruleBody(), "trigger_type", "messages.incoming", "actions", []any{
			map[string]any{"type": "add_tag", "tag_id": tag.ID},
			map[string]any{"type": "set_priority", "priority": "urgent"},
			map[string]any{"type": "unassign"},
		}))
		e.newEvent(t, e.A, map[string]any{"event_type": "messages.incoming", "conversation_id": conv,
			"payload": map[string]any{"message": map[string]any{"subject": "Still waiting"}}})
		e.process(t)
		c = e.getConversation(t, e.A.Agent.Token, conv)
		if !slices.Contains(c.Tags, tag.Name) || c.Priority == nil || *c.Priority != "urgent" ||
			c.AssigneeID != nil || *c.LastCustomerMessageAt != ts(t0) {
			t.Fatalf("after the rule's actions: %+v", c)
		}

		// Status events set the status.
		for _, step := range []struct{ event, want string }{
			{"status.snoozed", "snoozed"}, {"status.unsnoozed", "open"}, {"status.closed", "closed"},
		} {
			e.clock.Advance(time.Second)
			e.newEvent(t, e.A, map[string]any{"event_type": step.event, "conversation_id": conv, "payload": map[string]any{}})
			e.process(t)
			if c = e.getConversation(t, e.A.Agent.Token, conv); c.Status != step.want {
				t.Errorf("after %s: status %q, want %q", step.event, c.Status, step.want)
			}
		}

		// Another workspace's conversation of the same id is its own.
		e.do(t, "GET", "/v1/conversations/"+conv, e.B.Admin.Token, nil).problem(t, 404)
		e.do(t, "GET", "/v1/conversations/"+conv+"/activity", e.B.Admin.Token, nil).problem(t, 404)
	})
}

func TestConversationActivity(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		conv := unique("conv")
		tagID := e.newTag(t, e.A)
		r1 := e.newRule(t, e.A, with(ruleBody(), "actions", []any{map[string]any{"type": "add_tag", "tag_id": tagID}}))
		r2 := e.newRule(t, e.A, with(ruleBody(), "conditions", []any{
			map[string]any{"field": "message.subject", "operator": "contains", "value": "refund"}}))
		var events []string
		for _, subject := range []string{"hello", "refund please", "thanks"} {
			events = append(events, e.newEvent(t, e.A, map[string]any{"event_type": "messages.incoming",
				"conversation_id": conv, "payload": map[string]any{"message": map[string]any{"subject": subject}}}).ID)
			e.process(t)
			e.clock.Advance(time.Second)
		}
		// Events of another conversation stay on their own timeline.
		other := unique("conv")
		e.newEvent(t, e.A, map[string]any{"event_type": "messages.incoming", "conversation_id": other,
			"payload": map[string]any{"message": map[string]any{"subject": "x"}}})
		e.process(t)

		list := func(query string) page[activityEntry] {
			t.Helper()
			var p page[activityEntry]
			r := e.do(t, "GET", "/v1/conversations/"+conv+"/activity?"+query, e.A.Agent.Token, nil).expect(t, 200)
			r.decode(t, &p)
			var raw struct {
				Data []json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(r.Body, &raw)
			for _, d := range raw.Data {
				if got := strings.Join(keys(t, d), ","); got != strings.Join(sorted(activityFields), ",") {
					t.Errorf("activity fields %s, want %v", got, activityFields)
				}
			}
			return p
		}
		all := list("")
		// Newest first: r1 on all three events, r2 on the second.
		type want struct {
			rule  int64
			event string
		}
		var got []want
		for _, a := range all.Data {
			got = append(got, want{a.RuleID, a.EventID})
			if a.Kind != "automation_applied" || a.RunID == "" || a.ID == "" || len(a.Actions) != 1 {
				t.Errorf("entry %+v", a)
			}
		}
		wantOrder := []want{{r1.ID, events[2]}, {r2.ID, events[1]}, {r1.ID, events[1]}, {r1.ID, events[0]}}
		if !slices.Equal(got, wantOrder) || all.Total != 4 || all.NextCursor != nil || all.Page == nil || *all.Page != 1 {
			t.Fatalf("timeline %+v (total %d), want rule/event %v", got, all.Total, wantOrder)
		}
		if a := all.Data[0]; a.RuleName != r1.Name || a.Actions[0]["type"] != "add_tag" || a.CreatedAt != ts(t0.Add(2*time.Second)) {
			t.Errorf("newest entry %+v", a)
		}
		// Its run is the run of that event by that rule.
		if r := e.getRun(t, e.A, all.Data[0].RunID); r.EventID != events[2] || r.RuleID != r1.ID || !r.Matched {
			t.Errorf("entry's run %+v", r)
		}
		asc := list("sort_order=asc")
		if len(asc.Data) != 4 || asc.Data[0].ID != all.Data[3].ID || asc.Data[3].ID != all.Data[0].ID {
			t.Errorf("ascending: %+v", asc.Data)
		}

		// Pages: by number and by cursor, the same rows, nothing twice.
		p1 := list("per_page=3")
		if len(p1.Data) != 3 || p1.NextCursor == nil || p1.Total != 4 {
			t.Fatalf("first page: %+v", p1)
		}
		p2 := list("per_page=3&cursor=" + url.QueryEscape(*p1.NextCursor))
		if len(p2.Data) != 1 || p2.Data[0].ID != all.Data[3].ID || p2.NextCursor != nil || p2.Page != nil || p2.Total != 4 {
			t.Errorf("cursor page: %+v", p2)
		}
		if byNumber := list("per_page=3&page=2"); len(byNumber.Data) != 1 || byNumber.Data[0].ID != all.Data[3].ID {
			t.Errorf("second page: %+v", byNumber)
		}
		p2of2 := list("per_page=2&page=1")
		next := list("per_page=2&cursor=" + url.QueryEscape(*p2of2.NextCursor))
		if len(next.Data) != 2 || next.Data[0].ID != all.Data[2].ID || next.Data[1].ID != all.Data[3].ID {
			t.Errorf("cursor after 2: %+v", next)
		}
		if o := func() page[activityEntry] {
			var p page[activityEntry]
			e.do(t, "GET", "/v1/conversations/"+other+"/activity", e.A.Agent.Token, nil).expect(t, 200).decode(t, &p)
			return p
		}(); o.Total != 1 || len(o.Data) != 1 || o.Data[0].RuleID != r1.ID {
			t.Errorf("the other conversation's timeline: %+v", o)
		}

		for _, bad := range []struct{ query, field string }{
			{"cursor=nope", "cursor"}, {"sort_by=id", "sort_by"}, {"sort_order=up", "sort_order"},
			{"per_page=501", "per_page"}, {"page=0", "page"},
		} {
			e.do(t, "GET", "/v1/conversations/"+conv+"/activity?"+bad.query, e.A.Agent.Token, nil).expectProblem(t, 400, bad.field)
		}
		e.do(t, "GET", "/v1/conversations/"+unique("nobody")+"/activity", e.A.Agent.Token, nil).problem(t, 404)
	})
}
