package postgres

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// rows is what a batch of accepted completions writes, flattened across
// the batch so that each table takes one multi-row statement, and
// de-duplicated so that no statement touches a row twice.
type rows struct {
	runs          []store.Run
	deliveries    []store.Delivery
	activities    []store.Activity
	counters      []counterRow         // one per rule, by rule id
	cooldowns     []cooldownRow        // one per (rule, key), by rule id then key
	conversations []store.Conversation // one per conversation, by workspace then id
}

type counterRow struct {
	workspaceID int64
	store.CounterDelta
}

type cooldownRow struct {
	workspaceID int64
	store.Cooldown
}

// flatten gathers the outcomes of the accepted items. The event's facts
// (workspace, ids, type, source) are taken from the claimed event rather
// than from each row, so a row can only land in its event's workspace. A
// second run of one (event, rule) is dropped with its deliveries and
// activity; counters of a rule add up; a cooldown keeps its latest match;
// two states of one conversation merge in batch order.
func flatten(items []store.Completion, accepted []bool, now time.Time) rows {
	var (
		out      rows
		runKeys  = map[runKey]bool{}
		dropped  = map[string]bool{}
		delKeys  = map[delKey]bool{}
		counters = map[int64]*counterRow{}
		cools    = map[coolKey]*cooldownRow{}
		convs    = map[convKey]*store.Conversation{}
	)
	for i, it := range items {
		if !accepted[i] {
			continue
		}
		ev, o := it.Claim.Event, &it.Outcome
		ws := ev.WorkspaceID
		for _, r := range o.Runs {
			k := runKey{ev.ID, r.RuleID}
			if runKeys[k] {
				dropped[r.ID] = true
				continue
			}
			runKeys[k] = true
			r.WorkspaceID, r.EventID = ws, ev.ID
			r.ConversationID, r.ContactID, r.ChannelSource = ev.ConversationID, ev.ContactID, ev.ChannelSource
			r.EventType, r.EventSource = ev.EventType, ev.Source
			r.CreatedAt = orNow(r.CreatedAt, now)
			if len(r.Result) == 0 {
				r.Result = json.RawMessage(`{}`)
			}
			out.runs = append(out.runs, r)
		}
		for _, d := range o.Deliveries {
			k := delKey{d.RunID, d.ActionIndex}
			if dropped[d.RunID] || delKeys[k] {
				continue
			}
			delKeys[k] = true
			d.WorkspaceID, d.EventID = ws, ev.ID
			if d.Status == "" {
				d.Status = store.DeliveryPending
			}
			d.AvailableAt, d.CreatedAt = orNow(d.AvailableAt, now), orNow(d.CreatedAt, now)
			if len(d.Action) == 0 {
				d.Action = json.RawMessage(`{}`)
			}
			out.deliveries = append(out.deliveries, d)
		}
		for _, a := range o.Activities {
			if dropped[a.RunID] {
				continue
			}
			a.WorkspaceID, a.EventID = ws, ev.ID
			a.CreatedAt = orNow(a.CreatedAt, now)
			if len(a.Actions) == 0 {
				a.Actions = json.RawMessage(`[]`)
			}
			out.activities = append(out.activities, a)
		}
		for _, c := range o.Counters {
			acc := counters[c.RuleID]
			if acc == nil {
				acc = &counterRow{workspaceID: ws, CounterDelta: store.CounterDelta{RuleID: c.RuleID}}
				counters[c.RuleID] = acc
			}
			acc.Matched += c.Matched
			acc.Applied += c.Applied
			acc.MatchedAt = later(acc.MatchedAt, c.MatchedAt)
			acc.AppliedAt = later(acc.AppliedAt, c.AppliedAt)
		}
		for _, c := range o.Cooldowns {
			k := coolKey{c.RuleID, c.Key}
			at := ts(c.MatchedAt)
			if acc := cools[k]; acc == nil {
				cools[k] = &cooldownRow{workspaceID: ws, Cooldown: store.Cooldown{RuleID: c.RuleID, Key: c.Key, MatchedAt: at}}
			} else if at.After(acc.MatchedAt) {
				acc.MatchedAt = at
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
		out.counters = append(out.counters, *c)
	}
	slices.SortFunc(out.counters, func(a, b counterRow) int { return cmp.Compare(a.RuleID, b.RuleID) })
	for _, c := range cools {
		out.cooldowns = append(out.cooldowns, *c)
	}
	slices.SortFunc(out.cooldowns, func(a, b cooldownRow) int {
		return cmp.Or(cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Key, b.Key))
	})
	for _, c := range convs {
		out.conversations = append(out.conversations, *c)
	}
	slices.SortFunc(out.conversations, func(a, b store.Conversation) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(a.ID, b.ID))
	})
	return out
}

type (
	runKey struct {
		eventID string
		ruleID  int64
	}
	delKey struct {
		runID string
		index int
	}
	coolKey struct {
		ruleID int64
		key    string
	}
	convKey struct {
		workspaceID int64
		id          string
	}
)

// mergeConversation applies a later state of the same conversation: what
// it knows replaces, what it leaves empty keeps the earlier value (the
// rule the upsert applies to the stored row).
func mergeConversation(acc, c *store.Conversation, now time.Time) {
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
	runStatuses      = []string{store.RunNotMatched, store.RunPending, store.RunExecuted, store.RunFailed}
	deliveryStatuses = []string{store.DeliveryPending, store.DeliveryLeased, store.DeliverySucceeded,
		store.DeliveryFailed, store.DeliverySkipped}
)

// errDoc names a JSON document that is not valid text.
func errDoc(field string) error { return fmt.Errorf("%s: %w", field, errInvalidText) }

// checkOutcome refuses an outcome with text the store cannot keep (see
// errInvalidText) or a final status other than processed or skipped.
func checkOutcome(o *store.Outcome) error {
	if o.Status != store.EventProcessed && o.Status != store.EventSkipped {
		return fmt.Errorf("final event status %q (want processed or skipped): %w", o.Status, errBadStatus)
	}
	for _, r := range o.Runs {
		if !slices.Contains(runStatuses, r.Status) {
			return fmt.Errorf("run status %q: %w", r.Status, errBadStatus)
		}
		if err := checkIDs("run", r.ID); err != nil {
			return err
		}
		if err := checkTexts("run rule_name", r.RuleName); err != nil {
			return err
		}
		if !validDoc(r.Result) {
			return errDoc("run result")
		}
	}
	for _, d := range o.Deliveries {
		if d.Status != "" && !slices.Contains(deliveryStatuses, d.Status) {
			return fmt.Errorf("delivery status %q: %w", d.Status, errBadStatus)
		}
		if err := checkIDs("delivery", d.ID, d.RunID); err != nil {
			return err
		}
		if err := checkTexts("delivery last_error", d.LastError); err != nil {
			return err
		}
		if !validDoc(d.Action) {
			return errDoc("delivery action")
		}
	}
	for _, a := range o.Activities {
		if err := checkIDs("activity", a.ID, a.RunID); err != nil {
			return err
		}
		if err := checkTexts("activity kind", a.Kind, "activity rule_name", a.RuleName,
			"activity conversation_id", a.ConversationID); err != nil {
			return err
		}
		if !validDoc(a.Actions) {
			return errDoc("activity actions")
		}
	}
	for _, c := range o.Cooldowns {
		if err := checkTexts("cooldown key", c.Key); err != nil {
			return err
		}
	}
	if c := o.Conversation; c != nil {
		if err := checkTexts("conversation id", c.ID, "conversation status", c.Status,
			"conversation assignee_id", c.AssigneeID, "conversation priority", c.Priority); err != nil {
			return err
		}
		for _, tag := range c.Tags {
			if err := checkTexts("conversation tag", tag); err != nil {
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
		if _, ok := parseID(id); !ok {
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
	return ts(t)
}

// later returns the later of two optional times.
func later(a, b *time.Time) *time.Time {
	if b == nil {
		return a
	}
	v := ts(*b)
	if a == nil || v.After(*a) {
		return &v
	}
	return a
}
