package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// The rulesets compatibility API (docs/compatibility.md): the Fernand document's
// /organization/rules, reading and writing the very rules of
// /v1/automation/rules. Every action type has a rulesets name, so the only
// parts of a rule this API cannot show are its alert settings, schedule,
// rollout, cooldown, snooze and match counters; a write never touches
// them (see mergeRuleset).

// maxRulesetTrigger is the seed's limit on "trigger".
const maxRulesetTrigger = 50

// Ruleset statuses (the seed's enum) for is_active.
const (
	rulesetLive   = "LIVE"
	rulesetPaused = "PAUSED"
)

// rulesetResponse is a rule as the rulesets document returns it, field for
// field.
type rulesetResponse struct {
	ID            int64           `json:"id"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Priority      int             `json:"priority"`
	Stop          bool            `json:"stop"`
	TriggerName   string          `json:"trigger_name"`
	Created       Time            `json:"created"`
	AppliedCount  int64           `json:"applied_count"`
	Description   *string         `json:"description"`
	TriggerData   *string         `json:"trigger_data"`
	Filters       json.RawMessage `json:"filters"`
	Actions       []rulesetAction `json:"actions"`
	LastAppliedAt *Time           `json:"last_applied_at"`
}

// rulesetAction is an action as the rulesets document writes it: a dotted
// name and the parameters it takes.
type rulesetAction struct {
	Name string            `json:"name"`
	Data rulesetActionData `json:"data"`
}

// rulesetActionData holds every parameter any rulesets action takes; each
// action sets only its own, so close encodes as {}.
type rulesetActionData struct {
	AgentID  *int64            `json:"agent_id,omitempty"`
	TagID    *int64            `json:"tag_id,omitempty"`
	Until    *Time             `json:"until,omitempty"`
	Priority *string           `json:"priority,omitempty"`
	Body     *string           `json:"body,omitempty"`
	Subject  *string           `json:"subject,omitempty"`
	URL      *string           `json:"url,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
}

// Rulesets action names.
const (
	rsAssign   = "conversation.assign"
	rsUnassign = "conversation.unassign"
	rsClose    = "conversation.close"
	rsOpen     = "conversation.open"
	rsSnooze   = "conversation.snooze"
	rsTag      = "conversation.tag"
	rsUntag    = "conversation.untag"
	rsPriority = "conversation.priority"
	rsNote     = "conversation.note"
	rsReply    = "message.reply"
	rsWebhook  = "webhook.send"
)

// rulesetParams lists, per rulesets action name, the data keys it takes
// and those it requires.
var rulesetParams = map[string]struct{ allowed, required []string }{
	rsAssign:   {[]string{"agent_id"}, []string{"agent_id"}},
	rsUnassign: {nil, nil},
	rsClose:    {nil, nil},
	rsOpen:     {nil, nil},
	rsSnooze:   {[]string{"until"}, []string{"until"}},
	rsTag:      {[]string{"tag_id"}, []string{"tag_id"}},
	rsUntag:    {[]string{"tag_id"}, []string{"tag_id"}},
	rsPriority: {[]string{"priority"}, []string{"priority"}},
	rsNote:     {[]string{"body"}, []string{"body"}},
	rsReply:    {[]string{"body", "subject"}, []string{"body"}},
	rsWebhook:  {[]string{"url", "headers"}, []string{"url"}},
}

// rulesetActionNames is the list of names in the mapping table's order,
// for error messages.
var rulesetActionNames = []string{rsAssign, rsUnassign, rsClose, rsOpen, rsSnooze, rsTag, rsUntag,
	rsPriority, rsNote, rsReply, rsWebhook}

// toRulesetAction names one of our actions in the rulesets vocabulary.
// Every action type has a name, so nothing is hidden.
func toRulesetAction(a rules.Action) rulesetAction {
	d := rulesetActionData{TagID: a.TagID, Priority: a.Priority, Body: a.Body, Subject: a.Subject, URL: a.URL, Headers: a.Headers}
	name := ""
	switch a.Type {
	case rules.ActionAssignAgent:
		name, d.AgentID = rsAssign, a.UserID
	case rules.ActionUnassign:
		name = rsUnassign
	case rules.ActionSetStatus:
		switch {
		case a.Status != nil && *a.Status == "closed":
			name = rsClose
		case a.Status != nil && *a.Status == "snoozed":
			name, d.Until = rsSnooze, apiTimePtr(a.SnoozeUntil)
		default:
			name = rsOpen
		}
	case rules.ActionAddTag:
		name = rsTag
	case rules.ActionRemoveTag:
		name = rsUntag
	case rules.ActionSetPriority:
		name = rsPriority
	case rules.ActionAddNote:
		name = rsNote
	case rules.ActionSendResponse:
		name = rsReply
	case rules.ActionSendWebhook:
		name = rsWebhook
	}
	return rulesetAction{Name: name, Data: d}
}

func toRuleset(r rules.Rule) rulesetResponse {
	out := rulesetResponse{
		ID: r.ID, Name: r.Name, Priority: r.Priority, Stop: r.StopOnMatch, TriggerName: r.TriggerType,
		Created: apiTime(r.CreatedAt), AppliedCount: r.AppliedCount, Description: r.Description,
		TriggerData: r.TriggerData, Filters: r.Conditions, Actions: make([]rulesetAction, len(r.Actions)),
		LastAppliedAt: apiTimePtr(r.LastAppliedAt), Status: rulesetPaused,
	}
	if r.IsActive {
		out.Status = rulesetLive
	}
	if len(out.Filters) == 0 {
		out.Filters = json.RawMessage("[]")
	}
	for i, a := range r.Actions {
		out.Actions[i] = toRulesetAction(a)
	}
	return out
}

// rulesetWrite is the body of POST and PATCH /organization/rules. Absent
// fields are unchanged (or defaulted on create); null clears a nullable
// field. The response's own fields may be sent back: trigger_name is
// another name for trigger, the read-only ones are ignored.
type rulesetWrite struct {
	Name        Optional[string]            `json:"name"`
	Trigger     Optional[string]            `json:"trigger"`
	TriggerName Optional[string]            `json:"trigger_name"`
	TriggerData Optional[string]            `json:"trigger_data"`
	Filters     Optional[json.RawMessage]   `json:"filters"`
	Actions     Optional[[]rulesetActionIn] `json:"actions"`
	Status      Optional[string]            `json:"status"`
	Stop        Optional[bool]              `json:"stop"`
	Priority    Optional[int]               `json:"priority"`
	Description Optional[string]            `json:"description"`

	ID            any `json:"id,omitempty"`
	Created       any `json:"created,omitempty"`
	AppliedCount  any `json:"applied_count,omitempty"`
	LastAppliedAt any `json:"last_applied_at,omitempty"`
}

// rulesetActionIn is a rulesets action in a request.
type rulesetActionIn struct {
	Name string                  `json:"name"`
	Data Optional[rulesetDataIn] `json:"data"`
}

// rulesetDataIn is an action's data in a request. agent_id is Optional
// because null means something: conversation.assign with agent_id null
// unassigns.
type rulesetDataIn struct {
	AgentID  Optional[int64]             `json:"agent_id"`
	TagID    Optional[int64]             `json:"tag_id"`
	Until    Optional[time.Time]         `json:"until"`
	Priority Optional[string]            `json:"priority"`
	Body     Optional[string]            `json:"body"`
	Subject  Optional[string]            `json:"subject"`
	URL      Optional[string]            `json:"url"`
	Headers  Optional[map[string]string] `json:"headers"`
}

// keys lists the data keys present (null included: agent_id null is a
// value), in the document's order.
func (d *rulesetDataIn) keys() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(d.AgentID.Set, "agent_id")
	add(d.TagID.Set, "tag_id")
	add(d.Until.Set, "until")
	add(d.Priority.Set, "priority")
	add(d.Body.Set, "body")
	add(d.Subject.Set, "subject")
	add(d.URL.Set, "url")
	add(d.Headers.Set, "headers")
	return out
}

func optPtr[T any](o Optional[T]) *T {
	if !o.Present() {
		return nil
	}
	v := o.Value
	return &v
}

// fromRulesetActions turns the request's actions into ours. Errors name
// the rulesets fields (actions[0].data.agent_id).
func fromRulesetActions(in []rulesetActionIn) ([]rules.Action, validation.Errors) {
	var errs validation.Errors
	out := make([]rules.Action, 0, len(in))
	for i, a := range in {
		path := validation.Index("actions", i)
		spec, ok := rulesetParams[a.Name]
		if !ok {
			if a.Name == "" {
				errs.Add(path+".name", "is required")
			} else {
				errs.Add(path+".name", "unknown action %q; one of %s", a.Name, strings.Join(rulesetActionNames, ", "))
			}
			continue
		}
		d := a.Data.Value
		keys := d.keys()
		bad := false
		for _, k := range keys {
			if !slices.Contains(spec.allowed, k) {
				errs.Add(path+".data."+k, "is not a parameter of %s", a.Name)
				bad = true
			}
		}
		for _, k := range spec.required {
			if !slices.Contains(keys, k) {
				errs.Add(path+".data."+k, "is required for %s", a.Name)
				bad = true
			}
		}
		if bad {
			continue
		}
		act := rules.Action{TagID: optPtr(d.TagID), Priority: optPtr(d.Priority), Body: optPtr(d.Body),
			Subject: optPtr(d.Subject), URL: optPtr(d.URL)}
		if d.Headers.Present() {
			act.Headers = d.Headers.Value
		}
		status := func(s string) *string { return &s }
		switch a.Name {
		case rsAssign:
			act.Type, act.UserID = rules.ActionAssignAgent, optPtr(d.AgentID)
			if d.AgentID.Null {
				act.Type = rules.ActionUnassign
			}
		case rsUnassign:
			act.Type = rules.ActionUnassign
		case rsClose:
			act.Type, act.Status = rules.ActionSetStatus, status("closed")
		case rsOpen:
			act.Type, act.Status = rules.ActionSetStatus, status("open")
		case rsSnooze:
			act.Type, act.Status = rules.ActionSetStatus, status("snoozed")
			if d.Until.Present() {
				u := d.Until.Value.UTC().Truncate(time.Millisecond)
				act.SnoozeUntil = &u
			}
		case rsTag:
			act.Type = rules.ActionAddTag
		case rsUntag:
			act.Type = rules.ActionRemoveTag
		case rsPriority:
			act.Type = rules.ActionSetPriority
		case rsNote:
			act.Type = rules.ActionAddNote
		case rsReply:
			act.Type = rules.ActionSendResponse
		case rsWebhook:
			act.Type = rules.ActionSendWebhook
		}
		out = append(out, act)
	}
	return out, errs
}

// rulesetField renames a field of our validation errors to the rulesets
// document's name for it: trigger_type → trigger, conditions → filters,
// actions[i].user_id → actions[i].data.agent_id, and so on.
func rulesetField(field string) string {
	switch {
	case field == "trigger_type":
		return "trigger"
	case field == "is_active":
		return "status"
	case field == "stop_on_match":
		return "stop"
	case strings.HasPrefix(field, "conditions"):
		return "filters" + strings.TrimPrefix(field, "conditions")
	case strings.HasPrefix(field, "actions["):
		end := strings.Index(field, "]")
		if end < 0 || end == len(field)-1 {
			return field
		}
		param, rest, _ := strings.Cut(field[end+2:], ".")
		switch param {
		case "user_id":
			param = "agent_id"
		case "snooze_until":
			param = "until"
		case "status", "type":
			return field[:end+1] + ".name"
		}
		out := field[:end+1] + ".data." + param
		if rest != "" {
			out += "." + rest
		}
		return out
	}
	return field
}

func rulesetErrors(errs validation.Errors) validation.Errors {
	out := make(validation.Errors, len(errs))
	for i, e := range errs {
		out[i] = validation.Error{Field: rulesetField(e.Field), Message: e.Message}
	}
	return out
}

// apply merges the body into r: only the fields the body carries change,
// so alert settings, schedule, rollout and cooldown are kept as they are.
func (b *rulesetWrite) apply(r *rules.Rule) validation.Errors {
	var errs validation.Errors
	notNull := func(field string, null bool) bool {
		if null {
			errs.Add(field, "may not be null")
		}
		return !null
	}
	if b.Name.Set && notNull("name", b.Name.Null) {
		r.Name = b.Name.Value
	}
	if b.Description.Set {
		r.Description = optPtr(b.Description)
	}
	trigger := b.Trigger
	if b.TriggerName.Set {
		switch {
		case !trigger.Set:
			trigger = b.TriggerName
		case trigger.Null != b.TriggerName.Null || trigger.Value != b.TriggerName.Value:
			errs.Add("trigger_name", "differs from trigger; send one of them")
		}
	}
	if trigger.Set && notNull("trigger", trigger.Null) {
		switch t := trigger.Value; {
		case utf8.RuneCountInString(t) > maxRulesetTrigger:
			errs.Add("trigger", "must be at most %d characters", maxRulesetTrigger)
		case t == "":
			errs.Add("trigger", "is required")
		case !rules.ValidTrigger(t):
			errs.Add("trigger", "unknown trigger %q; one of %s", t, strings.Join(rules.Triggers, ", "))
		default:
			r.TriggerType = t
		}
	}
	if b.TriggerData.Set {
		// The rulesets document has no way to say "none" but null; an
		// empty string means the same.
		r.TriggerData = optPtr(b.TriggerData)
		if r.TriggerData != nil && *r.TriggerData == "" {
			r.TriggerData = nil
		}
	}
	if b.Filters.Set {
		r.Conditions = json.RawMessage("[]")
		if !b.Filters.Null {
			r.Conditions = compactJSON(b.Filters.Value)
		}
	}
	if b.Actions.Set && notNull("actions", b.Actions.Null) {
		acts, aerrs := fromRulesetActions(b.Actions.Value)
		errs = append(errs, aerrs...)
		r.Actions = acts
	}
	if b.Status.Set && notNull("status", b.Status.Null) {
		switch b.Status.Value {
		case rulesetLive:
			r.IsActive = true
		case rulesetPaused:
			r.IsActive = false
		default:
			errs.Add("status", "must be LIVE or PAUSED")
		}
	}
	if b.Stop.Set && notNull("stop", b.Stop.Null) {
		r.StopOnMatch = b.Stop.Value
	}
	if b.Priority.Set && notNull("priority", b.Priority.Null) {
		r.Priority = b.Priority.Value
	}
	return errs
}

// validateRuleset validates like the native API, naming the rulesets
// fields.
func (a *API) validateRuleset(r *http.Request, rule *rules.Rule) error {
	if errs := rule.Validate(); len(errs) > 0 {
		return errInvalid(rulesetErrors(errs))
	}
	errs, err := a.checkReferences(r, rule)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return errInvalid(rulesetErrors(errs))
	}
	return nil
}

func (a *API) listRulesets(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.store.ListRules(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, store.RuleFilter{})
	if err != nil {
		return err
	}
	out := make([]rulesetResponse, len(rs))
	for i, rule := range rs {
		out[i] = toRuleset(rule)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) createRuleset(w http.ResponseWriter, r *http.Request) error {
	var body rulesetWrite
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	rule := rules.Rule{WorkspaceID: p.Token.WorkspaceID, IsActive: true, RolloutPercentage: 100,
		Conditions: json.RawMessage("[]")}
	var errs validation.Errors
	if !body.Name.Set {
		errs.Add("name", "is required")
	}
	if !body.Trigger.Set && !body.TriggerName.Set {
		errs.Add("trigger", "is required")
	}
	if !body.Actions.Set {
		errs.Add("actions", "is required: at least one action")
	}
	errs = append(errs, body.apply(&rule)...)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := a.validateRuleset(r, &rule); err != nil {
		return err
	}
	var priority *int
	if body.Priority.Present() {
		priority = &rule.Priority
	}
	by := p.Member.ID
	rule.CreatedBy, rule.UpdatedBy = &by, &by
	created, err := a.store.CreateRule(r.Context(), rule, priority)
	if err != nil {
		return rulesetSaveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusCreated, toRuleset(created))
}

// rulesetSaveErr is saveErr with the rulesets field names.
func rulesetSaveErr(err error) error {
	err = saveErr(err)
	if p, ok := err.(*Problem); ok && len(p.Errors) > 0 {
		q := *p
		q.Errors = rulesetErrors(p.Errors)
		return &q
	}
	return err
}

func (a *API) getRuleset(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadRule(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toRuleset(rule))
}

func (a *API) updateRuleset(w http.ResponseWriter, r *http.Request) error {
	var body rulesetWrite
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadRule(r); return err }); err != nil {
		return err
	}
	if errs := body.apply(&rule); len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := a.validateRuleset(r, &rule); err != nil {
		return err
	}
	by := principalFrom(r.Context()).Member.ID
	rule.UpdatedBy = &by
	saved, err := a.store.UpdateRule(r.Context(), rule)
	if err != nil {
		return rulesetSaveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusOK, toRuleset(saved))
}

func (a *API) deleteRuleset(w http.ResponseWriter, r *http.Request) error {
	return a.deleteRule(w, r)
}
