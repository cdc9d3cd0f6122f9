package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
)

func automationsPath(ws int64, rest ...any) string {
	p := fmt.Sprintf("/api/v1/workspaces/%d/automations", ws)
	for _, r := range rest {
		p += fmt.Sprintf("/%v", r)
	}
	return p
}

// seedPath puts a workspace id where the document's curl says WORKSPACE_ID.
func seedPath(ws int64, tail string) string {
	return "/api/v1/workspaces/" + strconv.FormatInt(ws, 10) + "/automations" + tail
}

// automationBody is a minimal valid automation.
func automationBody() map[string]any {
	return map[string]any{
		"name":    unique("auto"),
		"event":   "conversation_created",
		"actions": []any{map[string]any{"type": "send_response", "body": "Thanks, {{contact.name}}"}},
	}
}

// TestAutomationsGolden sends the document's own examples verbatim: the
// create, the test and the reorder.
func TestAutomationsGolden(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// The example's add_tag names tag 12: make it exist (a fresh store
		// numbers tags from 1).
		for id := int64(0); id < 12; {
			id = e.newTag(t, e.A)
			if id > 12 {
				t.Fatalf("tag ids skipped 12 (got %d): the golden request cannot be sent verbatim", id)
			}
		}
		r := e.do(t, "POST", seedPath(e.A.ID, ""), e.A.Admin.Token, golden(t, "automations_create.request.json")).expect(t, 201)
		got := r.object(t)
		sameJSON(t, "create response", got, jsonValue(t, golden(t, "automations_create.response.json")))
		native := e.nativeRule(t, e.A, got["id"])
		sameJSON(t, "native trigger", native["trigger_type"], "conversation_created")
		sameJSON(t, "native conditions", native["conditions"], got["conditions"])
		sameJSON(t, "native actions", native["actions"], got["actions"])

		// GET one and the list.
		sameJSON(t, "get", e.do(t, "GET", automationsPath(e.A.ID, got["id"]), e.A.Agent.Token, nil).expect(t, 200).object(t), got)
		sameJSON(t, "list", e.do(t, "GET", automationsPath(e.A.ID), e.A.Agent.Token, nil).expect(t, 200).object(t),
			map[string]any{"data": []any{got}})

		// POST .../test with the document's sample: matched, with a trace
		// of each condition, and nothing persisted.
		for _, tok := range []string{e.A.Admin.Token, e.A.Supervisor.Token, e.A.Agent.Token} {
			res := e.do(t, "POST", seedPath(e.A.ID, "/1/test"), tok, golden(t, "automations_test.request.json")).expect(t, 200).object(t)
			if res["matched"] != true || res["reason"] != nil {
				t.Fatalf("the document's sample does not match its rule: %v", res)
			}
			trace, _ := res["trace"].([]any)
			if len(trace) != 2 {
				t.Fatalf("trace has %d entries, want one per condition: %v", len(trace), res)
			}
			for i, want := range []string{"Urgent: site down", "customer@acme.com"} {
				entry := trace[i].(map[string]any)
				if entry["result"] != true || entry["actual"] != want || entry["path"] != fmt.Sprintf("conditions[%d]", i) {
					t.Errorf("trace[%d] = %v", i, entry)
				}
			}
			plan, _ := res["would_execute"].([]any)
			if len(plan) != 3 {
				t.Errorf("would_execute: %v", res["would_execute"])
			}
		}
		after := e.nativeRule(t, e.A, got["id"])
		sameJSON(t, "the rule after tests", after, native)
		var events struct {
			Total int `json:"total"`
		}
		e.do(t, "GET", "/v1/automation/events", e.A.Admin.Token, nil).expect(t, 200).decode(t, &events)
		if events.Total != 0 {
			t.Errorf("a test stored %d events", events.Total)
		}

		// A sample that does not match says which condition failed.
		res := e.do(t, "POST", seedPath(e.A.ID, "/1/test"), e.A.Agent.Token,
			map[string]any{"from_email": "someone@example.org", "subject": "Urgent", "body": "x", "headers": map[string]any{"X-Test": "1"}}).
			expect(t, 200).object(t)
		if res["matched"] != false || res["reason"] != "conditions_not_met" {
			t.Errorf("non-matching sample: %v", res)
		}
	})
}

// TestAutomationsReorderGolden: the document's reorder body, verbatim, on
// rules 1, 2 and 3.
func TestAutomationsReorderGolden(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		for i := 1; i <= 3; i++ {
			c := e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, automationBody()).expect(t, 201).object(t)
			if fmt.Sprint(c["id"]) != strconv.Itoa(i) {
				t.Fatalf("a fresh store numbered the automation %v, want %d", c["id"], i)
			}
		}
		got := e.do(t, "POST", seedPath(e.A.ID, "/reorder"), e.A.Admin.Token, golden(t, "automations_reorder.request.json")).expect(t, 200).object(t)
		var order []string
		for _, r := range got["data"].([]any) {
			r := r.(map[string]any)
			order = append(order, fmt.Sprintf("%v@%v", r["id"], r["priority"]))
		}
		sameJSON(t, "order", order, []string{"3@0", "1@1", "2@2"})
	})
}

// TestAutomationsAuth: Bearer; the path's workspace must be the token's
// (404 before any role check); admin writes, every member reads and
// tests.
func TestAutomationsAuth(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		id := fmt.Sprint(e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, automationBody()).expect(t, 201).object(t)["id"])
		type call struct {
			method, path string
			body         any
			write        bool
			ok           int
		}
		calls := func(ws string) []call {
			base := "/api/v1/workspaces/" + ws + "/automations"
			return []call{
				{"GET", base, nil, false, 200},
				{"GET", base + "/" + id, nil, false, 200},
				{"POST", base + "/" + id + "/test", map[string]any{"from_email": "a@b.example"}, false, 200},
				{"POST", base, automationBody(), true, 201},
				{"PATCH", base + "/" + id, map[string]any{"is_active": true}, true, 200},
				{"POST", base + "/reorder", map[string]any{"ids": []any{json.Number(id)}}, true, 200},
				{"DELETE", base + "/" + id, nil, true, 204},
			}
		}
		own := strconv.FormatInt(e.A.ID, 10)
		// Another workspace's id (B's, as A's members), one that does not
		// exist, or is not an id: 404 for every role, writes included.
		for _, ws := range []string{strconv.FormatInt(e.B.ID, 10), "987654", "abc", "0", "-1", own + ".0"} {
			for _, c := range calls(ws) {
				for _, who := range []cred{e.A.Admin, e.A.Supervisor, e.A.Agent} {
					e.do(t, c.method, c.path, who.Token, c.body).problem(t, 404)
				}
			}
		}
		// B's admin on A's workspace: 404; on its own: none of A's rules.
		for _, c := range calls(own) {
			e.do(t, c.method, c.path, e.B.Admin.Token, c.body).problem(t, 404)
		}
		var list struct {
			Data []any `json:"data"`
		}
		e.do(t, "GET", automationsPath(e.B.ID), e.B.Admin.Token, nil).expect(t, 200).decode(t, &list)
		if len(list.Data) != 0 {
			t.Errorf("B lists A's automations: %v", list.Data)
		}
		// Roles, in A.
		for _, c := range calls(own) {
			for _, who := range []cred{e.A.Supervisor, e.A.Agent} {
				r := e.do(t, c.method, c.path, who.Token, c.body)
				if c.write {
					r.problem(t, 403)
				} else {
					r.expect(t, c.ok)
				}
			}
			e.do(t, c.method, c.path, "", c.body).problem(t, 401)
			e.do(t, c.method, c.path, e.A.Admin.Token, c.body).expect(t, c.ok)
		}
	})
}

// TestAutomationsScope: only ticket_created and conversation_created rules
// exist in this API.
func TestAutomationsScope(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		other := e.newRule(t, e.A, ruleBody()) // messages.incoming
		ticket := e.newRule(t, e.A, with(ruleBody(), "trigger_type", "ticket_created",
			"actions", []any{nat("add_tag", "tag_id", e.newTag(t, e.A))}))
		var list struct {
			Data []map[string]any `json:"data"`
		}
		e.do(t, "GET", automationsPath(e.A.ID), e.A.Agent.Token, nil).expect(t, 200).decode(t, &list)
		if len(list.Data) != 1 || fmt.Sprint(list.Data[0]["id"]) != fmt.Sprint(ticket.ID) || list.Data[0]["event"] != "ticket_created" {
			t.Errorf("list: %v", list.Data)
		}
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", automationsPath(e.A.ID, other.ID), nil},
			{"PATCH", automationsPath(e.A.ID, other.ID), map[string]any{"name": "x"}},
			{"DELETE", automationsPath(e.A.ID, other.ID), nil},
			{"POST", automationsPath(e.A.ID, other.ID, "test"), map[string]any{}},
		} {
			e.do(t, c.method, c.path, e.A.Admin.Token, c.body).problem(t, 404)
		}
		e.getRule(t, e.A, other.ID) // still there
		e.do(t, "POST", automationsPath(e.A.ID, "reorder"), e.A.Admin.Token, map[string]any{"ids": []any{other.ID}}).
			expectProblem(t, 422, "ids[0]")
		// Creating or moving a rule to another event: 422.
		e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, with(automationBody(), "event", "messages.incoming")).expectProblem(t, 422, "event")
		e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, with(automationBody(), "event", absent)).expectProblem(t, 422, "event")
		e.do(t, "PATCH", automationsPath(e.A.ID, ticket.ID), e.A.Admin.Token, map[string]any{"event": "status.closed"}).expectProblem(t, 422, "event")
		// Moving between the two events is fine.
		moved := e.do(t, "PATCH", automationsPath(e.A.ID, ticket.ID), e.A.Admin.Token, map[string]any{"event": "conversation_created"}).expect(t, 200).object(t)
		if moved["event"] != "conversation_created" {
			t.Errorf("moved: %v", moved)
		}
	})
}

// TestAutomationsValidation: the document's fields, checked like the
// native ones.
func TestAutomationsValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"name missing", with(automationBody(), "name", absent), 422, "name"},
			{"actions missing", with(automationBody(), "actions", absent), 422, "actions"},
			{"action type outside the document", with(automationBody(), "actions", []any{nat("add_note", "body", "x")}), 422, "actions[0].type"},
			{"action parameter outside the document", with(automationBody(), "actions", []any{nat("send_response", "body", "x", "url", "https://x.example")}), 400, "actions[0].url"},
			{"tag missing", with(automationBody(), "actions", []any{nat("add_tag", "tag_id", 987654)}), 422, "actions[0].tag_id"},
			{"tag_id absent", with(automationBody(), "actions", []any{nat("add_tag")}), 422, "actions[0].tag_id"},
			{"user_id not an id", with(automationBody(), "actions", []any{nat("assign_agent", "user_id", -3)}), 422, "actions[0].user_id"},
			{"body empty", with(automationBody(), "actions", []any{nat("send_response", "body", "")}), 422, "actions[0].body"},
			{"condition type unknown", with(automationBody(), "conditions", []any{map[string]any{"type": "sender", "value": "x"}}), 422, "conditions[0].type"},
			{"condition operator", with(automationBody(), "conditions", []any{map[string]any{"type": "from_email", "operator": "like", "value": "x"}}), 422, "conditions[0].operator"},
			{"contact list missing", with(automationBody(), "conditions", []any{map[string]any{"type": "contact_list", "operator": "in", "list_id": 987654}}), 422, "conditions[0].list_id"},
			{"priority negative", with(automationBody(), "priority", -1), 422, "priority"},
			{"unknown field", with(automationBody(), "description", "x"), 400, "description"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, c.body).expectProblem(t, c.status, c.field)
			})
		}
		// An unknown automation comes before an invalid body (docs/concepts.md#conventions).
		e.do(t, "PATCH", automationsPath(e.A.ID, 987654), e.A.Admin.Token, map[string]any{"is_active": "yes"}).problem(t, 404)
		e.do(t, "POST", automationsPath(e.A.ID, 987654, "test"), e.A.Admin.Token, map[string]any{"subject": 1}).problem(t, 404)
		// The test sample's fields are typed; unknown ones are refused.
		id := e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, automationBody()).expect(t, 201).object(t)["id"]
		e.do(t, "POST", automationsPath(e.A.ID, id, "test"), e.A.Agent.Token, map[string]any{"subject": 1}).expectProblem(t, 422, "subject")
		e.do(t, "POST", automationsPath(e.A.ID, id, "test"), e.A.Agent.Token, map[string]any{"to": "x"}).expectProblem(t, 400, "to")
		e.do(t, "POST", automationsPath(e.A.ID, id, "test"), e.A.Agent.Token, bytes.Repeat([]byte(" "), 2<<20)).problem(t, 413)
		// Reorder: ids required, each once.
		e.do(t, "POST", automationsPath(e.A.ID, "reorder"), e.A.Admin.Token, map[string]any{}).expectProblem(t, 422, "ids")
		e.do(t, "POST", automationsPath(e.A.ID, "reorder"), e.A.Admin.Token, map[string]any{"ids": []any{id, id}}).expectProblem(t, 422, "ids[1]")
	})
}

// TestAutomationsReorderSubset: the listed rules take the slots they hold,
// in the given order; every other rule keeps its priority.
func TestAutomationsReorderSubset(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		mk := func(trigger string) int64 {
			return e.newRule(t, e.A, with(ruleBody(), "trigger_type", trigger)).ID
		}
		// Priorities 0..4: a(auto) x(other) b(auto) c(auto) y(other).
		a, x, b, c, y := mk("conversation_created"), mk("messages.incoming"), mk("ticket_created"), mk("conversation_created"), mk("status.closed")
		got := e.do(t, "POST", automationsPath(e.A.ID, "reorder"), e.A.Admin.Token, map[string]any{"ids": []any{c, a}}).expect(t, 200).object(t)
		var shown []string
		for _, r := range got["data"].([]any) {
			r := r.(map[string]any)
			shown = append(shown, fmt.Sprintf("%v@%v", r["id"], r["priority"]))
		}
		// c and a swap slots 0 and 3; b keeps 2.
		sameJSON(t, "automations after the reorder", shown, []string{
			fmt.Sprintf("%d@0", c), fmt.Sprintf("%d@2", b), fmt.Sprintf("%d@3", a)})
		var all []string
		for _, r := range e.listRules(t, e.A) {
			all = append(all, fmt.Sprintf("%d@%d", r.ID, r.Priority))
		}
		sameJSON(t, "every rule", all, []string{
			fmt.Sprintf("%d@0", c), fmt.Sprintf("%d@1", x), fmt.Sprintf("%d@2", b), fmt.Sprintf("%d@3", a), fmt.Sprintf("%d@4", y)})
	})
}
