package httpapi_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
)

// fixture creates, in workspace ws, the object a path parameter names and
// returns its id. owner is the member acting (tokens are created for it, so
// that revoking one is the caller's own business).
type fixture func(t *testing.T, e *env, ws *tenant, owner int64) string

// pathFixtures maps a route path up to and including a parameter to how to
// make an object for it. Every path parameter of every route must have an
// entry: TestRolePolicies and TestTenantIsolation fail on a route they
// cannot fill, so a new route cannot go untested.
var pathFixtures = map[string]fixture{
	"/v1/automation/rules/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(e.newRule(t, ws, ruleBody()).ID, 10)
	},
	// Every rule has version 1 from its creation.
	"/v1/automation/rules/{id}/versions/{n}": func(*testing.T, *env, *tenant, int64) string { return "1" },
	"/v1/members/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		name := unique("member")
		var m struct {
			ID int64 `json:"id"`
		}
		e.do(t, "POST", "/v1/members", ws.Admin.Token,
			map[string]any{"name": name, "email": name + "@example.com", "role": "agent"}).expect(t, 201).decode(t, &m)
		return strconv.FormatInt(m.ID, 10)
	},
	"/v1/tokens/{id}": func(t *testing.T, e *env, ws *tenant, owner int64) string {
		id, _ := e.newToken(t, ws, owner, nil)
		return strconv.FormatInt(id, 10)
	},
	"/v1/tags/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(e.newTag(t, ws), 10)
	},
	"/v1/contact-lists/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(e.newList(t, ws), 10)
	},
	"/v1/automation/events/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return e.newEvent(t, ws, eventBody()).ID
	},
	"/v1/automation/runs/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return e.newRun(t, ws)
	},
	// A pull action (the workspace has no actions_url), pending.
	"/v1/actions/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		_, _, id := e.pullAction(t, ws)
		return id
	},
	// A conversation the engine has heard of: ids are the host's strings.
	"/v1/conversations/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		conv := unique("conv")
		e.newEvent(t, ws, with(eventBody(), "conversation_id", conv))
		e.process(t)
		return conv
	},
	// A file of the interactive reference: public, and no workspace's.
	"/docs/{file}": func(*testing.T, *env, *tenant, int64) string { return "init.js" },
	// Paths of the contract (docs/concepts.md) not routed yet; ready for when they are.
	"/v1/automation/rules/{rule_id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(e.newRule(t, ws, ruleBody()).ID, 10)
	},
	"/v1/automation/events/{event_id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return e.newEvent(t, ws, eventBody()).ID
	},
	// A trigger no fixture's event has: the role and isolation tests
	// create many of these rules, and each one matching every fixture
	// event would multiply the work of the runs fixture's processing.
	"/organization/rules/{id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(e.newRule(t, ws, with(ruleBody(), "trigger_type", "status.closed")).ID, 10)
	},
	"/api/v1/workspaces/{workspace_id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(ws.ID, 10)
	},
	// The workspace automations API shows ticket_created and
	// conversation_created rules only (docs/concepts.md#compatibility-apis).
	"/api/v1/workspaces/{workspace_id}/automations/{rule_id}": func(t *testing.T, e *env, ws *tenant, _ int64) string {
		return strconv.FormatInt(e.newRule(t, ws, with(ruleBody(), "trigger_type", "ticket_created")).ID, 10)
	},
}

// uuidFixtures are the fixtures whose objects have UUIDv7 ids (events,
// runs, …); every other id is a positive int64 (docs/concepts.md#conventions).
var uuidFixtures = map[string]bool{
	"/v1/automation/events/{id}":       true,
	"/v1/automation/events/{event_id}": true,
	"/v1/automation/runs/{id}":         true,
	"/v1/actions/{id}":                 true,
}

// hostIDFixtures are the fixtures whose ids are the host application's
// own strings (conversation ids), neither integers nor UUIDs.
var hostIDFixtures = map[string]bool{
	"/v1/conversations/{id}": true,
}

// publicFixtures are the fixtures of public routes: their values are
// file names, not ids, and name nothing of a workspace, so there is no
// tenant to isolate (TestTenantIsolation skips them; docs_test.go tests
// what they serve).
var publicFixtures = map[string]bool{
	"/docs/{file}": true,
}

// roleTestBody gives routes a valid body in the role test, so that a
// caller the policy admits must get the route's success status, not only
// "not 401/403". Ingestion is open to every role (docs/concepts.md#events): hosts use
// agent tokens.
var roleTestBody = map[string]func() any{
	"POST /v1/automation/events": func() any { return eventBody() },
	"POST /v1/automation/events/batch": func() any {
		return map[string]any{"events": []any{eventBody(), eventBody()}}
	},
	// The pull outbox is every role's (docs/concepts.md#workspaces-members-tokens-and-roles).
	"POST /v1/actions/claim":     func() any { return map[string]any{"limit": 5, "lease_secs": 30} },
	"POST /v1/actions/{id}/fail": func() any { return map[string]any{"error": "refused by the helpdesk", "retry": true} },
}

// roleTestQuery adds a query string to a route in the role test, for routes
// whose handler narrows the policy further without it (those narrowings
// have their own tests).
var roleTestQuery = map[string]string{
	"GET /v1/tokens": "mine=1",
}

var paramRE = regexp.MustCompile(`\{[a-z_]+\}`)

// fillPath replaces every path parameter with the id of a fresh object of
// ws. It fails the test when a parameter has no fixture.
func fillPath(t *testing.T, e *env, rt httpapi.Route, ws *tenant, owner int64) string {
	t.Helper()
	return buildPath(rt.Path, fillParams(t, e, rt, ws, owner))
}

// fillParams returns an id for each path parameter of rt, in order.
func fillParams(t *testing.T, e *env, rt httpapi.Route, ws *tenant, owner int64) []string {
	t.Helper()
	var values []string
	for _, loc := range paramRE.FindAllStringIndex(rt.Path, -1) {
		key := rt.Path[:loc[1]]
		fx, ok := pathFixtures[key]
		if !ok {
			t.Fatalf("route %s %s: no fixture for path parameter %s: add an entry for %q to pathFixtures in policy_test.go "+
				"that creates such an object, so the role and tenant isolation tests cover the route",
				rt.Method, rt.Path, rt.Path[loc[0]:loc[1]], key)
		}
		values = append(values, fx(t, e, ws, owner))
	}
	return values
}

// buildPath puts values in place of pattern's parameters, in order.
func buildPath(pattern string, values []string) string {
	i := 0
	return paramRE.ReplaceAllStringFunc(pattern, func(string) string {
		v := values[i]
		i++
		return v
	})
}

func hasPathParams(rt httpapi.Route) bool { return paramRE.MatchString(rt.Path) }

// requestBody is what the role and isolation tests send: an empty object to
// routes that take a body (well-formed, so that any 400 or 422 comes after
// the checks under test), nothing otherwise.
func requestBody(rt httpapi.Route) any {
	if rt.Doc.Request != nil {
		return "{}"
	}
	return nil
}

func TestRolePolicies(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		// MultiWorkspace on: POST /v1/workspaces is otherwise refused to
		// every role, which is a server setting, not a role policy.
		e := setupWith(t, d, httpapi.Config{MultiWorkspace: true})

		revokedID, revoked := e.newToken(t, e.A, e.A.Admin.MemberID, nil)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", revokedID), e.A.Admin.Token, nil).expect(t, 204)
		_, expired := e.newToken(t, e.A, e.A.Admin.MemberID,
			map[string]any{"expires_at": t0.Add(time.Hour).Format(time.RFC3339)})
		e.do(t, "GET", "/v1/members", expired, nil).expect(t, 200)
		e.clock.Advance(time.Hour) // the token expires at this very instant
		e.do(t, "GET", "/v1/members", expired, nil).problem(t, 401)

		type caller struct {
			name  string
			token string
			role  auth.Role // "" for credentials that must be refused
			owner int64
		}
		callers := []caller{
			{"no credentials", "", "", e.A.Admin.MemberID},
			{"revoked token", revoked, "", e.A.Admin.MemberID},
			{"expired token", expired, "", e.A.Admin.MemberID},
			{"admin", e.A.Admin.Token, auth.Admin, e.A.Admin.MemberID},
			{"supervisor", e.A.Supervisor.Token, auth.Supervisor, e.A.Supervisor.MemberID},
			{"agent", e.A.Agent.Token, auth.Agent, e.A.Agent.MemberID},
		}
		for _, rt := range e.api.Routes() {
			t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
				t.Parallel()
				if rt.Policy == nil {
					t.Fatalf("route has no policy")
				}
				if !rt.Policy.Public && !rt.Policy.MinRole.Valid() {
					t.Fatalf("route has no valid MinRole (%q) and is not public", rt.Policy.MinRole)
				}
				for _, c := range callers {
					path := fillPath(t, e, rt, e.A, c.owner)
					if q, ok := roleTestQuery[rt.Method+" "+rt.Path]; ok {
						path += "?" + q
					}
					body, wantStatus := requestBody(rt), 0
					if mk, ok := roleTestBody[rt.Method+" "+rt.Path]; ok {
						body, wantStatus = mk(), rt.Doc.Status
					}
					r := e.do(t, rt.Method, path, c.token, body)
					switch {
					case rt.Policy.Public:
						if r.Status == 401 || r.Status == 403 {
							t.Errorf("%s (%s): a public route refused the call: %s", c.name, rt.Method, r)
						}
					case c.role == "":
						r.problem(t, 401)
					case !c.role.AtLeast(rt.Policy.MinRole):
						r.problem(t, 403)
					default:
						if r.Status == 401 || r.Status == 403 {
							t.Errorf("%s may call this route (min role %s): %s", c.name, rt.Policy.MinRole, r)
						}
						if r.Status >= 500 {
							t.Errorf("%s: server error: %s", c.name, r)
						}
						if wantStatus != 0 && r.Status != wantStatus {
							t.Errorf("%s: want %d for a valid request: %s", c.name, wantStatus, r)
						}
					}
				}
			})
		}
	})
}

// TestTenantIsolation calls every route with a path parameter as workspace
// B's admin on workspace A's objects: always 404, never 403, never a
// change.
func TestTenantIsolation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		e := setup(t, d)
		gets := map[string]bool{}
		for _, rt := range e.api.Routes() {
			if rt.Method == "GET" {
				gets[rt.Path] = true
			}
		}
		for _, rt := range e.api.Routes() {
			if !hasPathParams(rt) {
				continue
			}
			t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
				t.Parallel()
				if rt.Policy.Public {
					if publicFixtures[rt.Path] {
						t.Skip("a public file, no workspace's object")
					}
					t.Fatalf("a public route has a path parameter; decide how it is isolated and extend this test")
				}
				path := fillPath(t, e, rt, e.A, e.A.Admin.MemberID)
				p := e.do(t, rt.Method, path, e.B.Admin.Token, requestBody(rt)).problem(t, 404)
				if len(p.Errors) > 0 || p.RuleIDs != nil {
					t.Errorf("a 404 for another workspace's object says more than not found: %+v", p)
				}
				// Nothing happened to A's object.
				if rt.Method == "DELETE" && gets[rt.Path] {
					e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200)
				}
				// The same path with an id that does not exist, or is not
				// an id, is the same 404, for A's own admin too.
				// An unknown UUIDv7 is not an object either.
				for _, bad := range []string{"987654321", "abc", "0", "-1", "1.0", "99999999999999999999",
					"01900000-0000-7000-8000-000000000000"} {
					values := fillParams(t, e, rt, e.A, e.A.Admin.MemberID)
					for i := range values {
						wrong := slices.Clone(values)
						wrong[i] = bad
						e.do(t, rt.Method, buildPath(rt.Path, wrong), e.A.Admin.Token, requestBody(rt)).problem(t, 404)
					}
				}
			})
		}
	})
}

func TestAuthentication(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		call := func(t *testing.T, set func(h http.Header)) *resp {
			r := newRequest(t, "GET", "/v1/members", nil)
			set(r.Header)
			return e.send(t, r)
		}
		for _, c := range []cred{e.A.Admin, e.A.Supervisor, e.A.Agent} {
			call(t, func(h http.Header) { h.Set("Authorization", "Bearer "+c.Token) }).expect(t, 200)
			call(t, func(h http.Header) { h.Set("X-API-Key", c.Token) }).expect(t, 200)
		}
		// Both headers accepted everywhere: an admin-only route with X-API-Key.
		call(t, func(h http.Header) { h.Set("X-API-Key", e.A.Admin.Token) }).expect(t, 200)
		r := newRequest(t, "GET", "/v1/workspace", nil)
		r.Header.Set("X-API-Key", e.A.Admin.Token)
		e.send(t, r).expect(t, 200)

		unknown := auth.NewToken()
		for name, value := range map[string]string{
			"basic scheme":       "Basic YWRtaW46YWRtaW4=",
			"scheme only":        "Bearer",
			"empty token":        "Bearer ",
			"no scheme":          e.A.Admin.Token,
			"other scheme":       "Token " + e.A.Admin.Token,
			"not a token":        "Bearer not-a-token",
			"truncated token":    "Bearer " + e.A.Admin.Token[:len(e.A.Admin.Token)-1],
			"token with garbage": "Bearer " + e.A.Admin.Token + "x",
			"unknown token":      "Bearer " + unknown,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				call(t, func(h http.Header) { h.Set("Authorization", value) }).problem(t, 401)
			})
		}
		r401 := call(t, func(h http.Header) { h.Set("X-API-Key", unknown) })
		r401.problem(t, 401)
		if !strings.HasPrefix(r401.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("a 401 without a Bearer challenge: %q", r401.Header.Get("WWW-Authenticate"))
		}
		call(t, func(h http.Header) { h.Set("X-API-Key", "") }).problem(t, 401)
	})
}

// TestHandlerNarrowing covers the policies handlers narrow beyond their
// route's MinRole.
func TestHandlerNarrowing(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// GET /v1/tokens without mine=1 is admin-only.
		e.do(t, "GET", "/v1/tokens", e.A.Admin.Token, nil).expect(t, 200)
		e.do(t, "GET", "/v1/tokens", e.A.Supervisor.Token, nil).problem(t, 403)
		e.do(t, "GET", "/v1/tokens", e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "GET", "/v1/tokens?mine=0", e.A.Agent.Token, nil).problem(t, 403)
		for _, q := range []string{"mine=1", "mine=true"} {
			e.do(t, "GET", "/v1/tokens?"+q, e.A.Agent.Token, nil).expect(t, 200)
			e.do(t, "GET", "/v1/tokens?"+q, e.A.Supervisor.Token, nil).expect(t, 200)
		}

		// DELETE /v1/tokens/{id} of someone else's token needs admin.
		adminTok, _ := e.newToken(t, e.A, e.A.Admin.MemberID, nil)
		supTok, _ := e.newToken(t, e.A, e.A.Supervisor.MemberID, nil)
		agentTok, _ := e.newToken(t, e.A, e.A.Agent.MemberID, nil)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", adminTok), e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", supTok), e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", adminTok), e.A.Supervisor.Token, nil).problem(t, 403)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", agentTok), e.A.Agent.Token, nil).expect(t, 204)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", supTok), e.A.Admin.Token, nil).expect(t, 204)
		// Revoked: gone.
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", supTok), e.A.Admin.Token, nil).problem(t, 404)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", adminTok), e.A.Admin.Token, nil).expect(t, 204)
	})
}

// TestEffectiveRole: a token acts as the lower of its role and its member's
// current role.
func TestEffectiveRole(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		sup := e.newMember(t, e.A, "supervisor")
		e.do(t, "GET", "/v1/automation/rules", sup.Token, nil).expect(t, 200)
		e.do(t, "PATCH", fmt.Sprintf("/v1/members/%d", sup.MemberID), e.A.Admin.Token,
			map[string]any{"role": "agent"}).expect(t, 200)
		e.do(t, "GET", "/v1/automation/rules", sup.Token, nil).problem(t, 403)
		e.do(t, "GET", "/v1/members", sup.Token, nil).expect(t, 200)

		// An agent-role token of an admin acts as an agent.
		_, weak := e.newToken(t, e.A, e.A.Admin.MemberID, map[string]any{"role": "agent"})
		e.do(t, "GET", "/v1/automation/rules", weak, nil).problem(t, 403)
		e.do(t, "GET", "/v1/workspace", weak, nil).problem(t, 403)
		// Promoting the member does not lift the token above its own role.
		e.do(t, "PATCH", fmt.Sprintf("/v1/members/%d", sup.MemberID), e.A.Admin.Token,
			map[string]any{"role": "admin"}).expect(t, 200)
		e.do(t, "GET", "/v1/automation/rules", sup.Token, nil).expect(t, 200)
		e.do(t, "GET", "/v1/workspace", sup.Token, nil).problem(t, 403)
	})
}

func TestRoutesAreUnique(t *testing.T) {
	t.Parallel()
	a := httpapi.New(httpapi.Config{}, httpapi.Deps{})
	var seen []string
	for _, rt := range a.Routes() {
		k := rt.Method + " " + rt.Path
		if slices.Contains(seen, k) {
			t.Errorf("route %s listed twice", k)
		}
		seen = append(seen, k)
		if rt.Handler == nil {
			t.Errorf("route %s has no handler", k)
		}
	}
}

// listChecks says, for each GET route without path parameters, what
// workspace B's admin must see once workspace A has one of everything:
// only B's own objects. A GET route without an entry fails the test.
var listChecks = map[string]func(t *testing.T, e *env, body map[string]any){
	"/v1/automation/rules":         wantData(0),
	"/v1/automation/rules/snoozed": wantData(0),
	"/v1/members":                  wantData(1),
	"/v1/tokens":                   wantData(1),
	"/v1/tags":                     wantData(0),
	"/v1/contact-lists":            wantData(0),
	"/v1/automation/events":        wantData(0),
	"/v1/automation/runs":          wantData(0),
	"/v1/actions":                  wantData(0),
	"/v1/automation/control": func(t *testing.T, e *env, body map[string]any) {
		if body["is_paused"] != false {
			t.Errorf("B's control shows A's pause: %v", body)
		}
	},
	"/v1/workspace": func(t *testing.T, e *env, body map[string]any) {
		if fmt.Sprint(body["id"]) != fmt.Sprint(e.B.ID) || body["timezone"] != "UTC" {
			t.Errorf("B's workspace: %v", body)
		}
	},
}

// bareListChecks are the GET routes without path parameters that answer
// a bare JSON array (the rulesets compatibility list, docs/compatibility.md): how
// many rows workspace B must see there.
var bareListChecks = map[string]int{
	"/organization/rules": 0,
}

func wantData(n int) func(t *testing.T, e *env, body map[string]any) {
	return func(t *testing.T, e *env, body map[string]any) {
		t.Helper()
		data, ok := body["data"].([]any)
		if !ok || len(data) != n {
			t.Errorf("B sees %v, want %d rows of its own", body["data"], n)
		}
		if total, ok := body["total"]; ok && fmt.Sprint(total) != fmt.Sprint(n) {
			t.Errorf("B's total is %v, want %d", total, n)
		}
	}
}

// TestListIsolation: lists and singletons are scoped to the caller's
// workspace.
func TestListIsolation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// An event with a run, before the pause below would skip it.
		e.newRun(t, e.A)
		r := e.newRule(t, e.A, ruleBody())
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%d/snooze", r.ID), e.A.Admin.Token,
			map[string]any{"snoozed_until": ts(t0.Add(time.Hour))}).expect(t, 200)
		e.newTag(t, e.A)
		e.newList(t, e.A)
		e.do(t, "PUT", "/v1/automation/control", e.A.Admin.Token, map[string]any{"is_paused": true}).expect(t, 200)
		e.do(t, "PATCH", "/v1/workspace", e.A.Admin.Token, map[string]any{"timezone": "Europe/Paris"}).expect(t, 200)
		for _, rt := range e.api.Routes() {
			if rt.Method != "GET" || rt.Policy.Public || hasPathParams(rt) {
				continue
			}
			t.Run(rt.Path, func(t *testing.T) {
				t.Parallel()
				if n, ok := bareListChecks[rt.Path]; ok {
					var rows []any
					e.do(t, "GET", rt.Path, e.B.Admin.Token, nil).expect(t, 200).decode(t, &rows)
					if len(rows) != n {
						t.Errorf("B sees %v, want %d rows of its own", rows, n)
					}
					return
				}
				check, ok := listChecks[rt.Path]
				if !ok {
					t.Fatalf("GET %s: no entry in listChecks (policy_test.go); add one saying what workspace B must see there", rt.Path)
				}
				check(t, e, e.do(t, "GET", rt.Path, e.B.Admin.Token, nil).expect(t, 200).object(t))
			})
		}
	})
}

// TestPathFixtures makes sure every fixture works, also those for routes
// that do not exist yet, and that multi-parameter paths are filled in order.
func TestPathFixtures(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		for key := range pathFixtures {
			values := fillParams(t, e, httpapi.Route{Method: "GET", Path: key}, e.A, e.A.Admin.MemberID)
			for _, v := range values {
				if hostIDFixtures[key] {
					if v == "" || strings.ContainsAny(v, "/?#") {
						t.Errorf("%s: fixture value %q is not a path segment", key, v)
					}
					continue
				}
				if publicFixtures[key] {
					continue
				}
				if uuidFixtures[key] {
					if id, err := uuid.Parse(v); err != nil || id.Version() != 7 || id.String() != v {
						t.Errorf("%s: fixture value %q is not a UUIDv7 in canonical form", key, v)
					}
					continue
				}
				if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
					t.Errorf("%s: fixture value %q is not an id", key, v)
				}
			}
		}
		got := buildPath("/a/{x}/b/{y}", []string{"1", "2"})
		if got != "/a/1/b/2" {
			t.Errorf("buildPath = %q", got)
		}
		ws := fillPath(t, e, httpapi.Route{Path: "/api/v1/workspaces/{workspace_id}/automations/{rule_id}"}, e.A, 0)
		if !strings.HasPrefix(ws, fmt.Sprintf("/api/v1/workspaces/%d/automations/", e.A.ID)) {
			t.Errorf("multi-parameter path filled as %q", ws)
		}
	})
}
