package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestOpenAPI(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.do(t, "GET", "/openapi.json", "", nil).expect(t, 200)
		var doc map[string]any
		r.decode(t, &doc)
		if doc["openapi"] != "3.1.0" {
			t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
		}
		info, _ := doc["info"].(map[string]any)
		if info["title"] == nil || info["version"] == nil {
			t.Errorf("info: %v", info)
		}
		paths, _ := doc["paths"].(map[string]any)
		schemas, _ := dig(doc, "components", "schemas").(map[string]any)
		if paths == nil || schemas == nil {
			t.Fatalf("document without paths or components.schemas")
		}

		// Every route is documented, with a success response, its path
		// parameters and, when it takes one, its request body.
		documented := map[string]bool{}
		for _, rt := range e.api.Routes() {
			key := rt.Method + " " + rt.Path
			documented[key] = true
			op, _ := dig(paths, rt.Path, strings.ToLower(rt.Method)).(map[string]any)
			if op == nil {
				t.Errorf("%s is not in the document", key)
				continue
			}
			responses, _ := op["responses"].(map[string]any)
			success := false
			for code := range responses {
				if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
					success = true
				}
			}
			if !success {
				t.Errorf("%s has no success response: %v", key, responses)
			}
			if !rt.Policy.Public {
				for _, code := range []string{"401", "403"} {
					if responses[code] == nil {
						t.Errorf("%s does not document %s", key, code)
					}
				}
			}
			var params []string
			ps, _ := op["parameters"].([]any)
			for _, p := range ps {
				p, _ := p.(map[string]any)
				if p["in"] == "path" {
					params = append(params, "{"+fmt.Sprint(p["name"])+"}")
				}
			}
			for _, want := range paramRE.FindAllString(rt.Path, -1) {
				if !slices.Contains(params, want) {
					t.Errorf("%s does not declare path parameter %s", key, want)
				}
			}
			if rt.Doc.Request != nil && dig(op, "requestBody", "content", "application/json", "schema") == nil {
				t.Errorf("%s takes a body the document does not describe", key)
			}
			if op["operationId"] == nil || op["summary"] == "" {
				t.Errorf("%s lacks an operationId or summary", key)
			}
		}
		// And nothing else is.
		opIDs := map[string]string{}
		for path, item := range paths {
			for method, op := range item.(map[string]any) {
				key := strings.ToUpper(method) + " " + path
				if !documented[key] {
					t.Errorf("the document has %s, which is not a route", key)
				}
				id := fmt.Sprint(op.(map[string]any)["operationId"])
				if other, dup := opIDs[id]; dup {
					t.Errorf("operationId %q used by %s and %s", id, other, key)
				}
				opIDs[id] = key
			}
		}

		// Every $ref resolves.
		refs := 0
		walk(doc, func(m map[string]any) {
			ref, ok := m["$ref"].(string)
			if !ok {
				return
			}
			refs++
			name, ok := strings.CutPrefix(ref, "#/components/schemas/")
			if !ok {
				t.Errorf("$ref %q does not point into components.schemas", ref)
				return
			}
			if s, ok := schemas[name].(map[string]any); !ok || len(s) == 0 {
				t.Errorf("$ref %q does not resolve", ref)
			}
		})
		if refs == 0 {
			t.Errorf("no $ref at all: schemas are not shared")
		}

		// The schemas describe what the server sends: spot-check the rule.
		rule, _ := schemas["RuleResponse"].(map[string]any)
		props, _ := rule["properties"].(map[string]any)
		for _, f := range []string{"id", "name", "conditions", "actions", "alert_settings", "schedule_settings", "snoozed_until", "created_by"} {
			if props[f] == nil {
				t.Errorf("RuleResponse lacks %s: %v", f, props)
			}
		}
		// Each schema lists exactly the keys the server sends.
		tag := e.newTag(t, e.A)
		list := e.newList(t, e.A)
		full, _ := fullRule(tag, list, e.A.Agent.MemberID)
		ruleID := e.newRule(t, e.A, full).ID
		for schema, path := range map[string]string{
			"RuleResponse":        fmt.Sprintf("/v1/automation/rules/%d", ruleID),
			"WorkspaceResponse":   "/v1/workspace",
			"ControlResponse":     "/v1/automation/control",
			"MemberResponse":      fmt.Sprintf("/v1/members/%d", e.A.Agent.MemberID),
			"TagResponse":         fmt.Sprintf("/v1/tags/%d", tag),
			"ContactListResponse": fmt.Sprintf("/v1/contact-lists/%d", list),
			"EffectiveState":      fmt.Sprintf("/v1/automation/rules/%d/effective-state", ruleID),
			"SchedulePreview":     fmt.Sprintf("/v1/automation/rules/%d/schedule/preview", ruleID),
		} {
			props, _ := dig(schemas, schema, "properties").(map[string]any)
			if props == nil {
				t.Errorf("no schema %s", schema)
				continue
			}
			var documented, sent []string
			for k := range props {
				documented = append(documented, k)
			}
			for k := range e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200).object(t) {
				sent = append(sent, k)
			}
			slices.Sort(documented)
			slices.Sort(sent)
			if !slices.Equal(documented, sent) {
				t.Errorf("%s documents %v; GET %s sends %v", schema, documented, path, sent)
			}
		}

		// Served again, the same bytes (built once).
		if again := e.do(t, "GET", "/openapi.json", "", nil).expect(t, 200); string(again.Body) != string(r.Body) {
			t.Errorf("the document changed between two requests")
		}
		if !json.Valid(r.Body) {
			t.Errorf("invalid JSON")
		}
	})
}

// dig follows keys through nested objects; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// walk calls f on every object in v.
func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, c := range x {
			walk(c, f)
		}
	case []any:
		for _, c := range x {
			walk(c, f)
		}
	}
}
