package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// Input is one event and everything its evaluation depends on, resolved
// by the caller beforehand so evaluation needs no I/O.
type Input struct {
	// Event metadata (docs/concepts.md#events). Type is the event_type; the others may
	// be empty (OccurredAt zero) when the event has none.
	EventID        string
	Type           string
	Source         string
	ChannelSource  string
	OccurredAt     time.Time
	ConversationID string
	ContactID      string
	// Payload is the event's payload, verbatim. It must stay unchanged
	// while the Plan filled from it is in use: traces point into it.
	Payload json.RawMessage

	// Now is the processing time: effectiveness, snoozes, schedules and
	// cooldowns are judged at it.
	Now time.Time
	// Paused is the workspace's global pause: no rule runs.
	Paused bool
	// TargetRuleID is, for a scheduler event (time.*), the one rule that
	// evaluates it. A time.* event without one runs no rule.
	TargetRuleID int64

	// Hops is how many automated actions the event's causal chain holds:
	// 0 for an event the host sent on its own, n+1 for an event caused
	// (caused_by) by a delivery of a run on an event with n hops.
	Hops int
	// CausedByRules are the rules whose actions caused the event, through
	// the whole chain; none of them runs on it (loop_prevented).
	CausedByRules []int64

	// Conversation is the conversation state the caller knows for this
	// event, read over the payload's conversation.* fields; its zero value
	// means "take the payload as it is".
	Conversation ConversationState
	// ContactLists are the ids of the contact lists that contain the
	// sender (contact.email, else message.from_email). Only the lists of
	// Program.ContactListIDs(Type) need to be resolved.
	ContactLists []int64
	// LastMatched maps a rule id to when that rule last matched this
	// event's rollout key (see RolloutKey), for cooldowns. Only the rules
	// of Program.CooldownRuleIDs(Type) need to be present.
	LastMatched map[int64]time.Time
}

// ConversationState is what actions change on a conversation and what
// conditions read over the payload (docs/concepts.md#conditions). Empty fields are unknown
// and leave the payload's value visible.
type ConversationState struct {
	Status   string // "open", "closed", "snoozed"; "" unknown
	Priority string // "" unknown
	// AssigneeID is the assignee's host id; nil is unknown, a pointer to
	// "" is unassigned.
	AssigneeID *string
	// Tags are tag names; nil is unknown, empty is no tags.
	Tags []string
}

// Run is the outcome of one rule on one event.
type Run struct {
	// Rule is the Program's copy of the rule; do not modify it.
	Rule    *rules.Rule
	Matched bool
	Reason  Reason
	// Failure is the failing condition with its actual value when Reason
	// is conditions_not_met, and zero otherwise: a run keeps this, not the
	// whole trace.
	Failure TraceEntry
	// Actions are the rule's actions, planned, when Matched.
	Actions []PlannedAction
}

// TraceEntry is one evaluated condition.
type TraceEntry struct {
	// Path locates the condition in the rule: "conditions[1].any[0]".
	Path string `json:"path"`
	// Condition is the condition as submitted.
	Condition json.RawMessage `json:"condition"`
	// Actual is the value the condition read, as JSON; nil (null) when the
	// field is missing and for groups.
	Actual json.RawMessage `json:"actual"`
	Result bool            `json:"result"`
}

// Plan is the result of evaluating one event. Reuse a Plan across events
// (one per goroutine): evaluation then allocates little. Everything in it,
// including slices reachable from Runs, is valid until the next Evaluate
// into the same Plan.
type Plan struct {
	// Paused is set when the workspace was paused: no rule ran, and the
	// event is to be marked skipped.
	Paused bool
	// RolloutKey is the event's rollout and cooldown key (§6).
	RolloutKey string
	// Runs are the runs to record, in processing order.
	Runs []Run
	// Conversation is the conversation state after the matched runs'
	// actions, and ConversationChanged tells whether any action changed it.
	Conversation        ConversationState
	ConversationChanged bool

	s  scratch
	ev evaluator
}

// scratch is the per-event working memory a Plan keeps between events.
type scratch struct {
	doc     document
	arena   []byte
	elems   []scalar
	slots   []slotValue
	actions []PlannedAction
	keyBuf  []byte
	hashBuf []byte

	bodyDone  bool
	bodyFound bool
	bodyText  []byte
	bodyLower []byte
	bodyRaw   []byte

	// memo holds each distinct leaf's result for the current event.
	memo []uint8

	senderDone bool
	sender     []byte // the sender's JSON text, nil when none

	tagsOwned bool // Conversation.Tags is ours to modify
}

// evaluator evaluates one event against a Program.
type evaluator struct {
	p    *Program
	in   *Input
	plan *Plan
	s    *scratch
	// budget is what is left of the event's EvaluationBudget; over is set
	// when a condition could not be afforded, and ends the rule.
	budget int64
	over   bool
	// traceOver records, for a dry-run, that some condition was not
	// computed for want of budget.
	traceOver bool
}

// Bounded cost (docs/concepts.md#conditions): no rule and no payload can make one event's
// evaluation expensive.
const (
	// MaxMatchBytes is how much of a string value matches reads: its
	// first 64 KiB, cut back to a whole character. The other operators
	// see the whole value.
	MaxMatchBytes = 64 << 10

	// EvaluationBudget is the work one event's evaluation may do, in work
	// units, over all the rules it evaluates; a dry-run has the same
	// budget for its one rule. A unit is at most about a nanosecond of CPU
	// on the machine the benchmarks run on (two cores of a shared server),
	// so the budget is at most about 50 ms; BenchmarkWorstCaseEvent
	// measures 26 ms for the costliest event it can build.
	//
	// Visiting a rule costs one unit, and so does visiting a condition.
	// Computing a condition costs, for each value it reads (each element
	// of an array): for contains and body_contains, per byte of the value,
	// 1 + a quarter of the constant's length, at most 12 (the worst case of
	// a substring search); for matches, RegexUnitCost per byte read (at
	// most MaxMatchBytes) per instruction of the pattern's compiled RE2
	// program; for domain, one per byte; for an unindexed in, one per
	// constant and per byte of the constants; one for the others, which
	// read a bounded part of the value. The cost is known before the
	// condition runs: a condition that would exceed what is left is not
	// computed, and its rule ends as not matched with reason
	// evaluation_limit. Once the budget is spent every later rule of the
	// event ends so too (each costs at least a unit), so many rules
	// together cannot escape it.
	EvaluationBudget = 50_000_000

	// RegexUnitCost is what one byte × one program instruction of a
	// matches costs, in work units. RE2's NFA simulation (Go's regexp has
	// no DFA) spends up to about 40 ns per thread step, and it may have
	// a thread on every instruction.
	RegexUnitCost = 40

	// bodyUnitCost is what stripping one byte of message.body to text
	// costs (body_contains): about 45 ns on HTML that is all entities and
	// tags.
	bodyUnitCost = 45

	// maxContainsUnitCost is the most a byte of a substring search costs
	// (bytes.Index on adversarial input, about 11 ns per byte).
	maxContainsUnitCost = 12
)

// RolloutKey returns the event's rollout key (§6): its conversation_id,
// else payload.conversation.id, else its contact id, else its event id.
func RolloutKey(in *Input) string {
	if in.ConversationID != "" {
		return in.ConversationID
	}
	var d document
	if d.parse(in.Payload) == nil {
		if k := payloadConversationID(&d); k != "" {
			return k
		}
	}
	if in.ContactID != "" {
		return in.ContactID
	}
	return in.EventID
}

var pathConversationID = []string{"conversation", "id"}

func payloadConversationID(d *document) string {
	var scratch []byte
	i := d.lookup(pathConversationID, &scratch)
	if i < 0 {
		return ""
	}
	switch d.nodes[i].kind {
	case jString:
		return string(d.appendString(nil, i))
	case jNumber:
		return string(d.raw(i))
	}
	return ""
}

// Bucket returns a rule's rollout bucket for a key (§6): the first 8
// bytes of SHA-256("{rule_id}:{key}") as a big-endian integer, mod 100. A
// key is inside the rollout when its bucket is below the percentage, so
// raising the percentage only ever adds keys.
func Bucket(ruleID int64, key string) int {
	var buf []byte
	return bucket(ruleID, key, &buf)
}

func bucket(ruleID int64, key string, buf *[]byte) int {
	b := strconv.AppendInt((*buf)[:0], ruleID, 10)
	b = append(b, ':')
	b = append(b, key...)
	*buf = b
	sum := sha256.Sum256(b)
	return int(binary.BigEndian.Uint64(sum[:8]) % 100)
}

// begin resets plan for a new event.
func (plan *Plan) begin(p *Program, in *Input) *evaluator {
	s := &plan.s
	plan.ev = evaluator{p: p, in: in, plan: plan, s: s, budget: EvaluationBudget}
	plan.Paused = false
	plan.RolloutKey = ""
	clear(plan.Runs) // drop references to the previous event's data
	plan.Runs = plan.Runs[:0]
	plan.Conversation = in.Conversation
	plan.ConversationChanged = false
	s.arena = s.arena[:0]
	s.elems = s.elems[:0]
	clear(s.actions)
	s.actions = s.actions[:0]
	s.bodyDone, s.senderDone, s.tagsOwned = false, false, false
	if cap(s.memo) < p.memoSize {
		s.memo = make([]uint8, p.memoSize)
	}
	s.memo = s.memo[:p.memoSize]
	clear(s.memo)
	if cap(s.slots) < len(p.slots) {
		s.slots = make([]slotValue, len(p.slots))
	}
	s.slots = s.slots[:len(p.slots)]
	return &plan.ev
}

// Evaluate evaluates the event in against the Program's rules (§6) and
// fills out, which it resets first. It fails only when the payload is not
// valid JSON.
func (p *Program) Evaluate(in *Input, out *Plan) error {
	ev := out.begin(p, in)
	if err := ev.s.doc.parse(in.Payload); err != nil {
		return err
	}
	out.RolloutKey = ev.rolloutKey()
	if in.Paused {
		out.Paused = true
		return nil
	}
	ts := p.byTrigger[in.Type]
	if ts == nil || (rules.IsTimeTrigger(in.Type) && in.TargetRuleID == 0) {
		return nil
	}
	ev.resolve(ts.slots)
	for _, ri := range ts.rules {
		cr := &p.rules[ri]
		if in.TargetRuleID != 0 && cr.id != in.TargetRuleID {
			continue
		}
		if !cr.effective(in.Now) || !ev.triggerDataFits(cr.td) {
			continue // no run at all (§6 step 1)
		}
		out.Runs = append(out.Runs, Run{Rule: cr.rule})
		run := &out.Runs[len(out.Runs)-1]
		ev.decide(cr, run)
		if run.Matched {
			run.Actions = ev.planActions(cr, true)
			if cr.stop {
				break
			}
		}
	}
	return nil
}

// effective reports whether an active rule is effective at now; the
// Program's index holds active rules only.
func (cr *crule) effective(now time.Time) bool {
	return now.Compare(cr.snoozed) >= 0 && cr.sched.Active(now)
}

// decide fills run's outcome, reasons in the order of §6.
func (ev *evaluator) decide(cr *crule, run *Run) {
	ev.over = false
	if !ev.charge(1) {
		run.Reason = ReasonEvaluationLimit
		return
	}
	if failed := ev.all(cr.conds); failed != nil {
		if ev.over {
			run.Reason = ReasonEvaluationLimit
			return
		}
		run.Reason = ReasonConditionsNotMet
		run.Failure = TraceEntry{Path: failed.k.path, Condition: failed.k.raw, Actual: ev.actual(failed)}
		return
	}
	if !ev.inRollout(cr) {
		run.Reason = ReasonRolloutExcluded
		return
	}
	if cr.cooldown > 0 {
		if last, ok := ev.in.LastMatched[cr.id]; ok && ev.in.Now.Before(last.Add(cr.cooldown)) {
			run.Reason = ReasonCooldown
			return
		}
	}
	if ev.in.Hops >= MaxHops || slices.Contains(ev.in.CausedByRules, cr.id) {
		run.Reason = ReasonLoopPrevented
		return
	}
	run.Matched = true
}

func (ev *evaluator) inRollout(cr *crule) bool {
	switch pct := cr.rollout; {
	case pct >= 100:
		return true
	case pct <= 0:
		return false
	default:
		return bucket(cr.id, ev.plan.RolloutKey, &ev.s.hashBuf) < pct
	}
}

func (ev *evaluator) rolloutKey() string {
	in := ev.in
	if in.ConversationID != "" {
		return in.ConversationID
	}
	if k := payloadConversationID(&ev.s.doc); k != "" {
		return k
	}
	if in.ContactID != "" {
		return in.ContactID
	}
	return in.EventID
}

// triggerDataFits checks an assignment or mention rule's trigger_data
// against the event's person (§3).
func (ev *evaluator) triggerDataFits(td *triggerData) bool {
	if td == nil {
		return true
	}
	d := &ev.s.doc
	var text []byte
	if i := d.lookup(td.path, &ev.s.keyBuf); i >= 0 {
		switch d.nodes[i].kind {
		case jString:
			start := len(ev.s.arena)
			ev.s.arena = d.appendString(ev.s.arena, i)
			text = ev.s.arena[start:]
		case jNumber:
			text = d.raw(i)
		}
	}
	present := len(bytes.TrimSpace(text)) > 0
	switch td.kind {
	case tdNoOne:
		return !present
	case tdAnyone:
		return present
	case tdHostID:
		return string(text) == td.hostID
	}
	return false
}

// all evaluates an AND list and returns the failing node, or nil. Nested
// all-groups are descended so the failure names the innermost condition
// that failed; an any- or not-group that failed is named itself. It is
// the hot loop: a leaf costs a memo read unless this event has not
// computed it yet.
func (ev *evaluator) all(nodes []node) *node {
	memo := ev.s.memo
	for i := range nodes {
		n := &nodes[i]
		if n.memo >= 0 {
			m := memo[n.memo]
			if m == memoUnknown {
				if m = ev.compute(n); m == memoOver {
					return n
				}
			} else if ev.budget <= 0 {
				ev.over = true
				return n
			} else {
				ev.budget--
			}
			if (m == memoTrue) == n.neg {
				return n
			}
			continue
		}
		if n.op == opAll {
			if f := ev.all(n.kids); f != nil {
				return f
			}
			continue
		}
		if !ev.test(n) {
			return n
		}
	}
	return nil
}

// charge takes cost from the event's budget; when it is not there, it
// takes nothing, sets over and returns false.
func (ev *evaluator) charge(cost int64) bool {
	if cost > ev.budget {
		ev.over = true
		return false
	}
	ev.budget -= cost
	return true
}

// test evaluates one node. It returns false when the budget ran out
// (ev.over), whatever the node: the caller ends the rule.
func (ev *evaluator) test(n *node) bool {
	switch n.op {
	case opAll:
		return ev.all(n.kids) == nil
	case opAny:
		for i := range n.kids {
			if ev.test(&n.kids[i]) {
				return true
			}
			if ev.over {
				return false
			}
		}
		return false
	case opNot:
		ok := ev.test(&n.kids[0])
		return !ok && !ev.over
	}
	m := ev.s.memo[n.memo]
	if m == memoUnknown {
		if m = ev.compute(n); m == memoOver {
			return false
		}
	} else if !ev.charge(1) {
		return false
	}
	return (m == memoTrue) != n.neg
}

// Memo states of a leaf for the current event. memoOver is never stored:
// compute returns it for a leaf it could not afford, which stays unknown.
const (
	memoUnknown uint8 = iota
	memoFalse
	memoTrue
	memoOver
)

// compute decides leaf n's positive operator for this event, stores it in
// the memo and returns it; it returns memoOver, computing nothing, when
// the leaf costs more than the budget has left.
func (ev *evaluator) compute(n *node) uint8 {
	if n.indexed {
		// A contains on a string is a substring test, not a look-up.
		if v := &ev.s.slots[n.slot]; n.op != opContains || !v.present || v.kind == jArray {
			if !ev.charge(1 + int64(len(v.elems))) {
				return memoOver
			}
			ev.decideIndexed(n)
			return ev.s.memo[n.memo]
		}
	}
	if !ev.charge(ev.cost(n)) {
		return memoOver
	}
	m := memoFalse
	if ev.positive(n) {
		m = memoTrue
	}
	ev.s.memo[n.memo] = m
	return m
}

// decideIndexed decides the whole index group of leaf n at once (see
// eqIndex); false when the group does not apply to the field's value (a
// contains on a string), and the leaf is computed on its own.
func (ev *evaluator) decideIndexed(n *node) bool {
	v := &ev.s.slots[n.slot]
	g := groupEq
	if n.op == opContains {
		if v.present && v.kind != jArray {
			return false
		}
		g = groupArrayContains
	}
	idx := ev.p.slots[n.slot].index[g]
	memo := ev.s.memo
	for _, id := range idx.ids {
		memo[id] = memoFalse
	}
	if !v.present {
		return true
	}
	switch v.kind {
	case jArray:
		for i := range v.elems {
			markEqual(memo, idx, &v.elems[i])
		}
	case jObject:
	default:
		markEqual(memo, idx, &v.one)
	}
	return true
}

func markEqual(memo []uint8, idx *eqIndex, s *scalar) {
	if s.kind == jNumber {
		return // a number never equals a constant that is not one
	}
	for _, id := range idx.byText[string(s.lower)] {
		memo[id] = memoTrue
	}
}

// cost is what computing leaf n costs (see EvaluationBudget).
func (ev *evaluator) cost(n *node) int64 {
	switch n.op {
	case opBodyContains:
		if !ev.s.bodyDone {
			// Stripping the body to text is done once per event, by the
			// first body_contains that the budget affords.
			if !ev.charge(1 + bodyUnitCost*ev.bodyLen()) {
				return math.MaxInt64
			}
			ev.body()
		}
		return 1 + int64(len(ev.s.bodyLower))*containsUnitCost(n.k.c.lower)
	case opContactList:
		return 1 + int64(len(ev.in.ContactLists))
	}
	v := &ev.s.slots[n.slot]
	if !v.present || n.op == opExists {
		return 1
	}
	switch v.kind {
	case jObject:
		return 1
	case jArray:
		c := int64(1)
		for i := range v.elems {
			c += scalarCost(n, &v.elems[i])
		}
		return c
	}
	return scalarCost(n, &v.one)
}

// scalarCost is what applying leaf n to one scalar costs.
func scalarCost(n *node, s *scalar) int64 {
	switch n.op {
	case opMatches:
		return 1 + int64(len(matchPrefix(s.text)))*n.k.reInsts*RegexUnitCost
	case opContains:
		return 1 + int64(len(s.lower))*containsUnitCost(n.k.c.lower)
	case opDomain:
		return 1 + int64(len(s.lower))
	case opIn:
		return int64(len(n.k.set)) + n.k.setBytes
	}
	return 1
}

// containsUnitCost is what one byte of a search for needle costs.
func containsUnitCost(needle []byte) int64 {
	return min(1+int64(len(needle))/4, maxContainsUnitCost)
}

// matchPrefix is the part of b that matches reads: at most MaxMatchBytes,
// cut back to the start of a character so the cut adds no invalid byte.
func matchPrefix(b []byte) []byte {
	if len(b) <= MaxMatchBytes {
		return b
	}
	cut := MaxMatchBytes
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return b[:cut]
}

// positive computes a leaf's positive operator (neg not applied).
func (ev *evaluator) positive(n *node) bool {
	switch n.op {
	case opBodyContains:
		ev.body()
		return ev.s.bodyFound && bytes.Contains(ev.s.bodyLower, n.k.c.lower)
	case opContactList:
		return ev.senderRaw() != nil && slices.Contains(ev.in.ContactLists, n.k.list)
	}
	return leaf(n, &ev.s.slots[n.slot])
}

// traced evaluates n like test but records every node into tr, without
// short-circuiting, so a dry-run shows every condition's outcome.
func (ev *evaluator) traced(n *node, tr *[]TraceEntry) bool {
	at := len(*tr)
	*tr = append(*tr, TraceEntry{Path: n.k.path, Condition: n.k.raw})
	var ok bool
	switch n.op {
	case opAll:
		ok = true
		for i := range n.kids {
			if !ev.traced(&n.kids[i], tr) {
				ok = false
			}
		}
	case opAny:
		for i := range n.kids {
			if ev.traced(&n.kids[i], tr) {
				ok = true
			}
		}
	case opNot:
		ok = !ev.traced(&n.kids[0], tr)
	default:
		ok = ev.test(n)
		if ev.over {
			// Not computed: the trace goes on with what the budget has
			// left, and the dry-run reports evaluation_limit.
			ev.over, ev.traceOver = false, true
		}
		(*tr)[at].Actual = ev.actual(n)
	}
	(*tr)[at].Result = ok
	return ok
}

// actual returns the value node n read, as JSON, for traces.
func (ev *evaluator) actual(n *node) json.RawMessage {
	switch n.op {
	case opAll, opAny, opNot:
		return nil
	case opBodyContains:
		if !ev.s.bodyDone {
			return nil // not stripped: the budget did not afford it
		}
		if ev.s.bodyFound && ev.s.bodyRaw == nil {
			ev.s.bodyRaw = ev.quote(ev.s.bodyText)
		}
		return ev.s.bodyRaw
	case opContactList:
		return ev.senderRaw()
	}
	return ev.s.slots[n.slot].raw
}

// leaf applies a positive operator to a field value. A missing field
// fails; an array holds when one of its scalar elements does.
func leaf(n *node, v *slotValue) bool {
	if !v.present {
		return false
	}
	switch {
	case n.op == opExists:
		return true
	case v.kind == jArray:
		for i := range v.elems {
			if match(n, &v.elems[i], true) {
				return true
			}
		}
		return false
	case v.kind == jObject:
		return false
	}
	return match(n, &v.one, false)
}

func match(n *node, s *scalar, inArray bool) bool {
	switch n.op {
	case opEquals:
		return equal(s, &n.k.c)
	case opContains:
		if inArray { // on an array, contains is membership (§4)
			return equal(s, &n.k.c)
		}
		return bytes.Contains(s.lower, n.k.c.lower)
	case opStartsWith:
		return bytes.HasPrefix(s.lower, n.k.c.lower)
	case opEndsWith:
		return bytes.HasSuffix(s.lower, n.k.c.lower)
	case opIn:
		for i := range n.k.set {
			if equal(s, &n.k.set[i]) {
				return true
			}
		}
		return false
	case opGt:
		c, ok := order(s, &n.k.c)
		return ok && c > 0
	case opGte:
		c, ok := order(s, &n.k.c)
		return ok && c >= 0
	case opLt:
		c, ok := order(s, &n.k.c)
		return ok && c < 0
	case opLte:
		c, ok := order(s, &n.k.c)
		return ok && c <= 0
	case opMatches:
		if n.k.reLits != nil {
			return n.k.reLits.containsAny(matchPrefix(s.text))
		}
		return n.k.re.Match(matchPrefix(s.text))
	case opDomain:
		return bytes.Equal(domainOf(s.lower), n.k.c.lower)
	}
	return false
}

// resolve prepares the given fields' values for this event.
func (ev *evaluator) resolve(slots []int32) {
	for _, si := range slots {
		ev.resolveSlot(si)
	}
}

func (ev *evaluator) resolveSlot(si int32) {
	def := &ev.p.slots[si]
	v := &ev.s.slots[si]
	*v = slotValue{}
	in := ev.in
	switch def.event {
	case evType:
		ev.textSlot(v, in.Type)
		return
	case evSource:
		ev.textSlot(v, in.Source)
		return
	case evChannelSource:
		ev.textSlot(v, in.ChannelSource)
		return
	case evOccurredAt:
		if !in.OccurredAt.IsZero() {
			t := in.OccurredAt.UTC()
			start := len(ev.s.arena)
			ev.s.arena = t.AppendFormat(ev.s.arena, "2006-01-02T15:04:05.999999999Z07:00")
			text := ev.s.arena[start:len(ev.s.arena):len(ev.s.arena)]
			v.present, v.kind = true, jString
			v.one = scalar{kind: jString, text: text, lower: text, isTime: true, sec: t.Unix(), nsec: int32(t.Nanosecond())}
			v.raw = ev.quote(text)
		}
		return
	}
	if def.conv >= 0 && ev.convKnown(def.conv) {
		ev.convSlot(v, def.conv)
		return
	}
	d := &ev.s.doc
	ni := d.lookup(def.path, &ev.s.keyBuf)
	if ni < 0 {
		return
	}
	v.raw = d.raw(ni)
	v.kind = d.nodes[ni].kind
	switch v.kind {
	case jNull:
		v.kind = 0
		return
	case jObject:
		v.present = true
		return
	case jArray:
		v.present = true
		start := len(ev.s.elems)
		for e, k := ni+1, int32(0); k < d.nodes[ni].n; e, k = d.nodes[e].next, k+1 {
			var sc scalar
			if ev.scalarOf(e, &sc) {
				ev.s.elems = append(ev.s.elems, sc)
			}
		}
		v.elems = ev.s.elems[start:len(ev.s.elems):len(ev.s.elems)]
		return
	}
	v.present = ev.scalarOf(ni, &v.one)
}

// scalarOf prepares document node ni as a scalar; false for containers
// and null.
func (ev *evaluator) scalarOf(ni int32, s *scalar) bool {
	d := &ev.s.doc
	n := &d.nodes[ni]
	s.kind = n.kind
	switch n.kind {
	case jString:
		body := d.strBody(ni)
		if n.esc || !isPlainUTF8(body) {
			start := len(ev.s.arena)
			ev.s.arena = d.appendString(ev.s.arena, ni)
			body = ev.s.arena[start:len(ev.s.arena):len(ev.s.arena)]
		}
		s.text = body
	case jNumber:
		s.text = d.raw(ni)
	case jTrue, jFalse:
	default:
		return false
	}
	s.prepare(&ev.s.arena)
	return true
}

func isPlainUTF8(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false // let the decoder check it (and replace bad bytes)
		}
	}
	return true
}

// textSlot sets v to a string value s that does not come from the
// payload ("" is missing).
func (ev *evaluator) textSlot(v *slotValue, s string) {
	if s == "" {
		return
	}
	v.kind = jString
	start := len(ev.s.arena)
	ev.s.arena = append(ev.s.arena, s...)
	v.present = true
	v.one = scalar{kind: jString, text: ev.s.arena[start:len(ev.s.arena):len(ev.s.arena)]}
	v.one.prepare(&ev.s.arena)
	v.raw = ev.quote(v.one.text)
}

// quote returns s as a JSON string held in the arena.
func (ev *evaluator) quote(s []byte) json.RawMessage {
	start := len(ev.s.arena)
	ev.s.arena = appendJSONString(ev.s.arena, s)
	return ev.s.arena[start:len(ev.s.arena):len(ev.s.arena)]
}

var (
	pathBody      = []string{"message", "body"}
	pathEmail     = []string{"contact", "email"}
	pathFromEmail = []string{"message", "from_email"}
)

// body strips message.body to lower-cased plain text, once per event.
func (ev *evaluator) body() {
	s := ev.s
	if s.bodyDone {
		return
	}
	s.bodyDone, s.bodyFound = true, false
	s.bodyText, s.bodyLower, s.bodyRaw = nil, nil, nil
	var sc scalar
	i := s.doc.lookup(pathBody, &s.keyBuf)
	if i < 0 || !ev.scalarOf(i, &sc) {
		return
	}
	start := len(s.arena)
	s.arena = appendText(s.arena, sc.text)
	s.bodyText = s.arena[start:len(s.arena):len(s.arena)]
	s.bodyLower = lowered(&s.arena, s.bodyText)
	s.bodyFound = true
}

// bodyLen is the length of message.body's JSON text, 0 when there is none.
func (ev *evaluator) bodyLen() int64 {
	d := &ev.s.doc
	i := d.lookup(pathBody, &ev.s.keyBuf)
	if i < 0 {
		return 0
	}
	return int64(d.nodes[i].to - d.nodes[i].from)
}

// senderRaw returns the sender's address as JSON, or nil (see
// SenderEmail), once per event.
func (ev *evaluator) senderRaw() json.RawMessage {
	s := ev.s
	if !s.senderDone {
		s.senderDone = true
		s.sender = nil
		if i := senderNode(&s.doc, &s.keyBuf); i >= 0 {
			s.sender = s.doc.raw(i)
		}
	}
	return s.sender
}

// senderNode finds the sender: a non-empty contact.email, else a
// non-empty message.from_email; -1 when there is none.
func senderNode(d *document, scratch *[]byte) int32 {
	for _, path := range [...][]string{pathEmail, pathFromEmail} {
		if i := d.lookup(path, scratch); i >= 0 && d.nodes[i].kind == jString && d.nodes[i].to-d.nodes[i].from > 2 {
			return i
		}
	}
	return -1
}

// SenderEmail returns the sender whose contact-list membership
// contact_list conditions test (§4): payload contact.email, else
// message.from_email; "" when there is none or the payload is not JSON.
// The caller resolves Input.ContactLists for this address, so both sides
// agree on who the sender is.
func SenderEmail(payload []byte) string {
	var d document
	if d.parse(payload) != nil {
		return ""
	}
	var scratch []byte
	i := senderNode(&d, &scratch)
	if i < 0 {
		return ""
	}
	return string(d.appendString(nil, i))
}
