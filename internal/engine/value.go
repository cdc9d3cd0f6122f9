package engine

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// scalar is one scalar value (from the payload or a condition) prepared
// for every operator once: its text, lower-cased text, and its number or
// instant when it reads as one. Preparing a payload value once per event,
// not once per condition, is what makes a thousand rules cheap.
type scalar struct {
	kind   uint8  // jString, jNumber, jTrue or jFalse
	text   []byte // decoded string; a number's literal; "true" / "false"
	lower  []byte // text lower-cased (the same slice when already lower)
	num    rules.Number
	isNum  bool // a number, or a numeric string
	isTime bool // an RFC 3339 string
	nsec   int32
	sec    int64
}

var (
	textTrue  = []byte("true")
	textFalse = []byte("false")
)

// prepare fills s's derived forms from its kind and text. Lower-cased
// text that differs from text is appended to *arena.
func (s *scalar) prepare(arena *[]byte) {
	s.isNum, s.isTime = false, false
	switch s.kind {
	case jTrue:
		s.text, s.lower = textTrue, textTrue
		return
	case jFalse:
		s.text, s.lower = textFalse, textFalse
		return
	case jNumber:
		s.lower = s.text
		s.num, s.isNum = rules.ParseNumber(s.text)
		return
	}
	s.lower = lowered(arena, s.text)
	if len(s.text) == 0 {
		return
	}
	if c := s.text[0]; c == ' ' || c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9') {
		s.num, s.isNum = rules.ParseNumber(s.text)
		if !s.isNum && len(s.text) >= 20 && s.text[4] == '-' {
			s.sec, s.nsec, s.isTime = rules.ParseInstant(s.text)
		}
	}
}

// lowered returns b lower-cased: b itself when it has nothing to lower,
// else a copy appended to *arena.
func lowered(arena *[]byte, b []byte) []byte {
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(b) {
		return b
	}
	start := len(*arena)
	*arena = appendLower(*arena, b)
	return (*arena)[start:len(*arena):len(*arena)]
}

// appendLower appends b lower-cased rune by rune (unicode.ToLower, as
// strings.ToLower does). Conditions' constants go through the same
// function, so both sides of a comparison are lowered alike.
func appendLower(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		i += size
	}
	return dst
}

// newConst prepares a condition's constant (string, json number text or
// bool) at compile time.
func newConst(v any) scalar {
	var s scalar
	switch x := v.(type) {
	case string:
		s.kind, s.text = jString, []byte(x)
	case bool:
		s.kind = jFalse
		if x {
			s.kind = jTrue
		}
	case json.Number:
		s.kind, s.text = jNumber, []byte(x)
	}
	var arena []byte
	s.prepare(&arena)
	return s
}

// size is how many bytes moveTo needs.
func (s *scalar) size() int {
	if sameBytes(s.text, s.lower) {
		return len(s.text)
	}
	return len(s.text) + len(s.lower)
}

// moveTo copies s's bytes into *arena (pre-sized by size), keeping lower
// shared with text when it was.
func (s *scalar) moveTo(arena *[]byte) {
	shared := sameBytes(s.text, s.lower)
	s.text = appendHeld(arena, s.text)
	if shared {
		s.lower = s.text
	} else {
		s.lower = appendHeld(arena, s.lower)
	}
}

func appendHeld(arena *[]byte, b []byte) []byte {
	if b == nil {
		return nil
	}
	start := len(*arena)
	*arena = append(*arena, b...)
	return (*arena)[start:len(*arena):len(*arena)]
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// slotValue is one field's value for the current event.
type slotValue struct {
	present bool   // exists and is not null
	kind    uint8  // jObject, jArray, a scalar kind, or 0 when missing
	raw     []byte // JSON text, for traces; nil when missing
	one     scalar // when kind is a scalar kind
	elems   []scalar
}

// equal is the equality of the contract: a number equals a number or a
// numeric string when their numbers are equal; everything else compares
// as case-insensitive text (so a boolean equals "true" / "false").
func equal(f, c *scalar) bool {
	if f.kind == jNumber || c.kind == jNumber {
		return f.isNum && c.isNum && f.num.Compare(c.num) == 0
	}
	return bytes.Equal(f.lower, c.lower)
}

// order compares f to c as numbers, or as instants; ok is false when they
// are not both one or the other, which fails the operator.
func order(f, c *scalar) (cmp int, ok bool) {
	switch {
	case f.isNum && c.isNum:
		return f.num.Compare(c.num), true
	case f.isTime && c.isTime:
		switch {
		case f.sec != c.sec:
			return cmpInt(f.sec, c.sec), true
		default:
			return cmpInt(int64(f.nsec), int64(c.nsec)), true
		}
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// domainOf returns the domain of an e-mail address ("Ann <ann@acme.com>"
// → "acme.com"), or the text itself when it has no "@".
func domainOf(b []byte) []byte {
	if at := bytes.LastIndexByte(b, '@'); at >= 0 {
		b = b[at+1:]
	}
	if end := bytes.IndexAny(b, "> \t\r\n"); end >= 0 {
		b = b[:end]
	}
	return bytes.TrimSuffix(bytes.TrimSpace(b), []byte("."))
}

// appendJSONString appends s as a JSON string, for values that do not
// come from the payload (event metadata, the conversation overlay).
func appendJSONString(dst []byte, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else if r == '\u2028' || r == '\u2029' {
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigits[r&0xf])
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
