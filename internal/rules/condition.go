package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Limits of the condition language (docs/concepts.md#conditions). The contract fixes depth,
// leaves and regex length; the others are ours and keep stored rules small.
const (
	MaxConditionDepth  = 5   // a group in the top-level list is depth 1
	MaxConditionLeaves = 50  // typed conditions count as leaves
	MaxRegexLen        = 512 // characters of a "matches" pattern
	// MaxRulePatternLen bounds the characters of all of one rule's
	// "matches" patterns together (docs/concepts.md#conditions "Bounded cost"): with the
	// 64 KiB a pattern reads and the engine's per-event budget, it keeps
	// what one rule can make an event cost small.
	MaxRulePatternLen    = 4096
	MaxConditionValueLen = 2000 // characters of a string value
	MaxConditionListLen  = 1000 // entries of an in / not_in list
	MaxFieldLen          = 200  // characters of a field path
)

// Operators of leaf conditions (docs/concepts.md#conditions).
const (
	OpEquals      = "equals"
	OpNotEquals   = "not_equals"
	OpContains    = "contains"
	OpNotContains = "not_contains"
	OpStartsWith  = "starts_with"
	OpEndsWith    = "ends_with"
	OpIn          = "in"
	OpNotIn       = "not_in"
	OpExists      = "exists"
	OpNotExists   = "not_exists"
	OpGt          = "gt"
	OpGte         = "gte"
	OpLt          = "lt"
	OpLte         = "lte"
	OpMatches     = "matches"
	OpDomain      = "domain"
)

// Operators lists every leaf operator in the contract's order.
var Operators = []string{
	OpEquals, OpNotEquals, OpContains, OpNotContains, OpStartsWith, OpEndsWith,
	OpIn, OpNotIn, OpExists, OpNotExists, OpGt, OpGte, OpLt, OpLte, OpMatches, OpDomain,
}

// FieldRoots are the first segments a leaf's field may start with.
var FieldRoots = []string{"conversation", "message", "contact", "ticket", "event", "custom"}

// EventFields are the only event.* fields: they read the event's metadata,
// not its payload.
var EventFields = []string{"event.type", "event.source", "event.channel_source", "event.occurred_at"}

// Typed conditions of the inbound-email document.
const (
	TypeFromEmail       = "from_email"
	TypeSubjectContains = "subject_contains"
	TypeBodyContains    = "body_contains"
	TypeContactList     = "contact_list"
)

// ConditionKind tells which shape a Condition has.
type ConditionKind uint8

// The shapes of a condition entry.
const (
	KindLeaf  ConditionKind = iota + 1 // {field, operator, value}
	KindAny                            // {"any": [...]}: OR
	KindAll                            // {"all": [...]}: AND
	KindNot                            // {"not": {...}}
	KindTyped                          // {"type": ..., ...}
)

// Condition is one validated entry of a rule's condition list, in the form
// the engine compiles. Rules store their conditions exactly as submitted,
// so a Condition never needs to be turned back into JSON; Raw keeps the
// entry's own JSON for traces.
type Condition struct {
	Kind ConditionKind

	// Field is a leaf's dotted path ("conversation.status").
	Field string
	// Operator is a leaf's operator; for a typed condition it is the typed
	// operator with its default filled in ("equals" for from_email,
	// "contains" for subject_contains and body_contains).
	Operator string
	// Value is a leaf's or typed condition's value: a string, a
	// json.Number, a bool, or for in / not_in a []any of those. It is nil
	// for exists / not_exists and contact_list.
	Value any

	// Type is a typed condition's type (TypeFromEmail, ...).
	Type string
	// ListID is a contact_list condition's list.
	ListID int64

	// Children are a group's entries: several for any / all, one for not.
	Children []Condition

	// Raw is the entry's JSON as submitted.
	Raw json.RawMessage
}

// ParseConditions parses and validates a rule's condition list for a rule
// of trigger triggerType. A nil or empty raw, or JSON null, means no
// conditions. Error fields are relative to the list ("[0].operator"); the
// caller prefixes "conditions".
func ParseConditions(raw json.RawMessage, triggerType string) ([]Condition, validation.Errors) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	p := condParser{trigger: triggerType}
	var entries []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &entries) != nil {
		p.errs.Add("", "must be a list of conditions")
		return nil, p.errs
	}
	conds := make([]Condition, 0, len(entries))
	for i, e := range entries {
		c, ok := p.entry(e, validation.Index("", i), 0)
		if ok {
			conds = append(conds, c)
		}
	}
	if p.leaves > MaxConditionLeaves {
		p.errs.Add("", "must have at most %d conditions (leaves, typed included), has %d", MaxConditionLeaves, p.leaves)
	}
	if p.patternLen > MaxRulePatternLen {
		p.errs.Add("", "the matches patterns of a rule must total at most %d characters, these total %d", MaxRulePatternLen, p.patternLen)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return conds, nil
}

// ContactListIDs returns the contact lists that contact_list conditions
// refer to, anywhere in the tree, each once, in first-seen order.
func ContactListIDs(conds []Condition) []int64 {
	var ids []int64
	seen := map[int64]bool{}
	var walk func([]Condition)
	walk = func(cs []Condition) {
		for i := range cs {
			c := &cs[i]
			if c.Kind == KindTyped && c.Type == TypeContactList && !seen[c.ListID] {
				seen[c.ListID] = true
				ids = append(ids, c.ListID)
			}
			walk(c.Children)
		}
	}
	walk(conds)
	return ids
}

// condParser carries what validation accumulates across the whole tree.
type condParser struct {
	trigger string
	errs    validation.Errors
	leaves  int
	// patternLen is the characters of every matches pattern seen so far.
	patternLen int
}

var (
	leafKeys  = map[string]bool{"field": true, "operator": true, "value": true}
	groupKeys = map[string]bool{"any": true, "all": true, "not": true}
)

// typedKeys lists the keys each typed condition takes besides "type".
var typedKeys = map[string][]string{
	TypeFromEmail:       {"operator", "value"},
	TypeSubjectContains: {"operator", "value"},
	TypeBodyContains:    {"operator", "value"},
	TypeContactList:     {"operator", "list_id"},
}

// entry parses one condition object at path; depth is the depth of the
// enclosing group (0 at the top level). ok is false when the entry had
// errors.
func (p *condParser) entry(raw json.RawMessage, path string, depth int) (Condition, bool) {
	before := len(p.errs)
	var obj map[string]json.RawMessage
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		p.errs.Add(path, "must be a condition object")
		return Condition{}, false
	}
	// "operator" and "value" belong to typed conditions too, so only
	// "field" makes a typed entry a mix.
	_, isTyped := obj["type"]
	var isLeaf, isGroup bool
	var groups []string
	for k := range obj {
		switch {
		case groupKeys[k]:
			isGroup = true
			groups = append(groups, k)
		case k == "field" || (leafKeys[k] && !isTyped):
			isLeaf = true
		}
	}
	sort.Strings(groups)
	kinds := 0
	for _, b := range []bool{isLeaf, isGroup, isTyped} {
		if b {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		p.errs.Add(path, "must be a leaf {field, operator, value}, a group {any | all | not} or a typed condition {type, ...}")
		return Condition{}, false
	case kinds > 1:
		p.errs.Add(path, "mixes %s; an entry is exactly one of a leaf {field, operator, value}, a group {any | all | not} or a typed condition {type, ...}", mixedShapes(isLeaf, isGroup, isTyped))
		return Condition{}, false
	case len(groups) > 1:
		p.errs.Add(path, "a group has exactly one of any, all, not; found %s", strings.Join(groups, ", "))
		return Condition{}, false
	}
	var c Condition
	switch {
	case isLeaf:
		c = p.leaf(obj, path)
	case isGroup:
		c = p.group(obj, groups[0], path, depth+1)
	default:
		c = p.typed(obj, path)
	}
	c.Raw = compactJSON(raw)
	return c, len(p.errs) == before
}

func mixedShapes(leaf, group, typed bool) string {
	var s []string
	if leaf {
		s = append(s, "leaf keys (field, operator, value)")
	}
	if group {
		s = append(s, "group keys (any, all, not)")
	}
	if typed {
		s = append(s, "a typed condition (type)")
	}
	return strings.Join(s, " and ")
}

// unknownKeys reports every key of obj not in allowed, in sorted order so
// validation is deterministic.
func (p *condParser) unknownKeys(obj map[string]json.RawMessage, path, what string, allowed ...string) bool {
	var bad []string
	for k := range obj {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	for _, k := range bad {
		p.errs.Add(validation.Join(path, k), "unknown key %q in %s (allowed: %s)", k, what, strings.Join(allowed, ", "))
	}
	return len(bad) > 0
}

func (p *condParser) group(obj map[string]json.RawMessage, key, path string, depth int) Condition {
	c := Condition{}
	if p.unknownKeys(obj, path, "a group", key) {
		return c
	}
	gpath := validation.Join(path, key)
	if depth > MaxConditionDepth {
		p.errs.Add(gpath, "groups nest at most %d deep", MaxConditionDepth)
		return c
	}
	body := bytes.TrimSpace(obj[key])
	if key == "not" {
		c.Kind = KindNot
		if len(body) == 0 || body[0] != '{' {
			p.errs.Add(gpath, "must be a condition object")
			return c
		}
		child, ok := p.entry(body, gpath, depth)
		if ok {
			c.Children = []Condition{child}
		}
		return c
	}
	c.Kind = KindAny
	if key == "all" {
		c.Kind = KindAll
	}
	var entries []json.RawMessage
	if len(body) == 0 || body[0] != '[' || json.Unmarshal(body, &entries) != nil {
		p.errs.Add(gpath, "must be a non-empty list of conditions")
		return c
	}
	if len(entries) == 0 {
		p.errs.Add(gpath, "must be a non-empty list of conditions")
		return c
	}
	c.Children = make([]Condition, 0, len(entries))
	for i, e := range entries {
		child, ok := p.entry(e, validation.Index(gpath, i), depth)
		if ok {
			c.Children = append(c.Children, child)
		}
	}
	return c
}

func (p *condParser) leaf(obj map[string]json.RawMessage, path string) Condition {
	p.leaves++
	c := Condition{Kind: KindLeaf}
	if p.unknownKeys(obj, path, "a leaf condition", "field", "operator", "value") {
		return c
	}
	fpath := validation.Join(path, "field")
	field, ok := p.stringKey(obj, "field", fpath)
	if ok {
		if msg := p.checkField(field); msg != "" {
			p.errs.Add(fpath, "%s", msg)
		}
		c.Field = field
	}
	opath := validation.Join(path, "operator")
	op, ok := p.stringKey(obj, "operator", opath)
	if !ok {
		return c
	}
	if !knownOperator(op) {
		p.errs.Add(opath, "unknown operator %q", op)
		return c
	}
	c.Operator = op
	c.Value = p.leafValue(obj, op, validation.Join(path, "value"))
	return c
}

// stringKey reads a required, non-empty string member.
func (p *condParser) stringKey(obj map[string]json.RawMessage, key, path string) (string, bool) {
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		p.errs.Add(path, "is required")
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		p.errs.Add(path, "must be a string")
		return "", false
	}
	if s == "" {
		p.errs.Add(path, "must not be empty")
		return "", false
	}
	return s, true
}

func knownOperator(op string) bool {
	for _, o := range Operators {
		if o == op {
			return true
		}
	}
	return false
}

// checkField returns why field is not a valid leaf field for the parser's
// trigger, or "".
func (p *condParser) checkField(field string) string {
	if utf8.RuneCountInString(field) > MaxFieldLen {
		return fmt.Sprintf("must be at most %d characters", MaxFieldLen)
	}
	segs := strings.Split(field, ".")
	root := segs[0]
	known := false
	for _, r := range FieldRoots {
		known = known || r == root
	}
	if !known {
		return fmt.Sprintf("unknown field %q: must start with one of %s", field, strings.Join(dotted(FieldRoots), ", "))
	}
	if len(segs) < 2 {
		return fmt.Sprintf("must name a field inside %s, such as %s", root, exampleField(root))
	}
	for _, s := range segs[1:] {
		if s == "" {
			return fmt.Sprintf("%q has an empty path segment", field)
		}
	}
	switch root {
	case "message":
		if !CarriesMessage(p.trigger) {
			return fmt.Sprintf("message.* is not available for trigger %s: its events carry no message", p.trigger)
		}
	case "ticket":
		if !CarriesTicket(p.trigger) {
			return fmt.Sprintf("ticket.* is not available for trigger %s: only %s and %s carry a ticket", p.trigger, TriggerTicketCreated, TriggerTicketDone)
		}
	case "event":
		for _, f := range EventFields {
			if f == field {
				return ""
			}
		}
		return fmt.Sprintf("unknown event field %q: must be one of %s", field, strings.Join(EventFields, ", "))
	}
	return ""
}

func dotted(roots []string) []string {
	out := make([]string, len(roots))
	for i, r := range roots {
		out[i] = r + ".*"
	}
	return out
}

func exampleField(root string) string {
	switch root {
	case "event":
		return "event.type"
	case "custom":
		return "custom.plan"
	default:
		return root + ".id"
	}
}

// leafValue validates a leaf's value for operator op and returns it
// decoded (see Condition.Value).
func (p *condParser) leafValue(obj map[string]json.RawMessage, op, path string) any {
	raw, present := obj["value"]
	// An explicit null is treated as absent: clients that serialise a
	// whole form send "value": null for exists / not_exists.
	if present && isNull(raw) {
		present = false
	}
	switch op {
	case OpExists, OpNotExists:
		if present {
			p.errs.Add(path, "must be absent for %s", op)
		}
		return nil
	case OpIn, OpNotIn:
		if !present {
			p.errs.Add(path, "is required for %s: a non-empty list", op)
			return nil
		}
		v, err := decodeValue(raw)
		list, isList := v.([]any)
		switch {
		case err != nil || !isList || len(list) == 0:
			p.errs.Add(path, "must be a non-empty list of strings, numbers or booleans for %s", op)
			return nil
		case len(list) > MaxConditionListLen:
			p.errs.Add(path, "must have at most %d entries", MaxConditionListLen)
			return nil
		}
		for i, e := range list {
			if msg := checkScalar(e); msg != "" {
				p.errs.Add(validation.Index(path, i), "%s", msg)
			}
		}
		return list
	}
	if !present {
		p.errs.Add(path, "is required for %s", op)
		return nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		p.errs.Add(path, "must be a string, number or boolean")
		return nil
	}
	if msg := checkScalar(v); msg != "" {
		p.errs.Add(path, "%s", msg)
		return nil
	}
	switch op {
	case OpGt, OpGte, OpLt, OpLte:
		if !isOrderable(v) {
			p.errs.Add(path, "must be a number, a numeric string or an RFC 3339 time for %s", op)
		}
	case OpMatches:
		s, ok := v.(string)
		switch {
		case !ok:
			p.errs.Add(path, "must be a regular expression (a string) for matches")
		case p.addPattern(s) > MaxRegexLen:
			p.errs.Add(path, "must be at most %d characters", MaxRegexLen)
		default:
			if _, err := regexp.Compile(s); err != nil {
				p.errs.Add(path, "is not a valid RE2 regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
		}
	case OpDomain:
		s, ok := v.(string)
		if !ok || !IsDomain(s) {
			p.errs.Add(path, "must be a domain such as acme.com for domain")
		}
	}
	return v
}

// addPattern counts a matches pattern towards the rule's total and
// returns its length in characters.
func (p *condParser) addPattern(s string) int {
	n := utf8.RuneCountInString(s)
	p.patternLen += n
	return n
}

func (p *condParser) typed(obj map[string]json.RawMessage, path string) Condition {
	p.leaves++
	c := Condition{Kind: KindTyped}
	tpath := validation.Join(path, "type")
	typ, ok := p.stringKey(obj, "type", tpath)
	if !ok {
		return c
	}
	keys, known := typedKeys[typ]
	if !known {
		p.errs.Add(tpath, "unknown condition type %q: must be one of %s, %s, %s, %s", typ, TypeFromEmail, TypeSubjectContains, TypeBodyContains, TypeContactList)
		return c
	}
	c.Type = typ
	if p.unknownKeys(obj, path, "a "+typ+" condition", append([]string{"type"}, keys...)...) {
		return c
	}
	opath := validation.Join(path, "operator")
	vpath := validation.Join(path, "value")
	switch typ {
	case TypeFromEmail:
		// from_email reads message.from_email, so like a message.* leaf it
		// needs a trigger whose events carry a message.
		p.needMessage(typ, tpath)
		c.Operator = p.typedOperator(obj, opath, OpEquals, OpEquals, OpDomain)
		s, ok := p.typedString(obj, vpath)
		c.Value = s
		if ok && c.Operator == OpDomain && !IsDomain(s) {
			p.errs.Add(vpath, "must be a domain such as acme.com")
		}
	case TypeSubjectContains, TypeBodyContains:
		p.needMessage(typ, tpath)
		c.Operator = p.typedOperator(obj, opath, OpContains, OpContains)
		s, _ := p.typedString(obj, vpath)
		c.Value = s
	case TypeContactList:
		c.Operator = p.typedOperator(obj, opath, "", OpIn, OpNotIn)
		lpath := validation.Join(path, "list_id")
		raw, present := obj["list_id"]
		if !present || isNull(raw) {
			p.errs.Add(lpath, "is required")
			break
		}
		id, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil || id <= 0 {
			p.errs.Add(lpath, "must be a contact list id (a positive integer)")
			break
		}
		c.ListID = id
	}
	return c
}

func (p *condParser) needMessage(typ, path string) {
	if !CarriesMessage(p.trigger) {
		p.errs.Add(path, "%s is not available for trigger %s: its events carry no message", typ, p.trigger)
	}
}

// typedOperator reads a typed condition's operator; def is used when it is
// absent ("" means it is required).
func (p *condParser) typedOperator(obj map[string]json.RawMessage, path, def string, allowed ...string) string {
	raw, present := obj["operator"]
	if !present || isNull(raw) {
		if def == "" {
			p.errs.Add(path, "is required: %s", strings.Join(allowed, " or "))
		}
		return def
	}
	var op string
	if json.Unmarshal(raw, &op) != nil {
		p.errs.Add(path, "must be a string: %s", strings.Join(allowed, " or "))
		return def
	}
	for _, a := range allowed {
		if op == a {
			return op
		}
	}
	if knownOperator(op) {
		p.errs.Add(path, "operator %q is not allowed here: %s", op, strings.Join(allowed, " or "))
	} else {
		p.errs.Add(path, "unknown operator %q", op)
	}
	return def
}

func (p *condParser) typedString(obj map[string]json.RawMessage, path string) (string, bool) {
	s, ok := p.stringKey(obj, "value", path)
	if ok && utf8.RuneCountInString(s) > MaxConditionValueLen {
		p.errs.Add(path, "must be at most %d characters", MaxConditionValueLen)
		return s, false
	}
	return s, ok
}

// decodeValue decodes a condition value keeping numbers exact.
func decodeValue(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// checkScalar returns why v is not a valid scalar condition value, or "".
func checkScalar(v any) string {
	switch x := v.(type) {
	case string:
		if utf8.RuneCountInString(x) > MaxConditionValueLen {
			return fmt.Sprintf("must be at most %d characters", MaxConditionValueLen)
		}
		return ""
	case bool:
		return ""
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err != nil || math.IsInf(f, 0) {
			return "must be a finite number"
		}
		return ""
	default:
		return "must be a string, number or boolean"
	}
}

// isOrderable reports whether v can be compared by gt..lte: a number, a
// numeric string or an RFC 3339 time.
func isOrderable(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return true
	case string:
		if IsNumeric(x) {
			return true
		}
		_, _, ok := ParseInstant(x)
		return ok
	}
	return false
}

// IsNumeric reports whether s is a numeric string (see ParseNumber).
func IsNumeric(s string) bool {
	_, ok := ParseNumber(s)
	return ok
}

// Number is a parsed condition or payload number. Integers that fit int64
// are kept exact, so ids compare exactly; everything else is a float64.
type Number struct {
	Float float64
	Int   int64
	IsInt bool
}

// Compare returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Number) Compare(b Number) int {
	if a.IsInt && b.IsInt {
		return cmpOrdered(a.Int, b.Int)
	}
	return cmpOrdered(a.Float, b.Float)
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ParseNumber parses a decimal number as JSON writes one (optional sign,
// digits, fraction, exponent; a leading "+", ".5" and "5." are also
// taken), with surrounding spaces allowed, and finite. It is the one
// definition of a numeric string in conditions: validation and the engine
// both use it, on strings and on payload bytes, without allocating. It
// rejects what strconv.ParseFloat would also take (hex, "Inf", "NaN", "_").
func ParseNumber[S ~string | ~[]byte](s S) (Number, bool) {
	lo, hi := 0, len(s)
	for lo < hi && s[lo] == ' ' {
		lo++
	}
	for hi > lo && s[hi-1] == ' ' {
		hi--
	}
	i := lo
	neg := false
	if i < hi && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < hi && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intDigits := i - intStart
	fracDigits := 0
	isInt := true
	if i < hi && s[i] == '.' {
		isInt = false
		i++
		for i < hi && s[i] >= '0' && s[i] <= '9' {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return Number{}, false
	}
	if i < hi && (s[i] == 'e' || s[i] == 'E') {
		isInt = false
		i++
		if i < hi && (s[i] == '-' || s[i] == '+') {
			i++
		}
		expStart := i
		for i < hi && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == expStart {
			return Number{}, false
		}
	}
	if i != hi {
		return Number{}, false
	}
	if isInt && intDigits <= 18 {
		var n int64
		for j := intStart; j < hi; j++ {
			n = n*10 + int64(s[j]-'0')
		}
		if neg {
			n = -n
		}
		return Number{Float: float64(n), Int: n, IsInt: true}, true
	}
	f, err := strconv.ParseFloat(string(s[lo:hi]), 64)
	if err != nil || math.IsInf(f, 0) {
		return Number{}, false
	}
	return Number{Float: f}, true
}

// ParseInstant parses an RFC 3339 date-time ("2026-11-22T10:30:00Z",
// "2026-11-22T10:30:00.123+02:00") to Unix seconds and nanoseconds. It is
// the one definition of a time in conditions, used by validation and by
// the engine on payload bytes without allocating. It accepts exactly what
// time.Parse(time.RFC3339Nano, s) accepts (an upper-case "T" and "Z";
// fractional digits past the ninth are dropped).
func ParseInstant[S ~string | ~[]byte](s S) (sec int64, nsec int32, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return 0, 0, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for j := i; j < i+n; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	second, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	i := 19
	var ns int32
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if digits < 9 { // further digits are below a nanosecond
				ns = ns*10 + int32(s[i]-'0')
			}
			digits++
			i++
		}
		if digits == 0 {
			return 0, 0, false
		}
		for d := min(digits, 9); d < 9; d++ {
			ns *= 10
		}
	}
	var offset int64
	switch {
	case i == len(s)-1 && s[i] == 'Z':
	case i == len(s)-6 && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		oh, okh := num(i+1, 2)
		om, okm := num(i+4, 2)
		if !okh || !okm || oh > 24 || om > 59 { // time.Parse takes +24:00 too

			return 0, 0, false
		}
		offset = int64(oh*3600 + om*60)
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	return t.Unix() - offset, ns, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// IsDomain reports whether s looks like a domain name: dot-separated
// labels of letters, digits and inner hyphens, at least two labels, at
// most 253 characters. Internationalised labels are accepted as Unicode.
func IsDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// compactJSON returns raw without insignificant whitespace, so traces show
// a condition compactly whatever the client's formatting.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return json.RawMessage(b.Bytes())
}
