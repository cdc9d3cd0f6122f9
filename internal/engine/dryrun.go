package engine

import (
	"github.com/switchboard-hq/switchboard/internal/rules"
)

// DryRunResult is the answer of a dry-run; it marshals to the contract's
// shape (docs/concepts.md#trying-a-rule).
type DryRunResult struct {
	Matched bool `json:"matched"`
	// Reason is the first that applies of trigger_mismatch,
	// trigger_data_mismatch, conditions_not_met, evaluation_limit and
	// rollout_excluded. A dry-run traces every condition, so it reports
	// evaluation_limit when the conditions do not all hold and one of
	// them could not be computed within EvaluationBudget.
	Reason Reason `json:"reason"`
	// Trace holds every condition, groups and their children alike, in
	// the rule's order, each with the value it read and its result.
	Trace         []TraceEntry    `json:"trace"`
	RolloutBucket int             `json:"rollout_bucket"`
	WouldExecute  []PlannedAction `json:"would_execute"`
	// EffectiveState is reported, not applied: a dry-run of a paused,
	// snoozed or inactive rule still evaluates it.
	EffectiveState EffectiveState `json:"effective_state"`
}

// DryRun evaluates rule r — saved, or unsaved with ID 0 — against in
// through the same code as Evaluate, and reports the full trace. An empty
// in.Type means an event of the rule's own trigger. It applies neither the
// effective state nor cooldowns nor loop prevention, persists nothing and
// changes no conversation. It fails when r does not compile or the
// payload is not valid JSON.
func DryRun(r *rules.Rule, in *Input, opts CompileOptions) (*DryRunResult, error) {
	p, err := Compile([]rules.Rule{*r}, opts)
	if err != nil {
		return nil, err
	}
	return p.dryRun(&p.rules[0], in)
}

// DryRun dry-runs a rule of the Program (see the function DryRun); ok is
// false for an unknown rule.
func (p *Program) DryRun(ruleID int64, in *Input) (res *DryRunResult, ok bool, err error) {
	i, ok := p.byID[ruleID]
	if !ok {
		return nil, false, nil
	}
	res, err = p.dryRun(&p.rules[i], in)
	return res, true, err
}

func (p *Program) dryRun(cr *crule, in *Input) (*DryRunResult, error) {
	ev := *in
	if ev.Type == "" {
		ev.Type = cr.rule.TriggerType
	}
	var plan Plan
	e := plan.begin(p, &ev)
	if err := e.s.doc.parse(ev.Payload); err != nil {
		return nil, err
	}
	plan.RolloutKey = e.rolloutKey()
	e.resolve(cr.slots)
	res := &DryRunResult{
		Trace:          make([]TraceEntry, 0, 8),
		WouldExecute:   []PlannedAction{},
		RolloutBucket:  bucket(cr.rule.ID, plan.RolloutKey, &e.s.hashBuf),
		EffectiveState: cr.effectiveState(in.Now, in.Paused),
	}
	condsOK := true
	for i := range cr.conds {
		if !e.traced(&cr.conds[i], &res.Trace) {
			condsOK = false
		}
	}
	switch {
	case ev.Type != cr.rule.TriggerType:
		res.Reason = ReasonTriggerMismatch
	case !e.triggerDataFits(cr.td):
		res.Reason = ReasonTriggerDataMismatch
	case !condsOK && e.traceOver:
		res.Reason = ReasonEvaluationLimit
	case !condsOK:
		res.Reason = ReasonConditionsNotMet
	case !e.inRollout(cr):
		res.Reason = ReasonRolloutExcluded
	default:
		res.Matched = true
		res.WouldExecute = append(res.WouldExecute, e.planActions(cr, false)...)
	}
	return res, nil
}
