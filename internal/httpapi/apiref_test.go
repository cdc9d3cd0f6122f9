package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/switchboard-hq/switchboard/internal/httpapi"
)

// update rewrites docs/api.md from the served OpenAPI document:
//
//	go test ./internal/httpapi -run TestAPIReference -update
var update = flag.Bool("update", false, "rewrite docs/api.md from the OpenAPI document")

// apiReferencePath is docs/api.md, from this package's directory.
const apiReferencePath = "../../docs/api.md"

// regenerate is the one command that brings docs/api.md up to date.
const regenerate = "go test ./internal/httpapi -run TestAPIReference -update"

// TestAPIReference fails when the checked-in API reference is not what the
// route table's OpenAPI document renders to, so the reference in the
// repository can never drift from the server.
func TestAPIReference(t *testing.T) {
	// Not parallel: with -update it writes the file the check reads.
	rec := httptest.NewRecorder()
	httpapi.New(httpapi.Config{}, httpapi.Deps{}).ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /openapi.json: %d", rec.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := renderAPIReference(doc)
	if *update {
		if err := os.WriteFile(apiReferencePath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(apiReferencePath)
	if err != nil {
		t.Fatalf("read docs/api.md: %v; create it with: %s", err, regenerate)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		line := 0
		for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
			line++
		}
		at := func(l []string) string {
			if line < len(l) {
				return l[line]
			}
			return "(end of file)"
		}
		t.Fatalf("docs/api.md is stale: the route table's OpenAPI document renders differently.\n"+
			"Regenerate it with:\n\n    %s\n\nfirst difference, line %d:\n  docs/api.md: %s\n  generated:   %s",
			regenerate, line+1, at(wl), at(gl))
	}
}

// TestRenderAPIReference: the renderer writes what a reader needs for an
// operation, on a small hand-made document.
func TestRenderAPIReference(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	err := json.Unmarshal([]byte(`{
	  "tags": [{"name": "Things"}],
	  "paths": {"/v1/things/{id}": {"patch": {
	    "summary": "Update a thing", "operationId": "patchV1ThingsId", "tags": ["Things"],
	    "description": "Absent fields stay.\n\nRequires the supervisor role or above.",
	    "x-min-role": "supervisor",
	    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
	                   {"name": "dry", "in": "query", "description": "only check", "schema": {"type": "boolean"}}],
	    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingWrite"}}}},
	    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
	                  "422": {"description": "Unprocessable Entity"}, "401": {"description": "Unauthorized"}}}}},
	  "components": {"schemas": {
	    "Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"},
	      "seen_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
	      "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}},
	    "ThingWrite": {"type": "object", "properties": {"name": {"type": "string"}, "id": {"readOnly": true}}},
	    "Tag": {"type": "object", "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}}}}}
	}`), &doc)
	if err != nil {
		t.Fatal(err)
	}
	md := string(renderAPIReference(doc))
	for _, want := range []string{
		"## Things",
		"### `PATCH /v1/things/{id}`",
		"Update a thing.",
		"Absent fields stay.",
		"**Least role:** supervisor",
		"| `id` | path | integer | yes |  |",
		"| `dry` | query | boolean | no | only check |",
		"**Request body** (`application/json`): [ThingWrite](#thingwrite)",
		"`200` OK: [Thing](#thing)",
		"**Errors** (`application/problem+json`, [Problem](#problem)): `401` Unauthorized, `422` Unprocessable Entity",
		"| `seen_at` | string (date-time) or null | no |",
		"| `tags` | array of [Tag](#tag) | no |",
		"| `labels` | object of string | no |",
		"| `id` | read-only (ignored when sent back) | no |",
		"| `id` | integer | yes |",
		"| [`PATCH /v1/things/{id}`](#patch-v1thingsid) | Update a thing | supervisor |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the reference lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Requires the supervisor role") {
		t.Errorf("the role is said twice:\n%s", md)
	}
}

// methodOrder lists an endpoint's operations as a reader expects them.
var methodOrder = []string{"get", "head", "post", "put", "patch", "delete"}

// renderAPIReference renders an OpenAPI document as markdown: an index,
// then every operation by tag (in the document's tag order), then every
// schema.
func renderAPIReference(doc map[string]any) []byte {
	type operation struct {
		method, path string
		op           map[string]any
	}
	byTag := map[string][]operation{}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			op := op.(map[string]any)
			tag := "Other"
			if tags, _ := op["tags"].([]any); len(tags) > 0 {
				tag = tags[0].(string)
			}
			byTag[tag] = append(byTag[tag], operation{m, p, op})
		}
	}
	var tags []string
	if ts, ok := doc["tags"].([]any); ok {
		for _, tg := range ts {
			tags = append(tags, tg.(map[string]any)["name"].(string))
		}
	}
	var extra []string
	for tag := range byTag {
		if !slices.Contains(tags, tag) {
			extra = append(extra, tag)
		}
	}
	sort.Strings(extra)
	tags = append(tags, extra...)
	for _, ops := range byTag {
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].path != ops[j].path {
				return ops[i].path < ops[j].path
			}
			return slices.Index(methodOrder, ops[i].method) < slices.Index(methodOrder, ops[j].method)
		})
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# API reference\n\n")
	w("<!-- Generated from the server's OpenAPI document; do not edit. Regenerate: %s -->\n\n", regenerate)
	w("Every endpoint the server routes, generated from the OpenAPI 3.1 document it serves at\n")
	w("`GET /openapi.json` (which is built from the route table, `internal/httpapi/routes.go`).\n")
	w("A running server renders the same document at `GET /docs`, where \"Authorize\" takes a\n")
	w("token and \"Try it out\" sends requests. What the objects mean is in [concepts.md](concepts.md).\n\n")
	w("After changing routes, regenerate this page with `%s`;\n", regenerate)
	w("the test suite fails while it is stale.\n\n")
	w("**Credentials.** Every operation not marked public takes an API token, as\n")
	w("`Authorization: Bearer <token>` or `X-API-Key: <token>`. Roles rank admin > supervisor >\n")
	w("agent; *least role* is the lowest that may call the operation.\n\n")
	w("**Errors** are RFC 9457 problem details ([Problem](#problem)); the codes listed for each\n")
	w("operation are those it can answer besides its success.\n\n")

	w("## Index\n\n| operation | summary | least role |\n|---|---|---|\n")
	for _, tag := range tags {
		for _, o := range byTag[tag] {
			heading := "`" + strings.ToUpper(o.method) + " " + o.path + "`"
			w("| [%s](#%s) | %s | %s |\n", heading, githubSlug(heading), cell(str(o.op["summary"])), leastRole(o.op))
		}
	}
	w("\n")

	for _, tag := range tags {
		if len(byTag[tag]) == 0 {
			continue
		}
		w("## %s\n\n", tag)
		for _, o := range byTag[tag] {
			op := o.op
			w("### `%s %s`\n\n", strings.ToUpper(o.method), o.path)
			w("%s.\n\n", strings.TrimSuffix(str(op["summary"]), "."))
			role := leastRole(op)
			desc := strings.TrimSpace(strings.TrimSuffix(str(op["description"]), "Requires the "+role+" role or above."))
			if desc != "" {
				w("%s\n\n", desc)
			}
			w("**Least role:** %s", role)
			if op["x-workspace-path"] == true {
				w(" (and `{workspace_id}` must be the token's workspace, else 404)")
			}
			w("  \n**Operation id:** `%s`\n\n", str(op["operationId"]))
			if params, _ := op["parameters"].([]any); len(params) > 0 {
				w("| parameter | in | type | required | description |\n|---|---|---|---|---|\n")
				for _, p := range params {
					p := p.(map[string]any)
					req := "no"
					if p["required"] == true {
						req = "yes"
					}
					w("| `%s` | %s | %s | %s | %s |\n", str(p["name"]), str(p["in"]), typeExpr(p["schema"]), req, cell(str(p["description"])))
				}
				w("\n")
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				for _, ct := range sortedKeys(rb["content"]) {
					w("**Request body** (`%s`): %s\n\n", ct, typeExpr(dig(rb, "content", ct, "schema")))
				}
			}
			responses, _ := op["responses"].(map[string]any)
			var errs []string
			for _, code := range sortedKeys(responses) {
				r := responses[code].(map[string]any)
				if code >= "400" {
					errs = append(errs, fmt.Sprintf("`%s` %s", code, str(r["description"])))
					continue
				}
				body := "no body"
				for _, ct := range sortedKeys(r["content"]) {
					if schema := dig(r, "content", ct, "schema"); ct == "application/json" && dig(schema, "type") != "string" {
						body = typeExpr(schema)
					} else {
						body = "`" + ct + "`"
					}
				}
				w("**Success:** `%s` %s: %s\n\n", code, str(r["description"]), body)
			}
			if len(errs) > 0 {
				w("**Errors** (`application/problem+json`, [Problem](#problem)): %s\n\n", strings.Join(errs, ", "))
			}
		}
	}

	w("## Schemas\n\n")
	schemas, _ := dig(doc, "components", "schemas").(map[string]any)
	for _, name := range sortedKeys(schemas) {
		s := schemas[name].(map[string]any)
		w("### %s\n\n", name)
		props, _ := s["properties"].(map[string]any)
		if len(props) == 0 {
			w("%s\n\n", typeExpr(s))
			continue
		}
		var required []string
		if rs, ok := s["required"].([]any); ok {
			for _, r := range rs {
				required = append(required, r.(string))
			}
		}
		w("| field | type | required |\n|---|---|---|\n")
		for _, f := range sortedKeys(props) {
			req := "no"
			if slices.Contains(required, f) {
				req = "yes"
			}
			w("| `%s` | %s | %s |\n", f, typeExpr(props[f]), req)
		}
		w("\n")
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

func leastRole(op map[string]any) string {
	if r, ok := op["x-min-role"].(string); ok {
		return r
	}
	return "public"
}

// typeExpr writes a schema as a short type: links for components,
// "array of", "object of", "or null".
func typeExpr(v any) string {
	s, _ := v.(map[string]any)
	if len(s) == 0 {
		return "any"
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return "[" + name + "](#" + githubSlug(name) + ")"
	}
	if s["readOnly"] == true {
		return "read-only (ignored when sent back)"
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var parts []string
		for _, a := range alts {
			if dig(a, "type") == "null" {
				continue
			}
			parts = append(parts, typeExpr(a))
		}
		if len(parts) < len(alts) {
			parts = append(parts, "null")
		}
		return strings.Join(parts, " or ")
	}
	switch t := str(s["type"]); t {
	case "array":
		return "array of " + typeExpr(s["items"])
	case "object":
		props, _ := s["properties"].(map[string]any)
		if ap, ok := s["additionalProperties"].(map[string]any); ok && len(props) == 0 {
			return "object of " + typeExpr(ap)
		}
		return "object"
	case "":
		return "any"
	default:
		if f := str(s["format"]); f != "" {
			return t + " (" + f + ")"
		}
		return t
	}
}

// githubSlug is the anchor GitHub gives a heading: lower case, letters,
// digits, spaces, hyphens and underscores kept, spaces made hyphens.
func githubSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func str(v any) string { s, _ := v.(string); return s }

func sortedKeys(v any) []string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
