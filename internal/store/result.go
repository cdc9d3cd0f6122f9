package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
		Actions []actionState     `json:"actions"`
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

// expandResult returns the result the API shows for a stored one.
func expandResult(runID string, stored []byte) (json.RawMessage, error) {
	if len(stored) == 0 || stored[0] != '[' {
		return stored, nil
	}
	var entries [][]json.RawMessage
	if err := json.Unmarshal(stored, &entries); err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, errBadResult)
	}
	actions := make([]actionState, len(entries))
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
	return json.Marshal(struct {
		Reason  *string       `json:"reason"`
		Trace   []struct{}    `json:"trace"`
		Actions []actionState `json:"actions"`
	}{Trace: []struct{}{}, Actions: actions})
}
