package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// Regression tests for the hostile inputs of issue 7, each named after its
// defect. Every one runs through the real router on SQLite and PostgreSQL.

// hcase is one request and the answer the contract gives it.
type hcase struct {
	name   string
	method string
	path   string
	token  string // "" = A's admin
	body   any    // a string or []byte is sent as is
	status int
	field  string // a field the problem must name ("" = none required)
}

func (e *env) run(t *testing.T, cases []hcase) {
	t.Helper()
	for _, c := range cases {
		tok := c.token
		if tok == "" {
			tok = e.A.Admin.Token
		}
		r := e.do(t, c.method, c.path, tok, c.body)
		if r.Status != c.status {
			t.Errorf("%s: %s: want status %d", c.name, r, c.status)
			continue
		}
		if c.status >= 400 {
			p := r.mustProblem(t)
			if c.field != "" && !contains(p.fields(), c.field) {
				t.Errorf("%s: %s: errors name %q, want %q among them", c.name, r, p.fields(), c.field)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nestedJSON is n objects nested in each other around 1: its depth is n.
func nestedJSON(n int) string {
	return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
}

// eventJSON is an event body with the given payload JSON text; slow adds an
// escaped string, which the one-pass ingestion decoder leaves to the
// general one, so both decoders are exercised.
func eventJSON(payload string, slow bool) string {
	conv := `"c-1"`
	if slow {
		conv = `"c\u002d1"`
	}
	return `{"event_type":"messages.incoming","conversation_id":` + conv + `,"payload":` + payload + `}`
}

func batchJSON(items ...string) string { return `{"events":[` + strings.Join(items, ",") + `]}` }

// TestPriorityOutOfRange: defect 1, the validation part. A priority is
// 0..1,000,000 on every rule write, and a number that is not an int64
// integer is a 422 naming its field.
func TestPriorityOutOfRange(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		rulePath := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		raw := func(field, number string) string {
			return `{"name":"r","trigger_type":"messages.incoming","actions":[{"type":"add_note","body":"x"}],"` + field + `":` + number + `}`
		}
		e.run(t, []hcase{
			{name: "at the top", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "priority", 1000000), status: 201},
			{name: "zero", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "priority", 0), status: 201},
			{name: "one past the top", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "priority", 1000001), status: 422, field: "priority"},
			{name: "negative", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "priority", -1), status: 422, field: "priority"},
			{name: "max int64", method: "POST", path: "/v1/automation/rules", body: raw("priority", "9223372036854775807"), status: 422, field: "priority"},
			{name: "past int64", method: "POST", path: "/v1/automation/rules", body: raw("priority", "9223372036854775808"), status: 422, field: "priority"},
			{name: "far past int64", method: "POST", path: "/v1/automation/rules", body: raw("priority", "1e400"), status: 422, field: "priority"},
			{name: "fraction", method: "POST", path: "/v1/automation/rules", body: raw("priority", "1.5"), status: 422, field: "priority"},
			{name: "exponent", method: "POST", path: "/v1/automation/rules", body: raw("priority", "1e3"), status: 422, field: "priority"},
			{name: "cooldown past int64", method: "POST", path: "/v1/automation/rules", body: raw("cooldown_secs", "99999999999999999999"), status: 422, field: "cooldown_secs"},
			{name: "rollout fraction", method: "POST", path: "/v1/automation/rules", body: raw("rollout_percentage", "50.5"), status: 422, field: "rollout_percentage"},
			{name: "PATCH past the top", method: "PATCH", path: rulePath, body: map[string]any{"priority": 1000001}, status: 422, field: "priority"},
			{name: "PATCH max int64", method: "PATCH", path: rulePath, body: `{"priority":9223372036854775807}`, status: 422, field: "priority"},
			{name: "PUT past the top", method: "PUT", path: rulePath, body: map[string]any{"priority": 2147483648}, status: 422, field: "priority"},
			{name: "PUT in range", method: "PUT", path: rulePath, body: map[string]any{"priority": 500}, status: 200},
		})
	})
}

// TestJSONDepthLimit: defect 3. A body nests at most 64 levels, event
// payloads included, on the one-pass ingestion decoder and the general
// one; and an event at the limit is one the engine evaluates.
func TestJSONDepthLimit(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// The event body is level 1, its payload level 2: a payload of
		// depth n makes a body of depth n+1. A batch item is level 3.
		var cases []hcase
		for _, slow := range []bool{false, true} {
			mode := map[bool]string{false: "fast", true: "slow"}[slow]
			cases = append(cases,
				hcase{name: mode + " event at 64", method: "POST", path: "/v1/automation/events", body: eventJSON(nestedJSON(63), slow), status: 202},
				hcase{name: mode + " event at 65", method: "POST", path: "/v1/automation/events", body: eventJSON(nestedJSON(64), slow), status: 400},
				hcase{name: mode + " event at 600", method: "POST", path: "/v1/automation/events", body: eventJSON(nestedJSON(599), slow), status: 400},
				hcase{name: mode + " batch at 64", method: "POST", path: "/v1/automation/events/batch", body: batchJSON(eventJSON(nestedJSON(61), slow)), status: 202},
				hcase{name: mode + " batch at 65", method: "POST", path: "/v1/automation/events/batch", body: batchJSON(eventJSON(`{}`, false), eventJSON(nestedJSON(62), slow)), status: 400},
			)
		}
		deepList := strings.Repeat("[", 65) + strings.Repeat("]", 65)
		cases = append(cases,
			hcase{name: "array nesting", method: "POST", path: "/v1/automation/events", body: eventJSON(`{"a":`+deepList+`}`, false), status: 400},
			hcase{name: "rule conditions", method: "POST", path: "/v1/automation/rules",
				body: `{"name":"deep","trigger_type":"messages.incoming","actions":[{"type":"add_note","body":"x"}],"conditions":` + deepList + `}`, status: 400},
			hcase{name: "tag", method: "POST", path: "/v1/tags", body: `{"name":` + nestedJSON(64) + `}`, status: 400},
			hcase{name: "dry-run payload", method: "POST", path: "/v1/automation/rules/dry-run",
				body: `{"trigger_type":"messages.incoming","conditions":[],"event_payload":` + nestedJSON(64) + `}`, status: 400},
			hcase{name: "dry-run payload at the limit", method: "POST", path: "/v1/automation/rules/dry-run",
				body: `{"trigger_type":"messages.incoming","conditions":[],"event_payload":` + nestedJSON(63) + `}`, status: 200},
		)
		e.run(t, cases)

		// What ingestion accepts, the engine evaluates: a rule reading
		// the payload, an event of depth 64, processed and matched.
		trigger := "custom." + strings.ReplaceAll(unique("deep"), "-", "_")
		e.newRule(t, e.A, with(ruleBody(), "trigger_type", trigger,
			"conditions", []any{map[string]any{"field": "contact.name", "operator": "equals", "value": "deep"}}))
		body := `{"event_type":"` + trigger + `","conversation_id":"deep-1","payload":{"contact":{"name":"deep"},"x":` + nestedJSON(62) + `}}`
		var in ingested
		e.do(t, "POST", "/v1/automation/events", e.A.Admin.Token, body).expect(t, 202).decode(t, &in)
		e.process(t)
		ev := e.do(t, "GET", "/v1/automation/events/"+in.ID, e.A.Admin.Token, nil).expect(t, 200).object(t)
		if ev["status"] != "processed" {
			t.Errorf("an event of depth 64 ended %v (error %v), want processed", ev["status"], ev["error"])
		}
	})
}

// TestWebhookSecretNeverInGet: defect 5. No GET returns the signing
// secret; it is shown when made (POST /v1/workspaces, rotation).
func TestWebhookSecretNeverInGet(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		e := setupWith(t, d, httpapi.Config{MultiWorkspace: true})
		get := e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200)
		secret := storedSecret(t, e, e.A.ID)
		if strings.Contains(string(get.Body), secret) || strings.Contains(string(get.Body), "webhook_secret") {
			t.Errorf("GET /v1/workspace shows the signing secret: %s", get.Body)
		}

		var created struct {
			ID            int64  `json:"id"`
			WebhookSecret string `json:"webhook_secret"`
		}
		e.do(t, "POST", "/v1/workspaces", e.A.Admin.Token, map[string]any{"name": unique("initech")}).expect(t, 201).decode(t, &created)
		if want := storedSecret(t, e, created.ID); created.WebhookSecret != want || !strings.HasPrefix(want, "whsec_") {
			t.Errorf("POST /v1/workspaces showed secret %q, the workspace signs with %q", created.WebhookSecret, want)
		}

		var rotated struct {
			Secret string `json:"secret"`
		}
		e.do(t, "POST", "/v1/workspace/secret", e.A.Admin.Token, nil).expect(t, 200).decode(t, &rotated)
		if want := storedSecret(t, e, e.A.ID); rotated.Secret != want || want == secret {
			t.Errorf("rotation showed %q, the workspace signs with %q (before: %q)", rotated.Secret, want, secret)
		}
		get = e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200)
		if strings.Contains(string(get.Body), rotated.Secret) {
			t.Errorf("GET /v1/workspace shows the rotated secret: %s", get.Body)
		}
	})
}

// TestRepeatedKeyRefused: defect 6. A key repeated in any object of any
// body, event payloads included, is a 400 on both decoders.
func TestRepeatedKeyRefused(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag := e.newTag(t, e.A)
		e.run(t, []hcase{
			{name: "event payload twice (slow path)", method: "POST", path: "/v1/automation/events",
				body: `{"event_type":"messages.incoming","conversation_id":"c\u002d1","payload":{"a":1},"payload":{"b":2}}`, status: 400, field: "payload"},
			{name: "event payload twice (fast path)", method: "POST", path: "/v1/automation/events",
				body: `{"event_type":"messages.incoming","payload":{"a":1},"payload":{"b":2}}`, status: 400, field: "payload"},
			{name: "inside a payload", method: "POST", path: "/v1/automation/events",
				body: eventJSON(`{"message":{"subject":"a","subject":"b"}}`, false), status: 400, field: "payload.message.subject"},
			{name: "inside a payload (slow path)", method: "POST", path: "/v1/automation/events",
				body: eventJSON(`{"message":{"subject":"a","subject":"b"}}`, true), status: 400, field: "payload.message.subject"},
			{name: "escaped spelling of the same key", method: "POST", path: "/v1/automation/events",
				body: eventJSON(`{"k":1,"\u006b":2}`, false), status: 400, field: "payload.k"},
			{name: "batch item", method: "POST", path: "/v1/automation/events/batch",
				body: batchJSON(`{"event_type":"messages.incoming","event_type":"messages.note","payload":{}}`), status: 400, field: "events[0].event_type"},
			{name: "rule name", method: "POST", path: "/v1/automation/rules",
				body: `{"name":"a","name":"b","trigger_type":"messages.incoming","actions":[{"type":"add_note","body":"x"}]}`, status: 400, field: "name"},
			{name: "rule action parameter", method: "POST", path: "/v1/automation/rules",
				body: `{"name":"a","trigger_type":"messages.incoming","actions":[{"type":"add_note","body":"x","body":"y"}]}`, status: 400, field: "actions[0].body"},
			{name: "tag PATCH", method: "PATCH", path: fmt.Sprintf("/v1/tags/%d", tag), body: `{"name":"a","name":"b"}`, status: 400, field: "name"},
			{name: "workspace smtp", method: "PATCH", path: "/v1/workspace",
				body: `{"smtp":{"host":"a.example.com","host":"b.example.com","from":"x@example.com"}}`, status: 400, field: "smtp.host"},
			{name: "dry-run payload", method: "POST", path: "/v1/automation/rules/dry-run",
				body: `{"trigger_type":"messages.incoming","conditions":[],"event_payload":{"a":1,"a":2}}`, status: 400, field: "event_payload.a"},
		})
	})
}

// TestInvalidUTF8Refused: defect 7. Invalid UTF-8, and \u escapes of lone
// surrogates, anywhere in a body are a 400, never stored as U+FFFD.
func TestInvalidUTF8Refused(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		e.run(t, []hcase{
			{name: "conversation_id", method: "POST", path: "/v1/automation/events",
				body: "{\"event_type\":\"messages.incoming\",\"conversation_id\":\"c\xff\",\"payload\":{}}", status: 400, field: "conversation_id"},
			{name: "contact_id, slow path", method: "POST", path: "/v1/automation/events",
				body: "{\"event_type\":\"messages.incoming\",\"conversation_id\":\"c\\u002d1\",\"contact_id\":\"\xc3\",\"payload\":{}}", status: 400, field: "contact_id"},
			{name: "in a payload", method: "POST", path: "/v1/automation/events", body: eventJSON("{\"s\":\"\xed\xa0\x80\"}", false), status: 400, field: "payload.s"},
			{name: "in a payload key", method: "POST", path: "/v1/automation/events", body: eventJSON("{\"\xff\":1}", true), status: 400},
			{name: "in a batch", method: "POST", path: "/v1/automation/events/batch",
				body: batchJSON("{\"event_type\":\"messages.incoming\",\"source\":\"\xfe\",\"payload\":{}}"), status: 400, field: "events[0].source"},
			{name: "lone high surrogate", method: "POST", path: "/v1/automation/events",
				body: `{"event_type":"messages.incoming","conversation_id":"c\ud800","payload":{}}`, status: 400, field: "conversation_id"},
			{name: "lone low surrogate", method: "POST", path: "/v1/tags", body: `{"name":"\udc00x"}`, status: 400, field: "name"},
			{name: "tag name", method: "POST", path: "/v1/tags", body: "{\"name\":\"ta\xffg\"}", status: 400, field: "name"},
			{name: "rule name", method: "POST", path: "/v1/automation/rules",
				body: "{\"name\":\"\x80\",\"trigger_type\":\"messages.incoming\",\"actions\":[{\"type\":\"add_note\",\"body\":\"x\"}]}", status: 400, field: "name"},
			{name: "a surrogate pair is a character", method: "POST", path: "/v1/tags", body: `{"name":"\ud83d\ude00 smile"}`, status: 201},
		})
		var events envelope[map[string]any]
		e.do(t, "GET", "/v1/automation/events", e.A.Admin.Token, nil).expect(t, 200).decode(t, &events)
		if events.Total != 0 {
			t.Errorf("%d events were stored from refused bodies: %v", events.Total, events.Data)
		}
	})
}

// TestControlCharactersInTextFields: defect 8. NUL and the other control
// characters but tab and newline are a 422 naming the field, on both
// stores alike (PostgreSQL answered 500 for NUL).
func TestControlCharactersInTextFields(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag, list := e.newTag(t, e.A), e.newList(t, e.A)
		r := e.newRule(t, e.A, ruleBody())
		rulePath := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		member := e.A.Agent.MemberID
		var cases []hcase
		for _, ctl := range []string{`\u0000`, `\u0001`, `\r`, `\u001b`, `\u007f`, `\u0085`} {
			s := `"a` + ctl + `b"`
			email := `"a` + ctl + `@example.com"`
			add := func(name, method, path, body, field string) {
				cases = append(cases, hcase{name: name + " " + ctl, method: method, path: path, body: body, status: 422, field: field})
			}
			add("tag name", "POST", "/v1/tags", `{"name":`+s+`}`, "name")
			add("tag external_id", "PATCH", fmt.Sprintf("/v1/tags/%d", tag), `{"external_id":`+s+`}`, "external_id")
			add("rule name", "POST", "/v1/automation/rules", `{"name":`+s+`,"trigger_type":"messages.incoming","actions":[{"type":"add_note","body":"x"}]}`, "name")
			add("rule description", "PATCH", rulePath, `{"description":`+s+`}`, "description")
			add("note template", "PATCH", rulePath, `{"actions":[{"type":"add_note","body":`+s+`}]}`, "actions[0].body")
			add("response subject", "PATCH", rulePath, `{"actions":[{"type":"send_response","body":"hi","subject":`+s+`}]}`, "actions[0].subject")
			add("webhook header", "PATCH", rulePath, `{"actions":[{"type":"send_webhook","url":"https://example.com/h","headers":{"X-A":`+s+`}}]}`, "actions[0].headers.X-A")
			add("member name", "PATCH", fmt.Sprintf("/v1/members/%d", member), `{"name":`+s+`}`, "name")
			add("member email", "POST", "/v1/members", `{"name":"m","email":`+email+`,"role":"agent"}`, "email")
			add("member external_id", "PATCH", fmt.Sprintf("/v1/members/%d", member), `{"external_id":`+s+`}`, "external_id")
			add("token name", "POST", "/v1/tokens", `{"name":`+s+`}`, "name")
			add("contact list name", "PATCH", fmt.Sprintf("/v1/contact-lists/%d", list), `{"name":`+s+`}`, "name")
			add("contact list member", "PUT", fmt.Sprintf("/v1/contact-lists/%d/members", list), `{"add":[`+email+`]}`, "add[0]")
			add("workspace name", "PATCH", "/v1/workspace", `{"name":`+s+`}`, "name")
			add("smtp password", "PATCH", "/v1/workspace", `{"smtp":{"host":"mx.example.com","from":"a@example.com","password":`+s+`}}`, "smtp.password")
			add("alert email", "PATCH", "/v1/workspace", `{"alert_emails":[`+email+`]}`, "alert_emails[0]")
			add("pause reason", "PUT", "/v1/automation/control", `{"is_paused":false,"pause_reason":`+s+`}`, "pause_reason")
			add("conversation_id", "POST", "/v1/automation/events", `{"event_type":"messages.incoming","conversation_id":`+s+`,"payload":{}}`, "conversation_id")
			add("contact_id", "POST", "/v1/automation/events", `{"event_type":"messages.incoming","contact_id":`+s+`,"payload":{}}`, "contact_id")
			add("channel_source", "POST", "/v1/automation/events", `{"event_type":"messages.incoming","channel_source":`+s+`,"payload":{}}`, "channel_source")
			add("batch conversation_id", "POST", "/v1/automation/events/batch", batchJSON(`{"event_type":"messages.incoming","conversation_id":`+s+`,"payload":{}}`), "events[0].conversation_id")
			add("batch idempotency_key", "POST", "/v1/automation/events/batch", batchJSON(`{"event_type":"messages.incoming","idempotency_key":`+s+`,"payload":{}}`), "events[0].idempotency_key")
		}
		// Raw DEL and C1 bytes are valid UTF-8 the one-pass decoder reads.
		cases = append(cases,
			hcase{name: "raw DEL in conversation_id", method: "POST", path: "/v1/automation/events", body: "{\"event_type\":\"messages.incoming\",\"conversation_id\":\"a\x7f\",\"payload\":{}}", status: 422, field: "conversation_id"},
			hcase{name: "raw C1 in tag name", method: "POST", path: "/v1/tags", body: "{\"name\":\"a\u0085\"}", status: 422, field: "name"},
			// Tab and newline are text; a payload may hold anything.
			hcase{name: "tab and newline in a template", method: "PATCH", path: rulePath, body: `{"description":"a\tb","actions":[{"type":"add_note","body":"line 1\nline 2\tend"}]}`, status: 200},
			hcase{name: "controls inside a payload", method: "POST", path: "/v1/automation/events", body: eventJSON(`{"s":"a\u0000\u0001b"}`, false), status: 202},
		)
		e.run(t, cases)
	})
}

// TestBlankRuleName: defect 9. A rule name of only white space is a 422,
// as it is for tags and members.
func TestBlankRuleName(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		rulePath := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		e.run(t, []hcase{
			{name: "spaces", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "name", "   "), status: 422, field: "name"},
			{name: "tab and newline", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "name", "\t\n"), status: 422, field: "name"},
			{name: "no-break and ideographic spaces", method: "PATCH", path: rulePath, body: map[string]any{"name": "\u00a0\u3000"}, status: 422, field: "name"},
			{name: "PUT", method: "PUT", path: rulePath, body: map[string]any{"name": " "}, status: 422, field: "name"},
			{name: "tag", method: "POST", path: "/v1/tags", body: map[string]any{"name": "  "}, status: 422, field: "name"},
			{name: "member", method: "POST", path: "/v1/members", body: map[string]any{"name": " ", "email": "m@example.com", "role": "agent"}, status: 422, field: "name"},
			{name: "padded is fine", method: "POST", path: "/v1/automation/rules", body: with(ruleBody(), "name", " x "), status: 201},
		})
	})
}

// TestPageBeyondAddressable: defect 10. A page past the rows is empty; a
// page whose offset the store cannot address is a 400 naming page; never
// page 1's rows under another number.
func TestPageBeyondAddressable(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		e.newTag(t, e.A)
		e.newTag(t, e.A)
		list := e.newList(t, e.A)
		e.do(t, "PUT", fmt.Sprintf("/v1/contact-lists/%d/members", list), e.A.Admin.Token, map[string]any{"add": []string{"a@example.com"}}).expect(t, 200)
		e.newRun(t, e.A) // an event and a run
		rule := e.newRule(t, e.A, ruleBody())
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%d/snooze", rule.ID), e.A.Admin.Token,
			map[string]any{"snoozed_until": t0.Add(24 * 3600e9).Format("2006-01-02T15:04:05Z")}).expect(t, 200)
		lists := []string{"/v1/tags", "/v1/members", "/v1/tokens", "/v1/automation/events", "/v1/automation/runs",
			"/v1/contact-lists", fmt.Sprintf("/v1/contact-lists/%d/members", list), "/v1/automation/rules/snoozed"}
		for _, path := range lists {
			var first envelope[map[string]any]
			e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200).decode(t, &first)
			if len(first.Data) == 0 {
				t.Fatalf("%s: the test needs a row on page 1", path)
			}
			for _, q := range []string{"page=9223372036854775807", "page=9223372036854775807&per_page=1",
				"page=4611686018427387904&per_page=2", "page=92233720368547759&per_page=500"} {
				e.run(t, []hcase{{name: path + "?" + q, method: "GET", path: path + "?" + q, status: 400, field: "page"}})
			}
			for _, q := range []string{"page=1000000000000", "page=18446744073709549&per_page=500", "page=9223372036854774000&per_page=1"} {
				var env envelope[map[string]any]
				r := e.do(t, "GET", path+"?"+q, e.A.Admin.Token, nil)
				if r.Status != 200 {
					t.Errorf("%s: want 200 and an empty page", r)
					continue
				}
				r.decode(t, &env)
				v, _ := url.ParseQuery(q)
				if len(env.Data) != 0 || env.Page == nil || fmt.Sprint(*env.Page) != v.Get("page") || env.Total != first.Total {
					t.Errorf("%s: want no rows, page %s and total %d", r, v.Get("page"), first.Total)
				}
			}
		}
	})
}

// TestWorkspaceNameIsDisplayName: defect 11. Another tenant's workspace
// name is no conflict: PATCH /v1/workspace and POST /v1/workspaces never
// answer 409 for it, and so never reveal it.
func TestWorkspaceNameIsDisplayName(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		e := setupWith(t, d, httpapi.Config{MultiWorkspace: true})
		if _, _, _, err := tenancy.CreateWorkspace(context.Background(), e.store, "acme", ""); err != nil {
			t.Fatal(err)
		}
		var w workspaceDoc
		e.do(t, "PATCH", "/v1/workspace", e.B.Admin.Token, map[string]any{"name": "acme"}).expect(t, 200).decode(t, &w)
		if w.ID != e.B.ID || w.Name != "acme" {
			t.Errorf("B renamed to A's name: %+v", w)
		}
		var created struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		e.do(t, "POST", "/v1/workspaces", e.B.Admin.Token, map[string]any{"name": "acme"}).expect(t, 201).decode(t, &created)
		if created.Name != "acme" || created.ID == e.A.ID || created.ID == e.B.ID {
			t.Errorf("created %+v", created)
		}
		// A is untouched.
		e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200).decode(t, &w)
		if w.ID != e.A.ID || w.Name != "acme" {
			t.Errorf("A's workspace: %+v", w)
		}
	})
}

// TestTimesOutOfRange: defect 13 and every other time the API accepts. A
// time outside years 0001..9999 (in UTC) is refused, so that none is
// stored that a later answer could not write.
func TestTimesOutOfRange(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		rulePath := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		preview := rulePath + "/schedule/preview?"
		late := "9999-12-31T23:59:59-01:00"  // 10000-01-01T00:59:59Z
		early := "0001-01-01T00:30:00+01:00" // 0000-12-31T23:30:00Z
		e.run(t, []hcase{
			{name: "preview past 9999", method: "GET", path: preview + "start_at=9999-12-31T00:00:00Z", status: 400, field: "start_at"},
			{name: "preview ending past 9999", method: "GET", path: preview + "start_at=9999-12-30T00:00:00Z&hours=48", status: 400, field: "start_at"},
			{name: "preview ending at 9999's last second", method: "GET", path: preview + "start_at=9999-12-30T23:59:59Z&hours=24", status: 200},
			{name: "preview with an offset past 9999", method: "GET", path: preview + "hours=1&start_at=" + url.QueryEscape(late), status: 400, field: "start_at"},
			{name: "preview before 0001", method: "GET", path: preview + "hours=1&start_at=0000-06-01T00:00:00Z", status: 400, field: "start_at"},
			{name: "preview with an offset before 0001", method: "GET", path: preview + "hours=1&start_at=" + url.QueryEscape(early), status: 400, field: "start_at"},
			{name: "preview at 0001", method: "GET", path: preview + "hours=1&start_at=0001-01-01T00:00:00Z", status: 200},
			{name: "active_from past 9999", method: "PUT", path: rulePath + "/schedule-settings",
				body: map[string]any{"schedule_settings": map[string]any{"active_from": late}}, status: 422, field: "schedule_settings.active_from"},
			{name: "active_until before 0001", method: "PATCH", path: rulePath,
				body: map[string]any{"schedule_settings": map[string]any{"active_until": early}}, status: 422, field: "schedule_settings.active_until"},
			{name: "new rule's schedule", method: "POST", path: "/v1/automation/rules",
				body: with(ruleBody(), "schedule_settings", map[string]any{"active_until": late}), status: 422, field: "schedule_settings.active_until"},
			{name: "snooze action", method: "PATCH", path: rulePath,
				body: map[string]any{"actions": []any{map[string]any{"type": "set_status", "status": "snoozed", "snooze_until": late}}}, status: 422, field: "actions[0].snooze_until"},
			{name: "snooze", method: "POST", path: rulePath + "/snooze", body: map[string]any{"snoozed_until": late}, status: 422, field: "snoozed_until"},
			{name: "token expiry", method: "POST", path: "/v1/tokens", body: map[string]any{"name": "t", "expires_at": late}, status: 422, field: "expires_at"},
			{name: "pause", method: "PUT", path: "/v1/automation/control", body: map[string]any{"is_paused": true, "paused_until": late}, status: 422, field: "paused_until"},
			{name: "event occurred_at", method: "POST", path: "/v1/automation/events", body: with(eventBody(), "occurred_at", late), status: 422, field: "occurred_at"},
			{name: "event occurred_at before 0001", method: "POST", path: "/v1/automation/events", body: with(eventBody(), "occurred_at", early), status: 422, field: "occurred_at"},
			{name: "batch occurred_at", method: "POST", path: "/v1/automation/events/batch",
				body: map[string]any{"events": []any{with(eventBody(), "occurred_at", late)}}, status: 422, field: "events[0].occurred_at"},
			{name: "cursor past 9999", method: "GET", path: "/v1/automation/events?cursor=" + url.QueryEscape(late+"|0192f0c4-0000-7000-8000-000000000000"), status: 400, field: "cursor"},
		})
		// No window of any preview is written past 9999.
		e.do(t, "PUT", rulePath+"/schedule-settings", e.A.Admin.Token, map[string]any{"schedule_settings": map[string]any{
			"windows": []any{map[string]any{"days": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "start": "22:00", "end": "06:00"}}}}).expect(t, 200)
		var p struct {
			Windows []struct{ Start, End string } `json:"windows"`
		}
		e.do(t, "GET", preview+"start_at=9999-12-01T00:00:00Z&hours=743", e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
		if len(p.Windows) == 0 {
			t.Fatal("no windows in December 9999")
		}
		for _, w := range p.Windows {
			if !strings.HasPrefix(w.Start, "9999-") || !strings.HasPrefix(w.End, "9999-") {
				t.Errorf("window %s – %s", w.Start, w.End)
			}
		}
	})
}
