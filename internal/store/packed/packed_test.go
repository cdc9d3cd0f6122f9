package packed

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	payload := []byte(`{"conversation":{"id":"conv-1","status":"open","subject":"Order #41416 arrived damaged"},` +
		`"message":{"direction":"incoming","body":"` + strings.Repeat("my order arrived damaged, ", 20) + `"}}`)
	tests := []struct {
		name       string
		in         []byte
		wantPacked bool
	}{
		{"empty", nil, false},
		{"short JSON is kept as it is", []byte(`{"a":1}`), false},
		{"a kilobyte of JSON", payload, true},
		{"a decision record", append([]byte{2, 3}, bytes.Repeat([]byte("conversation.status\x01"), 12)...), true},
		{"incompressible bytes are kept as they are", noise(512), false},
		{"bytes that start with the mark are packed whatever they are", []byte{Mark}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Pack(tt.in)
			if IsPacked(p) != tt.wantPacked {
				t.Fatalf("IsPacked = %v, want %v", IsPacked(p), tt.wantPacked)
			}
			if tt.wantPacked && len(tt.in) >= MinSize && len(p) >= len(tt.in) {
				t.Errorf("packed %d bytes into %d", len(tt.in), len(p))
			}
			got, err := Unpack(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.in) {
				t.Errorf("Unpack(Pack(v)) = %q, want %q", got, tt.in)
			}
		})
	}
}

// TestUnpackLeavesUnmarkedValues: what was stored before packing existed
// reads back as it was.
func TestUnpackLeavesUnmarkedValues(t *testing.T) {
	for _, v := range [][]byte{[]byte(`{"legacy":true}`), []byte(" [1]"), {1, 2, 3}, {}} {
		got, err := Unpack(v)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("Unpack(%q) = %q, %v; want it unchanged", v, got, err)
		}
	}
}

func TestUnpackRejectsCorruptValues(t *testing.T) {
	good := Pack(bytes.Repeat([]byte(`{"k":"value"}`), 40))
	for name, v := range map[string][]byte{
		"garbage after the mark": {Mark, 0xff, 0xfe, 0x01},
		"a truncated stream":     good[:len(good)/2],
	} {
		if _, err := Unpack(v); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestUnpackBoundsItsOutput: a stream that inflates past MaxUnpacked is
// refused rather than read into memory.
func TestUnpackBoundsItsOutput(t *testing.T) {
	bomb := Pack(make([]byte, MaxUnpacked+1))
	if !IsPacked(bomb) {
		t.Fatal("zeros did not pack")
	}
	if _, err := Unpack(bomb); !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want ErrCorrupt", err)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add(Pack(bytes.Repeat([]byte(`{"k":"value"}`), 20)))
	f.Add([]byte{Mark})
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := Unpack(v)
		if err != nil {
			return
		}
		if !IsPacked(v) && !bytes.Equal(got, v) {
			t.Fatalf("an unpacked value changed")
		}
		// Whatever Unpack accepts, packing it again reads back the same.
		again, err := Unpack(Pack(got))
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("Pack/Unpack of %q: %q, %v", got, again, err)
		}
	})
}

// noise is n bytes that do not compress.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func BenchmarkPack(b *testing.B) {
	v := []byte(`{"conversation":{"id":"conv-05287","status":"open","subject":"Order #41416 arrived damaged",` +
		`"channel":"email","assignee_id":null,"tags":["customer","order"],"priority":"medium"},"message":{` +
		`"id":"msg-9-33","direction":"incoming","from_email":"customer05287@example.com","body":"` +
		strings.Repeat("Hello support team, my order arrived damaged. ", 12) + `"}}`)
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(int64(len(v)))
		for b.Loop() {
			Pack(v)
		}
	})
	p := Pack(v)
	b.Run("unpack", func(b *testing.B) {
		b.SetBytes(int64(len(v)))
		for b.Loop() {
			if _, err := Unpack(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
