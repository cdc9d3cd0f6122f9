package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// FuzzDecodeRuleWrite feeds arbitrary bytes to the request decoder with the
// rule body type. The decoder must never panic, must answer every refusal
// with a 400 or a 422 problem, and must accept only bodies that
// encoding/json itself decodes into the same type: the strict checks it
// adds (unknown and case-folded keys, trailing data, per-field type
// errors) may refuse more, never less. The seed corpus is in
// testdata/fuzz/FuzzDecodeRuleWrite.
func FuzzDecodeRuleWrite(f *testing.F) {
	f.Add([]byte(`{"name":"r","trigger_type":"messages.incoming","actions":[{"type":"add_note","body":"x"}]}`))
	f.Add([]byte(`{"name":null,"description":null,"alert_settings":{"window_minutes":5},"schedule_settings":null}`))
	f.Add([]byte(`{"NAME":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var body ruleWrite
		err := decodeJSON(data, &body)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("decodeJSON(%q) returned a non-problem error %T: %v", data, err, err)
			}
			if p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity {
				t.Fatalf("decodeJSON(%q) answered %d, want 400 or 422", data, p.Status)
			}
			if p.Status == http.StatusUnprocessableEntity && len(p.Errors) == 0 {
				t.Fatalf("decodeJSON(%q): a 422 that names no field", data)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("decodeJSON accepted invalid JSON %q", data)
		}
		var again ruleWrite
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&again); err != nil {
			t.Fatalf("decodeJSON accepted %q, which encoding/json refuses: %v", data, err)
		}
		// What was decoded survives a round trip through the optional
		// fields: a key is Set exactly when the other decoder saw it.
		if body.Name.Set != again.Name.Set || body.Actions.Set != again.Actions.Set ||
			body.AlertSettings.Set != again.AlertSettings.Set || body.Conditions.Set != again.Conditions.Set {
			t.Fatalf("decoders disagree on %q: %+v vs %+v", data, body, again)
		}
		// The nested objects PATCH merges must decode on their own.
		if body.AlertSettings.Present() {
			if _, err := body.AlertSettings.Value.onto("alert_settings", nil); err != nil {
				t.Fatalf("alert_settings of an accepted body %q does not decode: %v", data, err)
			}
		}
		if body.ScheduleSettings.Present() {
			if _, err := body.ScheduleSettings.Value.onto("schedule_settings", nil); err != nil {
				t.Fatalf("schedule_settings of an accepted body %q does not decode: %v", data, err)
			}
		}
	})
}
