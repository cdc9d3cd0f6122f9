package store

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// OutcomeRows is what a batch of accepted completions writes, flattened across
// the batch so that each table takes one multi-row statement, and
// de-duplicated so that no statement touches a row twice.
type OutcomeRows struct {
	// Runs are the matched runs: a run that did not match is only in its
	// event's record.
	Runs          []Run
	Deliveries    []Delivery
	Counters      []CounterRow   // one per rule, by rule id
	Cooldowns     []CooldownRow  // one per (rule, key), by rule id then key
	Conversations []Conversation // one per conversation, by workspace then id
	Rollups       []RollupRow    // one per (workspace, rule, hour), by rule then hour
	// WaitCancels end stretches (before WaitStarts begin others).
	WaitCancels []WaitCancel
	WaitStarts  []Wait
}

// EventRecord is the decision record a completed event keeps (see
// decisions.go); both columns are NULL when no rule ran.
type EventRecord struct {
	RuleIDs   *string // decided_rules
	Decisions []byte  // decisions
}

// RecordOf is the record an outcome leaves in its event's row: each
// evaluated rule once (the first run of a rule wins, as for the rows).
// The fence check writes it together with the final status.
func RecordOf(o *Outcome) (EventRecord, error) {
	if len(o.Runs) == 0 {
		return EventRecord{}, nil
	}
	ds := make([]Decision, 0, len(o.Runs))
	for _, r := range o.Runs {
		if slices.ContainsFunc(ds, func(d Decision) bool { return d.RuleID == r.RuleID }) {
			continue
		}
		ds = append(ds, Decision{RuleID: r.RuleID, RuleVersion: r.RuleVersion, Matched: r.Matched,
			Reason: r.Reason, Path: r.FailedPath, Actual: r.FailedActual})
	}
	ids, blob, err := EncodeDecisions(ds)
	if err != nil {
		return EventRecord{}, err
	}
	return EventRecord{RuleIDs: &ids, Decisions: blob}, nil
}

// RollupRow adds to a rule's hourly run counts: runs evaluated, matched,
// and of those settled as executed or failed. Hour is the run's
// created_at (its event's) in whole hours since the Unix epoch. Listing
// totals and statistics read them instead of counting runs.
type RollupRow struct {
	WorkspaceID int64
	RuleID      int64
	Hour        int64
	Evaluated   int64
	Matched     int64
	Executed    int64
	Failed      int64
}

// HourOf is the rollup hour of a time.
func HourOf(t time.Time) int64 { return t.UnixMilli() / 3_600_000 }

type CounterRow struct {
	WorkspaceID int64
	CounterDelta
}

type CooldownRow struct {
	WorkspaceID int64
	Cooldown
}

// FlattenOutcomes gathers the outcomes of the accepted items. The event's facts
// (workspace, ids, type, source) are taken from the claimed event rather
// than from each row, so a row can only land in its event's workspace. A
// second run of one (event, rule) is dropped with its deliveries and
// activity; counters of a rule add up; a cooldown keeps its latest match;
// two states of one conversation merge in batch order.
func FlattenOutcomes(items []Completion, accepted []bool, now time.Time) OutcomeRows {
	nRuns := 0
	for i := range items {
		nRuns += len(items[i].Outcome.Runs)
	}
	var (
		out OutcomeRows
		// runKeys holds (event, rule) pairs, the event as the first item
		// that carried it (eventAt): integer keys, sized once, as the
		// batch's runs are many.
		runKeys  = make(map[runKey]bool, nRuns)
		eventAt  = make(map[string]int, len(items))
		dropped  = map[string]bool{}
		delKeys  = map[delKey]bool{}
		counters = map[int64]*CounterRow{}
		cools    = map[coolKey]*CooldownRow{}
		convs    = map[convKey]*Conversation{}
		rollups  = map[rollKey]*RollupRow{}
		renamed  = map[string]string{} // run ids the caller chose → RunID
		actions  = map[string]*runActions{}
	)
	for i, it := range items {
		if !accepted[i] {
			continue
		}
		ev, o := it.Claim.Event, &it.Outcome
		ws := ev.WorkspaceID
		created := msUTC(ev.CreatedAt)
		hour := HourOf(created)
		pos := 0 // the run's place in the order the event's rules ran
		first, seen := eventAt[ev.ID]
		if !seen {
			first = i
			eventAt[ev.ID] = i
		}
		for _, r := range o.Runs {
			k := runKey{first, r.RuleID}
			if runKeys[k] {
				dropped[r.ID] = true
				continue
			}
			runKeys[k] = true
			at := pos
			pos++
			roll := rollups[rollKey{r.RuleID, hour}]
			if roll == nil {
				roll = &RollupRow{WorkspaceID: ws, RuleID: r.RuleID, Hour: hour}
				rollups[rollKey{r.RuleID, hour}] = roll
			}
			roll.Evaluated++
			if !r.Matched {
				continue // only in the event's record, whose reader derives its id
			}
			id := RunID(ev.ID, created, r.RuleID, at)
			if r.ID != id {
				renamed[r.ID] = id
			}
			r.ID, r.WorkspaceID, r.EventID = id, ws, ev.ID
			if r.RuleVersion > 0 {
				// The version names the rule (rule_versions): a run's
				// name is its version's, read with it (nameRuns).
				r.RuleName = ""
			}
			r.ConversationID, r.ContactID, r.ChannelSource = ev.ConversationID, ev.ContactID, ev.ChannelSource
			r.EventType, r.EventSource = ev.EventType, ev.Source
			r.CreatedAt = created
			roll.Matched++
			switch r.Status {
			case RunExecuted:
				roll.Executed++
			case RunFailed:
				roll.Failed++
			}
			if len(r.Actions) > 0 {
				actions[id] = &runActions{doc: r.Actions}
			}
			r.Actions = storedActions(r.Actions) // as the runs table keeps them (runactions.go)
			// As the runs table keeps it (result.go).
			switch {
			case len(r.Result) == 0 && r.ActionStates != nil:
				r.Result = compactResult(id, r.ActionStates)
			case len(r.Result) == 0:
				r.Result = json.RawMessage(`{}`)
			default:
				r.Result = storedResult(id, r.Result)
			}
			r.ActionStates = nil
			out.Runs = append(out.Runs, r)
		}
		for _, d := range o.Deliveries {
			if id, ok := renamed[d.RunID]; ok {
				d.RunID = id
			}
			if d.ID == "" {
				d.ID = DeliveryID(d.RunID, d.ActionIndex)
			}
			k := delKey{d.RunID, d.ActionIndex}
			if dropped[d.RunID] || delKeys[k] {
				continue
			}
			delKeys[k] = true
			d.WorkspaceID, d.EventID = ws, ev.ID
			if d.Status == "" {
				d.Status = DeliveryPending
			}
			// A delivery is created with its run, at its event's time, so
			// that its id (DeliveryID) sorts as (created_at, id) does.
			d.AvailableAt, d.CreatedAt = orNow(d.AvailableAt, now), orNow(d.CreatedAt, created)
			ra := actions[d.RunID]
			switch {
			case len(d.Action) == 0 && ra == nil:
				d.Action = json.RawMessage(`{}`)
			case len(d.Action) == 0:
				// The run's entry at its index, stored once, in the run.
			case ra != nil && bytes.Equal(ra.at(d.ActionIndex), d.Action):
				d.Action = nil // stored once, in the run
			}
			out.Deliveries = append(out.Deliveries, d)
		}
		for _, c := range o.Counters {
			acc := counters[c.RuleID]
			if acc == nil {
				acc = &CounterRow{WorkspaceID: ws, CounterDelta: CounterDelta{RuleID: c.RuleID}}
				counters[c.RuleID] = acc
			}
			acc.Matched += c.Matched
			acc.Applied += c.Applied
			acc.MatchedAt = later(acc.MatchedAt, c.MatchedAt)
			acc.AppliedAt = later(acc.AppliedAt, c.AppliedAt)
		}
		for _, c := range o.Cooldowns {
			k := coolKey{c.RuleID, c.Key}
			at := msUTC(c.MatchedAt)
			if acc := cools[k]; acc == nil {
				cools[k] = &CooldownRow{WorkspaceID: ws, Cooldown: Cooldown{RuleID: c.RuleID, Key: c.Key, MatchedAt: at}}
			} else if at.After(acc.MatchedAt) {
				acc.MatchedAt = at
			}
		}
		if w := o.Waits; w != nil && ev.ConversationID != nil {
			for _, kind := range w.Cancel {
				out.WaitCancels = append(out.WaitCancels, WaitCancel{WorkspaceID: ws, ConversationID: *ev.ConversationID, Kind: kind})
			}
			for _, st := range w.Start {
				st.WorkspaceID, st.ConversationID, st.Fired = ws, *ev.ConversationID, false
				st.Since, st.DueAt = msUTC(st.Since), msUTC(st.DueAt)
				if len(st.Payload) == 0 {
					st.Payload = json.RawMessage(`{}`)
				}
				out.WaitStarts = append(out.WaitStarts, st)
			}
		}
		if o.Conversation != nil {
			c := *o.Conversation
			if c.Priority != nil && *c.Priority == "" {
				c.Priority = nil // an empty priority keeps the stored one, as an empty status does
			}
			k := convKey{ws, c.ID}
			if acc := convs[k]; acc == nil {
				c.WorkspaceID = ws
				c.UpdatedAt = orNow(c.UpdatedAt, now)
				convs[k] = &c
			} else {
				mergeConversation(acc, &c, now)
			}
		}
	}
	for _, c := range counters {
		out.Counters = append(out.Counters, *c)
	}
	slices.SortFunc(out.Counters, func(a, b CounterRow) int { return cmp.Compare(a.RuleID, b.RuleID) })
	for _, c := range cools {
		out.Cooldowns = append(out.Cooldowns, *c)
	}
	slices.SortFunc(out.Cooldowns, func(a, b CooldownRow) int {
		return cmp.Or(cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Key, b.Key))
	})
	for _, c := range convs {
		out.Conversations = append(out.Conversations, *c)
	}
	for _, r := range rollups {
		out.Rollups = append(out.Rollups, *r)
	}
	slices.SortFunc(out.Rollups, func(a, b RollupRow) int {
		return cmp.Or(cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Hour, b.Hour))
	})

	slices.SortFunc(out.Conversations, func(a, b Conversation) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// runActions is a run's Actions, split into entries when first asked.
type runActions struct {
	doc     json.RawMessage
	entries []json.RawMessage
	split   bool
}

// at returns the entry at index i, or nil.
func (a *runActions) at(i int) json.RawMessage {
	if !a.split {
		a.split = true
		if json.Unmarshal(a.doc, &a.entries) != nil {
			a.entries = nil
		}
	}
	if i < 0 || i >= len(a.entries) {
		return nil
	}
	return a.entries[i]
}

// ActionAt returns the entry at index i of a run's Actions (a JSON array),
// or nil: how a delivery stored without its own action reads it.
func ActionAt(actions json.RawMessage, i int) json.RawMessage {
	ra := runActions{doc: actions}
	return ra.at(i)
}

type (
	runKey struct {
		event  int // the index of the first item of the event
		ruleID int64
	}
	delKey struct {
		runID string
		index int
	}
	rollKey struct {
		ruleID int64
		hour   int64
	}
	coolKey struct {
		ruleID int64
		key    string
	}
	convKey struct {
		WorkspaceID int64
		id          string
	}
)

// mergeConversation applies a later state of the same conversation: what
// it knows replaces, what it leaves empty keeps the earlier value (the
// rule the upsert applies to the stored row).
func mergeConversation(acc, c *Conversation, now time.Time) {
	if c.Status != "" {
		acc.Status = c.Status
	}
	if c.AssigneeID != nil {
		acc.AssigneeID = c.AssigneeID
	}
	if c.Tags != nil {
		acc.Tags = c.Tags
	}
	if c.Priority != nil {
		acc.Priority = c.Priority
	}
	if c.LastCustomerMessageAt != nil {
		acc.LastCustomerMessageAt = c.LastCustomerMessageAt
	}
	if c.LastTeamResponseAt != nil {
		acc.LastTeamResponseAt = c.LastTeamResponseAt
	}
	acc.UpdatedAt = orNow(c.UpdatedAt, now)
}

// errBadStatus refuses an outcome whose statuses the schema would reject:
// it fails that event alone instead of the batch's commit.
var errBadStatus = errors.New("invalid status")

var (
	runStatuses      = []string{RunNotMatched, RunPending, RunExecuted, RunFailed}
	deliveryStatuses = []string{DeliveryPending, DeliveryLeased, DeliverySucceeded,
		DeliveryFailed, DeliverySkipped}
)

// errDoc names a JSON document that is not valid text.
func errDoc(field string) error { return fmt.Errorf("%s: %w", field, ErrInvalidText) }

// CheckOutcome refuses an outcome with text the store cannot keep (see
// ErrInvalidText) or a final status other than processed or skipped.
func CheckOutcome(o *Outcome) error {
	if o.Status != EventProcessed && o.Status != EventSkipped {
		return fmt.Errorf("final event status %q (want processed or skipped): %w", o.Status, errBadStatus)
	}
	for i := range o.Runs {
		r := &o.Runs[i]
		if !slices.Contains(runStatuses, r.Status) {
			return fmt.Errorf("run status %q: %w", r.Status, errBadStatus)
		}
		if !slices.Contains(reasons, r.Reason) || (!r.Matched && r.Reason == "") {
			return fmt.Errorf("run reason %q: %w", r.Reason, errBadStatus)
		}
		if !ValidDoc(r.FailedActual) || !ValidText(r.FailedPath) {
			return errDoc("run trace")
		}
		// A run that did not match may leave its id to the store (RunID).
		if r.Matched || r.ID != "" {
			if err := checkIDs("run", r.ID); err != nil {
				return err
			}
		}
		if err := CheckTexts("run rule_name", r.RuleName); err != nil {
			return err
		}
		if !ValidDoc(r.Result) {
			return errDoc("run result")
		}
		if len(r.Actions) > 0 && (!ValidDoc(r.Actions) || r.Actions[0] != '[') {
			return errDoc("run actions")
		}
		for _, a := range r.ActionStates {
			if err := CheckTexts("run action type", a.Type, "run action status", a.Status,
				"run action reason", a.Reason, "run action error", a.Error); err != nil {
				return err
			}
		}
	}
	for _, d := range o.Deliveries {
		if d.Status != "" && !slices.Contains(deliveryStatuses, d.Status) {
			return fmt.Errorf("delivery status %q: %w", d.Status, errBadStatus)
		}
		if err := checkIDs("delivery", d.ID, d.RunID); err != nil {
			return err
		}
		if err := CheckTexts("delivery last_error", d.LastError); err != nil {
			return err
		}
		if !ValidDoc(d.Action) {
			return errDoc("delivery action")
		}
	}
	for _, c := range o.Cooldowns {
		if err := CheckTexts("cooldown key", c.Key); err != nil {
			return err
		}
	}
	if c := o.Conversation; c != nil {
		if err := CheckTexts("conversation id", c.ID, "conversation status", c.Status,
			"conversation assignee_id", c.AssigneeID, "conversation priority", c.Priority); err != nil {
			return err
		}
		for _, tag := range c.Tags {
			if err := CheckTexts("conversation tag", tag); err != nil {
				return err
			}
		}
	}
	return nil
}

// errBadID refuses a row whose id (or its run's) is not a UUID.
var errBadID = errors.New("ids must be UUIDs")

// checkIDs returns errBadID, naming the kind of row, unless every id is a
// UUID.
func checkIDs(kind string, ids ...string) error {
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			return fmt.Errorf("%s id %q: %w", kind, id, errBadID)
		}
	}
	return nil
}

// orNow returns t as stored, or now when t is unset.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return msUTC(t)
}

// later returns the later of two optional times.
func later(a, b *time.Time) *time.Time {
	if b == nil {
		return a
	}
	v := msUTC(*b)
	if a == nil || v.After(*a) {
		return &v
	}
	return a
}

// msUTC is t as both stores keep it: UTC, whole milliseconds.
func msUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// ErrInvalidText refuses a string PostgreSQL cannot store as text (a NUL
// character or invalid UTF-8); both stores refuse it alike.
var ErrInvalidText = errors.New("text must be valid UTF-8 without NUL characters")

// ValidText reports whether s can be stored as text by both stores.
func ValidText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// ValidDoc is ValidText for a JSON document (a NUL inside a JSON string is
// always escaped, so a raw one means the document is not JSON text).
func ValidDoc(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return false
		}
	}
	return utf8.Valid(b)
}

// Sanitize makes s storable text, for messages a store records rather
// than refuses (a processing error may quote anything).
func Sanitize(s string) string {
	if ValidText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// CheckTexts returns an error naming the first field that is not valid
// text. Fields come in name, value pairs; a nil *string is skipped.
func CheckTexts(fields ...any) error {
	for i := 0; i+1 < len(fields); i += 2 {
		var s string
		switch v := fields[i+1].(type) {
		case string:
			s = v
		case *string:
			if v == nil {
				continue
			}
			s = *v
		}
		if !ValidText(s) {
			return fmt.Errorf("%s: %w", fields[i], ErrInvalidText)
		}
	}
	return nil
}
