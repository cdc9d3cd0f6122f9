package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/engine"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Engine evaluates events against the workspace's compiled rules and turns
// each plan into the outcome the worker commits. It reads (rules, list
// membership, cooldowns, loop origin) but never writes.
type Engine struct {
	store    Store
	programs *Programs
	clock    clock.Clock
	plans    sync.Pool // *engine.Plan: evaluation reuses its buffers
}

// NewEngine returns a Processor over the store's rules.
func NewEngine(s Store, programs *Programs, clk clock.Clock) *Engine {
	if clk == nil {
		clk = clock.System{}
	}
	return &Engine{store: s, programs: programs, clock: clk,
		plans: sync.Pool{New: func() any { return new(engine.Plan) }}}
}

// Programs returns the cache the engine compiles into.
func (en *Engine) Programs() *Programs { return en.programs }

// Process implements Processor.
func (en *Engine) Process(ctx context.Context, e store.Event) (store.Outcome, error) {
	c, err := en.programs.Get(ctx, e.WorkspaceID)
	if err != nil {
		return store.Outcome{}, err
	}
	now := en.clock.Now()
	in := EventInput(e)
	in.Now = now
	in.Paused = c.Control.PausedAt(now)
	var chainOut store.Outcome
	if e.CausedBy != nil {
		chain, hops, err := en.store.DeliveryOrigin(ctx, e.WorkspaceID, *e.CausedBy)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// An unknown delivery id (purged, or made up) starts no chain.
		case err != nil:
			return store.Outcome{}, fmt.Errorf("pipeline: unable to trace caused_by: %w", err)
		default:
			in.CausedByRules, in.Hops = chain, hops
			chainOut.CausedByRules, chainOut.Hops = chain, hops
		}
	}
	if !in.Paused {
		if err := en.resolve(ctx, c, &in, e); err != nil {
			return store.Outcome{}, err
		}
	}
	plan := en.plans.Get().(*engine.Plan)
	defer en.plans.Put(plan)
	if err := c.Program.Evaluate(&in, plan); err != nil {
		// The payload was validated as JSON at ingestion; failing here is a
		// bug or corruption, and retrying will not help, but the retry
		// budget bounds it.
		return store.Outcome{}, fmt.Errorf("pipeline: evaluate event %s: %w", e.ID, err)
	}
	var skip map[int64]bool
	if e.Attempts > 1 && len(plan.Runs) > 0 {
		// A retried event may have runs from an attempt whose commit
		// succeeded but whose completion was lost; those rules do not run
		// again (docs/concepts.md#runs-and-why-not-traces).
		ids, err := en.store.RunRuleIDs(ctx, e.WorkspaceID, e.ID)
		if err != nil {
			return store.Outcome{}, err
		}
		if len(ids) > 0 {
			skip = make(map[int64]bool, len(ids))
			for _, id := range ids {
				skip[id] = true
			}
		}
	}
	out := buildOutcome(e, plan, c, now, skip)
	out.Hops, out.CausedByRules = chainOut.Hops, chainOut.CausedByRules
	return out, nil
}

// EventInput maps a stored event to the engine's input (without the
// pre-resolved lookups and the time).
func EventInput(e store.Event) engine.Input {
	in := engine.Input{EventID: e.ID, Type: e.EventType, Source: e.Source, OccurredAt: e.OccurredAt, Payload: e.Payload}
	if e.ChannelSource != nil {
		in.ChannelSource = *e.ChannelSource
	}
	if e.ConversationID != nil {
		in.ConversationID = *e.ConversationID
	}
	if e.ContactID != nil {
		in.ContactID = *e.ContactID
	}
	if e.TargetRuleID != nil {
		in.TargetRuleID = *e.TargetRuleID
	}
	return in
}

// resolve does the event's lookups once, before evaluation, only for what
// the rules of its trigger use: contact-list membership of the sender and
// the cooldowns of the rules that have one.
func (en *Engine) resolve(ctx context.Context, c *Compiled, in *engine.Input, e store.Event) error {
	if err := ResolveContactLists(ctx, en.store, c.Program, e.WorkspaceID, in); err != nil {
		return err
	}
	if ids := c.Program.CooldownRuleIDs(in.Type); len(ids) > 0 {
		cds, err := en.store.Cooldowns(ctx, e.WorkspaceID, engine.RolloutKey(in), ids)
		if err != nil {
			return fmt.Errorf("pipeline: unable to read cooldowns: %w", err)
		}
		in.LastMatched = make(map[int64]time.Time, len(cds))
		for _, cd := range cds {
			in.LastMatched[cd.RuleID] = cd.MatchedAt
		}
	}
	return nil
}

// ResolveContactLists fills in.ContactLists with the lists (of those the
// trigger's rules use) that contain the sender. Dry-runs share it.
func ResolveContactLists(ctx context.Context, s store.ContactLists, prog *engine.Program, workspaceID int64, in *engine.Input) error {
	ids := prog.ContactListIDs(in.Type)
	if len(ids) == 0 {
		return nil
	}
	sender := engine.SenderEmail(in.Payload)
	if sender == "" {
		return nil
	}
	found, err := s.ContactListsContaining(ctx, workspaceID, sender, ids)
	if err != nil {
		return fmt.Errorf("pipeline: unable to resolve contact lists: %w", err)
	}
	in.ContactLists = found
	return nil
}

// payloadFacts are the few payload fields the pipeline itself reads.
type payloadFacts struct {
	Conversation struct {
		Status     any   `json:"status"`
		AssigneeID any   `json:"assignee_id"`
		Tags       []any `json:"tags"`
		Priority   any   `json:"priority"`
	} `json:"conversation"`
	Message struct {
		Direction any `json:"direction"`
	} `json:"message"`
}

func readFacts(payload []byte) payloadFacts {
	var f payloadFacts
	_ = json.Unmarshal(payload, &f) // a field of an unexpected type reads as absent
	return f
}

// scalarString renders a JSON scalar as the string hosts mean by it.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// runResult is a run's "result" (docs/concepts.md#runs-and-why-not-traces).
type runResult struct {
	Reason engine.Reason       `json:"reason"`
	Trace  []engine.TraceEntry `json:"trace"`
	// Actions is the per-action status; empty for a run that did not match.
	Actions []actionStatus `json:"actions"`
}

type actionStatus struct {
	Index      int     `json:"index"`
	Type       string  `json:"type"`
	Status     string  `json:"status"`
	Reason     string  `json:"reason,omitempty"`
	Attempts   int     `json:"attempts"`
	Error      *string `json:"error,omitempty"`
	DeliveryID string  `json:"delivery_id,omitempty"`
}

// buildOutcome turns the engine's plan into rows: one run per evaluated
// rule, one delivery per action to send, counters, cooldowns, activity and
// the conversation's state.
func buildOutcome(e store.Event, plan *engine.Plan, c *Compiled, now time.Time, skip map[int64]bool) store.Outcome {
	out := store.Outcome{Status: store.EventProcessed}
	if plan.Paused {
		// Paused: stored and skipped, no run (docs/concepts.md#the-global-control); the conversation
		// state is still learned.
		out.Status = store.EventSkipped
		out.Conversation = learnConversation(e, nil)
		return out
	}
	out.Runs = make([]store.Run, 0, len(plan.Runs))
	for i := range plan.Runs {
		pr := &plan.Runs[i]
		if skip[pr.Rule.ID] {
			continue
		}
		run := store.Run{
			ID: newID(), WorkspaceID: e.WorkspaceID, EventID: e.ID, RuleID: pr.Rule.ID, RuleName: pr.Rule.Name,
			ConversationID: e.ConversationID, ContactID: e.ContactID, Matched: pr.Matched, Status: store.RunNotMatched,
			CreatedAt: now, EventType: e.EventType, EventSource: e.Source, ChannelSource: e.ChannelSource,
		}
		res := runResult{Reason: pr.Reason, Trace: []engine.TraceEntry{}, Actions: []actionStatus{}}
		if pr.Reason == engine.ReasonConditionsNotMet {
			res.Trace = append(res.Trace, pr.Failure)
		}
		if pr.Matched {
			run.Status = store.RunPending
			pending := 0
			for _, a := range pr.Actions {
				st := actionStatus{Index: a.Index, Type: a.Type, Status: store.DeliveryPending}
				if a.SkipReason != "" {
					st.Status, st.Reason = store.DeliverySkipped, a.SkipReason
				} else {
					body, _ := json.Marshal(a)
					d := store.Delivery{ID: newID(), WorkspaceID: e.WorkspaceID, RunID: run.ID, EventID: e.ID,
						RuleID: pr.Rule.ID, ActionIndex: a.Index, ConversationID: e.ConversationID, ContactID: e.ContactID,
						Action: body, Status: store.DeliveryPending, AvailableAt: now, CreatedAt: now}
					out.Deliveries = append(out.Deliveries, d)
					st.DeliveryID = d.ID
					pending++
				}
				res.Actions = append(res.Actions, st)
			}
			delta := store.CounterDelta{RuleID: pr.Rule.ID, Matched: 1, MatchedAt: &now}
			if pending == 0 {
				// Every action was skipped: the run is settled and executed.
				run.Status, run.Executed, run.SettledAt = store.RunExecuted, true, &now
				delta.Applied, delta.AppliedAt = 1, &now
			}
			out.Counters = append(out.Counters, delta)
			if pr.Rule.CooldownSecs > 0 {
				out.Cooldowns = append(out.Cooldowns, store.Cooldown{RuleID: pr.Rule.ID, Key: plan.RolloutKey, MatchedAt: now})
			}
			if e.ConversationID != nil {
				actions, _ := json.Marshal(pr.Actions)
				out.Activities = append(out.Activities, store.Activity{ID: newID(), WorkspaceID: e.WorkspaceID,
					ConversationID: *e.ConversationID, Kind: "automation_applied", RuleID: pr.Rule.ID, RuleName: pr.Rule.Name,
					EventID: e.ID, RunID: run.ID, Actions: actions, CreatedAt: now})
			}
		} else {
			run.SettledAt = &now
		}
		run.Result, _ = json.Marshal(res)
		out.Runs = append(out.Runs, run)
	}
	var after *engine.ConversationState
	if plan.ConversationChanged {
		after = &plan.Conversation
	}
	out.Conversation = learnConversation(e, after)
	return out
}

// learnConversation derives the conversation's state from the event
// (docs/concepts.md#processing) and, when actions changed it, from the plan. It returns nil
// for an event without a conversation.
func learnConversation(e store.Event, after *engine.ConversationState) *store.Conversation {
	if e.ConversationID == nil {
		return nil
	}
	f := readFacts(e.Payload)
	conv := &store.Conversation{WorkspaceID: e.WorkspaceID, ID: *e.ConversationID, UpdatedAt: e.OccurredAt}
	if s, ok := scalarString(f.Conversation.Status); ok {
		conv.Status = normalizeStatus(s)
	}
	if s, ok := scalarString(f.Conversation.Priority); ok {
		conv.Priority = &s
	}
	if f.Conversation.AssigneeID != nil {
		s, _ := scalarString(f.Conversation.AssigneeID)
		conv.AssigneeID = &s
	}
	if f.Conversation.Tags != nil {
		conv.Tags = []string{}
		for _, t := range f.Conversation.Tags {
			if s, ok := scalarString(t); ok {
				conv.Tags = append(conv.Tags, s)
			}
		}
	}
	at := e.OccurredAt
	outgoing := f.Message.Direction == "outgoing"
	switch e.EventType {
	case rules.TriggerNewConversation, rules.TriggerConversationCreated, rules.TriggerTicketCreated, rules.TriggerIncoming:
		if outgoing {
			conv.LastTeamResponseAt = &at
		} else {
			conv.LastCustomerMessageAt = &at
		}
	case rules.TriggerResponse:
		conv.LastTeamResponseAt = &at
	case rules.TriggerStatusClosed:
		conv.Status = "closed"
	case rules.TriggerStatusOpened, rules.TriggerStatusUnsnoozed:
		conv.Status = "open"
	case rules.TriggerStatusSnoozed:
		conv.Status = "snoozed"
	}
	if conv.Status == "" && (e.EventType == rules.TriggerNewConversation || e.EventType == rules.TriggerConversationCreated) {
		conv.Status = "open"
	}
	if after != nil {
		if after.Status != "" {
			conv.Status = after.Status
		}
		if after.Priority != "" {
			p := after.Priority
			conv.Priority = &p
		}
		if after.AssigneeID != nil {
			a := *after.AssigneeID
			conv.AssigneeID = &a
		}
		if after.Tags != nil {
			conv.Tags = append([]string{}, after.Tags...)
		}
	}
	return conv
}

// normalizeStatus maps host spellings ("OPENED", "Closed") to ours.
func normalizeStatus(s string) string {
	switch strings.ToLower(s) {
	case "open", "opened", "reopened":
		return "open"
	case "closed", "close", "resolved", "done":
		return "closed"
	case "snoozed", "snooze":
		return "snoozed"
	}
	return ""
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
