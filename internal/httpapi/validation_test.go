package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/httpapi"
)

// vcase is one row of a validation table: a request and the answer the
// contract gives it. Paths may hold placeholders ({rule}, {tag}, {list},
// {member}, {otherRule}) that the table's runner fills in.
type vcase struct {
	name   string
	method string
	path   string
	body   any
	status int
	// fields must all be named by the problem's errors (4xx only).
	fields []string
	// token overrides the caller (default: workspace A's admin).
	token string
}

// runCases runs rows as parallel subtests on e; fill replaces placeholders.
func runCases(t *testing.T, e *env, rows []vcase, fill map[string]string) {
	t.Helper()
	for _, c := range rows {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := c.path
			for k, v := range fill {
				path = strings.ReplaceAll(path, k, v)
			}
			if strings.Contains(path, "{") {
				t.Fatalf("unfilled placeholder in %s", path)
			}
			tok := c.token
			if tok == "" {
				tok = e.A.Admin.Token
			}
			r := e.do(t, c.method, path, tok, c.body)
			if c.status >= 400 {
				p := r.expectProblem(t, c.status, c.fields...)
				if (c.status == 422 || len(c.fields) > 0) && len(p.Errors) == 0 {
					t.Errorf("%s: a %d without errors[]", r, c.status)
				}
				return
			}
			r.expect(t, c.status)
		})
	}
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// padTo encodes body and pads it with trailing whitespace to n bytes.
func padTo(body map[string]any, n int) string {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return string(b) + strings.Repeat(" ", n-len(b))
}

// nested returns a condition list whose first entry is depth groups deep.
func nested(depth int) []any {
	var c any = map[string]any{"field": "conversation.status", "operator": "equals", "value": "open"}
	for range depth {
		c = map[string]any{"any": []any{c}}
	}
	return []any{c}
}

// leaves returns n leaf conditions.
func leaves(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"field": "conversation.priority", "operator": "not_equals", "value": fmt.Sprint(i)}
	}
	return out
}

func note() map[string]any { return map[string]any{"type": "add_note", "body": "x"} }

func notes(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = note()
	}
	return out
}

func cond(field, op string, value any) map[string]any {
	return map[string]any{"field": field, "operator": op, "value": value}
}

func TestRuleValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		otherTag := e.newTag(t, e.B)
		otherList := e.newList(t, e.B)
		list := e.newList(t, e.A)
		existing := e.newRule(t, e.A, ruleBody())
		base := ruleBody
		webhook := func(extra map[string]any) map[string]any {
			a := map[string]any{"type": "send_webhook", "url": "https://hooks.example.com/x"}
			for k, v := range extra {
				a[k] = v
			}
			return with(base(), "actions", []any{a})
		}
		window := func(w map[string]any) map[string]any {
			return with(base(), "schedule_settings", map[string]any{"timezone": "Europe/Paris", "windows": []any{w}})
		}
		alert := func(kv ...any) map[string]any {
			a := map[string]any{"enabled": true, "window_minutes": 60, "min_matched_runs": 5,
				"warning_failure_rate_pct": 5, "critical_failure_rate_pct": 20, "notify": []any{"webhook"}, "renotify_minutes": 60}
			return with(base(), "alert_settings", with(a, kv...))
		}
		create := func(name string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "POST", path: "/v1/automation/rules", body: body, status: status, fields: fields}
		}
		patch := func(name string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "PATCH", path: "/v1/automation/rules/{rule}", body: body, status: status, fields: fields}
		}
		rows := []vcase{
			create("valid", base(), 201),
			create("name missing", with(base(), "name", absent), 422, "name"),
			create("name empty", with(base(), "name", ""), 422, "name"),
			create("name null", with(base(), "name", nil), 422, "name"),
			create("name 250", with(base(), "name", repeat("é", 250)), 201),
			create("name 251", with(base(), "name", repeat("é", 251)), 422, "name"),
			create("description 500", with(base(), "description", repeat("d", 500)), 201),
			create("description 501", with(base(), "description", repeat("d", 501)), 422, "description"),
			create("trigger missing", with(base(), "trigger_type", absent), 422, "trigger_type"),
			create("trigger unknown", with(base(), "trigger_type", "messages.nope"), 422, "trigger_type"),
			create("trigger empty", with(base(), "trigger_type", ""), 422, "trigger_type"),
			create("custom trigger", with(base(), "trigger_type", "custom.order_paid-v2.x"), 201),
			create("custom trigger 60", with(base(), "trigger_type", "custom."+repeat("a", 60)), 201),
			create("custom trigger 61", with(base(), "trigger_type", "custom."+repeat("a", 61)), 422, "trigger_type"),
			create("custom trigger upper", with(base(), "trigger_type", "custom.Order"), 422, "trigger_type"),
			create("custom trigger empty", with(base(), "trigger_type", "custom."), 422, "trigger_type"),
			create("custom trigger space", with(base(), "trigger_type", "custom.a b"), 422, "trigger_type"),

			// trigger_data
			create("assigned anyone", with(base(), "trigger_type", "teammates.assigned", "trigger_data", "anyone"), 201),
			create("assigned no_one", with(base(), "trigger_type", "teammates.assigned", "trigger_data", "no_one"), 201),
			create("mentioned member id", with(base(), "trigger_type", "teammate.mentioned", "trigger_data", "42"), 201),
			create("assigned data required", with(base(), "trigger_type", "teammates.assigned"), 422, "trigger_data"),
			create("assigned data null", with(base(), "trigger_type", "teammates.assigned", "trigger_data", nil), 422, "trigger_data"),
			create("assigned bad member id", with(base(), "trigger_type", "teammates.assigned", "trigger_data", "someone"), 422, "trigger_data"),
			create("assigned member id 0", with(base(), "trigger_type", "teammates.assigned", "trigger_data", "0"), 422, "trigger_data"),
			create("assigned member id -3", with(base(), "trigger_type", "teammates.assigned", "trigger_data", "-3"), 422, "trigger_data"),
			create("data forbidden", with(base(), "trigger_data", "anyone"), 422, "trigger_data"),
			create("data forbidden custom", with(base(), "trigger_type", "custom.x", "trigger_data", "1 hour"), 422, "trigger_data"),
			create("unanswered 2 hours", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "2 hours"), 201),
			create("unanswered 1 minute", with(base(), "trigger_type", "time.unanswered_by_client", "trigger_data", "1 minute"), 201),
			create("unanswered 365 days", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "365 days"), 201),
			create("unanswered 525600 minutes", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "525600 minutes"), 201),
			create("unanswered required", with(base(), "trigger_type", "time.unanswered_by_team"), 422, "trigger_data"),
			create("unanswered bad duration", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "2 fortnights"), 422, "trigger_data"),
			create("unanswered no unit", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "120"), 422, "trigger_data"),
			create("unanswered 0 minutes", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "0 minutes"), 422, "trigger_data"),
			create("unanswered 366 days", with(base(), "trigger_type", "time.unanswered_by_team", "trigger_data", "366 days"), 422, "trigger_data"),
			create("unanswered 8761 hours", with(base(), "trigger_type", "time.unanswered_by_client", "trigger_data", "8761 hours"), 422, "trigger_data"),
			create("unanswered negative", with(base(), "trigger_type", "time.unanswered_by_client", "trigger_data", "-1 hours"), 422, "trigger_data"),

			// conditions (the full language is tested in package rules;
			// these rows prove the HTTP layer names the fields)
			create("conditions empty", with(base(), "conditions", []any{}), 201),
			create("unknown operator", with(base(), "conditions", []any{cond("conversation.status", "eq", "open")}), 422, "conditions[0].operator"),
			create("unknown operator nested", with(base(), "conditions", []any{
				cond("conversation.status", "equals", "open"),
				map[string]any{"any": []any{cond("conversation.status", "equals", "open"), cond("contact.email", "like", "x")}},
			}), 422, "conditions[1].any[1].operator"),
			create("message field on status.closed", with(base(), "trigger_type", "status.closed",
				"conditions", []any{cond("message.subject", "contains", "x")}), 422, "conditions[0].field"),
			create("message field on incoming", with(base(), "conditions", []any{cond("message.subject", "contains", "x")}), 201),
			create("typed from_email on status.closed", with(base(), "trigger_type", "status.closed",
				"conditions", []any{map[string]any{"type": "from_email", "value": "a@b.com"}}), 422, "conditions[0].type"),
			create("depth 5", with(base(), "conditions", nested(5)), 201),
			create("depth 6", with(base(), "conditions", nested(6)), 422, "conditions[0].any[0].any[0].any[0].any[0].any[0].any"),
			create("50 leaves", with(base(), "conditions", leaves(50)), 201),
			create("51 leaves", with(base(), "conditions", leaves(51)), 422, "conditions"),
			create("matches bad regex", with(base(), "conditions", []any{cond("message.subject", "matches", "(unclosed")}), 422, "conditions[0].value"),
			create("matches 513 chars", with(base(), "conditions", []any{cond("message.subject", "matches", repeat("a", 513))}), 422, "conditions[0].value"),
			create("conditions not a list", with(base(), "conditions", map[string]any{"field": "x"}), 422, "conditions"),
			create("conditions null", with(base(), "conditions", nil), 201),
			create("contact list of this workspace", with(base(), "conditions", []any{
				map[string]any{"type": "contact_list", "operator": "in", "list_id": list}}), 201),
			create("contact list of another workspace", with(base(), "conditions", []any{
				cond("conversation.status", "equals", "open"),
				map[string]any{"not": map[string]any{"type": "contact_list", "operator": "in", "list_id": otherList}}}),
				422, "conditions[1].not.list_id"),
			create("contact list missing", with(base(), "conditions", []any{
				map[string]any{"type": "contact_list", "operator": "not_in", "list_id": 987654321}}), 422, "conditions[0].list_id"),

			// actions
			create("actions missing", with(base(), "actions", absent), 422, "actions"),
			create("actions empty", with(base(), "actions", []any{}), 422, "actions"),
			create("actions null", with(base(), "actions", nil), 422, "actions"),
			create("actions 20", with(base(), "actions", notes(20)), 201),
			create("actions 21", with(base(), "actions", notes(21)), 422, "actions"),
			create("action type unknown", with(base(), "actions", []any{map[string]any{"type": "launch_rocket"}}), 422, "actions[0].type"),
			create("action type missing", with(base(), "actions", []any{map[string]any{"body": "x"}}), 422, "actions[0].type"),
			create("add_tag without tag_id", with(base(), "actions", []any{note(), map[string]any{"type": "add_tag"}}), 422, "actions[1].tag_id"),
			create("add_tag of another workspace", with(base(), "actions", []any{map[string]any{"type": "add_tag", "tag_id": otherTag}}), 422, "actions[0].tag_id"),
			create("remove_tag missing", with(base(), "actions", []any{map[string]any{"type": "remove_tag", "tag_id": 987654321}}), 422, "actions[0].tag_id"),
			create("parameter of another type", with(base(), "actions", []any{map[string]any{"type": "add_note", "body": "x", "url": "https://example.com"}}), 422, "actions[0].url"),
			create("unassign with user_id", with(base(), "actions", []any{map[string]any{"type": "unassign", "user_id": 3}}), 422, "actions[0].user_id"),
			create("set_status bad", with(base(), "actions", []any{map[string]any{"type": "set_status", "status": "archived"}}), 422, "actions[0].status"),
			create("set_status snoozed without until", with(base(), "actions", []any{map[string]any{"type": "set_status", "status": "snoozed"}}), 422, "actions[0].snooze_until"),
			create("set_priority bad", with(base(), "actions", []any{map[string]any{"type": "set_priority", "priority": "p1"}}), 422, "actions[0].priority"),
			create("add_note empty body", with(base(), "actions", []any{map[string]any{"type": "add_note", "body": " "}}), 422, "actions[0].body"),
			create("webhook", webhook(map[string]any{"headers": map[string]any{"X-Token": "s3cret"}}), 201),
			create("webhook header webhook-id", webhook(map[string]any{"headers": map[string]any{"webhook-id": "x"}}), 422, "actions[0].headers.webhook-id"),
			create("webhook header Webhook-Signature", webhook(map[string]any{"headers": map[string]any{"Webhook-Signature": "x"}}), 422, "actions[0].headers.Webhook-Signature"),
			create("webhook header content-type", webhook(map[string]any{"headers": map[string]any{"Content-Type": "text/plain"}}), 422, "actions[0].headers.Content-Type"),
			create("webhook header host", webhook(map[string]any{"headers": map[string]any{"host": "evil"}}), 422, "actions[0].headers.host"),
			create("webhook bad url", webhook(map[string]any{"url": "not a url"}), 422, "actions[0].url"),
			create("webhook ftp url", webhook(map[string]any{"url": "ftp://example.com/x"}), 422, "actions[0].url"),
			create("webhook relative url", webhook(map[string]any{"url": "/hooks"}), 422, "actions[0].url"),
			create("webhook without url", with(base(), "actions", []any{map[string]any{"type": "send_webhook"}}), 422, "actions[0].url"),
			create("action unknown key", with(base(), "actions", []any{map[string]any{"type": "add_note", "body": "x", "bogus": 1}}), 400, "actions[0].bogus"),

			// alert_settings
			create("alert valid", alert(), 201),
			create("alert partial takes defaults", with(base(), "alert_settings", map[string]any{"window_minutes": 30}), 201),
			create("alert window 4", alert("window_minutes", 4), 422, "alert_settings.window_minutes"),
			create("alert window 43201", alert("window_minutes", 43201), 422, "alert_settings.window_minutes"),
			create("alert min runs 0", alert("min_matched_runs", 0), 422, "alert_settings.min_matched_runs"),
			create("alert min runs 100001", alert("min_matched_runs", 100001), 422, "alert_settings.min_matched_runs"),
			create("alert warning 101", alert("warning_failure_rate_pct", 101, "critical_failure_rate_pct", 100), 422, "alert_settings.warning_failure_rate_pct"),
			create("alert critical below warning", alert("warning_failure_rate_pct", 30, "critical_failure_rate_pct", 20), 422, "alert_settings.critical_failure_rate_pct"),
			create("alert critical equals warning", alert("warning_failure_rate_pct", 30, "critical_failure_rate_pct", 30), 201),
			create("alert notify unknown", alert("notify", []any{"sms"}), 422, "alert_settings.notify[0]"),
			create("alert renotify 4", alert("renotify_minutes", 4), 422, "alert_settings.renotify_minutes"),
			create("alert renotify 10081", alert("renotify_minutes", 10081), 422, "alert_settings.renotify_minutes"),
			create("alert unknown key", alert("bogus", true), 400, "alert_settings.bogus"),
			create("alert wrong type", alert("enabled", "yes"), 422, "alert_settings.enabled"),

			// schedule_settings
			create("schedule valid", window(map[string]any{"days": []any{"mon", "fri"}, "start": "22:00", "end": "06:00"}), 201),
			create("schedule end 24:00", window(map[string]any{"days": []any{"sun"}, "start": "00:00", "end": "24:00"}), 201),
			create("schedule unknown zone", with(base(), "schedule_settings", map[string]any{"timezone": "Mars/Olympus_Mons", "windows": []any{}}), 422, "schedule_settings.timezone"),
			create("schedule Local zone", with(base(), "schedule_settings", map[string]any{"timezone": "Local"}), 422, "schedule_settings.timezone"),
			create("schedule start == end", window(map[string]any{"days": []any{"mon"}, "start": "09:00", "end": "09:00"}), 422, "schedule_settings.windows[0].end"),
			create("schedule bad day", window(map[string]any{"days": []any{"mon", "funday"}, "start": "09:00", "end": "17:00"}), 422, "schedule_settings.windows[0].days[1]"),
			create("schedule no days", window(map[string]any{"days": []any{}, "start": "09:00", "end": "17:00"}), 422, "schedule_settings.windows[0].days"),
			create("schedule start 24:00", window(map[string]any{"days": []any{"mon"}, "start": "24:00", "end": "17:00"}), 422, "schedule_settings.windows[0].start"),
			create("schedule end 25:00", window(map[string]any{"days": []any{"mon"}, "start": "09:00", "end": "25:00"}), 422, "schedule_settings.windows[0].end"),
			create("schedule bad exclude date", with(base(), "schedule_settings", map[string]any{"exclude_dates": []any{"2026-02-30"}}), 422, "schedule_settings.exclude_dates[0]"),
			create("schedule until before from", with(base(), "schedule_settings", map[string]any{
				"active_from": "2026-07-01T00:00:00Z", "active_until": "2026-06-01T00:00:00Z"}), 422, "schedule_settings.active_until"),
			create("schedule bad time", with(base(), "schedule_settings", map[string]any{"active_from": "next week"}), 422, "schedule_settings.active_from"),
			create("schedule unknown key", with(base(), "schedule_settings", map[string]any{"tz": "UTC"}), 400, "schedule_settings.tz"),

			// numbers
			create("priority 0", with(base(), "priority", 0), 201),
			create("priority -1", with(base(), "priority", -1), 422, "priority"),
			create("rollout 0", with(base(), "rollout_percentage", 0), 201),
			create("rollout 101", with(base(), "rollout_percentage", 101), 422, "rollout_percentage"),
			create("rollout -1", with(base(), "rollout_percentage", -1), 422, "rollout_percentage"),
			create("cooldown max", with(base(), "cooldown_secs", 31536000), 201),
			create("cooldown too big", with(base(), "cooldown_secs", 31536001), 422, "cooldown_secs"),
			create("cooldown negative", with(base(), "cooldown_secs", -1), 422, "cooldown_secs"),
			create("several errors at once", with(base(), "name", "", "priority", -1, "rollout_percentage", 500), 422, "name", "priority", "rollout_percentage"),

			// decoding
			create("unknown field", with(base(), "nmae", "x"), 400, "nmae"),
			create("unknown field differing in case", with(base(), "NAME", "x"), 400, "NAME"),
			create("empty key", with(base(), "", 1), 400),
			create("empty key nested", alert("", nil), 400),
			create("malformed JSON", `{"name": "x",`, 400),
			create("not JSON", `name=x`, 400),
			create("trailing data", `{"name": "x"} {}`, 400),
			create("empty body", ``, 400),
			create("body is a list", `[]`, 422),
			create("name is a number", with(base(), "name", 5), 422, "name"),
			create("is_active is a string", with(base(), "is_active", "yes"), 422, "is_active"),
			create("priority is fractional", with(base(), "priority", 1.5), 422, "priority"),
			create("priority overflows", `{"name":"x","priority":99999999999999999999}`, 422, "priority"),
			create("actions is an object", with(base(), "actions", map[string]any{"type": "add_note"}), 422, "actions"),
			create("tag_id is a string", with(base(), "actions", []any{map[string]any{"type": "add_tag", "tag_id": "x"}}), 422, "actions[0].tag_id"),
			create("snooze_until not a time", with(base(), "actions", []any{map[string]any{"type": "set_status", "status": "snoozed", "snooze_until": "soon"}}), 422, "actions[0].snooze_until"),
			create("windows is a string", with(base(), "schedule_settings", map[string]any{"windows": "always"}), 422, "schedule_settings.windows"),
			create("several type errors", with(base(), "name", 5, "stop_on_match", "no"), 422, "name", "stop_on_match"),
			create("body of exactly 1 MiB", padTo(base(), 1<<20), 201),
			create("body of 1 MiB and a byte", padTo(base(), 1<<20+1), 413),
			create("body over 1 MiB", with(base(), "description", repeat("x", 1<<20)), 413),
			create("malformed body over 1 MiB", "{"+repeat(" ", 1<<20), 413),

			// read-only fields are ignored on create too
			create("read-only fields ignored", with(base(), "id", 5, "match_count", 99, "created_at", "2020-01-01T00:00:00Z", "snoozed_until", "2030-01-01T00:00:00Z"), 201),

			// PATCH validates the merged rule
			patch("patch empty object", map[string]any{}, 200),
			patch("patch name empty", map[string]any{"name": ""}, 422, "name"),
			patch("patch name null", map[string]any{"name": nil}, 422, "name"),
			patch("patch is_active null", map[string]any{"is_active": nil}, 422, "is_active"),
			patch("patch actions null", map[string]any{"actions": nil}, 422, "actions"),
			patch("patch priority null", map[string]any{"priority": nil}, 422, "priority"),
			patch("patch trigger needs data", map[string]any{"trigger_type": "teammates.assigned"}, 422, "trigger_data"),
			patch("patch data forbidden", map[string]any{"trigger_data": "anyone"}, 422, "trigger_data"),
			patch("patch alert out of range", map[string]any{"alert_settings": map[string]any{"window_minutes": 1}}, 422, "alert_settings.window_minutes"),
			patch("patch schedule bad zone", map[string]any{"schedule_settings": map[string]any{"timezone": "Nowhere/City"}}, 422, "schedule_settings.timezone"),
			patch("patch unknown field", map[string]any{"trigger": "messages.incoming"}, 400, "trigger"),
			patch("patch wrong type", map[string]any{"cooldown_secs": "1h"}, 422, "cooldown_secs"),
			patch("patch tag of another workspace", map[string]any{"actions": []any{map[string]any{"type": "remove_tag", "tag_id": otherTag}}}, 422, "actions[0].tag_id"),
			{name: "put validates too", method: "PUT", path: "/v1/automation/rules/{rule}", body: map[string]any{"rollout_percentage": 101}, status: 422, fields: []string{"rollout_percentage"}},

			// supervisors get the same answers
			{name: "supervisor create", method: "POST", path: "/v1/automation/rules", body: base(), status: 201, token: e.A.Supervisor.Token},
			{name: "supervisor invalid", method: "POST", path: "/v1/automation/rules", body: with(base(), "name", ""), status: 422, fields: []string{"name"}, token: e.A.Supervisor.Token},
		}
		runCases(t, e, rows, map[string]string{"{rule}": fmt.Sprint(existing.ID)})
	})
}

func TestQueryValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		get := func(name, path string, status int, fields ...string) vcase {
			return vcase{name: name, method: "GET", path: path, status: status, fields: fields}
		}
		rows := []vcase{
			get("snoozed defaults", "/v1/automation/rules/snoozed", 200),
			get("snoozed per_page 1", "/v1/automation/rules/snoozed?per_page=1", 200),
			get("snoozed per_page 500", "/v1/automation/rules/snoozed?per_page=500", 200),
			get("snoozed per_page 0", "/v1/automation/rules/snoozed?per_page=0", 400, "per_page"),
			get("snoozed per_page 501", "/v1/automation/rules/snoozed?per_page=501", 400, "per_page"),
			get("snoozed per_page empty", "/v1/automation/rules/snoozed?per_page=", 400, "per_page"),
			get("snoozed per_page text", "/v1/automation/rules/snoozed?per_page=ten", 400, "per_page"),
			get("snoozed page 0", "/v1/automation/rules/snoozed?page=0", 400, "page"),
			get("snoozed page -1", "/v1/automation/rules/snoozed?page=-1", 400, "page"),
			get("snoozed page and cursor", "/v1/automation/rules/snoozed?page=1&cursor=x", 400),
			get("snoozed cursor", "/v1/automation/rules/snoozed?cursor=2026-06-15T09:00:00.000Z|0190a0e0-0000-7000-8000-000000000000", 400, "cursor"),
			get("snoozed is_active maybe", "/v1/automation/rules/snoozed?is_active=maybe", 400, "is_active"),
			get("snoozed trigger nope", "/v1/automation/rules/snoozed?trigger_type=nope", 400, "trigger_type"),
			get("rules is_active true", "/v1/automation/rules?is_active=true", 200),
			get("rules is_active false", "/v1/automation/rules?is_active=false", 200),
			get("rules is_active maybe", "/v1/automation/rules?is_active=maybe", 400, "is_active"),
			get("rules trigger_type", "/v1/automation/rules?trigger_type=custom.x", 200),
			get("rules trigger_type nope", "/v1/automation/rules?trigger_type=nope", 400, "trigger_type"),
			get("preview default", "/v1/automation/rules/{rule}/schedule/preview", 200),
			get("preview hours 1", "/v1/automation/rules/{rule}/schedule/preview?hours=1", 200),
			get("preview hours 2160", "/v1/automation/rules/{rule}/schedule/preview?hours=2160", 200),
			get("preview hours 0", "/v1/automation/rules/{rule}/schedule/preview?hours=0", 400, "hours"),
			get("preview hours 2161", "/v1/automation/rules/{rule}/schedule/preview?hours=2161", 400, "hours"),
			get("preview hours text", "/v1/automation/rules/{rule}/schedule/preview?hours=a", 400, "hours"),
			get("preview start_at", "/v1/automation/rules/{rule}/schedule/preview?start_at=2026-10-25T00:00:00%2B02:00", 200),
			get("preview start_at garbage", "/v1/automation/rules/{rule}/schedule/preview?start_at=garbage", 400, "start_at"),
			get("preview start_at date only", "/v1/automation/rules/{rule}/schedule/preview?start_at=2026-10-25", 400, "start_at"),
			get("members per_page 0", "/v1/members?per_page=0", 400, "per_page"),
			get("members page 0", "/v1/members?page=0", 400, "page"),
			get("members cursor", "/v1/members?cursor=abc", 400, "cursor"),
			get("tags per_page 501", "/v1/tags?per_page=501", 400, "per_page"),
			get("lists page x", "/v1/contact-lists?page=x", 400, "page"),
			get("tokens mine maybe", "/v1/tokens?mine=maybe", 400, "mine"),
			get("tokens per_page 0", "/v1/tokens?per_page=0", 400, "per_page"),
		}
		runCases(t, e, rows, map[string]string{"{rule}": fmt.Sprint(r.ID)})
	})
}

// TestRuleEndpointValidation covers the bodies of the rule sub-resources.
func TestRuleEndpointValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		now := e.clock.Now()
		at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
		snooze := func(name string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "POST", path: "/v1/automation/rules/{rule}/snooze", body: body, status: status, fields: fields}
		}
		put := func(name, sub string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "PUT", path: "/v1/automation/rules/{rule}/" + sub, body: body, status: status, fields: fields}
		}
		control := func(name string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "PUT", path: "/v1/automation/control", body: body, status: status, fields: fields}
		}
		rows := []vcase{
			snooze("snooze in the past", map[string]any{"snoozed_until": at(-time.Minute)}, 422, "snoozed_until"),
			snooze("snooze now", map[string]any{"snoozed_until": at(0)}, 422, "snoozed_until"),
			snooze("snooze beyond 366 days", map[string]any{"snoozed_until": at(366*24*time.Hour + time.Second)}, 422, "snoozed_until"),
			snooze("snooze missing", map[string]any{}, 422, "snoozed_until"),
			snooze("snooze null", map[string]any{"snoozed_until": nil}, 422, "snoozed_until"),
			snooze("snooze not a time", map[string]any{"snoozed_until": "tomorrow"}, 422, "snoozed_until"),
			snooze("snooze a number", map[string]any{"snoozed_until": 1781514000}, 422, "snoozed_until"),
			snooze("snooze unknown field", map[string]any{"until": at(time.Hour)}, 400, "until"),

			put("alert both keys", "alert-settings", map[string]any{"preset": "strict", "alert_settings": nil}, 422),
			put("alert neither key", "alert-settings", map[string]any{}, 422),
			put("alert unknown preset", "alert-settings", map[string]any{"preset": "paranoid"}, 422, "preset"),
			put("alert null preset", "alert-settings", map[string]any{"preset": nil}, 422, "preset"),
			put("alert out of range", "alert-settings", map[string]any{"alert_settings": map[string]any{"renotify_minutes": 1}}, 422, "alert_settings.renotify_minutes"),
			put("alert critical < warning", "alert-settings", map[string]any{"alert_settings": map[string]any{"warning_failure_rate_pct": 60}}, 422, "alert_settings.critical_failure_rate_pct"),
			put("alert unknown key", "alert-settings", map[string]any{"alert_settings": map[string]any{"level": 1}}, 400, "alert_settings.level"),
			put("schedule missing", "schedule-settings", map[string]any{}, 422, "schedule_settings"),
			put("schedule bad zone", "schedule-settings", map[string]any{"schedule_settings": map[string]any{"timezone": "Europe/Pariss"}}, 422, "schedule_settings.timezone"),
			put("schedule bad window", "schedule-settings", map[string]any{"schedule_settings": map[string]any{
				"windows": []any{map[string]any{"days": []any{"mon"}, "start": "9:00", "end": "17:00"}}}}, 422, "schedule_settings.windows[0].start"),
			put("rollout 101", "rollout", map[string]any{"rollout_percentage": 101}, 422, "rollout_percentage"),
			put("rollout missing", "rollout", map[string]any{}, 422, "rollout_percentage"),
			put("rollout text", "rollout", map[string]any{"rollout_percentage": "50%"}, 422, "rollout_percentage"),

			control("control missing is_paused", map[string]any{}, 422, "is_paused"),
			control("control paused_until without is_paused", map[string]any{"paused_until": at(time.Hour)}, 422, "is_paused", "paused_until"),
			control("control paused_until while not paused", map[string]any{"is_paused": false, "paused_until": at(time.Hour)}, 422, "paused_until"),
			control("control paused_until in the past", map[string]any{"is_paused": true, "paused_until": at(-time.Second)}, 422, "paused_until"),
			control("control paused_until now", map[string]any{"is_paused": true, "paused_until": at(0)}, 422, "paused_until"),
			control("control is_paused text", map[string]any{"is_paused": "yes"}, 422, "is_paused"),
			control("control reason too long", map[string]any{"is_paused": true, "pause_reason": repeat("r", 501)}, 422, "pause_reason"),
			control("control unknown field", map[string]any{"is_paused": true, "paused": true}, 400, "paused"),
		}
		runCases(t, e, rows, map[string]string{"{rule}": fmt.Sprint(r.ID)})

		// The boundary that succeeds, on a rule of its own.
		r2 := e.newRule(t, e.A, ruleBody())
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%d/snooze", r2.ID), e.A.Admin.Token,
			map[string]any{"snoozed_until": at(366 * 24 * time.Hour)}).expect(t, 200)
	})
}

func TestReorderValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r1 := e.newRule(t, e.A, ruleBody())
		r2 := e.newRule(t, e.A, ruleBody())
		r3 := e.newRule(t, e.A, ruleBody())
		other := e.newRule(t, e.B, ruleBody())
		reorder := func(name string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "POST", path: "/v1/automation/rules/reorder", body: body, status: status, fields: fields}
		}
		rows := []vcase{
			reorder("missing id", map[string]any{"ids": []int64{r3.ID, r1.ID}}, 422, "ids"),
			reorder("duplicate id", map[string]any{"ids": []int64{r3.ID, r1.ID, r2.ID, r1.ID}}, 422, "ids[3]"),
			reorder("duplicate instead of one", map[string]any{"ids": []int64{r3.ID, r1.ID, r1.ID}}, 422, "ids[2]"),
			reorder("another workspace's id", map[string]any{"ids": []int64{r3.ID, r1.ID, r2.ID, other.ID}}, 422, "ids[3]"),
			reorder("another workspace's id instead of one", map[string]any{"ids": []int64{r3.ID, other.ID, r2.ID}}, 422, "ids[1]"),
			reorder("unknown id", map[string]any{"ids": []int64{r3.ID, r1.ID, r2.ID, 987654321}}, 422, "ids[3]"),
			reorder("empty", map[string]any{"ids": []int64{}}, 422, "ids"),
			reorder("ids missing", map[string]any{}, 422, "ids"),
			reorder("ids null", map[string]any{"ids": nil}, 422, "ids"),
			reorder("ids not a list", map[string]any{"ids": "1,2,3"}, 422, "ids"),
			reorder("id not a number", map[string]any{"ids": []any{r3.ID, "x", r2.ID}}, 422, "ids[1]"),
			reorder("unknown field", map[string]any{"ids": []int64{r3.ID, r1.ID, r2.ID}, "order": "asc"}, 400, "order"),
		}
		runCases(t, e, rows, nil)
		// Nothing moved.
		var got []int64
		for _, r := range e.listRules(t, e.A) {
			got = append(got, r.ID)
		}
		if want := []int64{r1.ID, r2.ID, r3.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rules after refused reorders: %v, want %v", got, want)
		}
	})
}

func TestDirectoryValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		list := e.newList(t, e.A)
		tag := e.newTag(t, e.A)
		otherMember := e.B.Admin.MemberID
		post := func(name, path string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "POST", path: path, body: body, status: status, fields: fields}
		}
		member := func(kv ...any) map[string]any {
			n := unique("m")
			return with(map[string]any{"name": n, "email": n + "@example.com", "role": "agent"}, kv...)
		}
		token := func(kv ...any) map[string]any {
			return with(map[string]any{"name": unique("t")}, kv...)
		}
		workspace := func(name string, body any, status int, fields ...string) vcase {
			return vcase{name: name, method: "PATCH", path: "/v1/workspace", body: body, status: status, fields: fields}
		}
		smtp := func(kv ...any) map[string]any {
			return map[string]any{"smtp": with(map[string]any{"host": "smtp.example.com", "port": 587, "username": "u",
				"password": "p", "from": "help@example.com", "tls": "starttls"}, kv...)}
		}
		emails := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("c%d@example.com", i)
			}
			return out
		}
		rows := []vcase{
			post("member valid", "/v1/members", member(), 201),
			post("member bad email", "/v1/members", member("email", "not-an-email"), 422, "email"),
			post("member email with name", "/v1/members", member("email", "Ann <ann@example.com>"), 422, "email"),
			post("member email missing", "/v1/members", member("email", absent), 422, "email"),
			post("member bad role", "/v1/members", member("role", "owner"), 422, "role"),
			post("member role missing", "/v1/members", member("role", absent), 422, "role"),
			post("member name missing", "/v1/members", member("name", absent), 422, "name"),
			post("member name blank", "/v1/members", member("name", "  "), 422, "name"),
			post("member name 201", "/v1/members", member("name", repeat("n", 201)), 422, "name"),
			post("member external_id empty", "/v1/members", member("external_id", ""), 422, "external_id"),
			post("member role a number", "/v1/members", member("role", 3), 422, "role"),
			post("member unknown field", "/v1/members", member("phone", "123"), 400, "phone"),
			{name: "member patch bad role", method: "PATCH", path: "/v1/members/{agent}", body: map[string]any{"role": "boss"}, status: 422, fields: []string{"role"}},
			{name: "member patch null email", method: "PATCH", path: "/v1/members/{agent}", body: map[string]any{"email": nil}, status: 422, fields: []string{"email"}},

			post("token valid", "/v1/tokens", token(), 201),
			post("token name missing", "/v1/tokens", token("name", absent), 422, "name"),
			post("token role above member's", "/v1/tokens", token("member_id", e.A.Agent.MemberID, "role", "supervisor"), 422, "role"),
			post("token admin role for supervisor", "/v1/tokens", token("member_id", e.A.Supervisor.MemberID, "role", "admin"), 422, "role"),
			post("token lower role", "/v1/tokens", token("member_id", e.A.Supervisor.MemberID, "role", "agent"), 201),
			post("token bad role", "/v1/tokens", token("role", "root"), 422, "role"),
			post("token expires in the past", "/v1/tokens", token("expires_at", t0.Add(-time.Hour).Format(time.RFC3339)), 422, "expires_at"),
			post("token expires now", "/v1/tokens", token("expires_at", t0.Format(time.RFC3339)), 422, "expires_at"),
			post("token expires garbage", "/v1/tokens", token("expires_at", "never"), 422, "expires_at"),
			post("token expires in the future", "/v1/tokens", token("expires_at", t0.Add(time.Hour).Format(time.RFC3339)), 201),
			post("token member of another workspace", "/v1/tokens", token("member_id", otherMember), 422, "member_id"),
			post("token member unknown", "/v1/tokens", token("member_id", 987654321), 422, "member_id"),
			post("token unknown field", "/v1/tokens", token("scopes", []any{"all"}), 400, "scopes"),

			post("tag valid", "/v1/tags", map[string]any{"name": unique("tag"), "external_id": "ext-1"}, 201),
			post("tag name missing", "/v1/tags", map[string]any{}, 422, "name"),
			post("tag name 201", "/v1/tags", map[string]any{"name": repeat("t", 201)}, 422, "name"),
			post("tag name a number", "/v1/tags", map[string]any{"name": 7}, 422, "name"),
			post("tag external_id too long", "/v1/tags", map[string]any{"name": unique("tag"), "external_id": repeat("x", 201)}, 422, "external_id"),
			{name: "tag patch empty name", method: "PATCH", path: "/v1/tags/{tag}", body: map[string]any{"name": ""}, status: 422, fields: []string{"name"}},

			post("list name missing", "/v1/contact-lists", map[string]any{}, 422, "name"),
			post("list unknown field", "/v1/contact-lists", map[string]any{"name": "x", "emails": []any{}}, 400, "emails"),
			{name: "list members bad email", method: "PUT", path: "/v1/contact-lists/{list}/members", body: map[string]any{"add": []any{"a@example.com", "not-an-email"}}, status: 422, fields: []string{"add[1]"}},
			{name: "list members bad remove", method: "PUT", path: "/v1/contact-lists/{list}/members", body: map[string]any{"remove": []any{"x"}}, status: 422, fields: []string{"remove[0]"}},
			{name: "list members not strings", method: "PUT", path: "/v1/contact-lists/{list}/members", body: map[string]any{"add": []any{1}}, status: 422, fields: []string{"add[0]"}},
			{name: "list members 10001", method: "PUT", path: "/v1/contact-lists/{list}/members", body: map[string]any{"add": emails(10000), "remove": []any{"z@example.com"}}, status: 422, fields: []string{"add"}},
			{name: "list members unknown field", method: "PUT", path: "/v1/contact-lists/{list}/members", body: map[string]any{"set": []any{}}, status: 400, fields: []string{"set"}},

			workspace("workspace unknown timezone", map[string]any{"timezone": "Europe/Atlantis"}, 422, "timezone"),
			workspace("workspace empty timezone", map[string]any{"timezone": ""}, 422, "timezone"),
			workspace("workspace null timezone", map[string]any{"timezone": nil}, 422, "timezone"),
			workspace("workspace bad actions_url", map[string]any{"actions_url": "not a url"}, 422, "actions_url"),
			workspace("workspace ftp actions_url", map[string]any{"actions_url": "ftp://example.com"}, 422, "actions_url"),
			workspace("workspace actions_url with credentials", map[string]any{"actions_url": "https://u:p@example.com/"}, 422, "actions_url"),
			workspace("workspace bad alert_webhook_url", map[string]any{"alert_webhook_url": "example.com/hook"}, 422, "alert_webhook_url"),
			workspace("workspace bad alert email", map[string]any{"alert_emails": []any{"ops@example.com", "ops"}}, 422, "alert_emails[1]"),
			workspace("workspace retention 0", map[string]any{"retention_days": 0}, 422, "retention_days"),
			workspace("workspace name empty", map[string]any{"name": ""}, 422, "name"),
			workspace("workspace smtp tls ssl", smtp("tls", "ssl"), 422, "smtp.tls"),
			workspace("workspace smtp port 0", smtp("port", 0), 422, "smtp.port"),
			workspace("workspace smtp port 65536", smtp("port", 65536), 422, "smtp.port"),
			workspace("workspace smtp no host", smtp("host", absent), 422, "smtp.host"),
			workspace("workspace smtp bad from", smtp("from", "help"), 422, "smtp.from"),
			workspace("workspace smtp unknown key", smtp("ssl", true), 400, "smtp.ssl"),
			workspace("workspace smtp port text", smtp("port", "587"), 422, "smtp.port"),
			workspace("workspace unknown field", map[string]any{"tz": "UTC"}, 400, "tz"),
			workspace("workspace secret is read-only", map[string]any{"webhook_secret": "whsec_x"}, 200),
		}
		runCases(t, e, rows, map[string]string{
			"{list}":  fmt.Sprint(list),
			"{tag}":   fmt.Sprint(tag),
			"{agent}": fmt.Sprint(e.A.Agent.MemberID),
		})
	})
}

func TestCreateWorkspaceValidation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		e := setupWith(t, d, httpapi.Config{MultiWorkspace: true})
		rows := []vcase{
			{name: "name missing", method: "POST", path: "/v1/workspaces", body: map[string]any{}, status: 422, fields: []string{"name"}},
			{name: "name blank", method: "POST", path: "/v1/workspaces", body: map[string]any{"name": " "}, status: 422, fields: []string{"name"}},
			{name: "unknown field", method: "POST", path: "/v1/workspaces", body: map[string]any{"name": "x", "plan": "pro"}, status: 400, fields: []string{"plan"}},
			{name: "supervisor", method: "POST", path: "/v1/workspaces", body: map[string]any{"name": "x"}, status: 403, token: e.A.Supervisor.Token},
		}
		runCases(t, e, rows, nil)
	})
}
