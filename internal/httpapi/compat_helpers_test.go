package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Helpers shared by the compatibility API tests.

// doKey calls the router with the token as X-API-Key, as the rulesets
// document's clients do.
func (e *env) doKey(t testing.TB, method, path, token string, body any) *resp {
	t.Helper()
	r := newRequest(t, method, path, body)
	r.Header.Set("X-API-Key", token)
	return e.send(t, r)
}

// golden reads testdata/compat/name.
func golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "compat", name))
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	return b
}

// jsonValue decodes b into a generic value with exact numbers.
func jsonValue(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// asValue turns any Go value into the generic JSON value it encodes as.
func asValue(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return jsonValue(t, b)
}

// sameJSON fails unless got and want are equal JSON values.
func sameJSON(t testing.TB, what string, got, want any) {
	t.Helper()
	g, w := asValue(t, got), asValue(t, want)
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		t.Errorf("%s:\n got %s\nwant %s", what, gb, wb)
	}
}

// shapeDiffs lists where got's shape differs from want's: the same keys in
// every object, the same JSON kind for every value; null on either side
// matches any kind (the documents mark those fields nullable), an empty
// example object matches any object, and arrays are compared by their
// first elements.
func shapeDiffs(got, want any, path string) []string {
	if got == nil || want == nil {
		return nil
	}
	kind := func(v any) string { return fmt.Sprintf("%T", v) }
	if kind(got) != kind(want) {
		return []string{fmt.Sprintf("%s: %s, want %s", path, kind(got), kind(want))}
	}
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		if len(w) == 0 {
			return nil // the example's {} says "an object", whatever it holds
		}
		var keys []string
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: not in the document", path, k))
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffs = append(diffs, shapeDiffs(gv, w[k], path+"."+k)...)
		}
	case []any:
		g := got.([]any)
		if len(g) > 0 && len(w) > 0 {
			diffs = append(diffs, shapeDiffs(g[0], w[0], path+"[0]")...)
		}
	}
	return diffs
}

// sameShape fails when got's shape differs from the document's example.
func sameShape(t testing.TB, what string, got, want any) {
	t.Helper()
	if d := shapeDiffs(asValue(t, got), asValue(t, want), "$"); len(d) > 0 {
		t.Errorf("%s differs from the document's shape:\n%s", what, strings.Join(d, "\n"))
	}
}

// without returns a copy of the object m without keys.
func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// nativeRule reads a rule through /v1/automation/rules as a generic object.
func (e *env) nativeRule(t testing.TB, ws *tenant, id any) map[string]any {
	t.Helper()
	return e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%v", id), ws.Admin.Token, nil).expect(t, 200).object(t)
}
