package httpapi_test

import (
	"slices"
	"strings"
	"testing"
)

// TestCompatOpenAPI: both compatibility APIs are in the OpenAPI document
// under their own tags, each operation with a summary, its path
// parameters and the error codes its checks can answer.
func TestCompatOpenAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	var doc map[string]any
	e.do(t, "GET", "/openapi.json", "", nil).expect(t, 200).decode(t, &doc)
	paths, _ := doc["paths"].(map[string]any)
	count := map[string]int{}
	for _, rt := range e.api.Routes() {
		var tag string
		switch {
		case strings.HasPrefix(rt.Path, "/organization/"):
			tag = "Compatibility: rulesets"
		case strings.HasPrefix(rt.Path, "/api/v1/workspaces/"):
			tag = "Compatibility: workspace automations"
		default:
			continue
		}
		key := rt.Method + " " + rt.Path
		op, _ := dig(paths, rt.Path, strings.ToLower(rt.Method)).(map[string]any)
		if op == nil {
			t.Errorf("%s is not documented", key)
			continue
		}
		count[tag]++
		if tags, _ := op["tags"].([]any); len(tags) != 1 || tags[0] != tag {
			t.Errorf("%s: tags %v, want [%q]", key, op["tags"], tag)
		}
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", key)
		}
		if d, _ := op["description"].(string); !strings.Contains(d, "role or above") {
			t.Errorf("%s: the description does not say who may call it: %q", key, d)
		}
		var params []string
		ps, _ := op["parameters"].([]any)
		for _, p := range ps {
			params = append(params, dig(p, "name").(string))
		}
		for _, want := range paramRE.FindAllString(rt.Path, -1) {
			if !slices.Contains(params, strings.Trim(want, "{}")) {
				t.Errorf("%s: path parameter %s undeclared", key, want)
			}
		}
		codes := []string{"401", "403", "405"}
		if strings.Contains(rt.Path, "{") {
			codes = append(codes, "404")
		}
		if rt.Doc.Request != nil {
			codes = append(codes, "400", "413", "422")
		}
		responses, _ := op["responses"].(map[string]any)
		for _, c := range codes {
			if responses[c] == nil {
				t.Errorf("%s: error %s undocumented", key, c)
			}
		}
	}
	if count["Compatibility: rulesets"] != 5 || count["Compatibility: workspace automations"] != 7 {
		t.Errorf("operations per tag: %v, want 5 rulesets and 7 automations", count)
	}
}
