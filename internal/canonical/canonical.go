// Package canonical writes JSON in the RFC 8785 canonical form (JCS) and
// hashes it. An event's payload_hash (docs/host-integration.md#payload_hash) is the SHA-256 of its
// canonical form, so the same payload gets the same hash whatever its key
// order, whitespace, escapes or number spelling.
//
// The input must be I-JSON (RFC 7493), as RFC 8785 requires: valid UTF-8,
// no lone surrogates, unique member names, and numbers within the range of
// an IEEE 754 double. Anything else is an error, never a best guess: two
// different payloads must not share a hash because one was repaired.
package canonical

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Error is why the input could not be canonicalized. Offset is the byte
// offset in the input where the problem was found.
type Error struct {
	Offset int
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("canonical: %s at offset %d", e.Reason, e.Offset)
}

// MaxDepth bounds the nesting of arrays and objects, as encoding/json does,
// so a long run of "[" cannot exhaust the stack.
const MaxDepth = 10000

// Canonicalize returns the RFC 8785 canonical form of the JSON value raw.
func Canonicalize(raw []byte) ([]byte, error) {
	e := getEncoder(raw)
	defer putEncoder(e)
	if err := e.run(); err != nil {
		return nil, err
	}
	return slices.Clone(e.out), nil
}

// Hash returns the SHA-256 of the canonical form of raw, in lowercase hex.
func Hash(raw []byte) (string, error) {
	e := getEncoder(raw)
	defer putEncoder(e)
	if err := e.run(); err != nil {
		return "", err
	}
	sum := sha256.Sum256(e.out)
	return hex.EncodeToString(sum[:]), nil
}

// encoder parses the input into a flat list of nodes, sorting each
// object's members as it closes, then writes the output in one pass.
// Writing members where they are parsed and reordering them afterwards
// would be simpler, but it copies an object's whole body once per level
// of nesting: a 1 MiB payload of ten thousand nested, unsorted objects
// would cost gigabytes of copying. This way every output byte is written
// once.
type encoder struct {
	in    []byte
	pos   int
	depth int
	// nodes are the parsed values and object members.
	nodes []node
	// kids holds the children of every array (node indices of elements)
	// and object (node indices of members, sorted), each contiguous.
	kids []int
	// stack collects the children of the containers being parsed.
	stack []int
	// text holds the canonical text of scalars whose input spelling is
	// not already canonical.
	text []byte
	// keys holds decoded member names, which members sort by (not by their
	// escaped form), and scratch space for decoding escaped strings.
	keys []byte
	out  []byte
}

type nodeKind uint8

const (
	kindInput  nodeKind = iota // a scalar written as in the input: in[a:b]
	kindText                   // a scalar rewritten: text[a:b]
	kindArray                  // elements kids[a:a+b]
	kindObject                 // members kids[a:a+b]
	kindMember                 // name keys[a:b], value node c
)

type node struct {
	kind    nodeKind
	a, b, c int
}

func (e *encoder) add(n node) int {
	e.nodes = append(e.nodes, n)
	return len(e.nodes) - 1
}

var encoders = sync.Pool{New: func() any { return new(encoder) }}

func getEncoder(raw []byte) *encoder {
	e := encoders.Get().(*encoder)
	e.in, e.pos, e.depth = raw, 0, 0
	e.nodes, e.kids, e.stack = e.nodes[:0], e.kids[:0], e.stack[:0]
	e.text, e.keys, e.out = e.text[:0], e.keys[:0], e.out[:0]
	return e
}

// maxPooledBuffer keeps one huge payload from pinning its buffers for the
// life of the process.
const maxPooledBuffer = 1 << 20

func putEncoder(e *encoder) {
	if cap(e.out) > maxPooledBuffer || cap(e.text) > maxPooledBuffer || cap(e.keys) > maxPooledBuffer ||
		cap(e.nodes) > maxPooledBuffer/32 || cap(e.kids) > maxPooledBuffer/8 {
		return
	}
	e.in = nil
	encoders.Put(e)
}

// HashValue is Hash for a value embedded in a larger document: it hashes
// the JSON value at the start of data (after any whitespace), ignores what
// follows it, and returns the offset just past the value. A caller that
// scans the enclosing document itself — the ingestion decoder — so hashes
// a member's value in the same pass that finds its end. depth is how deep
// the value sits in that document, so the document as a whole stays
// within MaxDepth.
func HashValue(data []byte, depth int) (sum string, end int, err error) {
	e := getEncoder(data)
	defer putEncoder(e)
	e.depth = depth
	e.skipSpace()
	root, err := e.value()
	if err != nil {
		return "", 0, err
	}
	if cap(e.out) < e.pos {
		e.out = make([]byte, 0, e.pos)
	}
	e.emit(root)
	h := sha256.Sum256(e.out)
	return hex.EncodeToString(h[:]), e.pos, nil
}

func (e *encoder) fail(reason string) error { return &Error{Offset: e.pos, Reason: reason} }

func (e *encoder) run() error {
	if len(e.in) == 0 {
		return e.fail("empty input")
	}
	e.skipSpace()
	root, err := e.value()
	if err != nil {
		return err
	}
	e.skipSpace()
	if e.pos < len(e.in) {
		return e.fail("unexpected data after the value")
	}
	if cap(e.out) < len(e.in) {
		e.out = make([]byte, 0, len(e.in))
	}
	e.emit(root)
	return nil
}

// emit writes node n and everything below it to out. Its recursion is as
// deep as the input's nesting, which MaxDepth bounds.
func (e *encoder) emit(n int) {
	nd := e.nodes[n]
	switch nd.kind {
	case kindInput:
		e.out = append(e.out, e.in[nd.a:nd.b]...)
	case kindText:
		e.out = append(e.out, e.text[nd.a:nd.b]...)
	case kindArray:
		e.out = append(e.out, '[')
		for i, k := range e.kids[nd.a : nd.a+nd.b] {
			if i > 0 {
				e.out = append(e.out, ',')
			}
			e.emit(k)
		}
		e.out = append(e.out, ']')
	case kindObject:
		e.out = append(e.out, '{')
		for i, k := range e.kids[nd.a : nd.a+nd.b] {
			if i > 0 {
				e.out = append(e.out, ',')
			}
			m := e.nodes[k]
			e.out = appendQuoted(e.out, e.keys[m.a:m.b])
			e.out = append(e.out, ':')
			e.emit(m.c)
		}
		e.out = append(e.out, '}')
	}
}

func (e *encoder) skipSpace() {
	for e.pos < len(e.in) {
		switch e.in[e.pos] {
		case ' ', '\t', '\n', '\r':
			e.pos++
		default:
			return
		}
	}
}

func (e *encoder) value() (int, error) {
	if e.pos >= len(e.in) {
		return 0, e.fail("unexpected end of input")
	}
	switch c := e.in[e.pos]; {
	case c == '{':
		return e.object()
	case c == '[':
		return e.array()
	case c == '"':
		return e.stringValue()
	case c == '-' || c >= '0' && c <= '9':
		return e.number()
	case c == 't':
		return e.literal("true")
	case c == 'f':
		return e.literal("false")
	case c == 'n':
		return e.literal("null")
	default:
		return 0, e.fail(fmt.Sprintf("invalid character %q looking for a value", c))
	}
}

func (e *encoder) literal(lit string) (int, error) {
	if len(e.in)-e.pos < len(lit) || string(e.in[e.pos:e.pos+len(lit)]) != lit {
		return 0, e.fail("invalid literal")
	}
	e.pos += len(lit)
	return e.add(node{kind: kindInput, a: e.pos - len(lit), b: e.pos}), nil
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > MaxDepth {
		return e.fail(fmt.Sprintf("nesting deeper than %d", MaxDepth))
	}
	return nil
}

// closeContainer moves the children collected since base from the stack
// to kids and adds the container node.
func (e *encoder) closeContainer(kind nodeKind, base int) int {
	first := len(e.kids)
	e.kids = append(e.kids, e.stack[base:]...)
	count := len(e.stack) - base
	e.stack = e.stack[:base]
	e.depth--
	return e.add(node{kind: kind, a: first, b: count})
}

func (e *encoder) array() (int, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	e.pos++ // '['
	base := len(e.stack)
	e.skipSpace()
	if e.pos < len(e.in) && e.in[e.pos] == ']' {
		e.pos++
		return e.closeContainer(kindArray, base), nil
	}
	for {
		e.skipSpace()
		v, err := e.value()
		if err != nil {
			return 0, err
		}
		e.stack = append(e.stack, v)
		e.skipSpace()
		if e.pos >= len(e.in) {
			return 0, e.fail("unexpected end of input in an array")
		}
		switch e.in[e.pos] {
		case ',':
			e.pos++
		case ']':
			e.pos++
			return e.closeContainer(kindArray, base), nil
		default:
			return 0, e.fail("expected ',' or ']' in an array")
		}
	}
}

func (e *encoder) object() (int, error) {
	if err := e.enter(); err != nil {
		return 0, err
	}
	e.pos++ // '{'
	base := len(e.stack)
	e.skipSpace()
	if e.pos < len(e.in) && e.in[e.pos] == '}' {
		e.pos++
		return e.closeContainer(kindObject, base), nil
	}
	for {
		e.skipSpace()
		if e.pos >= len(e.in) || e.in[e.pos] != '"' {
			return 0, e.fail("expected a member name")
		}
		keyStart := len(e.keys)
		var err error
		if e.keys, err = e.decodeString(e.keys); err != nil {
			return 0, err
		}
		keyEnd := len(e.keys)
		e.skipSpace()
		if e.pos >= len(e.in) || e.in[e.pos] != ':' {
			return 0, e.fail("expected ':' after a member name")
		}
		e.pos++
		e.skipSpace()
		v, err := e.value()
		if err != nil {
			return 0, err
		}
		e.stack = append(e.stack, e.add(node{kind: kindMember, a: keyStart, b: keyEnd, c: v}))
		e.skipSpace()
		if e.pos >= len(e.in) {
			return 0, e.fail("unexpected end of input in an object")
		}
		if e.in[e.pos] == ',' {
			e.pos++
			continue
		}
		if e.in[e.pos] != '}' {
			return 0, e.fail("expected ',' or '}' in an object")
		}
		e.pos++
		break
	}
	if err := e.sortMembers(e.stack[base:]); err != nil {
		return 0, err
	}
	return e.closeContainer(kindObject, base), nil
}

// sortMembers puts an object's members in canonical order and rejects
// duplicate names.
func (e *encoder) sortMembers(ms []int) error {
	cmpKeys := func(x, y int) int {
		a, b := e.nodes[x], e.nodes[y]
		return compareUTF16(e.keys[a.a:a.b], e.keys[b.a:b.b])
	}
	if !slices.IsSortedFunc(ms, cmpKeys) {
		slices.SortFunc(ms, cmpKeys)
	}
	for i := 1; i < len(ms); i++ {
		if cmpKeys(ms[i-1], ms[i]) == 0 {
			m := e.nodes[ms[i]]
			return e.fail("duplicate member name " + quoteShort(e.keys[m.a:m.b]))
		}
	}
	return nil
}

// quoteShort quotes a name for an error message, cut to 64 bytes: error
// messages get logged, and a name can be as long as the request body.
func quoteShort(name []byte) string {
	const max = 64
	if len(name) <= max {
		return strconv.Quote(string(name))
	}
	return strconv.Quote(string(name[:max])) + "…"
}

// compareUTF16 orders two valid UTF-8 strings by their UTF-16 code units,
// as RFC 8785 §3.2.3 requires. That is byte order except where a character
// above U+FFFF (a surrogate pair, 0xD800–0xDBFF first) meets one in
// U+E000–U+FFFF, which UTF-8 orders the other way round.
func compareUTF16(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) - len(b)
	}
	if a[i] < utf8.RuneSelf || b[i] < utf8.RuneSelf {
		return int(a[i]) - int(b[i])
	}
	// Both differ inside a multi-byte character; step back to its start,
	// which the two share.
	for i > 0 && !utf8.RuneStart(a[i]) {
		i--
	}
	ra, _ := utf8.DecodeRune(a[i:])
	rb, _ := utf8.DecodeRune(b[i:])
	return cmp.Compare(utf16Order(ra), utf16Order(rb))
}

// utf16Order maps a character to a number that sorts like its UTF-16 code
// units: the first unit in the high half, the second (if any) below it.
func utf16Order(r rune) uint32 {
	if r < 0x10000 {
		return uint32(r) << 16
	}
	hi, lo := utf16.EncodeRune(r)
	return uint32(hi)<<16 | uint32(lo)
}

func (e *encoder) stringValue() (int, error) {
	// Strings without escapes or control characters are the common case,
	// and already canonical: validate them and point at the input.
	start := e.pos
	for i := start + 1; i < len(e.in); i++ {
		c := e.in[i]
		switch {
		case c == '"':
			e.pos = i + 1
			return e.add(node{kind: kindInput, a: start, b: e.pos}), nil
		case c == '\\' || c < 0x20:
			return e.rewriteString()
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(e.in[i:])
			if r == utf8.RuneError && size <= 1 {
				return e.rewriteString() // which reports it
			}
			i += size - 1
		}
	}
	return e.rewriteString()
}

// rewriteString decodes the string at e.pos and writes it canonically.
func (e *encoder) rewriteString() (int, error) {
	scratch := len(e.keys)
	var err error
	if e.keys, err = e.decodeString(e.keys); err != nil {
		return 0, err
	}
	start := len(e.text)
	e.text = appendQuoted(e.text, e.keys[scratch:])
	e.keys = e.keys[:scratch]
	return e.add(node{kind: kindText, a: start, b: len(e.text)}), nil
}

// decodeString parses the string at e.pos and appends its UTF-8 content
// to dst.
func (e *encoder) decodeString(dst []byte) ([]byte, error) {
	e.pos++ // '"'
	for {
		if e.pos >= len(e.in) {
			return dst, e.fail("unterminated string")
		}
		c := e.in[e.pos]
		switch {
		case c == '"':
			e.pos++
			return dst, nil
		case c < 0x20:
			return dst, e.fail("control character in a string")
		case c == '\\':
			var err error
			if dst, err = e.escape(dst); err != nil {
				return dst, err
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			e.pos++
		default:
			r, size := utf8.DecodeRune(e.in[e.pos:])
			if r == utf8.RuneError && size <= 1 {
				return dst, e.fail("invalid UTF-8")
			}
			dst = append(dst, e.in[e.pos:e.pos+size]...)
			e.pos += size
		}
	}
}

func (e *encoder) escape(dst []byte) ([]byte, error) {
	if e.pos+1 >= len(e.in) {
		return dst, e.fail("unterminated escape")
	}
	c := e.in[e.pos+1]
	e.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(dst, c), nil
	case 'b':
		return append(dst, '\b'), nil
	case 'f':
		return append(dst, '\f'), nil
	case 'n':
		return append(dst, '\n'), nil
	case 'r':
		return append(dst, '\r'), nil
	case 't':
		return append(dst, '\t'), nil
	case 'u':
	default:
		e.pos -= 2
		return dst, e.fail("invalid escape")
	}
	r, ok := e.hex4()
	if !ok {
		return dst, e.fail(`invalid \u escape`)
	}
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return dst, e.fail("lone low surrogate")
	case r >= 0xD800 && r <= 0xDBFF:
		if e.pos+1 >= len(e.in) || e.in[e.pos] != '\\' || e.in[e.pos+1] != 'u' {
			return dst, e.fail("lone high surrogate")
		}
		e.pos += 2
		lo, ok := e.hex4()
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return dst, e.fail("high surrogate not followed by a low surrogate")
		}
		r = utf16.DecodeRune(r, lo)
	}
	return utf8.AppendRune(dst, r), nil
}

func (e *encoder) hex4() (rune, bool) {
	if len(e.in)-e.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range e.in[e.pos : e.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	e.pos += 4
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes s as a canonical JSON string: only '"', '\\' and
// control characters are escaped, the common ones by their short forms and
// the rest as \u00xx in lowercase (RFC 8785 §3.2.2.2). Everything else,
// U+2028 and U+2029 included, is written as it is.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// maxExactDigits is the length of integers that are written as they are:
// up to 15 digits every integer is an exact double, which ES6 prints in
// full, so the input spelling is already canonical.
const maxExactDigits = 15

func (e *encoder) number() (int, error) {
	start := e.pos
	i := e.pos
	if e.in[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i < len(e.in) && e.in[i] == '0':
		i++
	case i < len(e.in) && e.in[i] >= '1' && e.in[i] <= '9':
		for i < len(e.in) && e.in[i] >= '0' && e.in[i] <= '9' {
			i++
		}
	default:
		e.pos = i
		return 0, e.fail("invalid number")
	}
	integer := true
	if i < len(e.in) && e.in[i] == '.' {
		integer = false
		i++
		if i >= len(e.in) || e.in[i] < '0' || e.in[i] > '9' {
			e.pos = i
			return 0, e.fail("invalid number: no digit after '.'")
		}
		for i < len(e.in) && e.in[i] >= '0' && e.in[i] <= '9' {
			i++
		}
	}
	if i < len(e.in) && (e.in[i] == 'e' || e.in[i] == 'E') {
		integer = false
		i++
		if i < len(e.in) && (e.in[i] == '+' || e.in[i] == '-') {
			i++
		}
		if i >= len(e.in) || e.in[i] < '0' || e.in[i] > '9' {
			e.pos = i
			return 0, e.fail("invalid number: no digit in the exponent")
		}
		for i < len(e.in) && e.in[i] >= '0' && e.in[i] <= '9' {
			i++
		}
	}
	e.pos = i
	text := e.in[start:i]
	if integer && i-digits <= maxExactDigits {
		if i-digits == 1 && e.in[digits] == '0' {
			return e.add(node{kind: kindInput, a: digits, b: i}), nil // -0 is written 0
		}
		return e.add(node{kind: kindInput, a: start, b: i}), nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) {
		e.pos = start
		return 0, e.fail("number out of the range of a double")
	}
	at := len(e.text)
	e.text = appendNumber(e.text, f)
	return e.add(node{kind: kindText, a: at, b: len(e.text)}), nil
}

// appendNumber appends f as ECMAScript's Number.prototype.toString writes
// it (RFC 8785 §3.2.2.3): the shortest digits that round-trip, plain
// notation from 1e-6 up to 1e21, exponent notation outside, and 0 for -0.
// f must be finite.
func appendNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// strconv writes at least two exponent digits ("1e-07"); ES6 does
		// not ("1e-7"). Exponents of 'e' notation here are at least 21 or
		// at most -7, so only a negative one can have a leading zero.
		n := len(dst)
		if dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
