package engine

import (
	"encoding/json"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// opcode is what a compiled condition node does.
type opcode uint8

const (
	opAll opcode = iota + 1
	opAny
	opNot
	opExists
	opEquals
	opContains
	opStartsWith
	opEndsWith
	opIn
	opGt
	opGte
	opLt
	opLte
	opMatches
	opDomain
	opBodyContains // message.body as plain text, contains
	opContactList  // the sender is in a contact list
)

// node is a compiled condition. Negative operators (not_equals,
// not_contains, not_in, not_exists, contact_list not_in) are their
// positive operator with neg set: a missing field fails every positive
// operator, so it satisfies exactly the negative ones, as §4 requires.
type node struct {
	op   opcode
	neg  bool
	slot int32
	// memo is the leaf's entry in the per-event memo: identical leaves of
	// different rules ("conversation.status equals open" is in many) share
	// it, so each is computed once per event. -1 for groups.
	memo int32
	// indexed is set when the memo entry is decided by its field's
	// equality index (see eqIndex).
	indexed bool
	kids    []node
	// k holds what evaluation reads only when it computes the leaf, and
	// what traces read. Keeping it out of line keeps the nodes that the hot
	// loop walks small: a thousand rules' conditions then stay in cache.
	k *nodeData
}

type nodeData struct {
	c   scalar   // the value, prepared
	set []scalar // in / not_in
	re  *regexp.Regexp
	// reInsts is the size of re's compiled program (see regexSize).
	reInsts int64
	// reLits are the strings re matches when it is a finite set of
	// literals, searched without regexp (literals.go).
	reLits *foldSet
	// setBytes is the length of set's constants together, for the cost of
	// an unindexed in.
	setBytes int64
	list     int64
	path     string          // "conditions[1].any[0]", for traces
	raw      json.RawMessage // the condition as submitted, for traces
}

var leafOps = map[string]struct {
	op  opcode
	neg bool
}{
	rules.OpEquals: {opEquals, false}, rules.OpNotEquals: {opEquals, true},
	rules.OpContains: {opContains, false}, rules.OpNotContains: {opContains, true},
	rules.OpStartsWith: {opStartsWith, false}, rules.OpEndsWith: {opEndsWith, false},
	rules.OpIn: {opIn, false}, rules.OpNotIn: {opIn, true},
	rules.OpExists: {opExists, false}, rules.OpNotExists: {opExists, true},
	rules.OpGt: {opGt, false}, rules.OpGte: {opGte, false},
	rules.OpLt: {opLt, false}, rules.OpLte: {opLte, false},
	rules.OpMatches: {opMatches, false}, rules.OpDomain: {opDomain, false},
}

// node compiles condition c found at path; used collects the slots read.
func (cc *compiler) node(c *rules.Condition, path string, used map[int32]bool) (node, error) {
	n, err := cc.shape(c, path, used)
	if err != nil || n.op == opAll || n.op == opAny || n.op == opNot {
		return n, err
	}
	// Leaves that read the same thing the same way share a memo entry; the
	// key is what the positive operator depends on (neg is applied after).
	value, _ := json.Marshal(c.Value)
	key := fmt.Sprintf("%d/%d/%d/%s", n.slot, n.op, n.k.list, value)
	if c.Kind == rules.KindTyped && c.Type == rules.TypeBodyContains {
		key = fmt.Sprintf("body/%q", n.k.c.lower)
	}
	id, ok := cc.memo[key]
	if !ok {
		id = int32(len(cc.memo))
		cc.memo[key] = id
		cc.index(&n, id)
	}
	n.memo = id
	n.indexed = cc.indexedGroup(&n) != nil
	return n, nil
}

// Equality indexes. Many rules test one field against different constants
// ("tags contains vip-7", "status equals pending", "plan in [gold, ...]").
// Instead of comparing the field with each constant, the leaves of a field
// are grouped, and the first time one of them is needed in an event, the
// whole group is decided at once: all false, then true for the leaves
// whose constant a value of the field equals, found by a map look-up. The
// cost then follows the field's values, not the number of rules.
//
// Only constants that are not numbers qualify: for them equality is
// lower-cased text (§4), which a map key expresses; numbers compare
// numerically ("1" equals 1.0).
type eqIndex struct {
	ids    []int32            // every memo entry of the group
	byText map[string][]int32 // lower-cased constant → the entries it satisfies
}

// Index groups: equals / in hold on a scalar or on any element of an
// array; contains is equality only on arrays (on a string it is a
// substring test, computed leaf by leaf).
const (
	groupEq = iota
	groupArrayContains
	numGroups
)

func (cc *compiler) groupOf(n *node) int {
	switch n.op {
	case opEquals, opIn:
		return groupEq
	case opContains:
		return groupArrayContains
	}
	return -1
}

func (cc *compiler) indexedGroup(n *node) *eqIndex {
	g := cc.groupOf(n)
	if g < 0 || n.slot < 0 {
		return nil
	}
	idx := cc.p.slots[n.slot].index[g]
	if idx == nil || !slicesContains(idx.ids, n.memo) {
		return nil
	}
	return idx
}

// index adds memo entry id of leaf n to its field's index when it
// qualifies.
func (cc *compiler) index(n *node, id int32) {
	g := cc.groupOf(n)
	if g < 0 || n.slot < 0 {
		return
	}
	consts := n.k.set
	if n.op != opIn {
		consts = []scalar{n.k.c}
	}
	for i := range consts {
		if consts[i].isNum || consts[i].kind == jNumber {
			return
		}
	}
	def := &cc.p.slots[n.slot]
	idx := def.index[g]
	if idx == nil {
		idx = &eqIndex{byText: map[string][]int32{}}
		def.index[g] = idx
	}
	idx.ids = append(idx.ids, id)
	for i := range consts {
		key := string(consts[i].lower)
		if !slicesContains(idx.byText[key], id) {
			idx.byText[key] = append(idx.byText[key], id)
		}
	}
}

func slicesContains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// shape compiles a condition without its memo entry.
func (cc *compiler) shape(c *rules.Condition, path string, used map[int32]bool) (node, error) {
	n := node{slot: -1, memo: -1, k: &nodeData{path: path, raw: c.Raw}}
	switch c.Kind {
	case rules.KindAll, rules.KindAny, rules.KindNot:
		key := "all"
		n.op = opAll
		switch c.Kind {
		case rules.KindAny:
			key, n.op = "any", opAny
		case rules.KindNot:
			key, n.op = "not", opNot
		}
		n.kids = make([]node, len(c.Children))
		for i := range c.Children {
			kp := path + "." + key
			if c.Kind != rules.KindNot {
				kp += "[" + strconv.Itoa(i) + "]"
			}
			k, err := cc.node(&c.Children[i], kp, used)
			if err != nil {
				return n, err
			}
			n.kids[i] = k
		}
		return n, nil
	case rules.KindLeaf:
		spec, ok := leafOps[c.Operator]
		if !ok {
			return n, fmt.Errorf("%s: unknown operator %q", path, c.Operator)
		}
		n.op, n.neg = spec.op, spec.neg
		n.slot = cc.slot(c.Field)
		used[n.slot] = true
		return n, cc.value(&n, c.Value)
	case rules.KindTyped:
		switch c.Type {
		case rules.TypeFromEmail:
			n.op = opEquals
			if c.Operator == rules.OpDomain {
				n.op = opDomain
			}
			n.slot = cc.slot("message.from_email")
			used[n.slot] = true
			return n, cc.value(&n, c.Value)
		case rules.TypeSubjectContains:
			n.op = opContains
			n.slot = cc.slot("message.subject")
			used[n.slot] = true
			return n, cc.value(&n, c.Value)
		case rules.TypeBodyContains:
			n.op = opBodyContains
			// The body is folded like the text it is compared with, so
			// "site  down" finds "site down".
			s, _ := c.Value.(string)
			n.k.c = newConst(string(foldSpace(nil, []byte(s))))
			return n, nil
		case rules.TypeContactList:
			n.op, n.k.list, n.neg = opContactList, c.ListID, c.Operator == rules.OpNotIn
			return n, nil
		}
	}
	return n, fmt.Errorf("%s: unknown condition", path)
}

// value prepares a leaf's constant.
func (cc *compiler) value(n *node, v any) error {
	switch n.op {
	case opExists:
		return nil
	case opIn:
		list, _ := v.([]any)
		n.k.set = make([]scalar, len(list))
		for i, e := range list {
			n.k.set[i] = newConst(e)
			n.k.setBytes += int64(len(n.k.set[i].lower))
		}
		return nil
	case opMatches:
		s, _ := v.(string)
		// Case-insensitive like every string comparison (§4); RE2 never
		// backtracks, so a pattern cannot stall the engine.
		re, err := regexp.Compile("(?i)" + s)
		if err != nil {
			return fmt.Errorf("%s: %w", n.k.path, err)
		}
		n.k.re = re
		n.k.reInsts = regexSize("(?i)" + s)
		n.k.reLits, _ = literalSet("(?i)" + s)
		return nil
	case opDomain:
		s, _ := v.(string)
		n.k.c = newConst(s)
		n.k.c.lower = domainOf(n.k.c.lower)
		return nil
	}
	n.k.c = newConst(v)
	return nil
}

// regexSize is the number of instructions of pattern's RE2 program, as
// regexp.Compile builds it. RE2's NFA simulation advances at most one
// thread per instruction for each byte it reads, so bytes × instructions
// bounds a match's work whatever the pattern; the pattern's length does
// not ("[a-z]{1000}" is 11 characters and 1,000 instructions).
func regexSize(pattern string) int64 {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 1
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 1
	}
	return int64(max(len(prog.Inst), 1))
}
