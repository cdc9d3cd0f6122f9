package engine

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// The payload is indexed, not decoded: one pass over the bytes records
// where every value starts and ends in a flat list of nodes, reused from
// event to event. A field lookup then walks a few nodes and a value is
// decoded only when a condition or template reads it. Measured against
// encoding/json into map[string]any, this is what keeps an event at a
// handful of allocations (see BenchmarkPayload).

// Node kinds.
const (
	jObject uint8 = iota + 1
	jArray
	jString
	jNumber
	jTrue
	jFalse
	jNull
)

// jnode is one JSON value of a document. Object members are stored as a
// key node (a jString) followed by the value's subtree.
type jnode struct {
	kind uint8
	esc  bool  // a string with backslash escapes: decode before use
	from int32 // first byte of the value's JSON text (a string's opening quote)
	to   int32 // one past its last byte
	next int32 // index of the node after this subtree
	n    int32 // object members or array elements
}

// maxDepth bounds nesting so a hostile payload cannot exhaust the stack.
// It is the request limit (docs/concepts.md#conventions): ingestion refuses deeper bodies, so
// every event it accepts can be evaluated here.
const maxDepth = validation.MaxJSONDepth

var errBadJSON = errors.New("engine: payload is not valid JSON")

// document is an indexed JSON text. The zero value is an empty document
// in which every lookup misses.
type document struct {
	src   []byte
	nodes []jnode
}

// parse indexes src, reusing d's node buffer.
func (d *document) parse(src []byte) error {
	d.src = src
	d.nodes = d.nodes[:0]
	p := parser{d: d}
	i := p.skipSpace(0)
	i, err := p.value(i, 0)
	if err == nil && p.skipSpace(i) != len(src) {
		err = errBadJSON
	}
	if err != nil {
		d.src, d.nodes = nil, d.nodes[:0]
	}
	return err
}

type parser struct{ d *document }

func (p *parser) skipSpace(i int) int {
	s := p.d.src
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func (p *parser) push(kind uint8, from int) int {
	p.d.nodes = append(p.d.nodes, jnode{kind: kind, from: int32(from)})
	return len(p.d.nodes) - 1
}

// value indexes the value starting at i and returns the offset after it.
func (p *parser) value(i, depth int) (int, error) {
	s := p.d.src
	if i >= len(s) {
		return 0, errBadJSON
	}
	switch c := s[i]; {
	case c == '{':
		return p.object(i, depth+1)
	case c == '[':
		return p.array(i, depth+1)
	case c == '"':
		return p.str(i)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(i)
	case c == 't':
		return p.literal(i, "true", jTrue)
	case c == 'f':
		return p.literal(i, "false", jFalse)
	case c == 'n':
		return p.literal(i, "null", jNull)
	}
	return 0, errBadJSON
}

func (p *parser) finish(idx, to int) {
	n := &p.d.nodes[idx]
	n.to = int32(to)
	n.next = int32(len(p.d.nodes))
}

func (p *parser) literal(i int, lit string, kind uint8) (int, error) {
	s := p.d.src
	if len(s)-i < len(lit) || string(s[i:i+len(lit)]) != lit {
		return 0, errBadJSON
	}
	idx := p.push(kind, i)
	p.finish(idx, i+len(lit))
	return i + len(lit), nil
}

func (p *parser) number(i int) (int, error) {
	s := p.d.src
	start := i
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, errBadJSON
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return 0, errBadJSON
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, errBadJSON
		}
	}
	idx := p.push(jNumber, start)
	p.finish(idx, i)
	return i, nil
}

func (p *parser) str(i int) (int, error) {
	s := p.d.src
	idx := p.push(jString, i)
	esc := false
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			p.d.nodes[idx].esc = esc
			p.finish(idx, j+1)
			return j + 1, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(s) {
				return 0, errBadJSON
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) {
					return 0, errBadJSON
				}
				for k := j + 1; k <= j+4; k++ {
					if hexVal(s[k]) < 0 {
						return 0, errBadJSON
					}
				}
				j += 4
			default:
				return 0, errBadJSON
			}
		case c < 0x20:
			return 0, errBadJSON
		}
	}
	return 0, errBadJSON
}

func (p *parser) object(i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errBadJSON
	}
	s := p.d.src
	idx := p.push(jObject, i)
	i = p.skipSpace(i + 1)
	members := int32(0)
	if i < len(s) && s[i] == '}' {
		p.finish(idx, i+1)
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, errBadJSON
		}
		var err error
		if i, err = p.str(i); err != nil {
			return 0, err
		}
		i = p.skipSpace(i)
		if i >= len(s) || s[i] != ':' {
			return 0, errBadJSON
		}
		if i, err = p.value(p.skipSpace(i+1), depth); err != nil {
			return 0, err
		}
		members++
		i = p.skipSpace(i)
		if i >= len(s) {
			return 0, errBadJSON
		}
		if s[i] == '}' {
			p.d.nodes[idx].n = members
			p.finish(idx, i+1)
			return i + 1, nil
		}
		if s[i] != ',' {
			return 0, errBadJSON
		}
		i = p.skipSpace(i + 1)
	}
}

func (p *parser) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errBadJSON
	}
	s := p.d.src
	idx := p.push(jArray, i)
	i = p.skipSpace(i + 1)
	elems := int32(0)
	if i < len(s) && s[i] == ']' {
		p.finish(idx, i+1)
		return i + 1, nil
	}
	for {
		var err error
		if i, err = p.value(i, depth); err != nil {
			return 0, err
		}
		elems++
		i = p.skipSpace(i)
		if i >= len(s) {
			return 0, errBadJSON
		}
		if s[i] == ']' {
			p.d.nodes[idx].n = elems
			p.finish(idx, i+1)
			return i + 1, nil
		}
		if s[i] != ',' {
			return 0, errBadJSON
		}
		i = p.skipSpace(i + 1)
	}
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// raw returns the JSON text of node i.
func (d *document) raw(i int32) []byte {
	n := &d.nodes[i]
	return d.src[n.from:n.to]
}

// strBody returns a string node's bytes between its quotes, still escaped
// when the node has escapes.
func (d *document) strBody(i int32) []byte {
	n := &d.nodes[i]
	return d.src[n.from+1 : n.to-1]
}

// appendString appends the decoded text of string node i to dst. Invalid
// UTF-8 and lone surrogates become U+FFFD, as encoding/json does, so the
// engine sees the same text as every other reader of the payload.
func (d *document) appendString(dst []byte, i int32) []byte {
	return appendUnquoted(dst, d.strBody(i), d.nodes[i].esc)
}

func appendUnquoted(dst, body []byte, esc bool) []byte {
	if !esc && utf8.Valid(body) {
		return append(dst, body...)
	}
	for j := 0; j < len(body); {
		c := body[j]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				j++
				continue
			}
			r, size := utf8.DecodeRune(body[j:])
			dst = utf8.AppendRune(dst, r)
			j += size
			continue
		}
		j++
		switch body[j] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(body[j+1:]))
			j += 4 // on the escape's last hex digit
			if utf16.IsSurrogate(r) {
				// A pair is two escapes in a row; anything else is a lone
				// surrogate, which becomes U+FFFD.
				pair := utf8.RuneError
				if j+6 < len(body) && body[j+1] == '\\' && body[j+2] == 'u' {
					pair = utf16.DecodeRune(r, rune(hex4(body[j+3:])))
				}
				if pair != utf8.RuneError {
					j += 6
				}
				r = pair
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, body[j])
		}
		j++
	}
	return dst
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// keyIs reports whether key node k spells key.
func (d *document) keyIs(k int32, key string, scratch *[]byte) bool {
	if !d.nodes[k].esc {
		return string(d.strBody(k)) == key
	}
	*scratch = d.appendString((*scratch)[:0], k)
	return string(*scratch) == key
}

// member returns the value node of key in object node obj, or -1. When a
// key repeats, the last one wins, as with encoding/json.
func (d *document) member(obj int32, key string, scratch *[]byte) int32 {
	found := int32(-1)
	i := obj + 1
	for m := int32(0); m < d.nodes[obj].n; m++ {
		if d.keyIs(i, key, scratch) {
			found = i + 1
		}
		i = d.nodes[i+1].next
	}
	return found
}

// lookup resolves a dotted path from the root, or returns -1. A segment
// that is a decimal index selects an array element.
func (d *document) lookup(path []string, scratch *[]byte) int32 {
	if len(d.nodes) == 0 {
		return -1
	}
	cur := int32(0)
	for _, seg := range path {
		switch d.nodes[cur].kind {
		case jObject:
			cur = d.member(cur, seg, scratch)
		case jArray:
			cur = d.element(cur, seg)
		default:
			return -1
		}
		if cur < 0 {
			return -1
		}
	}
	return cur
}

func (d *document) element(arr int32, seg string) int32 {
	idx := 0
	if seg == "" || len(seg) > 9 {
		return -1
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return -1
		}
		idx = idx*10 + int(seg[i]-'0')
	}
	if idx >= int(d.nodes[arr].n) {
		return -1
	}
	i := arr + 1
	for ; idx > 0; idx-- {
		i = d.nodes[i].next
	}
	return i
}
