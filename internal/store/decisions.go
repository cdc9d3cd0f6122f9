package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/store/packed"
)

// The decision record. Every rule evaluated for an event leaves a run,
// but a run that did not match must not cost a row with its indexes (100
// rules of which a few match would write 100 rows per event). So the
// decisions of one event are kept in the event's own row, written by the
// UPDATE that completes it:
//
//   - decided_rules, text: ",3,7,12," — the evaluated rules' ids in the
//     order they ran. Listings select "events for which rule 7 recorded a
//     run" with LIKE '%,7,%', in SQL both dialects run, so event listings
//     keep every filter, sort and cursor they have.
//   - decisions, bytes: for each of those rules, in the same order, its
//     version, whether it matched, the reason it did not, and for
//     conditions_not_met the failing condition's path and the value it
//     read (each distinct path and value once per event, the value
//     capped); packed (package packed) when that makes it smaller.
//
// A matched run is also a row of runs: it carries the actions' statuses,
// which move as deliveries settle. A run's id is derived, not drawn: the
// event's created_at in the first 48 bits (as in any UUIDv7) and a hash
// of (event, rule) in the rest, so that a non-matched run resolves
// without an index of its own (the events of that millisecond are few)
// and re-processing an event yields the same ids. A run's created_at is
// its event's created_at, so runs sort by id exactly as by (created_at,
// id), and an event's runs stay together in every listing.

// MaxActualBytes caps the value a decision records for its failing
// condition: a longer string keeps its first MaxActualBytes bytes (cut at
// a character boundary); a longer object or array is recorded as null.
const MaxActualBytes = 256

// Decision is one evaluated rule's outcome as the record keeps it.
type Decision struct {
	RuleID      int64
	RuleVersion int
	Matched     bool
	// Reason is why it did not match (empty when it matched).
	Reason string
	// Path and Actual locate the first failing condition and the value it
	// read, for Reason conditions_not_met; Actual nil is JSON null.
	Path   string
	Actual json.RawMessage
}

// decisionsFormat is the first byte of an encoded record. Format 1 wrote
// each entry's path in full; format 2 (written since) keeps each distinct
// path once, after the values, and entries refer to it by number. Both
// are read.
const (
	decisionsFormat1 = 1
	decisionsFormat  = 2
)

// reasons are the reasons a run records, by their code in the record
// (0 is "matched"). New reasons are appended: a code never changes.
var reasons = []string{"", "conditions_not_met", "rollout_excluded", "cooldown", "loop_prevented", "evaluation_limit"}

// errBadRecord means stored decisions could not be decoded.
var errBadRecord = errors.New("store: corrupt decision record")

// EncodeDecisions returns the two columns of an event's record.
func EncodeDecisions(ds []Decision) (ruleIDs string, blob []byte, err error) {
	if len(ds) == 0 {
		return "", nil, nil
	}
	var ids strings.Builder
	ids.Grow(len(ds) * 5)
	ids.WriteByte(',')
	var values, paths [][]byte
	intern := func(table *[][]byte, v []byte) int {
		i := slices.IndexFunc(*table, func(x []byte) bool { return string(x) == string(v) })
		if i < 0 {
			*table = append(*table, v)
			i = len(*table) - 1
		}
		return i
	}
	b := make([]byte, 0, 8+len(ds)*6)
	b = append(b, decisionsFormat)
	body := make([]byte, 0, len(ds)*6)
	for _, d := range ds {
		ids.WriteString(strconv.FormatInt(d.RuleID, 10))
		ids.WriteByte(',')
		code := slices.Index(reasons, d.Reason)
		if code < 0 {
			return "", nil, fmt.Errorf("store: unknown run reason %q", d.Reason)
		}
		if d.Matched {
			code = 0
		} else if code == 0 {
			return "", nil, errors.New("store: a run that did not match needs a reason")
		}
		body = binary.AppendUvarint(body, uint64(max(d.RuleVersion, 0)))
		body = append(body, byte(code))
		if code == 1 { // conditions_not_met: where, and what it read
			body = binary.AppendUvarint(body, uint64(intern(&paths, []byte(d.Path))))
			ref := 0
			if v := capActual(d.Actual); v != nil {
				ref = intern(&values, v) + 1
			}
			body = binary.AppendUvarint(body, uint64(ref))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(values)))
	for _, v := range values {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.AppendUvarint(b, uint64(len(paths)))
	for _, p := range paths {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return ids.String(), packed.Pack(append(b, body...)), nil
}

// DecodeDecisions reads a record back.
func DecodeDecisions(ruleIDs string, blob []byte) ([]Decision, error) {
	if ruleIDs == "" {
		return nil, nil
	}
	idText := strings.Split(strings.Trim(ruleIDs, ","), ",")
	blob, err := packed.Unpack(blob)
	if err != nil {
		return nil, errBadRecord
	}
	if len(blob) == 0 || (blob[0] != decisionsFormat && blob[0] != decisionsFormat1) {
		return nil, errBadRecord
	}
	format := blob[0]
	r := recordReader{b: blob[1:]}
	values := make([]json.RawMessage, r.count())
	for i := range values {
		values[i] = r.bytes(int(r.uvarint()))
	}
	var paths []string
	if format == decisionsFormat {
		paths = make([]string, r.count())
		for i := range paths {
			paths[i] = string(r.bytes(int(r.uvarint())))
		}
	}
	out := make([]Decision, len(idText))
	for i, t := range idText {
		id, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, errBadRecord
		}
		d := Decision{RuleID: id, RuleVersion: int(r.uvarint())}
		code := int(r.byte())
		if code >= len(reasons) {
			return nil, errBadRecord
		}
		d.Matched, d.Reason = code == 0, reasons[code]
		if code == 1 {
			if format == decisionsFormat1 {
				d.Path = string(r.bytes(int(r.uvarint())))
			} else if ref := r.uvarint(); ref < uint64(len(paths)) {
				d.Path = paths[ref]
			} else {
				return nil, errBadRecord
			}
			if ref := int(r.uvarint()); ref > 0 {
				if ref > len(values) {
					return nil, errBadRecord
				}
				d.Actual = values[ref-1]
			}
		}
		out[i] = d
	}
	if r.err {
		return nil, errBadRecord
	}
	return out, nil
}

// recordReader reads a record, remembering (instead of returning) the
// first error.
type recordReader struct {
	b   []byte
	err bool
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a table's length, which cannot exceed the bytes left (each
// entry takes at least one): a corrupt length allocates nothing.
func (r *recordReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return 0
	}
	return int(n)
}

func (r *recordReader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.err, r.b = true, nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// capActual applies MaxActualBytes (see there); nil stays nil (null).
func capActual(v json.RawMessage) json.RawMessage {
	if len(v) <= MaxActualBytes || string(v) == "null" {
		if string(v) == "null" {
			return nil
		}
		return v
	}
	if v[0] != '"' {
		return nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil
	}
	for len(s) > 0 {
		b, _ := json.Marshal(s)
		if len(b) <= MaxActualBytes {
			return b
		}
		cut := len(s) - max(len(b)-MaxActualBytes, 1)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return json.RawMessage(`""`)
}

// RunID is the id of the run of rule ruleID for the event, the pos-th
// rule the event evaluated: the event's created_at (milliseconds) in the
// first 48 bits, UUID version 7, pos in the 12 bits after the version (so
// an event's runs sort in the order its rules ran; positions past 4095
// share the last value and sort by hash), the RFC 9562 variant, and the
// first 62 bits of SHA-256(event id, rule id) in the rest.
func RunID(eventID string, eventCreated time.Time, ruleID int64, pos int) string {
	var u uuid.UUID
	ms := uint64(eventCreated.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	p := min(max(pos, 0), 0xfff)
	u[6], u[7] = 0x70|byte(p>>8), byte(p) // version 7, then the position
	h := runHash(eventID, ruleID)
	copy(u[8:], h[:8])
	u[8] = 0x80 | u[8]&0x3f // variant 10
	return u.String()
}

// DeliveryID is the id of the delivery of action index of the run: the
// run's first 64 bits (its event's time, version 7, its position) and a
// hash of (run, index) in the rest. Re-deciding an event yields the same
// ids, so no action ever has two deliveries (the table's key refuses the
// second), and a run's deliveries sort with it.
func DeliveryID(runID string, index int) string {
	u, err := uuid.Parse(runID)
	if err != nil {
		return uuid.Must(uuid.NewV7()).String()
	}
	var buf [64]byte
	b := append(buf[:0], u.String()...)
	b = append(b, '#')
	b = strconv.AppendInt(b, int64(index), 10)
	h := sha256.Sum256(b)
	copy(u[8:], h[:8])
	u[8] = 0x80 | u[8]&0x3f // variant 10
	return u.String()
}

func runHash(eventID string, ruleID int64) [sha256.Size]byte {
	var buf [64]byte
	b := append(buf[:0], strings.ToLower(eventID)...)
	b = append(b, ':')
	b = strconv.AppendInt(b, ruleID, 10)
	return sha256.Sum256(b)
}

// runIDTime returns the creation time a run id carries (its event's
// created_at), or false for a string that is not a UUID.
func runIDTime(id string) (time.Time, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return time.Time{}, false
	}
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	return time.UnixMilli(ms).UTC(), true
}

// Unordered reports whether a row keyed by (workspace_id, id) and listed
// by (created_at, id) falls out of its key's order: its created_at is
// not the time its id carries (to the millisecond). Such rows are marked
// and listed through an index of their own (ListDeliveries).
func Unordered(id string, created time.Time) bool {
	at, ok := runIDTime(id)
	return !ok || !at.Equal(created)
}

// idBound is the least id (or with last, the greatest) that carries the
// time t: the rows whose id carries t or later (earlier) are a range of a
// key on id from it.
func idBound(t time.Time, last bool) string {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	if last {
		for i := 6; i < len(u); i++ {
			u[i] = 0xff
		}
	}
	return u.String()
}

// hexID is a canonical lower-case UUID, or "" when id is not one.
func hexID(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return ""
	}
	return u.String()
}
