package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/switchboard-hq/switchboard/internal/engine"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// eventContext is what may stand beside event_payload in a dry-run.
type eventContext struct {
	EventPayload   Optional[json.RawMessage] `json:"event_payload"`
	EventType      Optional[string]          `json:"event_type"`
	ConversationID Optional[string]          `json:"conversation_id"`
	ContactID      Optional[string]          `json:"contact_id"`
}

// dryRunBody is either a saved rule's id or an unsaved rule, with the
// event to try it on.
type dryRunBody struct {
	RuleID            Optional[int64]           `json:"rule_id"`
	TriggerType       Optional[string]          `json:"trigger_type"`
	TriggerData       Optional[string]          `json:"trigger_data"`
	Conditions        Optional[json.RawMessage] `json:"conditions"`
	Actions           Optional[[]rules.Action]  `json:"actions"`
	RolloutPercentage Optional[int]             `json:"rollout_percentage"`
	eventContext
}

// input validates the event side of a dry-run and builds the engine's
// input.
func (ec *eventContext) input(errs *validation.Errors) engine.Input {
	var in engine.Input
	switch {
	case !ec.EventPayload.Present():
		errs.Add("event_payload", "is required: the event's payload, a JSON object")
	case len(ec.EventPayload.Value) == 0 || ec.EventPayload.Value[0] != '{':
		errs.Add("event_payload", "must be a JSON object")
	default:
		in.Payload = ec.EventPayload.Value
	}
	if ec.EventType.Present() {
		if !rules.ValidTrigger(ec.EventType.Value) {
			errs.Add("event_type", "unknown event type %q", ec.EventType.Value)
		}
		in.Type = ec.EventType.Value
	}
	if ec.ConversationID.Present() {
		in.ConversationID = ec.ConversationID.Value
	}
	if ec.ContactID.Present() {
		in.ContactID = ec.ContactID.Value
	}
	in.Source = "api"
	in.EventID = "dry-run"
	return in
}

func (a *API) dryRun(w http.ResponseWriter, r *http.Request) error {
	var body dryRunBody
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	ws := principalFrom(r.Context()).Token.WorkspaceID
	var errs validation.Errors
	in := body.input(&errs)
	ruleFields := body.TriggerType.Set || body.TriggerData.Set || body.Conditions.Set || body.Actions.Set || body.RolloutPercentage.Set
	if body.RuleID.Set {
		if ruleFields {
			errs.Add("rule_id", "send either rule_id or an unsaved rule's fields, not both")
			return errInvalid(errs)
		}
		if len(errs) > 0 {
			return errInvalid(errs)
		}
		id := body.RuleID.Value
		res, ok, err := a.dryRunSaved(r, ws, id, in)
		if err != nil {
			return err
		}
		if !ok {
			return errInvalidField("rule_id", "no rule %d in this workspace", id)
		}
		return writeJSON(w, http.StatusOK, res)
	}
	// An unsaved rule: validated like a saved one, except that actions are
	// optional and it hashes as rule 0 (docs/concepts.md#trying-a-rule).
	rule := rules.Rule{ID: 0, WorkspaceID: ws, Name: "dry-run", IsActive: true, RolloutPercentage: 100,
		TriggerType: body.TriggerType.Value, Conditions: json.RawMessage("[]")}
	if body.TriggerData.Present() {
		v := body.TriggerData.Value
		rule.TriggerData = &v
	}
	if body.Conditions.Present() {
		rule.Conditions = body.Conditions.Value
	}
	if body.RolloutPercentage.Present() {
		rule.RolloutPercentage = body.RolloutPercentage.Value
	}
	if body.Actions.Present() {
		rule.Actions = body.Actions.Value
	}
	for _, e := range rule.Validate() {
		if e.Field == "actions" && !body.Actions.Present() {
			continue // none to plan
		}
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		refErrs, err := a.checkReferences(r, &rule)
		if err != nil {
			return err
		}
		errs = refErrs
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	c, err := a.programs.Get(r.Context(), ws)
	if err != nil {
		return err
	}
	prog, err := engine.Compile([]rules.Rule{rule}, c.Options)
	if err != nil {
		return errInvalidField("conditions", "%v", err)
	}
	res, _, err := a.evaluateDryRun(r, prog, c, 0, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

type testBody struct {
	eventContext
}

// testRule dry-runs a saved rule as an event of its own trigger.
func (a *API) testRule(w http.ResponseWriter, r *http.Request) error {
	var body testBody
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	rule, err := a.loadRule(r)
	if err != nil {
		return err
	}
	var errs validation.Errors
	in := body.input(&errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	in.Type = rule.TriggerType
	res, _, err := a.dryRunSaved(r, rule.WorkspaceID, rule.ID, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// dryRunSaved dry-runs rule id of the workspace's compiled rules; ok is
// false when there is no such rule.
func (a *API) dryRunSaved(r *http.Request, ws, id int64, in engine.Input) (*engine.DryRunResult, bool, error) {
	c, err := a.programs.Get(r.Context(), ws)
	if err != nil {
		return nil, false, err
	}
	if c.Program.Rule(id) == nil {
		return nil, false, nil
	}
	return a.evaluateDryRun(r, c.Program, c, id, in)
}

// evaluateDryRun resolves what the event needs (contact lists, time,
// pause) and runs the engine's dry-run: the very code processing uses.
func (a *API) evaluateDryRun(r *http.Request, prog *engine.Program, c *pipeline.Compiled, id int64, in engine.Input) (*engine.DryRunResult, bool, error) {
	in.Now = a.clock.Now()
	in.Paused = c.Control.PausedAt(in.Now)
	if in.Type == "" {
		in.Type = prog.Rule(id).TriggerType
	}
	if err := pipeline.ResolveContactLists(r.Context(), a.store, prog, c.Workspace.ID, &in); err != nil {
		return nil, false, err
	}
	res, ok, err := prog.DryRun(id, &in)
	if err != nil {
		return nil, ok, errInvalidField("event_payload", "%v", err)
	}
	return res, ok, nil
}
