package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/store/packed"
)

func TestDecisionsRoundTrip(t *testing.T) {
	long := `"` + strings.Repeat("é", 200) + `"`
	tests := []struct {
		name string
		ds   []Decision
	}{
		{"none", nil},
		{"one match", []Decision{{RuleID: 3, RuleVersion: 2, Matched: true}}},
		{"every reason", []Decision{
			{RuleID: 1, RuleVersion: 1, Reason: "conditions_not_met", Path: "conditions[0]", Actual: json.RawMessage(`"x"`)},
			{RuleID: 2, RuleVersion: 1, Reason: "rollout_excluded"},
			{RuleID: 3, RuleVersion: 9, Reason: "cooldown"},
			{RuleID: 4, RuleVersion: 1, Reason: "loop_prevented"},
			{RuleID: 5, RuleVersion: 1, Reason: "evaluation_limit"},
			{RuleID: 6, RuleVersion: 300, Matched: true},
		}},
		{"shared paths and values", []Decision{
			{RuleID: 1, RuleVersion: 1, Reason: "conditions_not_met", Path: "conditions[1]", Actual: json.RawMessage(`42`)},
			{RuleID: 2, RuleVersion: 1, Reason: "conditions_not_met", Path: "conditions[1]", Actual: json.RawMessage(`42`)},
			{RuleID: 7, RuleVersion: 1, Reason: "conditions_not_met", Path: "conditions[0].conditions[2]"},
			{RuleID: 8, RuleVersion: 1, Reason: "conditions_not_met", Path: "conditions[1]", Actual: json.RawMessage(`["a"]`)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, blob, err := EncodeDecisions(tc.ds)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeDecisions(ids, blob)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.ds, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("long value capped", func(t *testing.T) {
		ids, blob, err := EncodeDecisions([]Decision{{RuleID: 1, Reason: "conditions_not_met", Path: "conditions[0]",
			Actual: json.RawMessage(long)}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeDecisions(ids, blob)
		if err != nil || len(got[0].Actual) > MaxActualBytes || !json.Valid(got[0].Actual) {
			t.Errorf("capped value = %s, %v; want valid JSON of at most %d bytes", got[0].Actual, err, MaxActualBytes)
		}
	})
}

// TestDecisionsPathsOnce: a path shared by many entries is stored once,
// so 60 failing rules cost a few bytes each.
func TestDecisionsPathsOnce(t *testing.T) {
	var ds []Decision
	for i := range 60 {
		ds = append(ds, Decision{RuleID: int64(i + 1), RuleVersion: 1, Reason: "conditions_not_met",
			Path: "conditions[" + string(rune('0'+i%5)) + "]", Actual: json.RawMessage(`"business"`)})
	}
	_, blob, err := EncodeDecisions(ds)
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) > 60*4+100 {
		t.Errorf("60 entries over 5 paths and 1 value take %d bytes, want at most %d", len(blob), 60*4+100)
	}
}

// TestDecisionsPacked: a record whose values are long is stored packed,
// and one stored unpacked (as before packing) still reads.
func TestDecisionsPacked(t *testing.T) {
	body := json.RawMessage(`"` + strings.Repeat("my order arrived damaged, ", 9) + `"`)
	var ds []Decision
	for i := range 90 {
		ds = append(ds, Decision{RuleID: int64(i + 1), RuleVersion: 1, Reason: "conditions_not_met",
			Path: fmt.Sprintf("conditions[%d]", i%4), Actual: body})
	}
	ids, blob, err := EncodeDecisions(ds)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := packed.Unpack(blob)
	if err != nil {
		t.Fatal(err)
	}
	if !packed.IsPacked(blob) || len(blob) >= len(raw) {
		t.Fatalf("record of %d bytes stored in %d (packed %v), want it packed smaller", len(raw), len(blob), packed.IsPacked(blob))
	}
	for name, stored := range map[string][]byte{"packed": blob, "unpacked": raw} {
		got, err := DecodeDecisions(ids, stored)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(ds, got); diff != "" {
			t.Errorf("%s record (-want +got):\n%s", name, diff)
		}
	}
	if _, err := DecodeDecisions(ids, []byte{packed.Mark, 0xff}); !errors.Is(err, errBadRecord) {
		t.Errorf("corrupt packed record: err = %v, want errBadRecord", err)
	}
}

// TestDecisionsFormat1 reads a record as format 1 wrote it (each path in
// full in its entry): records stored before format 2 stay readable.
func TestDecisionsFormat1(t *testing.T) {
	b := []byte{decisionsFormat1}
	b = binary.AppendUvarint(b, 1) // one value
	b = binary.AppendUvarint(b, 3)
	b = append(b, `"x"`...)
	b = binary.AppendUvarint(b, 4) // rule 4: version 4, conditions_not_met
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len("conditions[2]")))
	b = append(b, "conditions[2]"...)
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, 2) // rule 9: version 2, matched
	b = append(b, 0)
	got, err := DecodeDecisions(",4,9,", b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Decision{
		{RuleID: 4, RuleVersion: 4, Reason: "conditions_not_met", Path: "conditions[2]", Actual: json.RawMessage(`"x"`)},
		{RuleID: 9, RuleVersion: 2, Matched: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("format 1 (-want +got):\n%s", diff)
	}
}

// FuzzDecodeDecisions: no stored bytes make decoding panic or allocate
// without bound; what decodes re-encodes to a record that decodes alike.
func FuzzDecodeDecisions(f *testing.F) {
	ids, blob, _ := EncodeDecisions([]Decision{
		{RuleID: 1, RuleVersion: 1, Reason: "conditions_not_met", Path: "conditions[0]", Actual: json.RawMessage(`"x"`)},
		{RuleID: 2, RuleVersion: 3, Matched: true},
	})
	f.Add(ids, blob)
	f.Add(",1,", []byte{decisionsFormat1, 0, 1, 1, 0, 0})
	f.Add(",1,", []byte{decisionsFormat, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, ids string, blob []byte) {
		ds, err := DecodeDecisions(ids, blob)
		if err != nil {
			return
		}
		ids2, blob2, err := EncodeDecisions(ds)
		if err != nil {
			return // e.g. a matched entry with a reason code past the table
		}
		again, err := DecodeDecisions(ids2, blob2)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if diff := cmp.Diff(ds, again); diff != "" && len(ds) > 0 {
			t.Errorf("re-encoded record differs (-first +again):\n%s", diff)
		}
	})
}

func TestDeliveryID(t *testing.T) {
	run := RunID("01900000-0000-7000-8000-0000000000aa", time.UnixMilli(1_700_000_000_000), 7, 3)
	a, b := DeliveryID(run, 0), DeliveryID(run, 1)
	if a != DeliveryID(strings.ToUpper(run), 0) {
		t.Errorf("DeliveryID is not a function of the run and index: %s, %s", a, DeliveryID(strings.ToUpper(run), 0))
	}
	if a == b || a == run {
		t.Errorf("ids %s, %s for run %s: want distinct", a, b, run)
	}
	for _, id := range []string{a, b} {
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || id[:19] != run[:19] {
			t.Errorf("delivery id %s (run %s): want a UUIDv7 sharing the run's first 64 bits", id, run)
		}
	}
	if got, err := uuid.Parse(DeliveryID("not a uuid", 0)); err != nil || got.Version() != 7 {
		t.Errorf("DeliveryID of a malformed run id = %s, want a fresh UUIDv7", got)
	}
}
