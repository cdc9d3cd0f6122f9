package httpapi

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/canonical"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Ingestion is the hottest path of the API, and the general decoder
// (decodeJSON) reads an event body five times over: a validity scan, the
// strict decode, a re-decode per optional field, the case-sensitive key
// check, and the canonical hash of the payload. scanEvent and scanBatch
// read a well-formed event body once: they walk the top-level object
// themselves and hash the payload in the same pass that finds its end.
//
// They accept only the plain, common shape — known keys each given once,
// strings without escapes, a payload object the hasher accepts — and
// report false for anything else, which then takes decodeJSON and gets
// its precise problem. So they can only ever be faster, never different:
// FuzzScanEvent checks that whatever they accept, decodeJSON accepts with
// the same result.

// scannedEvent is one event read by the fast path: the decoded fields,
// the payload's canonical hash, and the item's raw bytes (a batch item's
// idempotency check hashes them).
type scannedEvent struct {
	batchItem
	payloadHash string
	raw         []byte
}

// jsonScanner reads a JSON document left to right.
type jsonScanner struct {
	data []byte
	pos  int
}

func (s *jsonScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (s *jsonScanner) next(c byte) bool {
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// plainString reads a string without escapes or control characters whose
// bytes are valid UTF-8, and returns its quoted form (quotes included).
func (s *jsonScanner) plainString() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.pos - 1
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		s.pos++
		switch {
		case c == '"':
			quoted := s.data[start:s.pos]
			return quoted, utf8.Valid(quoted)
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// null consumes a null literal if one comes next.
func (s *jsonScanner) null() bool {
	s.space()
	if bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
		s.pos += 4
		return true
	}
	return false
}

// optionalString reads a string field's value: a plain string or null.
func (s *jsonScanner) optionalString(o *Optional[string]) bool {
	o.Set = true
	if s.null() {
		o.Null = true
		return true
	}
	q, ok := s.plainString()
	if ok {
		o.Value = string(q[1 : len(q)-1])
	}
	return ok
}

// The keys of an event, as bits to refuse a repeated key (which
// encoding/json would resolve silently, last one wins).
const (
	keyEventType = 1 << iota
	keyConversationID
	keyContactID
	keySource
	keyChannelSource
	keyOccurredAt
	keyCausedBy
	keyPayload
	keyIdempotencyKey
)

// object reads one event object. depth is how deep it sits in the body
// (1 for a single event), so the payload's nesting is counted from there;
// inBatch admits the batch item's idempotency_key.
func (s *jsonScanner) object(ev *scannedEvent, depth int, inBatch bool) bool {
	s.space()
	start := s.pos
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		ev.raw = s.data[start:s.pos]
		return true
	}
	seen := 0
	for {
		key, ok := s.plainString()
		if !ok || !s.next(':') {
			return false
		}
		var bit int
		switch string(key[1 : len(key)-1]) {
		case "event_type":
			bit, ok = keyEventType, s.optionalString(&ev.EventType)
		case "conversation_id":
			bit, ok = keyConversationID, s.optionalString(&ev.ConversationID)
		case "contact_id":
			bit, ok = keyContactID, s.optionalString(&ev.ContactID)
		case "source":
			bit, ok = keySource, s.optionalString(&ev.Source)
		case "channel_source":
			bit, ok = keyChannelSource, s.optionalString(&ev.ChannelSource)
		case "caused_by":
			bit, ok = keyCausedBy, s.optionalString(&ev.CausedBy)
		case "occurred_at":
			bit, ok = keyOccurredAt, s.occurredAt(&ev.OccurredAt)
		case "payload":
			bit, ok = keyPayload, s.payload(ev, depth)
		case "idempotency_key":
			bit, ok = keyIdempotencyKey, inBatch && s.optionalString(&ev.IdempotencyKey)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if s.next('}') {
			ev.raw = s.data[start:s.pos]
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// occurredAt parses a timestamp exactly as encoding/json would, through
// time.Time's own UnmarshalJSON.
func (s *jsonScanner) occurredAt(o *Optional[time.Time]) bool {
	o.Set = true
	if s.null() {
		o.Null = true
		return true
	}
	q, ok := s.plainString()
	return ok && o.Value.UnmarshalJSON(q) == nil && validation.TimeInRange(o.Value)
}

// hashDepthOffset makes the hasher refuse the payload exactly where the
// body would nest deeper than validation.MaxJSONDepth: HashValue stops at
// canonical.MaxDepth counting from the depth it is given, so starting the
// count this much deeper moves its stop to ours, at no cost to the one
// pass. (decodeJSON then answers the 400.) The array's length fails to
// compile should canonical.MaxDepth ever fall below our limit.
const hashDepthOffset = canonical.MaxDepth - validation.MaxJSONDepth

var _ [hashDepthOffset]struct{}

// payload hashes the payload object where it stands and keeps its bytes.
func (s *jsonScanner) payload(ev *scannedEvent, depth int) bool {
	s.space()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return false // null, or not an object: decodeJSON and toNewEvent say which
	}
	sum, end, err := canonical.HashValue(s.data[s.pos:], depth+hashDepthOffset)
	if err != nil {
		return false
	}
	ev.Payload = Optional[json.RawMessage]{Set: true, Value: s.data[s.pos : s.pos+end]}
	ev.payloadHash = sum
	s.pos += end
	return true
}

// end reports whether only whitespace is left.
func (s *jsonScanner) end() bool {
	s.space()
	return s.pos == len(s.data)
}

// scanEvent reads the body of POST /events on the fast path.
func scanEvent(data []byte) (scannedEvent, bool) {
	var ev scannedEvent
	s := jsonScanner{data: data}
	ok := s.object(&ev, 1, false) && s.end()
	return ev, ok
}

// scanBatch reads the body of POST /events/batch on the fast path. Items
// sit at depth 3: the body, the events array, the item.
func scanBatch(data []byte) ([]scannedEvent, bool) {
	s := jsonScanner{data: data}
	if !s.next('{') {
		return nil, false
	}
	key, ok := s.plainString()
	if !ok || string(key) != `"events"` || !s.next(':') || !s.next('[') {
		return nil, false
	}
	events := make([]scannedEvent, 0, 16)
	if !s.next(']') {
		for {
			events = append(events, scannedEvent{})
			if !s.object(&events[len(events)-1], 3, true) {
				return nil, false
			}
			if s.next(']') {
				break
			}
			if !s.next(',') {
				return nil, false
			}
		}
	}
	if !s.next('}') || !s.end() {
		return nil, false
	}
	return events, true
}

// decodeEvent decodes the body of POST /events: the fast path, or
// decodeJSON with its precise problems.
func decodeEvent(body []byte) (scannedEvent, error) {
	if ev, ok := scanEvent(body); ok {
		return ev, nil
	}
	var ev scannedEvent
	return ev, decodeJSON(body, &ev.eventIn)
}

// decodeBatch decodes the body of POST /events/batch likewise. A body
// without an events list gives nil.
func decodeBatch(body []byte) ([]scannedEvent, error) {
	if evs, ok := scanBatch(body); ok {
		return evs, nil
	}
	var in batchIn
	if err := decodeJSON(body, &in); err != nil || in.Events == nil {
		return nil, err
	}
	raws := batchItemsRaw(body)
	evs := make([]scannedEvent, len(in.Events))
	for i := range in.Events {
		evs[i].batchItem = in.Events[i]
		if i < len(raws) {
			evs[i].raw = raws[i]
		}
	}
	return evs, nil
}
