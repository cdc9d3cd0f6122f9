package store

import (
	"encoding/json"
	"strings"
)

// A matched run keeps the actions it decided, rendered: a JSON array of
// the objects engine.PlannedAction.MarshalJSON writes. Their keys and
// action types repeat in every run — two thirds of the ~120 bytes of a
// typical run's array — so the runs table keeps the array with each
// fragment below replaced by a control byte. JSON text holds no raw
// control character but whitespace (which no code is), so the
// substitution is undone exactly whatever the array holds, and an array
// stored before the substitution existed reads back as it is. A code's
// fragment never changes; new fragments are appended.
//
// Longer fragments come before the fragments they start with: the
// replacer tries them in order.
var actionFragments = []string{
	`{"type":"add_tag","tag_id":`,
	`{"type":"remove_tag","tag_id":`,
	`,"tag_name":`,
	`,"tag_external_id":null}`,
	`,"tag_external_id":`,
	`{"type":"assign_agent","user_id":`,
	`,"user_external_id":null`,
	`,"user_external_id":`,
	`,"user_email":null}`,
	`,"user_email":`,
	`{"type":"set_status","status":`,
	`,"snooze_until":`,
	`{"type":"set_priority","priority":`,
	`{"type":"add_note","body":`,
	`{"type":"send_response","body":`,
	`,"subject":`,
	`{"type":"send_webhook","url":`,
	`,"headers":`,
}

// actionCodes are the bytes that stand for the fragments: the control
// characters but NUL and the three JSON allows as whitespace.
const actionCodes = "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"

var packActions, unpackActions = func() (*strings.Replacer, *strings.Replacer) {
	if len(actionFragments) > len(actionCodes) {
		panic("store: more action fragments than codes")
	}
	var pack, unpack []string
	for i, f := range actionFragments {
		pack = append(pack, f, actionCodes[i:i+1])
		unpack = append(unpack, actionCodes[i:i+1], f)
	}
	return strings.NewReplacer(pack...), strings.NewReplacer(unpack...)
}()

// storedActions is what the runs table keeps for a run's actions.
func storedActions(actions json.RawMessage) json.RawMessage {
	if len(actions) == 0 {
		return actions
	}
	return json.RawMessage(packActions.Replace(string(actions)))
}

// expandActions is a run's actions as stored, read back.
func expandActions(stored []byte) json.RawMessage {
	if stored == nil {
		return nil
	}
	if !strings.ContainsAny(string(stored), actionCodes) {
		return json.RawMessage(stored) // stored before the substitution, or nothing to substitute
	}
	return json.RawMessage(unpackActions.Replace(string(stored)))
}
