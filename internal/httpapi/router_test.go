package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestUnknownPath(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/", "/v1", "/v1/automation", "/v1/automation/rule", "/v2/automation/rules", "/v1/automation/rules/1/nope", "/healthz/x"} {
			e.do(t, "GET", path, e.A.Admin.Token, nil).problem(t, 404)
			e.do(t, "GET", path, "", nil).problem(t, 404)
			e.do(t, "POST", path, e.A.Admin.Token, "{}").problem(t, 404)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		for _, c := range []struct {
			method, path string
			allow        []string
		}{
			{"PUT", "/v1/tags", []string{"GET", "HEAD", "POST"}},
			{"DELETE", "/v1/automation/rules", []string{"GET", "POST"}},
			{"GET", "/v1/automation/rules/reorder", []string{"POST"}},
			{"POST", "/v1/automation/rules/1", []string{"DELETE", "GET", "PATCH", "PUT"}},
			{"PATCH", "/v1/automation/control", []string{"GET", "PUT"}},
			{"POST", "/healthz", []string{"GET"}},
			{"GET", "/v1/workspace/secret", []string{"POST"}},
		} {
			r := e.do(t, c.method, c.path, e.A.Admin.Token, nil)
			r.problem(t, 405)
			allow := strings.Split(r.Header.Get("Allow"), ", ")
			for _, m := range c.allow {
				if !slices.Contains(allow, m) {
					t.Errorf("%s: Allow %q lacks %s", r, allow, m)
				}
			}
			if slices.Contains(allow, c.method) {
				t.Errorf("%s: Allow %q lists the refused method", r, allow)
			}
			// Without credentials too: the method does not exist for anyone.
			e.do(t, c.method, c.path, "", nil).problem(t, 405)
		}
		// HEAD of a GET route is served.
		r := e.do(t, "HEAD", "/v1/automation/rules", e.A.Admin.Token, nil)
		if r.Status != 200 {
			t.Errorf("HEAD: %s", r)
		}
	})
}

// TestCheckOrder follows docs/concepts.md#conventions: 401 → 403 → 413 → 400 → 404 for the
// object → 422 → 409.
func TestCheckOrder(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		existing := e.newRule(t, e.A, ruleBody())
		tag := e.newTag(t, e.A)
		e.newRule(t, e.A, with(ruleBody(), "actions", []any{map[string]any{"type": "add_tag", "tag_id": tag}}))
		rule := fmt.Sprintf("/v1/automation/rules/%d", existing.ID)
		missing := "/v1/automation/rules/987654321"
		other := fmt.Sprintf("/v1/automation/rules/%d", e.newRule(t, e.B, ruleBody()).ID)
		huge := `{"name": "` + strings.Repeat("x", 1<<20) + `"}`
		for _, c := range []struct {
			name         string
			method, path string
			token        string
			body         any
			want         int
		}{
			{"no token + unknown object", "GET", missing, "", nil, 401},
			{"no token + bad JSON", "PATCH", missing, "", "{", 401},
			{"no token + huge body", "POST", "/v1/automation/rules", "", huge, 401},
			{"agent + bad JSON on an admin route", "POST", "/v1/members", e.A.Agent.Token, "{", 403},
			{"agent + bad JSON on a supervisor route", "PATCH", missing, e.A.Agent.Token, "{", 403},
			{"agent + huge body", "POST", "/v1/members", e.A.Agent.Token, huge, 403},
			{"huge malformed body on a missing rule", "PATCH", missing, e.A.Admin.Token, "[" + huge, 413},
			{"huge body on another workspace's rule", "PATCH", other, e.A.Admin.Token, huge, 413},
			{"malformed JSON on a missing rule", "PATCH", missing, e.A.Admin.Token, "{", 400},
			{"unknown field on a missing rule", "PATCH", missing, e.A.Admin.Token, `{"nam": "x"}`, 400},
			{"unknown field and wrong type on a missing rule", "PATCH", missing, e.A.Admin.Token, `{"nam": "x", "priority": "1"}`, 400},
			{"valid body on a missing rule", "PATCH", missing, e.A.Admin.Token, `{"name": "x"}`, 404},
			{"valid body on another workspace's rule", "PUT", other, e.A.Admin.Token, `{"name": "x"}`, 404},
			{"wrong type on a missing rule", "PATCH", missing, e.A.Admin.Token, `{"name": 5}`, 404},
			{"invalid value on a missing rule", "PATCH", missing, e.A.Admin.Token, `{"name": ""}`, 404},
			{"wrong type on a missing rule's snooze", "POST", missing + "/snooze", e.A.Admin.Token, `{"snoozed_until": 5}`, 404},
			{"wrong type on a missing rule's rollout", "PUT", missing + "/rollout", e.A.Admin.Token, `{"rollout_percentage": "x"}`, 404},
			{"wrong type on a missing rule's alert settings", "PUT", missing + "/alert-settings", e.A.Admin.Token, `{"preset": 1}`, 404},
			{"wrong type on a missing rule's schedule", "PUT", missing + "/schedule-settings", e.A.Admin.Token, `{"schedule_settings": 1}`, 404},
			{"wrong type on a missing member", "PATCH", "/v1/members/987654321", e.A.Admin.Token, `{"role": 1}`, 404},
			{"wrong type on a missing tag", "PATCH", "/v1/tags/987654321", e.A.Admin.Token, `{"name": 1}`, 404},
			{"wrong type on a missing list", "PATCH", "/v1/contact-lists/987654321", e.A.Admin.Token, `{"name": 1}`, 404},
			{"wrong type on a missing list's members", "PUT", "/v1/contact-lists/987654321/members", e.A.Admin.Token, `{"add": "a@b.c"}`, 404},
			{"invalid body on an existing rule", "PATCH", rule, e.A.Admin.Token, `{"name": ""}`, 422},
			{"wrong type on an existing rule", "PATCH", rule, e.A.Admin.Token, `{"name": 5}`, 422},
			{"invalid delete of a used tag is a conflict", "DELETE", fmt.Sprintf("/v1/tags/%d", tag), e.A.Admin.Token, nil, 409},
			{"malformed JSON on a create", "POST", "/v1/automation/rules", e.A.Admin.Token, "{", 400},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				e.do(t, c.method, c.path, c.token, c.body).problem(t, c.want)
			})
		}
	})
}

func TestHealth(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/healthz", "/readyz"} {
			m := e.do(t, "GET", path, "", nil).expect(t, 200).object(t)
			if m["status"] == nil || m["time"] != ts(t0) {
				t.Errorf("%s: %v", path, m)
			}
		}
		e.do(t, "GET", "/v1/members", e.A.Admin.Token, nil).expect(t, 200)
		r := e.do(t, "GET", "/metrics", "", nil).expect(t, 200)
		if !strings.Contains(string(r.Body), `switchboard_http_requests_total{code="200",method="GET",route="/v1/members"}`) {
			t.Errorf("metrics lack the request counter by route:\n%s", r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("metrics Content-Type %q", ct)
		}
		// Unknown credentials do not bother public routes.
		req := newRequest(t, "GET", "/healthz", nil)
		req.Header.Set("Authorization", "Basic x")
		e.send(t, req).expect(t, http.StatusOK)
	})
}
