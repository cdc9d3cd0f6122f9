package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/delivery"
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
	if err := en.guardReplies(ctx, e, plan, &c.Workspace, now, skip); err != nil {
		return store.Outcome{}, err
	}
	out := buildOutcome(e, plan, c, now, skip)
	if out.Waits, err = en.waitChange(ctx, e, c); err != nil {
		return store.Outcome{}, err
	}
	if err := en.keepStoredTags(ctx, e, plan, skip, out.Conversation); err != nil {
		return store.Outcome{}, err
	}
	out.Hops, out.CausedByRules = chainOut.Hops, chainOut.CausedByRules
	return out, nil
}

// Settle decides, before an event is stored, the outcome of one that
// nothing in its workspace evaluates — no active rule listens to its
// trigger or waits on time, it targets no rule and continues no chain —
// and sets it as the event's Settled (store.NewEvent), so that the ingest
// commit may store the event finished rather than queue it for a worker
// that would decide the same: no run, the conversation's state learned,
// skipped while the workspace is paused. It is what Process decides for
// such an event (TestSettleDecidesWhatProcessWould), without evaluating
// anything. An event without occurred_at gets its default here
// (arrival), since the conversation's times are taken from it. When the
// rules cannot be read the event is left to the workers.
func (en *Engine) Settle(ctx context.Context, ne *store.NewEvent) {
	ne.Settled = nil
	e := &ne.Event
	if e.TargetRuleID != nil || e.CausedBy != nil || rules.IsTimeTrigger(e.EventType) {
		return
	}
	c, err := en.programs.Get(ctx, e.WorkspaceID)
	if err != nil {
		return
	}
	if p := c.Program; p.Listens(e.EventType) ||
		p.Listens(rules.TriggerUnansweredByTeam) || p.Listens(rules.TriggerUnansweredByClient) {
		return
	}
	now := en.clock.Now()
	if e.OccurredAt.IsZero() {
		e.OccurredAt = now
	}
	out := buildOutcome(*e, &engine.Plan{Paused: c.Control.PausedAt(now)}, c, now, nil)
	ne.Settled = &out
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
		Status any `json:"status"`
		// AssigneeID is raw so that null (unassigned) differs from absent.
		AssigneeID json.RawMessage `json:"assignee_id"`
		Tags       []any           `json:"tags"`
		Priority   any             `json:"priority"`
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
	Actions []store.ActionState `json:"actions"`
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
			WorkspaceID: e.WorkspaceID, EventID: e.ID,
			RuleID: pr.Rule.ID, RuleName: pr.Rule.Name, RuleVersion: pr.Rule.Version,
			ConversationID: e.ConversationID, ContactID: e.ContactID,
			Matched: pr.Matched, Status: store.RunNotMatched, CreatedAt: e.CreatedAt, EventType: e.EventType,
			EventSource: e.Source, ChannelSource: e.ChannelSource,
		}
		if !pr.Matched {
			// Kept in the event's decision record, not as a row: the store
			// needs the reason and the failing condition, not a document.
			run.Reason, run.SettledAt = string(pr.Reason), &now
			if pr.Reason == engine.ReasonConditionsNotMet {
				// Copies: the plan's memory is reused by the next event.
				run.FailedPath = strings.Clone(pr.Failure.Path)
				run.FailedActual = append(json.RawMessage(nil), pr.Failure.Actual...)
			}
			out.Runs = append(out.Runs, run) // the store derives its id when it is read
			continue
		}
		run.ID = store.RunID(e.ID, e.CreatedAt, pr.Rule.ID, len(out.Runs))
		// The actions as decided, each rendered once: the run keeps them
		// (its conversation's activity entry), and a delivery's body is the
		// run's entry at its index (Action nil).
		bodies := make([]byte, 0, 128*len(pr.Actions))
		bodies = append(bodies, '[')
		for i := range pr.Actions {
			if i > 0 {
				bodies = append(bodies, ',')
			}
			// MarshalJSON itself: through json.Marshal its (compact) output
			// would be validated and compacted again, 2/3 of the cost.
			b, _ := pr.Actions[i].MarshalJSON()
			bodies = append(bodies, b...)
		}
		run.Actions = append(bodies, ']')
		res := runResult{Reason: pr.Reason, Trace: []engine.TraceEntry{}, Actions: make([]store.ActionState, 0, len(pr.Actions))}
		{
			run.Status = store.RunPending
			pending := 0
			for i, a := range pr.Actions {
				st := store.ActionState{Index: a.Index, Type: a.Type, Status: store.DeliveryPending}
				if a.SkipReason != "" {
					st.Status, st.Reason = store.DeliverySkipped, a.SkipReason
				} else {
					target := deliveryTarget(&c.Workspace, e, &a)
					var body json.RawMessage
					if a.Index != i {
						body, _ = a.MarshalJSON() // not the run's entry at its index
					}
					d := store.Delivery{ID: store.DeliveryID(run.ID, a.Index), WorkspaceID: e.WorkspaceID, RunID: run.ID, EventID: e.ID,
						RuleID: pr.Rule.ID, ActionIndex: a.Index, ConversationID: e.ConversationID, ContactID: e.ContactID,
						Action: body, Target: target, Status: store.DeliveryPending, AvailableAt: now} // created with its run (the store)
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
		}
		if res.Reason == "" {
			run.ActionStates = res.Actions // the store writes the result from them
		} else {
			run.Result, _ = json.Marshal(res)
		}
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
	if raw := f.Conversation.AssigneeID; raw != nil {
		var v any
		_ = json.Unmarshal(raw, &v) // valid JSON: it came in the payload
		s, _ := scalarString(v)     // null (unassigned) is ""
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

// guardReplies applies the guards of send_response (§5) to the plan's
// matched runs, marking a reply skipped with its reason: the RFC 3834
// guards (an automatic or bulk message, a no-reply sender), then the
// per-recipient cooldown. The cooldown is the one thing processing
// writes before its commit: a yes must be seen at once by every other
// worker and node deciding a reply to the same address (two events, one
// reply). The row names this event, so re-processing it after a crash
// decides the same reply again.
func (en *Engine) guardReplies(ctx context.Context, e store.Event, plan *engine.Plan, ws *store.Workspace,
	now time.Time, skip map[int64]bool) error {
	var (
		in      delivery.Inbound
		parsed  bool
		decided bool // this event already claimed the recipient
	)
	for i := range plan.Runs {
		pr := &plan.Runs[i]
		if !pr.Matched || skip[pr.Rule.ID] {
			continue
		}
		for j := range pr.Actions {
			a := &pr.Actions[j]
			if a.Type != rules.ActionSendResponse || a.SkipReason != "" {
				continue
			}
			if !parsed {
				in, parsed = delivery.ParseInbound(e.Payload), true
			}
			from := ""
			if ws.SMTP != nil {
				from = ws.SMTP.From
			}
			if reason := delivery.SkipReason(in, from); reason != "" {
				a.SkipReason = reason
				continue
			}
			if decided {
				// One automated reply per recipient: a second rule of the
				// same event is within the cooldown of the first.
				a.SkipReason = SkipRecipientCooldown
				continue
			}
			ok, err := en.store.ClaimReplyCooldown(ctx, e.WorkspaceID, in.Recipient(), e.ID, now)
			if err != nil {
				return fmt.Errorf("pipeline: unable to check the reply cooldown: %w", err)
			}
			if !ok {
				a.SkipReason = SkipRecipientCooldown
				continue
			}
			decided = true
		}
	}
	return nil
}

// waitChange is what the event does to its conversation's waiting
// stretches (time-based triggers): a customer message ends the wait for
// the customer and begins (unless one is in progress) the wait for the
// team; a team response the other way round; closing or snoozing ends
// both. Only open
// conversations wait, and only rules active before the message count, so
// a new rule never fires on a conversation that was already waiting.
// Workspaces without time-based rules skip all of it.
func (en *Engine) waitChange(ctx context.Context, e store.Event, c *Compiled) (*store.WaitChange, error) {
	if e.ConversationID == nil || rules.IsTimeTrigger(e.EventType) {
		return nil, nil
	}
	team := c.Program.TimeRules(rules.TriggerUnansweredByTeam)
	client := c.Program.TimeRules(rules.TriggerUnansweredByClient)
	if len(team) == 0 && len(client) == 0 {
		return nil, nil
	}
	f := readFacts(e.Payload)
	outgoing := f.Message.Direction == "outgoing"
	var (
		ch    store.WaitChange
		start []engine.TimeRule
		kind  string
	)
	switch e.EventType {
	case rules.TriggerStatusClosed, rules.TriggerStatusSnoozed:
		return &store.WaitChange{Cancel: []string{store.WaitTeam, store.WaitClient}}, nil
	case rules.TriggerNewConversation, rules.TriggerConversationCreated, rules.TriggerTicketCreated, rules.TriggerIncoming:
		if outgoing {
			ch.Cancel, start, kind = []string{store.WaitTeam}, client, store.WaitClient
		} else {
			ch.Cancel, start, kind = []string{store.WaitClient}, team, store.WaitTeam
		}
	case rules.TriggerResponse:
		ch.Cancel, start, kind = []string{store.WaitTeam}, client, store.WaitClient
	default:
		return nil, nil
	}
	if len(start) == 0 {
		return &ch, nil
	}
	status := ""
	if s, ok := scalarString(f.Conversation.Status); ok {
		status = normalizeStatus(s)
	}
	if status == "" {
		conv, err := en.store.GetConversation(ctx, e.WorkspaceID, *e.ConversationID)
		switch {
		case err == nil:
			status = conv.Status
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("pipeline: unable to read the conversation's state: %w", err)
		}
	}
	if status == "closed" || status == "snoozed" {
		return &ch, nil // only open conversations wait
	}
	at := e.OccurredAt
	for _, r := range start {
		if r.ActivatedAt.After(at) {
			continue // the rule did not exist (or was off) when the stretch began
		}
		ch.Start = append(ch.Start, store.Wait{RuleID: r.ID, Kind: kind, Since: at, DueAt: at.Add(r.Wait),
			Payload: waitPayload(e.Payload, r, at)})
	}
	return &ch, nil
}

// waitPayload is the payload of the event a wait enqueues when it is due:
// the latest known conversation, contact and message, and the trigger.
func waitPayload(payload []byte, r engine.TimeRule, since time.Time) json.RawMessage {
	var in map[string]json.RawMessage
	_ = json.Unmarshal(payload, &in) // validated at ingestion
	out := map[string]any{}
	for _, k := range []string{"conversation", "contact", "message"} {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
	out["trigger"] = map[string]any{"rule_id": r.ID, "duration": formatWait(r.Wait),
		"waiting_since": since.UTC().Format("2006-01-02T15:04:05.000Z")}
	b, _ := json.Marshal(out)
	return b
}

// formatWait writes a wait as trigger_data does ("2 hours").
func formatWait(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "days"}, {time.Hour, "hours"}, {time.Minute, "minutes"}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d %s", d/u.d, u.name)
		}
	}
	return d.String()
}

// keepStoredTags: when the event does not tell the conversation's tags
// but its matched actions add or remove some, the tags learned so far are
// what those actions change (the engine started from the payload's, which
// were none). Only then is the stored conversation read.
func (en *Engine) keepStoredTags(ctx context.Context, e store.Event, plan *engine.Plan, skip map[int64]bool,
	conv *store.Conversation) error {
	if conv == nil || !plan.ConversationChanged || plan.Conversation.Tags == nil || readFacts(e.Payload).Conversation.Tags != nil {
		return nil
	}
	stored, err := en.store.GetConversation(ctx, e.WorkspaceID, conv.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // nothing learned before: the actions' tags are all there is
	case err != nil:
		return fmt.Errorf("pipeline: unable to read the conversation's tags: %w", err)
	}
	tags := append([]string{}, stored.Tags...)
	for i := range plan.Runs {
		pr := &plan.Runs[i]
		if !pr.Matched || skip[pr.Rule.ID] {
			continue
		}
		for _, a := range pr.Actions {
			if a.SkipReason != "" || a.TagName == "" {
				continue
			}
			k := slices.IndexFunc(tags, func(t string) bool { return strings.EqualFold(t, a.TagName) })
			switch {
			case a.Type == rules.ActionAddTag && k < 0:
				tags = append(tags, a.TagName)
			case a.Type == rules.ActionRemoveTag && k >= 0:
				tags = slices.Delete(tags, k, k+1)
			}
		}
	}
	conv.Tags = tags
	return nil
}

// SkipRecipientCooldown is the skip reason of a send_response to an
// address that got an automated reply in the last hour.
const SkipRecipientCooldown = "recipient_cooldown"

// deliveryTarget decides where an action goes, as its workspace is set
// up when the action is decided: a send_webhook to its URL; an auto-reply
// by the workspace's SMTP server when it has one; every other
// conversation action to the actions_url, or, without one, into the pull
// outbox (nil).
func deliveryTarget(ws *store.Workspace, e store.Event, a *engine.PlannedAction) *string {
	key := func(k string) *string { return &k }
	switch a.Type {
	case rules.ActionSendWebhook:
		return key(delivery.TargetKey(e.WorkspaceID, a.URL))
	case rules.ActionSendResponse:
		// Its guards ran before (guardReplies).
		if ws.SMTP != nil {
			return key(delivery.SMTPTargetKey(e.WorkspaceID, delivery.SMTPOf(*ws.SMTP)))
		}
	}
	if ws.ActionsURL != nil && *ws.ActionsURL != "" {
		return key(delivery.TargetKey(e.WorkspaceID, *ws.ActionsURL))
	}
	return nil
}
