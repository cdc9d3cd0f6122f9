// Package engine decides what a workspace's rules do with one event. It is
// pure: rules are compiled once per workspace snapshot into a Program, and
// Evaluate takes an event (with time, pause state, cooldowns, loop
// information and pre-resolved directory data as plain values) and fills
// a Plan — the runs, their reasons and the actions to deliver — without
// any I/O. Dry-run goes through the same code.
//
// Processing follows docs/concepts.md#processing: the rules of the event's trigger are taken
// in ascending priority, ties by id. A rule that is not effective (inactive,
// snoozed, outside its schedule, workspace paused) or whose trigger_data
// does not fit records no run. Otherwise it records a run that matched, or
// did not with the first reason that applies of conditions_not_met,
// evaluation_limit (see EvaluationBudget), rollout_excluded, cooldown and
// loop_prevented. loop_prevented is last,
// as the contract lists it: a run carrying it says "this would have
// matched", which is what someone chasing a loop wants to know. A matched
// run plans its actions, and the conversation-changing ones update the
// conversation state that later rules of the same event read.
package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// MaxHops is how many automated hops a chain may make: an event whose
// causal chain already holds this many automated actions runs no rule
// (its runs read loop_prevented).
const MaxHops = 3

// Reason says why a run did not match, or why a dry-run did not. The
// empty Reason (a match) is JSON null.
type Reason string

// Reasons of runs (docs/concepts.md#processing) and of dry-runs (docs/concepts.md#trying-a-rule).
const (
	ReasonNone             Reason = ""
	ReasonConditionsNotMet Reason = "conditions_not_met"
	// ReasonEvaluationLimit: evaluating the rule's conditions would have
	// exceeded what was left of the event's EvaluationBudget.
	ReasonEvaluationLimit     Reason = "evaluation_limit"
	ReasonRolloutExcluded     Reason = "rollout_excluded"
	ReasonCooldown            Reason = "cooldown"
	ReasonLoopPrevented       Reason = "loop_prevented"
	ReasonTriggerMismatch     Reason = "trigger_mismatch"
	ReasonTriggerDataMismatch Reason = "trigger_data_mismatch"
)

// MarshalJSON writes the empty reason as null.
func (r Reason) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(r))
}

// Member is a workspace member as the engine needs it: to match
// trigger_data against host ids and to plan assign_agent.
type Member struct {
	ID int64
	// ExternalID is the host's id for the member; "" when it has none, in
	// which case the host refers to the member by ID.
	ExternalID string
	Email      string
}

// HostID returns the id the host uses for m (docs/concepts.md#triggers).
func (m Member) HostID() string {
	if m.ExternalID != "" {
		return m.ExternalID
	}
	return strconv.FormatInt(m.ID, 10)
}

// Tag is a workspace tag as the engine needs it: conversations carry tag
// names, actions carry tag ids.
type Tag struct {
	ID         int64
	Name       string
	ExternalID string // "" when it has none
}

// CompileOptions is the workspace data a Program is compiled against.
// A Program must be recompiled when any of it changes, as when a rule
// changes.
type CompileOptions struct {
	// Timezone is the workspace's IANA zone, for schedules without one.
	Timezone string
	Members  []Member
	Tags     []Tag
}

// Program is a workspace's rules compiled for evaluation. It is immutable
// and safe for concurrent use; evaluate with one Plan per goroutine.
type Program struct {
	rules     []crule // sorted by priority, then id
	byID      map[int64]int
	byTrigger map[string]*triggerSet
	slots     []slotDef
	// convSlot[f] is the slot of conversation field f, or -1.
	convSlot [numConvFields]int32
	members  map[int64]Member
	tags     map[int64]Tag
	memoSize int
}

// triggerSet is what an event of one trigger type needs.
type triggerSet struct {
	rules []int32 // active rules of the trigger, in processing order
	slots []int32 // fields their conditions read
	lists []int64 // contact lists their conditions use
	// cooldown lists the rules with a cooldown, for the caller's look-up.
	cooldown []int64
}

// crule is a compiled rule. The fields the hot loop reads for every rule
// of an event come first and are copied out of the rule, so that the loop
// does not touch a thousand rules.Rule values spread over the heap.
type crule struct {
	id       int64
	conds    []node
	sched    *rules.Schedule
	snoozed  time.Time // zero when not snoozed
	td       *triggerData
	cooldown time.Duration
	rollout  int
	stop     bool

	rule    *rules.Rule
	actions []caction
	slots   []int32 // fields the conditions read
	lists   []int64 // contact lists the conditions test
}

// Compile compiles a workspace's rules. Every rule must be valid (as
// rules.Rule.Validate checks); an invalid one fails the whole Program so
// that a broken rule is noticed rather than silently skipped.
func Compile(rs []rules.Rule, opts CompileOptions) (*Program, error) {
	p := &Program{
		byID:      make(map[int64]int, len(rs)),
		byTrigger: map[string]*triggerSet{},
		members:   make(map[int64]Member, len(opts.Members)),
		tags:      make(map[int64]Tag, len(opts.Tags)),
	}
	for _, m := range opts.Members {
		p.members[m.ID] = m
	}
	for _, t := range opts.Tags {
		p.tags[t.ID] = t
	}
	for i := range p.convSlot {
		p.convSlot[i] = -1
	}
	c := compiler{p: p, slotIndex: map[string]int32{}, memo: map[string]int32{}}
	order := make([]*rules.Rule, len(rs))
	for i := range rs {
		r := rs[i] // a copy: the Program must not change under the caller's slice
		order[i] = &r
	}
	slices.SortStableFunc(order, func(a, b *rules.Rule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	p.rules = make([]crule, 0, len(order))
	for _, r := range order {
		cr, err := c.rule(r, opts.Timezone)
		if err != nil {
			return nil, fmt.Errorf("engine: rule %d: %w", r.ID, err)
		}
		p.byID[r.ID] = len(p.rules)
		p.rules = append(p.rules, cr)
	}
	p.memoSize = len(c.memo)
	p.pack()
	for i := range p.rules {
		cr := &p.rules[i]
		ts := p.byTrigger[cr.rule.TriggerType]
		if ts == nil {
			ts = &triggerSet{}
			p.byTrigger[cr.rule.TriggerType] = ts
		}
		if !cr.rule.IsActive {
			continue // never effective: keep it out of the hot loop
		}
		ts.rules = append(ts.rules, int32(i))
		for _, s := range cr.slots {
			if !slices.Contains(ts.slots, s) {
				ts.slots = append(ts.slots, s)
			}
		}
		if cr.cooldown > 0 {
			ts.cooldown = append(ts.cooldown, cr.rule.ID)
		}
		for _, id := range cr.lists {
			if !slices.Contains(ts.lists, id) {
				ts.lists = append(ts.lists, id)
			}
		}
	}
	return p, nil
}

// ContactListIDs returns the contact lists that the active rules of
// triggerType test, so the caller resolves the sender's membership of
// those only (Input.ContactLists).
func (p *Program) ContactListIDs(triggerType string) []int64 {
	if ts := p.byTrigger[triggerType]; ts != nil {
		return ts.lists
	}
	return nil
}

// Listens reports whether an active rule has triggerType for trigger.
func (p *Program) Listens(triggerType string) bool {
	ts := p.byTrigger[triggerType]
	return ts != nil && len(ts.rules) > 0
}

// CooldownRuleIDs returns the active rules of triggerType that have a
// cooldown, so the caller looks up their last matches for the event's
// rollout key only (Input.LastMatched).
func (p *Program) CooldownRuleIDs(triggerType string) []int64 {
	if ts := p.byTrigger[triggerType]; ts != nil {
		return ts.cooldown
	}
	return nil
}

// Rule returns the compiled copy of a rule, or nil.
func (p *Program) Rule(id int64) *rules.Rule {
	if i, ok := p.byID[id]; ok {
		return p.rules[i].rule
	}
	return nil
}

// EffectiveState is a rule's effective state at one instant (the
// effective-state endpoint of docs/concepts.md#effective-state).
type EffectiveState struct {
	RuleID          int64      `json:"rule_id"`
	IsActive        bool       `json:"is_active"`
	IsSnoozed       bool       `json:"is_snoozed"`
	SnoozedUntil    *time.Time `json:"snoozed_until"`
	GlobalPaused    bool       `json:"global_paused"`
	ScheduleActive  bool       `json:"schedule_active"`
	EffectiveActive bool       `json:"effective_active"`
}

// EffectiveState returns rule id's effective state at now; ok is false
// for an unknown rule.
func (p *Program) EffectiveState(id int64, now time.Time, paused bool) (st EffectiveState, ok bool) {
	i, ok := p.byID[id]
	if !ok {
		return EffectiveState{}, false
	}
	return p.rules[i].effectiveState(now, paused), true
}

func (cr *crule) effectiveState(now time.Time, paused bool) EffectiveState {
	r := cr.rule
	st := EffectiveState{
		RuleID:         r.ID,
		IsActive:       r.IsActive,
		IsSnoozed:      r.SnoozedAt(now),
		GlobalPaused:   paused,
		ScheduleActive: cr.sched.Active(now),
	}
	if st.IsSnoozed {
		t := *r.SnoozedUntil
		st.SnoozedUntil = &t
	}
	st.EffectiveActive = st.IsActive && !st.IsSnoozed && !paused && st.ScheduleActive
	return st
}

// Conversation fields that actions change and conditions read over the
// payload.
const (
	convStatus = iota
	convAssignee
	convTags
	convPriority
	numConvFields
)

var convFieldNames = [numConvFields]string{
	"conversation.status", "conversation.assignee_id", "conversation.tags", "conversation.priority",
}

// Event metadata fields (event.*).
const (
	evNone = iota
	evType
	evSource
	evChannelSource
	evOccurredAt
)

// slotDef is a field some condition reads; each event resolves it once.
type slotDef struct {
	field string
	path  []string
	event int // evNone for payload fields
	conv  int // index into conversation fields, or -1
	// index are the field's equality indexes, by group (see eqIndex).
	index [numGroups]*eqIndex
}

// Trigger data kinds.
const (
	tdNoOne  = iota + 1 // the assignee / mention is empty
	tdAnyone            // there is one
	tdHostID            // it is this host id
	tdNever             // a member that does not exist: nothing fits
)

type triggerData struct {
	kind   int
	hostID string
	path   []string // the payload field holding the event's person
}

type compiler struct {
	p         *Program
	slotIndex map[string]int32
	memo      map[string]int32
}

func (c *compiler) slot(field string) int32 {
	if i, ok := c.slotIndex[field]; ok {
		return i
	}
	d := slotDef{field: field, path: strings.Split(field, "."), conv: -1}
	switch field {
	case "event.type":
		d.event = evType
	case "event.source":
		d.event = evSource
	case "event.channel_source":
		d.event = evChannelSource
	case "event.occurred_at":
		d.event = evOccurredAt
	}
	i := int32(len(c.p.slots))
	for f, name := range convFieldNames {
		if name == field {
			d.conv = f
			c.p.convSlot[f] = i
		}
	}
	c.p.slots = append(c.p.slots, d)
	c.slotIndex[field] = i
	return i
}

func (c *compiler) rule(r *rules.Rule, tz string) (crule, error) {
	cr := crule{
		id: r.ID, rule: r, cooldown: time.Duration(r.CooldownSecs) * time.Second,
		rollout: r.RolloutPercentage, stop: r.StopOnMatch,
	}
	if r.SnoozedUntil != nil {
		cr.snoozed = *r.SnoozedUntil
	}
	conds, errs := rules.ParseConditions(r.Conditions, r.TriggerType)
	if len(errs) > 0 {
		errs2 := make([]error, 0, len(errs))
		for _, e := range errs {
			errs2 = append(errs2, fmt.Errorf("conditions%s: %s", prefixDot(e.Field), e.Message))
		}
		return cr, errors.Join(errs2...)
	}
	cr.lists = rules.ContactListIDs(conds)
	used := map[int32]bool{}
	cr.conds = make([]node, len(conds))
	for i := range conds {
		n, err := c.node(&conds[i], "conditions["+strconv.Itoa(i)+"]", used)
		if err != nil {
			return cr, err
		}
		cr.conds[i] = n
	}
	for s := range used {
		cr.slots = append(cr.slots, s)
	}
	slices.Sort(cr.slots)
	sched, err := rules.CompileSchedule(r.ScheduleSettings, tz)
	if err != nil {
		return cr, fmt.Errorf("schedule_settings: %w", err)
	}
	cr.sched = sched
	cr.td = c.triggerData(r)
	cr.actions = make([]caction, len(r.Actions))
	for i := range r.Actions {
		cr.actions[i] = compileAction(&r.Actions[i], i)
	}
	return cr, nil
}

func prefixDot(field string) string {
	if field == "" || strings.HasPrefix(field, "[") {
		return field
	}
	return "." + field
}

// triggerData compiles an assignment or mention rule's trigger_data; nil
// for every other rule.
func (c *compiler) triggerData(r *rules.Rule) *triggerData {
	td := &triggerData{}
	switch r.TriggerType {
	case rules.TriggerAssigned:
		td.path = []string{"conversation", "assignee_id"}
	case rules.TriggerMentioned:
		td.path = []string{"mentioned_member_id"}
	default:
		return nil
	}
	if r.TriggerData == nil {
		return nil
	}
	switch d := *r.TriggerData; d {
	case rules.TriggerDataNoOne:
		td.kind = tdNoOne
	case rules.TriggerDataAnyone:
		td.kind = tdAnyone
	default:
		id, _ := strconv.ParseInt(d, 10, 64)
		m, ok := c.p.members[id]
		if !ok {
			td.kind = tdNever
			break
		}
		td.kind, td.hostID = tdHostID, m.HostID()
	}
	return td
}

// pack lays every rule's condition nodes, their data and their constants
// out in three contiguous blocks, in evaluation order. An event walks all
// rules of its trigger, so this turns a thousand scattered allocations
// into a sequential read the CPU prefetches; it roughly halved the time
// of BenchmarkEvaluate at 1,000 rules.
func (p *Program) pack() {
	var nNodes, nSet, nBytes int
	var count func([]node)
	count = func(ns []node) {
		for i := range ns {
			k := ns[i].k
			nNodes++
			nSet += len(k.set)
			nBytes += k.c.size()
			for j := range k.set {
				nBytes += k.set[j].size()
			}
			count(ns[i].kids)
		}
	}
	for i := range p.rules {
		count(p.rules[i].conds)
	}
	// Capacities are exact, so appends never move what earlier pointers
	// point into.
	nodes := make([]node, 0, nNodes)
	data := make([]nodeData, 0, nNodes)
	sets := make([]scalar, 0, nSet)
	arena := make([]byte, 0, nBytes)
	var place func([]node) []node
	place = func(src []node) []node {
		start := len(nodes)
		nodes = append(nodes, src...)
		out := nodes[start:len(nodes):len(nodes)]
		for i := range out {
			d := *out[i].k
			d.c.moveTo(&arena)
			setStart := len(sets)
			for _, e := range d.set {
				e.moveTo(&arena)
				sets = append(sets, e)
			}
			if d.set != nil {
				d.set = sets[setStart:len(sets):len(sets)]
			}
			data = append(data, d)
			out[i].k = &data[len(data)-1]
		}
		for i := range out {
			out[i].kids = place(out[i].kids)
		}
		return out
	}
	for i := range p.rules {
		p.rules[i].conds = place(p.rules[i].conds)
	}
}
