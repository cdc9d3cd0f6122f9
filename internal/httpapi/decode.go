package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Request body limits (docs/concepts.md#conventions).
const (
	maxBody      = 1 << 20  // 1 MiB
	maxBatchBody = 16 << 20 // 16 MiB for /events/batch
)

// decodeBody reads a JSON request body into dst (a pointer to a struct),
// answering like the contract says:
//   - over the limit: 413;
//   - not JSON, trailing data, or a key dst does not know: 400 naming it;
//   - a value of the wrong JSON type: 422 naming every such field.
//
// The standard decoder alone cannot tell these apart in one pass (it stops
// at the first problem, matches keys case-insensitively and drops array
// indexes from paths), so the body is parsed once into a generic tree and
// checked against dst's type first. Valid bodies take the fast path: one
// strict decode.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	data, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeJSON(data, dst)
}

// readBody reads at most limit bytes of the body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge(limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var (
		data []byte
		err  error
	)
	if n := r.ContentLength; n >= 0 {
		// The length is known (net/http holds the body to it): read it
		// into one buffer of the right size, not a growing one.
		data = make([]byte, n)
		_, err = io.ReadFull(body, data)
	} else {
		data, err = io.ReadAll(body)
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge(limit)
		}
		return nil, errBadRequest("unable to read the request body: %v", err)
	}
	return data, nil
}

// decodeAndLoad decodes a request body into dst and runs load, the lookup
// of the object the path names, in the contract's order (docs/concepts.md#conventions): a
// too-large or malformed body (413, 400) is refused before the lookup, the
// lookup's 404 comes next, and only then are values of the wrong JSON type
// reported (422). So a client learns that an object is missing before it
// learns that its body would not have fitted it.
func decodeAndLoad(w http.ResponseWriter, r *http.Request, dst any, load func() error) error {
	err := decodeBody(w, r, dst, maxBody)
	var p *Problem
	if err != nil && !(errors.As(err, &p) && p.Status == http.StatusUnprocessableEntity) {
		return err
	}
	if lerr := load(); lerr != nil {
		return lerr
	}
	return err
}

// decodeJSON is decodeBody once the bytes are read.
func decodeJSON(data []byte, dst any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errBadRequest("the request body must be a JSON object")
	}
	if err := checkBody(data); err != nil {
		return err
	}
	// Fast path: a well-formed body with known keys and right types. A
	// type holding times takes the checker's path, which also checks that
	// each is in range (encoding/json accepts any year an offset makes).
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err == nil && !hasTrailingData(dec) && strictKeys(data, dst) &&
		!hasTimes(reflect.TypeOf(dst).Elem()) {
		return nil
	}
	return diagnose(data, dst)
}

var timesCache sync.Map // reflect.Type → bool

// hasTimes reports whether values of t can hold a time.Time.
func hasTimes(t reflect.Type) bool {
	if v, ok := timesCache.Load(t); ok {
		return v.(bool)
	}
	v := typeHasTimes(t, map[reflect.Type]bool{})
	timesCache.Store(t, v)
	return v
}

func typeHasTimes(t reflect.Type, seen map[reflect.Type]bool) bool {
	t = unwrapType(t)
	if seen[t] {
		return false
	}
	seen[t] = true
	switch {
	case t == timeType:
		return true
	case t.Kind() == reflect.Struct:
		for _, f := range structFields(t) {
			if typeHasTimes(f.Type, seen) {
				return true
			}
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map:
		return typeHasTimes(t.Elem(), seen)
	}
	return false
}

func hasTrailingData(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err != io.EOF
}

// strictKeys re-checks a body the fast path accepted, because
// encoding/json matches keys case-insensitively ("NAME" sets Name): the
// contract calls such keys unknown. It descends only into fields whose
// type has keys of its own, so a payload held as json.RawMessage is
// scanned, never decoded into a tree: this is the ingestion hot path.
func strictKeys(data []byte, dst any) bool {
	return keysMatch(data, reflect.TypeOf(dst).Elem())
}

func keysMatch(data []byte, t reflect.Type) bool {
	t = unwrapType(t)
	if !hasKeys(t) || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return false
		}
		fields := structFields(t)
		for k, v := range obj {
			f, ok := fields[k]
			if !ok || !keysMatch(v, f.Type) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		var arr []json.RawMessage
		if json.Unmarshal(data, &arr) != nil {
			return false
		}
		for _, v := range arr {
			if !keysMatch(v, t.Elem()) {
				return false
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return false
		}
		for _, v := range obj {
			if !keysMatch(v, t.Elem()) {
				return false
			}
		}
	}
	return true
}

// unwrapType sees through pointers, Optional and patchObject.
func unwrapType(t reflect.Type) reflect.Type {
	for {
		switch {
		case t.Implements(optionalIface):
			t = reflect.Zero(t).Interface().(optionalType).optionalElem()
		case t.Kind() == reflect.Pointer:
			t = t.Elem()
		default:
			return t
		}
	}
}

// hasKeys reports whether values of t contain object keys to check.
func hasKeys(t reflect.Type) bool {
	t = unwrapType(t)
	switch {
	case t == timeType || t == rawType:
		return false
	case t.Kind() == reflect.Struct:
		return true
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map:
		return hasKeys(t.Elem())
	}
	return false
}

func parseTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	if hasTrailingData(dec) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return tree, nil
}

// diagnose finds why data does not fit dst and returns the problem.
func diagnose(data []byte, dst any) error {
	tree, err := parseTree(data)
	if err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return errBadRequest("malformed JSON at byte %d: %v", syn.Offset, syn)
		}
		return errBadRequest("malformed JSON: %v", err)
	}
	c := checker{}
	c.check(reflect.TypeOf(dst).Elem(), tree, "")
	if c.hasUnknown {
		return errBadField(c.unknown, "unknown field")
	}
	if len(c.invalid) > 0 {
		return errInvalid(c.invalid)
	}
	// The tree fits; decode for real (this cannot fail on a fitting tree,
	// but a custom unmarshaler may still refuse a value).
	if err := json.Unmarshal(data, dst); err != nil {
		return errInvalidField("", "%v", err)
	}
	return nil
}

// checker walks a generic JSON tree against a Go type.
type checker struct {
	// unknown is the first unknown key's path. hasUnknown says there is
	// one: "" is a key JSON allows, so it cannot mean "none".
	unknown    string
	hasUnknown bool
	invalid    validation.Errors
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// field names path in an error; the body itself is "(body)".
func (c *checker) field(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

func (c *checker) mismatch(path, want string) {
	c.invalid.Add(c.field(path), "must be %s", want)
}

func (c *checker) check(t reflect.Type, v any, path string) {
	if t.Implements(optionalIface) || reflect.PointerTo(t).Implements(optionalIface) {
		if v == nil {
			return // null is a value Optional carries; validation decides
		}
		c.check(reflect.Zero(t).Interface().(optionalType).optionalElem(), v, path)
		return
	}
	switch t {
	case rawType:
		return
	case timeType:
		s, ok := v.(string)
		if !ok {
			c.mismatch(path, "an RFC 3339 time")
			return
		}
		if v, err := time.Parse(time.RFC3339Nano, s); err != nil {
			c.mismatch(path, "an RFC 3339 time such as \"2026-11-22T10:30:00Z\"")
		} else {
			c.invalid.Time(c.field(path), v)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			return
		}
		c.check(t.Elem(), v, path)
	case reflect.Interface:
		return
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			c.mismatch(path, "an object")
			return
		}
		fields := structFields(t)
		for _, key := range sortedKeys(obj) {
			f, ok := fields[key]
			if !ok {
				if !c.hasUnknown {
					c.hasUnknown = true
					name := key
					if name == "" {
						name = `""` // so the path still shows where the empty key was
					}
					c.unknown = validation.Join(path, name)
				}
				continue
			}
			c.check(f.Type, obj[key], validation.Join(path, key))
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if v == nil {
			return
		}
		if !ok {
			c.mismatch(path, "an object")
			return
		}
		for _, key := range sortedKeys(obj) {
			c.check(t.Elem(), obj[key], validation.Join(path, key))
		}
	case reflect.Slice:
		if v == nil {
			return
		}
		arr, ok := v.([]any)
		if !ok {
			c.mismatch(path, "a list")
			return
		}
		for i, e := range arr {
			c.check(t.Elem(), e, validation.Index(path, i))
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.mismatch(path, "a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.mismatch(path, "true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			c.mismatch(path, "an integer")
			return
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || i < minInt(t) || i > maxInt(t) {
			c.mismatch(path, "an integer in range")
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			c.mismatch(path, "a non-negative integer")
			return
		}
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			c.mismatch(path, "a non-negative integer in range")
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			c.mismatch(path, "a number")
			return
		}
		if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
			c.mismatch(path, "a finite number")
		}
	default:
		c.mismatch(path, fmt.Sprintf("a %s", t.Kind()))
	}
}

func minInt(t reflect.Type) int64 { return -1 << (t.Bits() - 1) }
func maxInt(t reflect.Type) int64 { return 1<<(t.Bits()-1) - 1 }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Insertion order is lost in a map; sorting makes "the first unknown
	// field" deterministic.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.StructField

// structFields maps JSON keys to the fields encoding/json would fill,
// including promoted fields of embedded structs.
func structFields(t reflect.Type) map[string]reflect.StructField {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.StructField)
	}
	m := map[string]reflect.StructField{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, taken := m[name]; !taken {
				m[name] = f
			}
		}
	}
	walk(t)
	fieldCache.Store(t, m)
	return m
}

// checkBody refuses, with a 400, what the contract calls malformed but
// encoding/json lets through (docs/concepts.md#conventions): nesting deeper than
// validation.MaxJSONDepth, a key repeated in one object (encoding/json
// keeps the last), invalid UTF-8 and lone UTF-16 surrogates (both of which
// it replaces with U+FFFD). It reads the body once, at any depth, event
// payloads included. Plain syntax errors it leaves to the decoder, which
// reports them with its own words; it returns nil for those.
func checkBody(data []byte) error {
	c := bodyChecker{data: data}
	c.space()
	err := c.value(0)
	if err == errSyntax {
		return nil
	}
	return err
}

// errSyntax stops bodyChecker at a syntax error the decoder will report.
var errSyntax = errors.New("syntax error")

// bodyChecker walks a JSON text for checkBody. path holds the keys and
// indexes leading to the value being read, to name it in a problem.
type bodyChecker struct {
	data []byte
	pos  int
	path []string
	buf  []byte // a decoded key
}

func (c *bodyChecker) space() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// where names the value being read by its path ("" at the top level).
func (c *bodyChecker) where() string {
	p := ""
	for _, seg := range c.path {
		p = validation.Join(p, seg)
	}
	return p
}

func (c *bodyChecker) fail(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field := c.where(); field != "" {
		return errBadField(field, "%s", msg)
	}
	return errBadRequest("%s", msg)
}

func (c *bodyChecker) value(depth int) error {
	if c.pos >= len(c.data) {
		return errSyntax
	}
	switch ch := c.data[c.pos]; {
	case ch == '{' || ch == '[':
		if depth+1 > validation.MaxJSONDepth {
			return c.fail("JSON may nest at most %d levels deep (byte %d)", validation.MaxJSONDepth, c.pos)
		}
		if ch == '{' {
			return c.object(depth + 1)
		}
		return c.array(depth + 1)
	case ch == '"':
		return c.str(false)
	case ch == '-' || ch >= '0' && ch <= '9':
		return c.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(c.data[c.pos:], []byte(lit)) {
			c.pos += len(lit)
			return nil
		}
	}
	return errSyntax
}

// maxLinearKeys is the size up to which an object's keys are compared
// one by one; larger objects use a map.
const maxLinearKeys = 16

func (c *bodyChecker) object(depth int) error {
	c.pos++ // '{'
	c.space()
	if c.pos < len(c.data) && c.data[c.pos] == '}' {
		c.pos++
		return nil
	}
	var (
		keys []string
		set  map[string]struct{}
	)
	c.path = append(c.path, "")
	defer func() { c.path = c.path[:len(c.path)-1] }()
	for {
		c.space()
		if c.pos >= len(c.data) || c.data[c.pos] != '"' {
			return errSyntax
		}
		if err := c.str(true); err != nil {
			return err
		}
		key := string(c.buf)
		c.path[len(c.path)-1] = key
		if key == "" {
			c.path[len(c.path)-1] = `""`
		}
		dup := false
		if set != nil {
			_, dup = set[key]
			set[key] = struct{}{}
		} else {
			for _, k := range keys {
				dup = dup || k == key
			}
			keys = append(keys, key)
			if len(keys) > maxLinearKeys {
				set = make(map[string]struct{}, 2*len(keys))
				for _, k := range keys {
					set[k] = struct{}{}
				}
			}
		}
		if dup {
			return c.fail("is given more than once in one object")
		}
		c.space()
		if c.pos >= len(c.data) || c.data[c.pos] != ':' {
			return errSyntax
		}
		c.pos++
		c.space()
		if err := c.value(depth); err != nil {
			return err
		}
		c.space()
		if c.pos >= len(c.data) {
			return errSyntax
		}
		switch c.data[c.pos] {
		case ',':
			c.pos++
		case '}':
			c.pos++
			return nil
		default:
			return errSyntax
		}
	}
}

func (c *bodyChecker) array(depth int) error {
	c.pos++ // '['
	c.space()
	if c.pos < len(c.data) && c.data[c.pos] == ']' {
		c.pos++
		return nil
	}
	c.path = append(c.path, "")
	defer func() { c.path = c.path[:len(c.path)-1] }()
	for i := 0; ; i++ {
		c.path[len(c.path)-1] = fmt.Sprintf("[%d]", i)
		c.space()
		if err := c.value(depth); err != nil {
			return err
		}
		c.space()
		if c.pos >= len(c.data) {
			return errSyntax
		}
		switch c.data[c.pos] {
		case ',':
			c.pos++
		case ']':
			c.pos++
			return nil
		default:
			return errSyntax
		}
	}
}

// str reads a string, checking its UTF-8 and its \u escapes; when key is
// set its decoded content is left in c.buf.
func (c *bodyChecker) str(key bool) error {
	c.pos++ // '"'
	c.buf = c.buf[:0]
	for c.pos < len(c.data) {
		ch := c.data[c.pos]
		switch {
		case ch == '"':
			c.pos++
			return nil
		case ch < 0x20:
			return errSyntax
		case ch == '\\':
			if err := c.escape(key); err != nil {
				return err
			}
		case ch < utf8.RuneSelf:
			if key {
				c.buf = append(c.buf, ch)
			}
			c.pos++
		default:
			r, size := utf8.DecodeRune(c.data[c.pos:])
			if r == utf8.RuneError && size == 1 {
				return c.fail("invalid UTF-8 at byte %d", c.pos)
			}
			if key {
				c.buf = append(c.buf, c.data[c.pos:c.pos+size]...)
			}
			c.pos += size
		}
	}
	return errSyntax
}

func (c *bodyChecker) escape(key bool) error {
	if c.pos+1 >= len(c.data) {
		return errSyntax
	}
	ch := c.data[c.pos+1]
	c.pos += 2
	var r rune
	switch ch {
	case '"', '\\', '/':
		r = rune(ch)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		at := c.pos - 2
		hi, ok := c.hex4()
		if !ok {
			return errSyntax
		}
		r = hi
		switch {
		case utf16.IsSurrogate(hi) && hi >= 0xDC00:
			return c.fail("lone UTF-16 surrogate \\u%04x at byte %d is not a character", hi, at)
		case utf16.IsSurrogate(hi):
			lo := rune(-1)
			if c.pos+1 < len(c.data) && c.data[c.pos] == '\\' && c.data[c.pos+1] == 'u' {
				c.pos += 2
				if lo, ok = c.hex4(); !ok {
					return errSyntax
				}
			}
			if lo < 0xDC00 || lo > 0xDFFF {
				return c.fail("lone UTF-16 surrogate \\u%04x at byte %d is not a character", hi, at)
			}
			r = utf16.DecodeRune(hi, lo)
		}
	default:
		return errSyntax
	}
	if key {
		c.buf = utf8.AppendRune(c.buf, r)
	}
	return nil
}

func (c *bodyChecker) hex4() (rune, bool) {
	if len(c.data)-c.pos < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(c.data[c.pos:c.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	c.pos += 4
	return rune(n), true
}

// number skips a JSON number; encoding/json judges its grammar.
func (c *bodyChecker) number() error {
	start := c.pos
	for c.pos < len(c.data) {
		switch ch := c.data[c.pos]; {
		case ch >= '0' && ch <= '9', ch == '-', ch == '+', ch == '.', ch == 'e', ch == 'E':
			c.pos++
		default:
			if c.pos == start {
				return errSyntax
			}
			return nil
		}
	}
	return nil
}
