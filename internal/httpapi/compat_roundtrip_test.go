package httpapi_test

import (
	"fmt"
	"testing"
	"time"
)

// One rule, whichever API wrote it: these tests write a rule through each
// of the three APIs, read it through the other two, write it back through
// each, and check that no field is lost on the way.

// changing are the native fields every write may move.
var changing = []string{"updated_at", "updated_by", "version"}

// fullNativeRule is a rule using every field, with actions of every type;
// only some of them can be shown by the narrower APIs.
func fullNativeRule(tag, tag2, list int64) map[string]any {
	return map[string]any{
		"name":         unique("full"),
		"description":  "every field set",
		"is_active":    false,
		"trigger_type": "conversation_created",
		"conditions": []any{
			map[string]any{"type": "subject_contains", "value": "urgent"},
			map[string]any{"type": "contact_list", "operator": "not_in", "list_id": list},
			map[string]any{"field": "message.from_email", "operator": "ends_with", "value": "@acme.com"},
			map[string]any{"any": []any{
				map[string]any{"field": "contact.name", "operator": "exists"},
				map[string]any{"not": map[string]any{"type": "body_contains", "value": "unsubscribe"}},
			}},
		},
		"actions": []any{
			nat("add_note", "body", "VIP {{contact.name}}"),
			nat("add_tag", "tag_id", tag),
			nat("set_status", "status", "closed"),
			nat("assign_agent", "user_id", 5),
			nat("send_webhook", "url", "https://hooks.example.com/a", "headers", map[string]any{"X-Team": "support"}),
			nat("send_response", "body", "Hi {{contact.name}}", "subject", "Re: {{message.subject}}"),
			nat("set_status", "status", "snoozed", "snooze_until", "2026-07-01T08:00:00.250Z"),
			nat("remove_tag", "tag_id", tag2),
			nat("unassign"),
			nat("set_priority", "priority", "high"),
			nat("set_status", "status", "open"),
		},
		"alert_settings":     map[string]any{"enabled": true, "window_minutes": 60},
		"schedule_settings":  map[string]any{"timezone": "Europe/Paris", "windows": []any{map[string]any{"days": []any{"mon", "tue"}, "start": "09:00", "end": "17:30"}}, "exclude_dates": []any{"2026-12-25"}},
		"priority":           3,
		"rollout_percentage": 25,
		"stop_on_match":      true,
		"cooldown_secs":      300,
	}
}

// rulesetNames are fullNativeRule's actions in the rulesets vocabulary.
func rulesetActionsOf(tag, tag2 int64) []any {
	return []any{
		rs("conversation.note", "body", "VIP {{contact.name}}"),
		rs("conversation.tag", "tag_id", tag),
		rs("conversation.close"),
		rs("conversation.assign", "agent_id", 5),
		rs("webhook.send", "url", "https://hooks.example.com/a", "headers", map[string]any{"X-Team": "support"}),
		rs("message.reply", "body", "Hi {{contact.name}}", "subject", "Re: {{message.subject}}"),
		rs("conversation.snooze", "until", "2026-07-01T08:00:00.250Z"),
		rs("conversation.untag", "tag_id", tag2),
		rs("conversation.unassign"),
		rs("conversation.priority", "priority", "high"),
		rs("conversation.open"),
	}
}

// checkRulesetView checks every rulesets field against the native rule.
func checkRulesetView(t *testing.T, got, n map[string]any) {
	t.Helper()
	status := "PAUSED"
	if n["is_active"] == true {
		status = "LIVE"
	}
	sameJSON(t, "rulesets view", without(got, "actions"), map[string]any{
		"id": n["id"], "name": n["name"], "status": status, "priority": n["priority"], "stop": n["stop_on_match"],
		"trigger_name": n["trigger_type"], "created": n["created_at"], "applied_count": n["applied_count"],
		"description": n["description"], "trigger_data": n["trigger_data"], "filters": n["conditions"],
		"last_applied_at": n["last_applied_at"],
	})
}

// checkAutomationView checks every automations field against the native
// rule; actions are checked by the caller.
func checkAutomationView(t *testing.T, got, n map[string]any) {
	t.Helper()
	sameJSON(t, "automations view", without(got, "actions"), map[string]any{
		"id": n["id"], "name": n["name"], "event": n["trigger_type"], "is_active": n["is_active"], "priority": n["priority"],
		"stop_on_match": n["stop_on_match"], "conditions": n["conditions"], "match_count": n["match_count"],
		"last_matched_at": n["last_matched_at"], "created_at": n["created_at"], "updated_at": n["updated_at"],
	})
}

// shownActions is the automations view of native actions.
func shownActions(native []any) []any {
	out := []any{}
	for _, a := range native {
		switch a.(map[string]any)["type"] {
		case "add_tag", "assign_agent", "send_response":
			out = append(out, a)
		}
	}
	return out
}

// TestRoundTripNative: a native rule with every field, read and written
// back through both narrower APIs, loses nothing.
func TestRoundTripNative(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag, tag2, list := e.newTag(t, e.A), e.newTag(t, e.A), e.newList(t, e.A)
		id := e.newRule(t, e.A, fullNativeRule(tag, tag2, list)).ID
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%d/snooze", id), e.A.Admin.Token,
			map[string]any{"snoozed_until": ts(t0.Add(48 * time.Hour))}).expect(t, 200)
		n0 := e.nativeRule(t, e.A, id)
		rsPath, autoPath := fmt.Sprintf("/organization/rules/%d", id), automationsPath(e.A.ID, id)

		// Read through both.
		rsView := e.doKey(t, "GET", rsPath, e.A.Admin.Token, nil).expect(t, 200).object(t)
		checkRulesetView(t, rsView, n0)
		sameJSON(t, "rulesets actions", rsView["actions"], rulesetActionsOf(tag, tag2))
		autoView := e.do(t, "GET", autoPath, e.A.Agent.Token, nil).expect(t, 200).object(t)
		checkAutomationView(t, autoView, n0)
		sameJSON(t, "automations actions", autoView["actions"], shownActions(n0["actions"].([]any)))

		unchanged := func(what string, want map[string]any) {
			t.Helper()
			sameJSON(t, what, without(e.nativeRule(t, e.A, id), changing...), without(want, changing...))
		}
		write := func(method, path string, body any, key bool) {
			t.Helper()
			e.clock.Advance(time.Second)
			if key {
				e.doKey(t, method, path, e.A.Admin.Token, body).expect(t, 200)
			} else {
				e.do(t, method, path, e.A.Admin.Token, body).expect(t, 200)
			}
		}

		// What each API read, sent back as it is: nothing changes.
		write("PATCH", rsPath, rsView, true)
		unchanged("after the rulesets view was sent back", n0)
		write("PATCH", autoPath, autoView, false)
		unchanged("after the automations view was sent back", n0)
		write("PATCH", "/v1/automation/rules/"+fmt.Sprint(id), n0, false)
		unchanged("after the native view was sent back", n0)

		// Each API changes only what it carries.
		write("PATCH", rsPath, map[string]any{"name": "renamed", "status": "LIVE", "stop": false}, true)
		n1 := with(n0, "name", "renamed", "is_active", true, "stop_on_match", false)
		unchanged("after a rulesets PATCH", n1)
		write("PATCH", autoPath, map[string]any{"name": "renamed again", "is_active": false, "stop_on_match": true}, false)
		n2 := with(n1, "name", "renamed again", "is_active", false, "stop_on_match", true)
		unchanged("after an automations PATCH", n2)

		// Automations' actions replace the shown ones in their places;
		// the hidden ones stay where they are.
		hidden := func(i int) any { return n0["actions"].([]any)[i] }
		replaced := []any{nat("assign_agent", "user_id", 9), nat("add_tag", "tag_id", tag2), nat("send_response", "body", "Bye")}
		write("PATCH", autoPath, map[string]any{"actions": replaced}, false)
		n3 := with(n2, "actions", []any{hidden(0), replaced[0], hidden(2), replaced[1], hidden(4), replaced[2],
			hidden(6), hidden(7), hidden(8), hidden(9), hidden(10)})
		unchanged("after replacing the shown actions", n3)
		extra := append(replaced[:2:2], nat("add_tag", "tag_id", tag), nat("send_response", "body", "P.S."))
		write("PATCH", autoPath, map[string]any{"actions": extra}, false)
		n4 := with(n3, "actions", []any{hidden(0), extra[0], hidden(2), extra[1], hidden(4), extra[2],
			hidden(6), hidden(7), hidden(8), hidden(9), hidden(10), extra[3]})
		unchanged("after adding shown actions", n4)
		write("PATCH", autoPath, map[string]any{"actions": []any{}}, false)
		n5 := with(n4, "actions", []any{hidden(0), hidden(2), hidden(4), hidden(6), hidden(7), hidden(8), hidden(9), hidden(10)})
		unchanged("after removing the shown actions", n5)
		got := e.do(t, "GET", autoPath, e.A.Admin.Token, nil).expect(t, 200).object(t)
		sameJSON(t, "automations view without shown actions", got["actions"], []any{})

		// Rulesets' actions replace them all: it can express every type.
		write("PATCH", rsPath, map[string]any{"actions": []any{rs("conversation.close")}}, true)
		unchanged("after a rulesets actions PATCH", with(n5, "actions", []any{nat("set_status", "status", "closed")}))
	})
}

// TestRoundTripRulesets: a ruleset with every rulesets field reads the
// same natively and through automations; the settings only the native
// API has survive rulesets writes.
func TestRoundTripRulesets(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag, tag2, list := e.newTag(t, e.A), e.newTag(t, e.A), e.newList(t, e.A)
		full := fullNativeRule(tag, tag2, list)
		body := map[string]any{
			"name": "from rulesets", "description": "all of it", "trigger": "conversation_created", "trigger_data": nil,
			"filters": full["conditions"], "actions": rulesetActionsOf(tag, tag2), "status": "PAUSED", "stop": true, "priority": 4,
		}
		created := e.doKey(t, "POST", "/organization/rules", e.A.Supervisor.Token, body).expect(t, 201).object(t)
		id := created["id"]
		n0 := e.nativeRule(t, e.A, id)
		checkRulesetView(t, created, n0)
		sameJSON(t, "native actions", n0["actions"], full["actions"])
		sameJSON(t, "native conditions", n0["conditions"], full["conditions"])
		sameJSON(t, "native defaults for what rulesets cannot say", map[string]any{
			"alert_settings": n0["alert_settings"], "schedule_settings": n0["schedule_settings"],
			"rollout_percentage": n0["rollout_percentage"], "cooldown_secs": n0["cooldown_secs"]},
			map[string]any{"alert_settings": nil, "schedule_settings": nil, "rollout_percentage": 100, "cooldown_secs": 0})
		autoPath := automationsPath(e.A.ID, id)
		autoView := e.do(t, "GET", autoPath, e.A.Agent.Token, nil).expect(t, 200).object(t)
		checkAutomationView(t, autoView, n0)
		sameJSON(t, "automations actions", autoView["actions"], shownActions(n0["actions"].([]any)))

		// Settings only the native API has, then rulesets and automations
		// writes of their whole views: all kept.
		e.clock.Advance(time.Second)
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%v", id), e.A.Admin.Token, map[string]any{
			"alert_settings": full["alert_settings"], "schedule_settings": full["schedule_settings"],
			"rollout_percentage": 10, "cooldown_secs": 60}).expect(t, 200)
		n1 := e.nativeRule(t, e.A, id)
		e.clock.Advance(time.Second)
		rsView := e.doKey(t, "GET", fmt.Sprintf("/organization/rules/%v", id), e.A.Admin.Token, nil).expect(t, 200).object(t)
		e.doKey(t, "PATCH", fmt.Sprintf("/organization/rules/%v", id), e.A.Admin.Token, with(rsView, "description", "edited")).expect(t, 200)
		n2 := e.nativeRule(t, e.A, id)
		sameJSON(t, "after a rulesets write", without(n2, changing...), without(with(n1, "description", "edited"), changing...))
		autoView = e.do(t, "GET", autoPath, e.A.Admin.Token, nil).expect(t, 200).object(t)
		e.do(t, "PATCH", autoPath, e.A.Admin.Token, with(autoView, "priority", 0)).expect(t, 200)
		sameJSON(t, "after an automations write", without(e.nativeRule(t, e.A, id), changing...), without(with(n2, "priority", 0), changing...))
		// description null clears it through rulesets.
		e.doKey(t, "PATCH", fmt.Sprintf("/organization/rules/%v", id), e.A.Admin.Token, map[string]any{"description": nil}).expect(t, 200)
		if d := e.nativeRule(t, e.A, id)["description"]; d != nil {
			t.Errorf("description after null: %v", d)
		}
	})
}

// TestRoundTripAutomations: an automation with every automations field
// reads the same natively and through rulesets; native settings survive
// automations writes.
func TestRoundTripAutomations(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag, list := e.newTag(t, e.A), e.newList(t, e.A)
		body := map[string]any{
			"name": "from automations", "event": "ticket_created", "is_active": false, "priority": 7, "stop_on_match": true,
			"conditions": []any{
				map[string]any{"type": "from_email", "value": "vip@acme.com"},
				map[string]any{"type": "from_email", "operator": "domain", "value": "acme.com"},
				map[string]any{"type": "subject_contains", "value": "urgent"},
				map[string]any{"type": "body_contains", "value": "down"},
				map[string]any{"type": "contact_list", "operator": "in", "list_id": list},
			},
			"actions": []any{
				nat("add_tag", "tag_id", tag), nat("assign_agent", "user_id", 3),
				nat("send_response", "body", "Hi {{contact.name}}"), nat("send_response", "body", "x", "subject", "Re"),
			},
		}
		created := e.do(t, "POST", automationsPath(e.A.ID), e.A.Admin.Token, body).expect(t, 201).object(t)
		id := created["id"]
		n0 := e.nativeRule(t, e.A, id)
		checkAutomationView(t, created, n0)
		sameJSON(t, "native actions", n0["actions"], body["actions"])
		sameJSON(t, "native conditions", n0["conditions"], body["conditions"])
		sameJSON(t, "native defaults for what automations cannot say", map[string]any{
			"description": n0["description"], "trigger_data": n0["trigger_data"], "alert_settings": n0["alert_settings"],
			"schedule_settings": n0["schedule_settings"], "rollout_percentage": n0["rollout_percentage"], "cooldown_secs": n0["cooldown_secs"]},
			map[string]any{"description": nil, "trigger_data": nil, "alert_settings": nil, "schedule_settings": nil,
				"rollout_percentage": 100, "cooldown_secs": 0})
		rsPath := fmt.Sprintf("/organization/rules/%v", id)
		rsView := e.doKey(t, "GET", rsPath, e.A.Admin.Token, nil).expect(t, 200).object(t)
		checkRulesetView(t, rsView, n0)
		sameJSON(t, "rulesets actions", rsView["actions"], []any{rs("conversation.tag", "tag_id", tag), rs("conversation.assign", "agent_id", 3),
			rs("message.reply", "body", "Hi {{contact.name}}"), rs("message.reply", "body", "x", "subject", "Re")})

		// Native-only settings and a hidden action, then whole-view
		// writes through automations and rulesets: all kept.
		e.clock.Advance(time.Second)
		full := fullNativeRule(tag, tag, list)
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%v", id), e.A.Admin.Token, map[string]any{
			"description": "native", "alert_settings": full["alert_settings"], "schedule_settings": full["schedule_settings"],
			"rollout_percentage": 50, "cooldown_secs": 30,
			"actions": append([]any{nat("add_note", "body", "hidden")}, body["actions"].([]any)...)}).expect(t, 200)
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%v/snooze", id), e.A.Admin.Token,
			map[string]any{"snoozed_until": ts(t0.Add(time.Hour))}).expect(t, 200)
		n1 := e.nativeRule(t, e.A, id)
		e.clock.Advance(time.Second)
		autoView := e.do(t, "GET", automationsPath(e.A.ID, id), e.A.Admin.Token, nil).expect(t, 200).object(t)
		sameJSON(t, "automations view hides the note", autoView["actions"], body["actions"])
		e.do(t, "PATCH", automationsPath(e.A.ID, id), e.A.Admin.Token, with(autoView, "name", "edited")).expect(t, 200)
		sameJSON(t, "after an automations write", without(e.nativeRule(t, e.A, id), changing...), without(with(n1, "name", "edited"), changing...))
		rsView = e.doKey(t, "GET", rsPath, e.A.Admin.Token, nil).expect(t, 200).object(t)
		e.doKey(t, "PATCH", rsPath, e.A.Admin.Token, rsView).expect(t, 200)
		sameJSON(t, "after a rulesets write", without(e.nativeRule(t, e.A, id), changing...), without(with(n1, "name", "edited"), changing...))

		// Deleting through one API deletes it for all.
		e.do(t, "DELETE", automationsPath(e.A.ID, id), e.A.Admin.Token, nil).expect(t, 204)
		e.doKey(t, "GET", rsPath, e.A.Admin.Token, nil).problem(t, 404)
		e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%v", id), e.A.Admin.Token, nil).problem(t, 404)
	})
}
