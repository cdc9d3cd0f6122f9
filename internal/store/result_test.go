package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStoredResult(t *testing.T) {
	run := RunID("01900000-0000-7000-8000-0000000000aa", time.UnixMilli(1_700_000_000_000), 7, 2)
	d0, d2 := DeliveryID(run, 0), DeliveryID(run, 2)
	tests := []struct {
		name    string
		result  string
		compact bool
	}{
		{"pending deliveries and a skipped action", `{"reason":null,"trace":[],"actions":[` +
			`{"index":0,"type":"add_tag","status":"pending","attempts":0,"delivery_id":"` + d0 + `"},` +
			`{"index":1,"type":"send_response","status":"skipped","reason":"recipient_cooldown","attempts":0},` +
			`{"index":2,"type":"add_note","status":"failed","attempts":3,"error":"HTTP 500 \u003coops\u003e \u0026 co","delivery_id":"` + d2 + `"}]}`, true},
		{"an error without a reason", `{"reason":null,"trace":[],"actions":[` +
			`{"index":0,"type":"add_tag","status":"pending","attempts":1,"error":"","delivery_id":"` + d0 + `"}]}`, true},
		{"no actions", `{"reason":null,"trace":[],"actions":[]}`, true},
		{"a delivery id of another kind", `{"reason":null,"trace":[],"actions":[` +
			`{"index":0,"type":"add_tag","status":"pending","attempts":0,"delivery_id":"01900000-0000-7000-8000-000000000001"}]}`, false},
		{"an index out of place", `{"reason":null,"trace":[],"actions":[{"index":1,"type":"add_tag","status":"pending","attempts":0}]}`, false},
		{"a reason", `{"reason":"cooldown","trace":[],"actions":[]}`, false},
		{"another field order", `{"actions":[],"reason":null,"trace":[]}`, false},
		{"not a document", `{}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := storedResult(run, []byte(tc.result))
			if got := strings.HasPrefix(string(stored), "["); got != tc.compact {
				t.Fatalf("stored %s: compact %v, want %v", stored, got, tc.compact)
			}
			if tc.compact && len(stored) >= len(tc.result) {
				t.Errorf("compact form %d bytes, the result %d", len(stored), len(tc.result))
			}
			full, err := expandResult(run, stored)
			if err != nil || string(full) != tc.result {
				t.Errorf("expanded = %s, %v; want %s", full, err, tc.result)
			}
		})
	}
	for _, bad := range []string{`[`, `[["add_tag"]]`, `[["add_tag","pending","x",1]]`, `[[1,2,3,4,5,6,7]]`} {
		if _, err := expandResult(run, []byte(bad)); err == nil {
			t.Errorf("expandResult(%s) = nil error, want errBadResult", bad)
		}
	}
}

// FuzzExpandResult: no stored bytes make reading a run panic; a compact
// form that reads is stored again as itself.
func FuzzExpandResult(f *testing.F) {
	run := RunID("01900000-0000-7000-8000-0000000000aa", time.UnixMilli(1_700_000_000_000), 7, 2)
	f.Add([]byte(`[["add_tag","pending",0,1],["send_response","skipped",0,0,"bulk_mail"]]`))
	f.Add([]byte(`[["add_note","failed",3,1,"","timeout"]]`))
	f.Add([]byte(`{"reason":null}`))
	f.Fuzz(func(t *testing.T, stored []byte) {
		full, err := expandResult(run, stored)
		if err != nil || len(stored) == 0 || stored[0] != '[' {
			return
		}
		if !json.Valid(full) {
			t.Fatalf("expanded %s is not JSON", full)
		}
		again, err := expandResult(run, storedResult(run, full))
		if err != nil || string(again) != string(full) {
			t.Fatalf("stored again: %s, %v; want %s", again, err, full)
		}
	})
}

// TestCompactResult: the structured path writes what storedResult would
// keep for the same document, and falls back to the whole document.
func TestCompactResult(t *testing.T) {
	run := RunID("01900000-0000-7000-8000-0000000000aa", time.UnixMilli(1_700_000_000_000), 7, 2)
	msg := "bad \"gateway\" <é>\n"
	tests := []struct {
		name    string
		actions []ActionState
		compact bool
	}{
		{"none", []ActionState{}, true},
		{"delivered, skipped, failed", []ActionState{
			{Index: 0, Type: "add_tag", Status: "pending", DeliveryID: DeliveryID(run, 0)},
			{Index: 1, Type: "send_response", Status: "skipped", Reason: "bulk_mail"},
			{Index: 2, Type: "add_note", Status: "failed", Attempts: 8, Error: &msg, DeliveryID: DeliveryID(run, 2)},
		}, true},
		{"a delivery id of another kind", []ActionState{{Index: 0, Type: "add_tag", Status: "pending",
			DeliveryID: "01900000-0000-7000-8000-000000000001"}}, false},
		{"an index out of place", []ActionState{{Index: 3, Type: "add_tag", Status: "pending"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full := fullResult(tc.actions)
			got := compactResult(run, tc.actions)
			if strings.HasPrefix(string(got), "[") != tc.compact {
				t.Fatalf("compactResult = %s, compact want %v", got, tc.compact)
			}
			if tc.compact && string(got) != string(storedResult(run, full)) {
				t.Errorf("compactResult = %s, storedResult of the document = %s", got, storedResult(run, full))
			}
			if back, err := expandResult(run, got); err != nil || string(back) != string(full) {
				t.Errorf("expanded = %s, %v; want %s", back, err, full)
			}
		})
	}
}
