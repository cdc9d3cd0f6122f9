package canonical

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/gowebpki/jcs"
)

func TestCanonicalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		// RFC 8785 §3.2.2.
		{
			"rfc8785 example",
			`{
			  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
			  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
			  "literals": [null, true, false]
			}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		// RFC 8785 §3.2.3: sorted by UTF-16 code units, so the emoji (a
		// surrogate pair, 0xD83D…) comes before U+FB33 although its code
		// point is larger.
		{
			"rfc8785 sorting",
			`{
			  "\u20ac": "Euro Sign",
			  "\r": "Carriage Return",
			  "\ufb33": "Hebrew Letter Dalet With Dagesh",
			  "1": "One",
			  "\ud83d\ude00": "Emoji: Grinning Face",
			  "\u0080": "Control",
			  "\u00f6": "Latin Small Letter O With Diaeresis"
			}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{"surrogate pair against the top of the BMP", `{"\uffff":1,"\ud800\udc00":2,"\ue000":3}`, "{\"\U00010000\":2,\"\ue000\":3,\"\uffff\":1}"},
		{"two surrogate pairs", `{"\ud83d\ude01":1,"\ud83d\ude00":2,"\ud83c\udfff":3}`, "{\"\U0001f3ff\":3,\"😀\":2,\"😁\":1}"},
		{"prefix sorts first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
		{"escaped key sorts by its value", `{"A":1,"\n":2}`, `{"\n":2,"A":1}`},
		{"nested objects", `{"b":{"z":1,"y":[{"d":1,"c":2}]},"a":null}`, `{"a":null,"b":{"y":[{"c":2,"d":1}],"z":1}}`},
		{"array order kept", `[3, 1, 2]`, `[3,1,2]`},
		{"empty containers", ` { "a" : [ ] , "b" : { } } `, `{"a":[],"b":{}}`},
		{"top-level scalar", " 42\n", `42`},
		{"top-level string", `"\u00e9"`, `"é"`},

		{"1e21", `1e21`, `1e+21`},
		{"1e20", `1e20`, `100000000000000000000`},
		{"1e-7", `1e-7`, `1e-7`},
		{"0.000001", `0.000001`, `0.000001`},
		{"-0", `-0`, `0`},
		{"-0.0", `-0.0`, `0`},
		{"-0e5", `-0e5`, `0`},
		{"333333333.33333329", `333333333.33333329`, `333333333.3333333`},
		{"4.50", `4.50`, `4.5`},
		{"2e-3", `2e-3`, `0.002`},
		{"1.0", `1.0`, `1`},
		{"1E+2", `1E+2`, `100`},
		{"negative", `-12.5`, `-12.5`},
		{"2^53", `9007199254740992`, `9007199254740992`},
		{"above 2^53 rounds", `9007199254740993`, `9007199254740992`},
		{"15 digits", `999999999999999`, `999999999999999`},
		{"16 digits", `1234567890123456789`, `1234567890123456800`},
		{"big integer", `123456789012345678901234567890`, `1.2345678901234568e+29`},
		{"underflow is zero", `1e-400`, `0`},
		{"smallest subnormal", `5e-324`, `5e-324`},
		{"largest double", `1.7976931348623157e308`, `1.7976931348623157e+308`},

		{"control characters", `"\u0000\u0001\b\t\n\u000b\f\r\u001f"`, `"\u0000\u0001\b\t\n\u000b\f\r\u001f"`},
		{"uppercase hex escapes", `"\u001F\u00E9"`, `"\u001fé"`},
		{"DEL and C1 are literal", `"\u007f\u0085"`, "\"\x7f\u0085\""},
		{"line separators are literal", `"\u2028\u2029"`, "\"\u2028\u2029\""},
		{"html characters are literal", `"<a href='x'>&amp;</a>"`, `"<a href='x'>&amp;</a>"`},
		{"solidus unescaped", `"a\/b"`, `"a/b"`},
		{"quote and backslash", `"\"\\"`, `"\"\\"`},
		{"raw utf-8 kept", `"héllo 😀 中文"`, `"héllo 😀 中文"`},
		{"escaped emoji", `"\ud83d\ude00"`, `"😀"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonicalize(%s): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Canonicalize(%s) (-want +got):\n%s", tt.in, diff)
			}
			hash, err := Hash([]byte(tt.in))
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			sum := sha256.Sum256([]byte(tt.want))
			if want := hex.EncodeToString(sum[:]); hash != want {
				t.Errorf("Hash = %s, want %s", hash, want)
			}
		})
	}
}

func TestCanonicalizeInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"empty", ``},
		{"whitespace only", " \n"},
		{"duplicate key", `{"a":1,"a":2}`},
		{"duplicate key after sorting", `{"b":1,"a":2,"b":3}`},
		{"duplicate key spelled differently", `{"é":1,"\u00e9":2}`},
		{"duplicate nested key", `{"x":[{"a":1,"a":1}]}`},
		{"trailing comma in object", `{"a":1,}`},
		{"trailing comma in array", `[1,]`},
		{"leading comma", `[,1]`},
		{"missing colon", `{"a" 1}`},
		{"missing value", `{"a":}`},
		{"unquoted key", `{a:1}`},
		{"single quotes", `{'a':1}`},
		{"unterminated object", `{"a":1`},
		{"unterminated array", `[1,2`},
		{"unterminated string", `"abc`},
		{"two values", `{} {}`},
		{"trailing garbage", `1 x`},
		{"leading zero", `01`},
		{"plus sign", `+1`},
		{"bare dot", `.5`},
		{"no fraction digits", `1.`},
		{"no exponent digits", `1e`},
		{"hex number", `0x10`},
		{"NaN", `NaN`},
		{"Infinity", `Infinity`},
		{"overflow", `1e309`},
		{"negative overflow", `-1.8e308`},
		{"bad literal", `tru`},
		{"capital literal", `True`},
		{"raw control character", "\"a\tb\""},
		{"raw newline", "\"a\nb\""},
		{"bad escape", `"\x41"`},
		{"short unicode escape", `"\u12"`},
		{"bad hex", `"\u12G4"`},
		{"lone high surrogate", `"\ud800"`},
		{"lone high surrogate then text", `"\ud800abcdef"`},
		{"lone low surrogate", `"\udc00"`},
		{"high then high surrogate", `"\ud800\ud800"`},
		{"invalid utf-8", "\"\xff\""},
		{"invalid utf-8 in key", "{\"\xc3\":1}"},
		{"utf-8 encoded surrogate", "\"\xed\xa0\x80\""},
		{"overlong utf-8", "\"\xc0\xaf\""},
		{"byte order mark", "\ufeff{}"},
		{"non-breaking space", "{\u00a0}"},
		{"comment", `{} // no`},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Canonicalize([]byte(tt.in))
			if err == nil {
				t.Fatalf("Canonicalize(%q) = %q, want an error", tt.in, out)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Errorf("error %v is not a *canonical.Error", err)
			}
			if _, err := Hash([]byte(tt.in)); err == nil {
				t.Errorf("Hash(%q) succeeded", tt.in)
			}
		})
	}
}

func TestCanonicalizeDepthLimit(t *testing.T) {
	t.Parallel()
	in := strings.Repeat(`{"a":[`, MaxDepth/2) + strings.Repeat(`]}`, MaxDepth/2)
	if _, err := Canonicalize([]byte(in)); err != nil {
		t.Errorf("nesting of exactly %d: %v", MaxDepth, err)
	}
}

// TestCanonicalizeDeepUnsortedIsLinear guards against copying an object's
// body once per nesting level: ten thousand nested objects, each listing
// its members out of order around a large string, must cost about what the
// same bytes cost flat. It compares the two rather than using a time limit,
// so a slow machine does not fail it; the best of three runs each rides
// out noise.
func TestCanonicalizeDeepUnsortedIsLinear(t *testing.T) {
	t.Parallel()
	depth := MaxDepth - 1
	leaf := `"` + strings.Repeat("x", 900_000) + `"`
	deep := []byte(strings.Repeat(`{"b":`, depth) + leaf + strings.Repeat(`,"a":1}`, depth))
	flat := []byte(`[` + leaf + strings.Repeat(` `, len(deep)-len(leaf)-2) + `]`)
	best := func(in []byte) time.Duration {
		d := time.Duration(math.MaxInt64)
		for range 3 {
			start := time.Now()
			if _, err := Canonicalize(in); err != nil {
				t.Fatal(err)
			}
			d = min(d, time.Since(start))
		}
		return d
	}
	deepTime, flatTime := best(deep), best(flat)
	// Linear work measures a few times the flat case (there are 30,000
	// nodes to sort and write); copying per level measured hundreds.
	if deepTime > 40*flatTime+20*time.Millisecond {
		t.Errorf("deep unsorted input took %v, flat input of the same size %v", deepTime, flatTime)
	}
}

// TestNumberFormat checks the ES6 formatting vectors of RFC 8785 appendix B.
func TestNumberFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		f := math.Float64frombits(tt.bits)
		if got := string(appendNumber(nil, f)); got != tt.want {
			t.Errorf("appendNumber(%#016x) = %s, want %s", tt.bits, got, tt.want)
		}
		// The same number read back from its canonical text is canonical.
		if got, err := Canonicalize([]byte(tt.want)); err != nil || string(got) != tt.want {
			t.Errorf("Canonicalize(%s) = %s, %v", tt.want, got, err)
		}
	}
}

func TestHashEquivalent(t *testing.T) {
	t.Parallel()
	groups := [][]string{
		{
			`{"a":1,"b":"x","c":[true,null]}`,
			`{"c":[true,null],"b":"x","a":1}`,
			"{\n  \"b\" : \"x\",\r\n\t\"a\": 1.0,\n  \"c\": [ true , null ]\n}",
			`{"a":1e0,"b":"\u0078","c":[true,null]}`,
			`{"\u0061":10E-1,"b":"x","c":[true,null]}`,
		},
		{`{"n":-0}`, `{"n":0}`, `{"n":0.0e10}`},
		{`{"s":"é/"}`, `{"s":"\u00e9\/"}`, `{"s":"\u00E9/"}`},
		{`{"e":"😀"}`, `{"e":"\ud83d\ude00"}`, `{"e":"\uD83D\uDE00"}`},
	}
	for _, g := range groups {
		want := mustHash(t, g[0])
		for _, in := range g[1:] {
			if got := mustHash(t, in); got != want {
				t.Errorf("Hash(%s) = %s, Hash(%s) = %s; want equal", in, got, g[0], want)
			}
		}
	}
	if got, want := mustHash(t, `{}`), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"; got != want {
		t.Errorf(`Hash({}) = %s, want %s`, got, want)
	}
}

func TestHashDiffers(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{
		{`{"a":1}`, `{"a":2}`},
		{`{"a":1}`, `{"a":"1"}`},
		{`{"a":1}`, `{"b":1}`},
		{`{"a":null}`, `{}`},
		{`{"a":[1,2]}`, `{"a":[2,1]}`},
		{`{"a":"x"}`, `{"a":"X"}`},
		{`{"a":"x "}`, `{"a":"x"}`},
		{`{"a":true}`, `{"a":1}`},
		{`{"a":{"b":1}}`, `{"a.b":1}`},
		{`[{}]`, `{}`},
		{`{"a":0.1}`, `{"a":0.10000000000000002}`},
	}
	for _, p := range pairs {
		if mustHash(t, p[0]) == mustHash(t, p[1]) {
			t.Errorf("Hash(%s) == Hash(%s)", p[0], p[1])
		}
	}
}

func mustHash(t *testing.T, s string) string {
	t.Helper()
	h, err := Hash([]byte(s))
	if err != nil {
		t.Fatalf("Hash(%s): %v", s, err)
	}
	if len(h) != 64 || strings.ToLower(h) != h {
		t.Fatalf("Hash(%s) = %q, want 64 lowercase hex digits", s, h)
	}
	return h
}

// TestCanonicalizeDoesNotAlias checks that the result does not share memory
// with the pooled buffers: a later call must not change an earlier result.
func TestCanonicalizeDoesNotAlias(t *testing.T) {
	t.Parallel()
	first, err := Canonicalize([]byte(`{"b":1,"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := Canonicalize([]byte(`{"zzzzzzzz":"yyyyyyyyyyyy"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if string(first) != `{"a":2,"b":1}` {
		t.Errorf("earlier result changed to %s", first)
	}
}

// FuzzCanonicalize checks, for any input: canonicalizing twice changes
// nothing; the output is valid JSON that decodes to the same value as the
// input; and we accept and write exactly what github.com/gowebpki/jcs, an
// independent implementation, does.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `-0`, `{"b":[1,2.50,"x"],"a":{"d":null,"c":true}}`,
		`{"\ud83d\ude00":1,"\ufb33":2}`, `"\u0000\u2028"`, `[1e21,1e-7,5e-324]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := Canonicalize(raw)
		ref, refErr := jcs.Transform(raw)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("input %q: our error %v, jcs error %v", raw, err, refErr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(out, ref) {
			t.Fatalf("input %q: we write %q, jcs writes %q", raw, out, ref)
		}
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("input %q: output %q is not valid JSON", raw, out)
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("input %q: canonicalizing %q again gives %q, %v", raw, out, again, err)
		}
		var in, got any
		if err := json.Unmarshal(raw, &in); err != nil {
			t.Fatalf("input %q: accepted, but encoding/json rejects it: %v", raw, err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		if !reflect.DeepEqual(in, got) {
			t.Fatalf("input %q decodes to %#v, output %q to %#v", raw, in, out, got)
		}
	})
}

// TestHashValue checks the embedded form: the hash of a value followed by
// more input is the hash of the value alone, end points just past it, and
// the depth budget counts the enclosing levels.
func TestHashValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		data    string
		value   string // what Hash is given for comparison
		end     int
		depth   int
		wantErr bool
	}{
		{data: `{"b":1,"a":2},"next":true}`, value: `{"a":2,"b":1}`, end: 13},
		{data: "  [1, 2]  ]", value: `[1,2]`, end: 8},
		{data: `"x"}`, value: `"x"`, end: 3},
		{data: `1e2,`, value: `100`, end: 3},
		{data: `null}`, value: `null`, end: 4},
		{data: `{"a":1,"a":2}`, wantErr: true},
		{data: `{"a":`, wantErr: true},
		{data: ``, wantErr: true},
		{data: `[[1]]`, depth: MaxDepth - 1, wantErr: true},
		{data: `[1]`, value: `[1]`, end: 3, depth: MaxDepth - 1},
	}
	for _, c := range cases {
		sum, end, err := HashValue([]byte(c.data), c.depth)
		if c.wantErr {
			if err == nil {
				t.Errorf("HashValue(%q, %d) = %s, %d; want an error", c.data, c.depth, sum, end)
			}
			continue
		}
		if err != nil {
			t.Errorf("HashValue(%q, %d): %v", c.data, c.depth, err)
			continue
		}
		if want := mustHash(t, c.value); sum != want || end != c.end {
			t.Errorf("HashValue(%q) = %s, %d; want %s, %d", c.data, sum, end, want, c.end)
		}
	}
}
