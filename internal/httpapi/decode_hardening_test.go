package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

func nested(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

// TestCheckBody pins what the door refuses before any decoder runs: depth
// past validation.MaxJSONDepth, repeated keys, invalid UTF-8 and lone
// surrogates, each a 400 naming where it is; and what it leaves alone.
func TestCheckBody(t *testing.T) {
	t.Parallel()
	max := validation.MaxJSONDepth
	tests := []struct {
		name  string
		body  string
		field string // "" = accepted; "-" = refused without a field
	}{
		{"flat", `{"a":1,"b":[1,2,{"c":null}],"d":"é"}`, ""},
		{"depth at the limit", nested(max), ""},
		{"arrays at the limit", strings.Repeat("[", max) + strings.Repeat("]", max), ""},
		{"depth past the limit", nested(max + 1), "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a"},
		{"arrays past the limit", strings.Repeat("[", max+1) + strings.Repeat("]", max+1), "-"},
		{"repeated key", `{"a":1,"b":2,"a":3}`, "a"},
		{"repeated key, escaped", `{"ab":1,"\u0061\u0062":2}`, "ab"},
		{"repeated key in an array item", `{"l":[{},{"k":1,"k":2}]}`, "l[1].k"},
		{"repeated empty key", `{"":1,"":2}`, `""`},
		{"same key in sibling objects", `{"a":{"k":1},"b":{"k":1}}`, ""},
		{"many keys, one repeated", `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":3}`, "k3"},
		{"invalid UTF-8 in a value", "{\"a\":\"x\xffy\"}", "a"},
		{"invalid UTF-8 in a key", "{\"a\xc3\":1}", "-"},
		{"encoded surrogate", "[\"\xed\xa0\x80\"]", "[0]"},
		{"lone high surrogate", `{"a":"\ud800"}`, "a"},
		{"lone high surrogate before another escape", `{"a":"\ud800\n"}`, "a"},
		{"lone low surrogate", `{"a":"\udfff"}`, "a"},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, ""},
		{"syntax errors are the decoder's", `{"a":1,}`, ""},
		{"unterminated", `{"a":"x`, ""},
		{"trailing data is the decoder's", `{} {}`, ""},
	}
	for _, tt := range tests {
		err := checkBody([]byte(tt.body))
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: checkBody refused %s: %v", tt.name, tt.body, err)
			}
			continue
		}
		var p *Problem
		if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
			t.Errorf("%s: checkBody(%s) = %v, want a 400", tt.name, tt.body, err)
			continue
		}
		if tt.field != "-" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
			t.Errorf("%s: checkBody(%s) names %v, want %q", tt.name, tt.body, p.Errors, tt.field)
		}
	}
}

// TestScanDepthLimit: the one-pass ingestion decoder stops at the same
// depth as checkBody, so whatever it accepts is within the limit.
func TestScanDepthLimit(t *testing.T) {
	t.Parallel()
	max := validation.MaxJSONDepth
	event := func(payloadDepth int) []byte {
		return []byte(`{"event_type":"messages.incoming","payload":` + nested(payloadDepth) + `}`)
	}
	if _, ok := scanEvent(event(max - 1)); !ok {
		t.Errorf("scanEvent refused a body of depth %d", max)
	}
	if _, ok := scanEvent(event(max)); ok {
		t.Errorf("scanEvent accepted a body of depth %d", max+1)
	}
	batch := func(payloadDepth int) []byte {
		return []byte(`{"events":[{"payload":{}},{"payload":` + nested(payloadDepth) + `}]}`)
	}
	if _, ok := scanBatch(batch(max - 3)); !ok {
		t.Errorf("scanBatch refused a body of depth %d", max)
	}
	if _, ok := scanBatch(batch(max - 2)); ok {
		t.Errorf("scanBatch accepted a body of depth %d", max+1)
	}
	for _, body := range [][]byte{event(max), batch(max - 2)} {
		if err := checkBody(body); err == nil {
			t.Errorf("checkBody accepted %d bytes nested past the limit", len(body))
		}
	}
}
