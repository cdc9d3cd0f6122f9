package store

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStoredActions(t *testing.T) {
	tests := []struct {
		name    string
		actions string
		shrinks bool
	}{
		{"tag", `[{"type":"add_tag","tag_id":1,"tag_name":"vip","tag_external_id":null}]`, true},
		{"tag with an external id", `[{"type":"remove_tag","tag_id":7,"tag_name":"b","tag_external_id":"T-7"}]`, true},
		{"agent", `[{"type":"assign_agent","user_id":4,"user_external_id":null,"user_email":null}]`, true},
		{"agent with ids", `[{"type":"assign_agent","user_id":4,"user_external_id":"U4","user_email":"a@b.test"}]`, true},
		{"several", `[{"type":"set_status","status":"snoozed","snooze_until":"2030-01-01T00:00:00Z"},` +
			`{"type":"set_priority","priority":"high"},{"type":"add_note","body":"Re: \"tag_name\":"},` +
			`{"type":"send_response","body":"hi","subject":"s"},{"type":"send_webhook","url":"https://h.test","headers":{"k":"v"}},{"type":"close"}]`, true},
		{"fragments inside a string", `[{"type":"add_note","body":"{\"type\":\"add_tag\",\"tag_id\":1,\"tag_name\":"}]`, true},
		{"no fragment", `[{"type":"close"}]`, false},
		{"spaced, as an older writer could have", "[ {\"type\": \"add_tag\",\n\t\"tag_id\": 1} ]", false},
		{"empty", `[]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := storedActions(json.RawMessage(tc.actions))
			if tc.shrinks != (len(stored) < len(tc.actions)) {
				t.Errorf("stored in %d bytes from %d, want shrunk %v", len(stored), len(tc.actions), tc.shrinks)
			}
			if got := expandActions(stored); string(got) != tc.actions {
				t.Errorf("read back %q, want %q", got, tc.actions)
			}
			// As stored before the substitution: read as it is.
			if got := expandActions([]byte(tc.actions)); string(got) != tc.actions {
				t.Errorf("unsubstituted read back %q, want it unchanged", got)
			}
		})
	}
	if expandActions(nil) != nil || storedActions(nil) != nil {
		t.Error("no actions must stay no actions (NULL)")
	}
}

// TestActionFragmentsFitTheCodes: every fragment has a code, and no code is
// a byte JSON text may hold raw.
func TestActionFragmentsFitTheCodes(t *testing.T) {
	if len(actionFragments) > len(actionCodes) {
		t.Fatalf("%d fragments, %d codes", len(actionFragments), len(actionCodes))
	}
	if strings.ContainsAny(actionCodes, "\x00\t\n\r") || strings.ContainsFunc(actionCodes, func(r rune) bool { return r >= 0x20 }) {
		t.Error("a code is NUL, JSON whitespace or printable")
	}
}

// FuzzStoredActions: whatever JSON array a run holds reads back exactly.
func FuzzStoredActions(f *testing.F) {
	f.Add(`[{"type":"add_tag","tag_id":1,"tag_name":"vip","tag_external_id":null}]`)
	f.Add(`[{"type":"add_note","body":",\"tag_name\":"},{"type":"assign_agent","user_id":2,"user_external_id":null,"user_email":null}]`)
	f.Fuzz(func(t *testing.T, doc string) {
		if !json.Valid([]byte(doc)) {
			return
		}
		if got := expandActions(storedActions(json.RawMessage(doc))); string(got) != doc {
			t.Fatalf("read back %q, want %q", got, doc)
		}
	})
}
