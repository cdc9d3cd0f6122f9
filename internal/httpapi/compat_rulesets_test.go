package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestRulesetsGolden sends the rulesets documents' own examples verbatim
// and checks the answers against the documents' shapes and the values
// that are deterministic.
func TestRulesetsGolden(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// POST /organization/rules, the seed's curl body, X-API-Key.
		r := e.doKey(t, "POST", "/organization/rules", e.A.Admin.Token, golden(t, "rulesets_create.request.json")).expect(t, 201)
		got := r.object(t)
		example := jsonValue(t, golden(t, "rulesets_ruleset.response.json"))
		sameShape(t, "create response", got, example)
		sameJSON(t, "create response", got, jsonValue(t, golden(t, "rulesets_create.response.json")))

		// The same rule, natively.
		native := e.nativeRule(t, e.A, got["id"])
		sameJSON(t, "native trigger", native["trigger_type"], "messages.incoming")
		sameJSON(t, "native actions", native["actions"], []any{map[string]any{"type": "assign_agent", "user_id": 123}})
		sameJSON(t, "native is_active", native["is_active"], true)

		// The example response's own rule, created from its writable
		// fields, reads back as the example (except id, time, counters
		// and trigger_data: the example pairs "2 hours" with
		// messages.incoming, which takes no trigger data).
		ex := example.(map[string]any)
		body := map[string]any{"name": ex["name"], "status": ex["status"], "priority": ex["priority"], "stop": ex["stop"],
			"trigger": ex["trigger_name"], "description": ex["description"], "filters": ex["filters"], "actions": ex["actions"]}
		created := e.doKey(t, "POST", "/organization/rules", e.A.Admin.Token, body).expect(t, 201).object(t)
		volatile := []string{"id", "created", "applied_count", "last_applied_at", "trigger_data"}
		sameJSON(t, "example rule", without(created, volatile...), without(ex, volatile...))
		// priority 0 was taken: the first rule shifted down.
		sameJSON(t, "shifted priority", e.nativeRule(t, e.A, got["id"])["priority"], 1)

		// GET /organization/rules: a bare array of the same shape.
		var list []map[string]any
		e.doKey(t, "GET", "/organization/rules", e.A.Admin.Token, nil).expect(t, 200).decode(t, &list)
		sameShape(t, "list", list, jsonValue(t, golden(t, "rulesets_list.response.json")))
		if len(list) != 2 || fmt.Sprint(list[0]["id"]) != fmt.Sprint(created["id"]) {
			t.Errorf("list by priority: %v", list)
		}

		// GET one, PATCH, DELETE.
		one := e.doKey(t, "GET", fmt.Sprintf("/organization/rules/%v", created["id"]), e.A.Admin.Token, nil).expect(t, 200).object(t)
		sameJSON(t, "get", one, created)
		patched := e.doKey(t, "PATCH", fmt.Sprintf("/organization/rules/%v", created["id"]), e.A.Admin.Token,
			map[string]any{"status": "PAUSED"}).expect(t, 200).object(t)
		sameJSON(t, "patched", patched, with(created, "status", "PAUSED"))
		sameJSON(t, "native is_active after PAUSED", e.nativeRule(t, e.A, created["id"])["is_active"], false)
		e.doKey(t, "DELETE", fmt.Sprintf("/organization/rules/%v", created["id"]), e.A.Admin.Token, nil).expect(t, 204)
		e.doKey(t, "GET", fmt.Sprintf("/organization/rules/%v", created["id"]), e.A.Admin.Token, nil).problem(t, 404)
	})
}

// TestRulesetsActionMapping checks every row of the action mapping table
// both ways: written through rulesets, read natively; written natively,
// read through rulesets.
func TestRulesetsActionMapping(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag := e.newTag(t, e.A)
		rows := []struct {
			name          string
			ruleset       map[string]any // {name, data} as sent
			native        map[string]any
			rulesetReadAs map[string]any // when it reads back differently (nil: as sent)
		}{
			{"assign", rs("conversation.assign", "agent_id", 7), nat("assign_agent", "user_id", 7), nil},
			{"assign null", rs("conversation.assign", "agent_id", nil), nat("unassign"), rs("conversation.unassign")},
			{"unassign", rs("conversation.unassign"), nat("unassign"), nil},
			{"close", rs("conversation.close"), nat("set_status", "status", "closed"), nil},
			{"open", rs("conversation.open"), nat("set_status", "status", "open"), nil},
			{"snooze", rs("conversation.snooze", "until", "2026-07-01T08:00:00Z"),
				nat("set_status", "status", "snoozed", "snooze_until", "2026-07-01T08:00:00Z"), nil},
			{"snooze with an offset", rs("conversation.snooze", "until", "2026-07-01T10:00:00.5+02:00"),
				nat("set_status", "status", "snoozed", "snooze_until", "2026-07-01T08:00:00.500Z"),
				rs("conversation.snooze", "until", "2026-07-01T08:00:00.500Z")},
			{"tag", rs("conversation.tag", "tag_id", tag), nat("add_tag", "tag_id", tag), nil},
			{"untag", rs("conversation.untag", "tag_id", tag), nat("remove_tag", "tag_id", tag), nil},
			{"priority", rs("conversation.priority", "priority", "urgent"), nat("set_priority", "priority", "urgent"), nil},
			{"note", rs("conversation.note", "body", "VIP: {{contact.name}}"), nat("add_note", "body", "VIP: {{contact.name}}"), nil},
			{"reply", rs("message.reply", "body", "Hi {{contact.name}}"), nat("send_response", "body", "Hi {{contact.name}}"), nil},
			{"reply with subject", rs("message.reply", "body", "Hi", "subject", "Re: {{message.subject}}"),
				nat("send_response", "body", "Hi", "subject", "Re: {{message.subject}}"), nil},
			{"webhook", rs("webhook.send", "url", "https://hooks.example.com/x"), nat("send_webhook", "url", "https://hooks.example.com/x"), nil},
			{"webhook with headers", rs("webhook.send", "url", "https://hooks.example.com/x", "headers", map[string]any{"X-Team": "support"}),
				nat("send_webhook", "url", "https://hooks.example.com/x", "headers", map[string]any{"X-Team": "support"}), nil},
		}
		for _, row := range rows {
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				readAs := row.rulesetReadAs
				if readAs == nil {
					readAs = row.ruleset
				}
				// rulesets → native
				c := e.doKey(t, "POST", "/organization/rules", e.A.Supervisor.Token, map[string]any{
					"name": unique("map"), "trigger": "messages.incoming", "actions": []any{row.ruleset}}).expect(t, 201).object(t)
				sameJSON(t, "rulesets answer", c["actions"], []any{readAs})
				sameJSON(t, "native view", e.nativeRule(t, e.A, c["id"])["actions"], []any{row.native})
				// native → rulesets
				n := e.newRule(t, e.A, with(ruleBody(), "actions", []any{row.native}))
				got := e.doKey(t, "GET", fmt.Sprintf("/organization/rules/%d", n.ID), e.A.Supervisor.Token, nil).expect(t, 200).object(t)
				sameJSON(t, "rulesets view", got["actions"], []any{readAs})
			})
		}
	})
}

// rs builds a rulesets action: name, then data key/value pairs.
func rs(name string, kv ...any) map[string]any {
	data := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		data[kv[i].(string)] = kv[i+1]
	}
	return map[string]any{"name": name, "data": data}
}

// nat builds a native action: type, then parameter key/value pairs.
func nat(typ string, kv ...any) map[string]any {
	a := map[string]any{"type": typ}
	for i := 0; i < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return a
}

// TestRulesetsValidation: the seed's validation, with problems naming the
// seed's fields.
func TestRulesetsValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		valid := func() map[string]any {
			return map[string]any{"name": unique("v"), "trigger": "messages.incoming", "actions": []any{rs("conversation.close")}}
		}
		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"name too long", with(valid(), "name", strings.Repeat("n", 251)), 422, "name"},
			{"name missing", with(valid(), "name", absent), 422, "name"},
			{"name blank", with(valid(), "name", ""), 422, "name"},
			{"description too long", with(valid(), "description", strings.Repeat("d", 501)), 422, "description"},
			{"trigger missing", with(valid(), "trigger", absent), 422, "trigger"},
			{"trigger too long", with(valid(), "trigger", "custom."+strings.Repeat("x", 44)), 422, "trigger"},
			{"trigger unknown", with(valid(), "trigger", "messages.outgoing"), 422, "trigger"},
			{"trigger_name differs", with(valid(), "trigger_name", "status.closed"), 422, "trigger_name"},
			{"trigger data missing", with(valid(), "trigger", "teammates.assigned"), 422, "trigger_data"},
			{"trigger data bad", with(valid(), "trigger", "time.unanswered_by_team", "trigger_data", "soon"), 422, "trigger_data"},
			{"actions missing", with(valid(), "actions", absent), 422, "actions"},
			{"actions empty", with(valid(), "actions", []any{}), 422, "actions"},
			{"actions null", with(valid(), "actions", nil), 422, "actions"},
			{"action unknown", with(valid(), "actions", []any{rs("conversation.explode")}), 422, "actions[0].name"},
			{"action name missing", with(valid(), "actions", []any{map[string]any{"data": map[string]any{}}}), 422, "actions[0].name"},
			{"action param missing", with(valid(), "actions", []any{rs("conversation.assign")}), 422, "actions[0].data.agent_id"},
			{"action param foreign", with(valid(), "actions", []any{rs("conversation.close", "tag_id", 1)}), 422, "actions[0].data.tag_id"},
			{"agent id not positive", with(valid(), "actions", []any{rs("conversation.assign", "agent_id", 0)}), 422, "actions[0].data.agent_id"},
			{"snooze without until", with(valid(), "actions", []any{rs("conversation.snooze")}), 422, "actions[0].data.until"},
			{"priority unknown", with(valid(), "actions", []any{rs("conversation.priority", "priority", "whenever")}), 422, "actions[0].data.priority"},
			{"tag missing", with(valid(), "actions", []any{rs("conversation.tag", "tag_id", 987654)}), 422, "actions[0].data.tag_id"},
			{"webhook header reserved", with(valid(), "actions", []any{rs("webhook.send", "url", "https://x.example", "headers", map[string]any{"Host": "y"})}),
				422, "actions[0].data.headers.Host"},
			{"second action", with(valid(), "actions", []any{rs("conversation.close"), rs("message.reply", "body", " ")}), 422, "actions[1].data.body"},
			{"status unknown", with(valid(), "status", "ON"), 422, "status"},
			{"stop not a bool", with(valid(), "stop", "yes"), 422, "stop"},
			{"filter operator", with(valid(), "filters", []any{map[string]any{"field": "conversation.status", "operator": "eq", "value": "x"}}), 422, "filters[0].operator"},
			{"filter not valid for the trigger", with(valid(), "trigger", "status.closed",
				"filters", []any{map[string]any{"field": "message.subject", "operator": "contains", "value": "x"}}), 422, "filters[0].field"},
			{"unknown field", with(valid(), "colour", "red"), 400, "colour"},
			{"unknown data key", with(valid(), "actions", []any{rs("conversation.close", "colour", "red")}), 400, "actions[0].data.colour"},
			{"malformed", `{"name": `, 400, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := e.doKey(t, "POST", "/organization/rules", e.A.Admin.Token, c.body)
				if c.field == "" {
					r.problem(t, c.status)
					return
				}
				r.expectProblem(t, c.status, c.field)
			})
		}
		// The same checks on PATCH, and the trigger's own 50 characters.
		id := e.doKey(t, "POST", "/organization/rules", e.A.Admin.Token, valid()).expect(t, 201).object(t)["id"]
		path := fmt.Sprintf("/organization/rules/%v", id)
		e.doKey(t, "PATCH", path, e.A.Admin.Token, map[string]any{"name": strings.Repeat("n", 251)}).expectProblem(t, 422, "name")
		e.doKey(t, "PATCH", path, e.A.Admin.Token, map[string]any{"trigger": "status.closed",
			"filters": []any{map[string]any{"field": "message.subject", "operator": "exists"}}}).expectProblem(t, 422, "filters[0].field")
		e.doKey(t, "PATCH", path, e.A.Admin.Token, map[string]any{"actions": []any{}}).expectProblem(t, 422, "actions")
		e.doKey(t, "PATCH", path, e.A.Admin.Token, map[string]any{"name": nil}).expectProblem(t, 422, "name")
		// An unknown id comes before an invalid body (docs/concepts.md#conventions).
		e.doKey(t, "PATCH", "/organization/rules/987654", e.A.Admin.Token, map[string]any{"stop": "yes"}).problem(t, 404)
		e.doKey(t, "PATCH", "/organization/rules/987654", e.A.Admin.Token, map[string]any{"colour": 1}).problem(t, 400)
		// Accepted: a 50-character custom trigger, an empty trigger_data
		// (none), description null.
		ok := e.doKey(t, "POST", "/organization/rules", e.A.Admin.Token, with(valid(), "trigger", "custom."+strings.Repeat("x", 43),
			"trigger_data", "", "description", nil, "filters", nil)).expect(t, 201).object(t)
		if ok["trigger_data"] != nil || ok["description"] != nil || fmt.Sprint(ok["filters"]) != "[]" {
			t.Errorf("defaults: %v", ok)
		}
	})
}

// TestRulesetsPriority: a taken priority shifts the rules at or after it,
// on create and on PATCH, as the seed describes.
func TestRulesetsPriority(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		mk := func(extra ...any) string {
			b := with(map[string]any{"name": unique("p"), "trigger": "messages.incoming", "actions": []any{rs("conversation.close")}}, extra...)
			return fmt.Sprint(e.doKey(t, "POST", "/organization/rules", e.A.Admin.Token, b).expect(t, 201).object(t)["id"])
		}
		order := func() (ids []string, prios []string) {
			var list []map[string]any
			e.doKey(t, "GET", "/organization/rules", e.A.Admin.Token, nil).expect(t, 200).decode(t, &list)
			for _, r := range list {
				ids, prios = append(ids, fmt.Sprint(r["id"])), append(prios, fmt.Sprint(r["priority"]))
			}
			return ids, prios
		}
		a, b := mk(), mk() // 0, 1: without priority a rule goes last
		c := mk("priority", 0)
		ids, prios := order()
		sameJSON(t, "ids after a shift", ids, []string{c, a, b})
		sameJSON(t, "priorities after a shift", prios, []string{"0", "1", "2"})
		e.doKey(t, "PATCH", "/organization/rules/"+b, e.A.Admin.Token, map[string]any{"priority": 0}).expect(t, 200)
		ids, _ = order()
		sameJSON(t, "ids after a PATCH", ids, []string{b, c, a})
	})
}

// TestRulesetsAuth: X-API-Key or Bearer; supervisor or admin; another
// workspace's rule is not found.
func TestRulesetsAuth(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		id := e.newRule(t, e.A, ruleBody()).ID
		one := fmt.Sprintf("/organization/rules/%d", id)
		for _, c := range []cred{e.A.Admin, e.A.Supervisor} {
			e.doKey(t, "GET", "/organization/rules", c.Token, nil).expect(t, 200)
			e.do(t, "GET", "/organization/rules", c.Token, nil).expect(t, 200)
			e.doKey(t, "GET", one, c.Token, nil).expect(t, 200)
		}
		e.doKey(t, "GET", "/organization/rules", e.A.Agent.Token, nil).problem(t, 403)
		e.doKey(t, "POST", "/organization/rules", e.A.Agent.Token, golden(t, "rulesets_create.request.json")).problem(t, 403)
		e.doKey(t, "DELETE", one, e.A.Agent.Token, nil).problem(t, 403)
		e.doKey(t, "GET", "/organization/rules", "", nil).problem(t, 401)
		e.doKey(t, "GET", "/organization/rules", "sbt_wrong", nil).problem(t, 401)
		// B sees none of A's rules and cannot reach them.
		var list []any
		e.doKey(t, "GET", "/organization/rules", e.B.Admin.Token, nil).expect(t, 200).decode(t, &list)
		if len(list) != 0 {
			t.Errorf("B lists A's rules: %v", list)
		}
		e.doKey(t, "GET", one, e.B.Admin.Token, nil).problem(t, 404)
		e.doKey(t, "PATCH", one, e.B.Admin.Token, map[string]any{"name": "x"}).problem(t, 404)
		e.doKey(t, "DELETE", one, e.B.Admin.Token, nil).problem(t, 404)
		e.doKey(t, "GET", one, e.A.Admin.Token, nil).expect(t, 200)
	})
}
