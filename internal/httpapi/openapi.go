package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// openAPI builds the OpenAPI 3.1 document from the route table: request
// and response schemas are reflected from the very types the handlers
// decode and encode, so the document describes what the server does.
func (a *API) openAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}}
	paths := map[string]map[string]any{}
	// Tags in the order of the route table, so that renderers (GET /docs,
	// docs/api.md) list health first, then the API in its own order.
	var tags []any
	seenTag := map[string]bool{}
	for _, rt := range a.routes {
		if rt.Doc.Tag != "" && !seenTag[rt.Doc.Tag] {
			seenTag[rt.Doc.Tag] = true
			tags = append(tags, map[string]any{"name": rt.Doc.Tag})
		}
		op := opMap{
			"summary":     rt.Doc.Summary,
			"operationId": operationID(rt),
			"responses":   g.responses(rt),
		}
		if rt.Doc.Tag != "" {
			op["tags"] = []string{rt.Doc.Tag}
		}
		if len(rt.Doc.Notes) > 0 {
			op["description"] = strings.Join(rt.Doc.Notes, "\n\n")
		}
		if rt.Policy.Public {
			op["security"] = []any{}
		} else {
			op["description"] = strings.TrimSpace(op.description() + "\n\nRequires the " + string(rt.Policy.MinRole) + " role or above.")
			// The same, for programs (the docs/api.md generator reads it).
			op["x-min-role"] = string(rt.Policy.MinRole)
			if rt.Policy.WorkspacePath {
				op["x-workspace-path"] = true
			}
		}
		var params []any
		for _, name := range pathParams(rt.Path) {
			typ := "integer"
			if rt.Doc.StringPath {
				typ = "string"
			}
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": typ}})
		}
		for _, q := range rt.Doc.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": map[string]any{"type": q.Type}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Doc.Request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Doc.Request))}},
			}
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = map[string]any(op)
	}
	g.components["Problem"] = problemSchema
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Switchboard",
			"version":     a.cfg.Version,
			"description": "Automation rules engine for helpdesks. Errors are RFC 9457 problem details; times are RFC 3339 UTC with millisecond precision.",
		},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
			},
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{"apiKey": []string{}}},
	}
}

type opMap map[string]any

func (o opMap) description() string { s, _ := o["description"].(string); return s }

var problemSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"type":   map[string]any{"type": "string"},
		"title":  map[string]any{"type": "string"},
		"status": map[string]any{"type": "integer"},
		"detail": map[string]any{"type": "string"},
		"errors": map[string]any{"type": "array", "items": map[string]any{
			"type":       "object",
			"properties": map[string]any{"field": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}},
		}},
		"rule_ids": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}},
	},
	"required": []string{"type", "title", "status"},
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.FieldsFunc(rt.Path, func(r rune) bool { return r == '/' || r == '-' || r == '.' || r == '{' || r == '}' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func pathParams(path string) []string {
	var out []string
	for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
		out = append(out, m[1])
	}
	return out
}

func (g *schemaGen) responses(rt Route) map[string]any {
	status := rt.Doc.Status
	if status == 0 {
		status = http.StatusOK
	}
	res := map[string]any{}
	ok := map[string]any{"description": http.StatusText(status)}
	switch {
	case rt.Doc.Raw != "":
		ok["content"] = map[string]any{rt.Doc.Raw: map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.Doc.Response != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Doc.Response))}}
	}
	res[strconv.Itoa(status)] = ok
	codes := append([]int{}, rt.Doc.Errors...)
	if !rt.Policy.Public {
		codes = append(codes, 401, 403)
	}
	if strings.Contains(rt.Path, "{") || rt.Policy.WorkspacePath {
		codes = append(codes, 404)
	}
	if rt.Doc.Request != nil {
		codes = append(codes, 400, 413, 422)
	}
	if len(rt.Doc.Query) > 0 {
		codes = append(codes, 400)
	}
	codes = append(codes, 405, 500)
	for _, c := range codes {
		res[strconv.Itoa(c)] = map[string]any{
			"description": http.StatusText(c),
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}},
		}
	}
	return res
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses).
type schemaGen struct {
	components map[string]any
}

var (
	apiTimeType = reflect.TypeFor[Time]()
	anyType     = reflect.TypeFor[any]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t.Implements(optionalIface) {
		inner := g.schema(reflect.Zero(t).Interface().(optionalType).optionalElem())
		if strings.HasPrefix(t.Name(), "Optional[") {
			return nullable(inner)
		}
		return inner
	}
	switch t {
	case timeType, apiTimeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType, anyType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := schemaName(t)
		if _, done := g.components[name]; !done {
			g.components[name] = map[string]any{} // placeholder against recursion
			g.components[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	fields := structFields(t)
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := fields[n]
		props[n] = g.schema(f.Type)
		tag := f.Tag.Get("json")
		readOnlyField := f.Type == anyType
		if readOnlyField {
			props[n] = map[string]any{"readOnly": true, "description": "read-only; ignored when sent back"}
		}
		if !strings.Contains(tag, "omitempty") && !f.Type.Implements(optionalIface) && !readOnlyField {
			required = append(required, n)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func nullable(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

var pkgPathRE = regexp.MustCompile(`[\w./-]*\.`)

// schemaName makes a component name from a Go type name, generics
// included: envelope[…ruleResponse] → EnvelopeRuleResponse.
func schemaName(t reflect.Type) string {
	name := pkgPathRE.ReplaceAllString(t.Name(), "")
	var b strings.Builder
	upper := true
	for _, r := range name {
		if r == '[' || r == ']' || r == ',' || r == '*' {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (a *API) openAPIHandler(w http.ResponseWriter, r *http.Request) error {
	a.openAPIOnce.Do(func() {
		a.openAPIDoc, _ = json.Marshal(a.openAPI())
	})
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(a.openAPIDoc)
	return err
}

// healthResponse is the body of /healthz and /readyz.
type healthResponse struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
	Time    Time   `json:"time"`
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, healthResponse{Status: "ok", Version: a.cfg.Version, Time: apiTime(a.clock.Now())})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := a.store.Ready(r.Context()); err != nil {
		a.log.WarnContext(r.Context(), "not ready", "err", err)
		p := newProblem(http.StatusServiceUnavailable, "not-ready", "Not ready", "the store is unreachable or not fully migrated")
		p.RetryAfter = 5
		return p
	}
	return writeJSON(w, http.StatusOK, healthResponse{Status: "ready", Version: a.cfg.Version, Time: apiTime(a.clock.Now().Truncate(time.Millisecond))})
}
