package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// A matched run's result, as the API shows it, is
//
//	{"reason":null,"trace":[],"actions":[{"index":0,"type":"add_tag","status":"pending","attempts":0,"delivery_id":"…"}, …]}
//
// about 120 bytes per action, most of them names and a delivery id that
// DeliveryID derives from the run. The runs table keeps it compact
// instead: a JSON array with one entry per action, in index order,
//
//	[type, status, attempts, delivered (1 when the delivery id is the derived one, else 0), reason?, error?]
//
// (reason and error trailing, reason "" when only the error is set). A
// result that does not have exactly that shape (an index out of place, a
// delivery id of another kind, a trace) is kept as it is: a stored result
// is compact when it begins with '[' and the full document otherwise.

// errBadResult means a stored compact result could not be read.
var errBadResult = errors.New("store: corrupt run result")

// storedResult returns what the runs table keeps for result: its compact
// form when that expands back to exactly the same bytes, else result.
func storedResult(runID string, result []byte) []byte {
	var doc struct {
		Reason  json.RawMessage   `json:"reason"`
		Trace   []json.RawMessage `json:"trace"`
		Actions []ActionState     `json:"actions"`
	}
	if json.Unmarshal(result, &doc) != nil || string(doc.Reason) != "null" || doc.Trace == nil ||
		len(doc.Trace) != 0 || doc.Actions == nil {
		return result
	}
	entries := make([][]any, len(doc.Actions))
	for i, a := range doc.Actions {
		delivered := 0
		switch a.DeliveryID {
		case "":
		case DeliveryID(runID, i):
			delivered = 1
		default:
			return result
		}
		if a.Index != i {
			return result
		}
		e := []any{a.Type, a.Status, a.Attempts, delivered}
		switch {
		case a.Error != nil:
			e = append(e, a.Reason, *a.Error)
		case a.Reason != "":
			e = append(e, a.Reason)
		}
		entries[i] = e
	}
	compact, err := json.Marshal(entries)
	if err != nil {
		return result
	}
	if full, err := expandResult(runID, compact); err != nil || !bytes.Equal(full, result) {
		return result
	}
	return compact
}

// compactResult is the stored form of a result with no reason, no trace
// and these actions, written without reflection (it runs inside the
// completion's transaction). An entry that the compact form cannot say
// (an index out of place, a delivery id of another kind) makes it the
// full document instead.
func compactResult(runID string, actions []ActionState) []byte {
	b := make([]byte, 0, 2+len(actions)*32)
	b = append(b, '[')
	for i, a := range actions {
		delivered := byte('0')
		if a.DeliveryID != "" {
			if a.DeliveryID != DeliveryID(runID, i) {
				return fullResult(actions)
			}
			delivered = '1'
		}
		if a.Index != i {
			return fullResult(actions)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendJSONString(b, a.Type)
		b = append(b, ',')
		b = appendJSONString(b, a.Status)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(a.Attempts), 10)
		b = append(b, ',', delivered)
		switch {
		case a.Error != nil:
			b = append(b, ',')
			b = appendJSONString(b, a.Reason)
			b = append(b, ',')
			b = appendJSONString(b, *a.Error)
		case a.Reason != "":
			b = append(b, ',')
			b = appendJSONString(b, a.Reason)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// fullResult is the API's result document for these actions.
func fullResult(actions []ActionState) []byte {
	b, _ := json.Marshal(struct {
		Reason  *string       `json:"reason"`
		Trace   []struct{}    `json:"trace"`
		Actions []ActionState `json:"actions"`
	}{Trace: []struct{}{}, Actions: actions})
	return b
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (a plain name is copied as it is).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// expandResult returns the result the API shows for a stored one.
func expandResult(runID string, stored []byte) (json.RawMessage, error) {
	if len(stored) == 0 || stored[0] != '[' {
		return stored, nil
	}
	var entries [][]json.RawMessage
	if err := json.Unmarshal(stored, &entries); err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, errBadResult)
	}
	actions := make([]ActionState, len(entries))
	for i, e := range entries {
		a := &actions[i]
		a.Index = i
		var delivered int
		if len(e) < 4 || len(e) > 6 || json.Unmarshal(e[0], &a.Type) != nil || json.Unmarshal(e[1], &a.Status) != nil ||
			json.Unmarshal(e[2], &a.Attempts) != nil || json.Unmarshal(e[3], &delivered) != nil {
			return nil, fmt.Errorf("run %s: action %d: %w", runID, i, errBadResult)
		}
		if delivered == 1 {
			a.DeliveryID = DeliveryID(runID, i)
		}
		if len(e) > 4 && json.Unmarshal(e[4], &a.Reason) != nil {
			return nil, fmt.Errorf("run %s: action %d: %w", runID, i, errBadResult)
		}
		if len(e) > 5 {
			a.Error = new(string)
			if json.Unmarshal(e[5], a.Error) != nil {
				return nil, fmt.Errorf("run %s: action %d: %w", runID, i, errBadResult)
			}
		}
	}
	return fullResult(actions), nil
}
