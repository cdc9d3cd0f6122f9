package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// The workspace automations compatibility API (docs/compatibility.md): the
// inbound-email document's /api/v1/workspaces/{workspace_id}/automations.
// It is a window onto the same rules as /v1/automation/rules, narrowed to
// what that document can say:
//
//   - Only rules whose trigger is ticket_created or conversation_created
//     exist here; any other rule is 404 (and cannot be reordered here).
//   - Conditions are shown and accepted as stored, every kind the engine
//     knows (they are one AND list: hiding some would misstate when the
//     rule matches).
//   - Actions: only add_tag, assign_agent and send_response are shown. The
//     others (remove_tag, unassign, set_status, set_priority, add_note,
//     send_webhook) are hidden, and kept: a PATCH without "actions" leaves
//     every action alone; a PATCH with "actions" replaces the shown actions
//     only — the hidden ones keep their places in the list, the given ones
//     fill the shown ones' places in order, and any extra are appended.
//   - Everything else the document has no word for (description,
//     trigger_data, alert and schedule settings, rollout, cooldown, snooze,
//     applied counters) is left as it is by every write.

// automationEvents are the triggers the document knows.
var automationEvents = []string{rules.TriggerTicketCreated, rules.TriggerConversationCreated}

// automationActionTypes are the action types the document knows.
var automationActionTypes = []string{rules.ActionAddTag, rules.ActionAssignAgent, rules.ActionSendResponse}

func isAutomation(r rules.Rule) bool { return slices.Contains(automationEvents, r.TriggerType) }

func shownAction(a rules.Action) bool { return slices.Contains(automationActionTypes, a.Type) }

// automationResponse is a rule as the automations document shows it.
type automationResponse struct {
	ID            int64              `json:"id"`
	Name          string             `json:"name"`
	Event         string             `json:"event"`
	IsActive      bool               `json:"is_active"`
	Priority      int                `json:"priority"`
	StopOnMatch   bool               `json:"stop_on_match"`
	Conditions    json.RawMessage    `json:"conditions"`
	Actions       []automationAction `json:"actions"`
	MatchCount    int64              `json:"match_count"`
	LastMatchedAt *Time              `json:"last_matched_at"`
	CreatedAt     Time               `json:"created_at"`
	UpdatedAt     Time               `json:"updated_at"`
}

// automationAction is one of the document's three actions. subject is
// ours (send_response may carry one); it is shown only when set, so a
// client that sends back what it read keeps it.
type automationAction struct {
	Type    string  `json:"type"`
	TagID   *int64  `json:"tag_id,omitempty"`
	UserID  *int64  `json:"user_id,omitempty"`
	Body    *string `json:"body,omitempty"`
	Subject *string `json:"subject,omitempty"`
}

func toAutomation(r rules.Rule) automationResponse {
	out := automationResponse{
		ID: r.ID, Name: r.Name, Event: r.TriggerType, IsActive: r.IsActive, Priority: r.Priority,
		StopOnMatch: r.StopOnMatch, Conditions: r.Conditions, Actions: []automationAction{},
		MatchCount: r.MatchCount, LastMatchedAt: apiTimePtr(r.LastMatchedAt),
		CreatedAt: apiTime(r.CreatedAt), UpdatedAt: apiTime(r.UpdatedAt),
	}
	if len(out.Conditions) == 0 {
		out.Conditions = json.RawMessage("[]")
	}
	for _, a := range r.Actions {
		if shownAction(a) {
			out.Actions = append(out.Actions, automationAction{Type: a.Type, TagID: a.TagID, UserID: a.UserID, Body: a.Body, Subject: a.Subject})
		}
	}
	return out
}

func toAutomations(rs []rules.Rule) []automationResponse {
	out := []automationResponse{}
	for _, r := range rs {
		if isAutomation(r) {
			out = append(out, toAutomation(r))
		}
	}
	return out
}

// automationWrite is the body of POST and PATCH on automations. Absent
// fields are unchanged (or defaulted on create); the read-only fields of
// a response may be sent back and are ignored.
type automationWrite struct {
	Name        Optional[string]               `json:"name"`
	Event       Optional[string]               `json:"event"`
	IsActive    Optional[bool]                 `json:"is_active"`
	Priority    Optional[int]                  `json:"priority"`
	StopOnMatch Optional[bool]                 `json:"stop_on_match"`
	Conditions  Optional[json.RawMessage]      `json:"conditions"`
	Actions     Optional[[]automationActionIn] `json:"actions"`
	readOnly
	MatchCount    any `json:"match_count,omitempty"`
	LastMatchedAt any `json:"last_matched_at,omitempty"`
}

// automationActionIn is one of the document's actions in a request.
type automationActionIn struct {
	Type    string           `json:"type"`
	TagID   Optional[int64]  `json:"tag_id"`
	UserID  Optional[int64]  `json:"user_id"`
	Body    Optional[string] `json:"body"`
	Subject Optional[string] `json:"subject"`
}

// toActions converts and checks the given actions, with errors at their
// indexes in the request.
func automationActions(in []automationActionIn) ([]rules.Action, validation.Errors) {
	var errs validation.Errors
	out := make([]rules.Action, len(in))
	for i, a := range in {
		path := validation.Index("actions", i)
		if !slices.Contains(automationActionTypes, a.Type) {
			if a.Type == "" {
				errs.Add(path+".type", "is required")
			} else {
				errs.Add(path+".type", "must be add_tag, assign_agent or send_response here; other action types are managed through /v1/automation/rules")
			}
			continue
		}
		out[i] = rules.Action{Type: a.Type, TagID: optPtr(a.TagID), UserID: optPtr(a.UserID), Body: optPtr(a.Body), Subject: optPtr(a.Subject)}
		errs.Merge(path, out[i].Validate())
	}
	return out, errs
}

// mergeShownActions puts given in the places of the shown actions of
// stored, keeping every hidden action where it is; extra given actions
// are appended.
func mergeShownActions(stored, given []rules.Action) []rules.Action {
	out := make([]rules.Action, 0, len(stored)+len(given))
	next := 0
	for _, a := range stored {
		if !shownAction(a) {
			out = append(out, a)
			continue
		}
		if next < len(given) {
			out = append(out, given[next])
			next++
		}
	}
	return append(out, given[next:]...)
}

// apply merges the body into r. given is the request's actions when it
// carried them (their indexes are the request's, for reference errors).
func (b *automationWrite) apply(r *rules.Rule) (given []rules.Action, errs validation.Errors) {
	notNull := func(field string, null bool) bool {
		if null {
			errs.Add(field, "may not be null")
		}
		return !null
	}
	if b.Name.Set && notNull("name", b.Name.Null) {
		r.Name = b.Name.Value
	}
	if b.Event.Set && notNull("event", b.Event.Null) {
		if slices.Contains(automationEvents, b.Event.Value) {
			r.TriggerType = b.Event.Value
		} else {
			errs.Add("event", "must be ticket_created or conversation_created")
		}
	}
	if b.IsActive.Set && notNull("is_active", b.IsActive.Null) {
		r.IsActive = b.IsActive.Value
	}
	if b.Priority.Set && notNull("priority", b.Priority.Null) {
		r.Priority = b.Priority.Value
	}
	if b.StopOnMatch.Set && notNull("stop_on_match", b.StopOnMatch.Null) {
		r.StopOnMatch = b.StopOnMatch.Value
	}
	if b.Conditions.Set {
		r.Conditions = json.RawMessage("[]")
		if !b.Conditions.Null {
			r.Conditions = compactJSON(b.Conditions.Value)
		}
	}
	if b.Actions.Set && notNull("actions", b.Actions.Null) {
		acts, aerrs := automationActions(b.Actions.Value)
		errs = append(errs, aerrs...)
		given = acts
		r.Actions = mergeShownActions(r.Actions, acts)
	}
	return given, errs
}

// validateAutomation validates the merged rule like the native API. The
// given actions are already checked one by one; their references are
// reported at the request's indexes.
func (a *API) validateAutomation(r *http.Request, rule *rules.Rule, given []rules.Action) error {
	var errs validation.Errors
	for _, e := range rule.Validate() {
		if e.Field == "trigger_type" || e.Field == "trigger_data" {
			e.Field = "event"
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	refs := *rule
	refs.Actions = given
	errs, err := a.checkReferences(r, &refs)
	if err != nil {
		return err
	}
	return errs.Err()
}

// loadAutomation loads the rule of the path, 404 unless it is one this API
// shows.
func (a *API) loadAutomation(r *http.Request) (rules.Rule, error) {
	id, err := pathID(r, "rule_id", "automation")
	if err != nil {
		return rules.Rule{}, err
	}
	rule, err := a.store.GetRule(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !isAutomation(rule)) {
		return rules.Rule{}, errNotFound("automation")
	}
	return rule, err
}

func (a *API) listAutomations(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.store.ListRules(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, store.RuleFilter{})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wholeList[automationResponse]{Data: toAutomations(rs)})
}

func (a *API) createAutomation(w http.ResponseWriter, r *http.Request) error {
	var body automationWrite
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	rule := rules.Rule{WorkspaceID: p.Token.WorkspaceID, IsActive: true, RolloutPercentage: 100,
		Conditions: json.RawMessage("[]")}
	var errs validation.Errors
	if !body.Event.Set {
		errs.Add("event", "is required: ticket_created or conversation_created")
	}
	given, aerrs := body.apply(&rule)
	if errs = append(errs, aerrs...); len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := a.validateAutomation(r, &rule, given); err != nil {
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
		return saveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusCreated, toAutomation(created))
}

func (a *API) getAutomation(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadAutomation(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAutomation(rule))
}

func (a *API) updateAutomation(w http.ResponseWriter, r *http.Request) error {
	var body automationWrite
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadAutomation(r); return err }); err != nil {
		return err
	}
	given, errs := body.apply(&rule)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := a.validateAutomation(r, &rule, given); err != nil {
		return err
	}
	by := principalFrom(r.Context()).Member.ID
	rule.UpdatedBy = &by
	saved, err := a.store.UpdateRule(r.Context(), rule)
	if err != nil {
		return saveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusOK, toAutomation(saved))
}

func (a *API) deleteAutomation(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadAutomation(r)
	if err != nil {
		return err
	}
	if err := a.store.DeleteRule(r.Context(), rule.WorkspaceID, rule.ID); err != nil {
		return saveErr(err)
	}
	a.changed(rule.WorkspaceID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reorderAutomations reorders a subset of the automations: the listed
// rules take the priority slots they hold now, in the order given; every
// other rule (automation or not) keeps its own.
func (a *API) reorderAutomations(w http.ResponseWriter, r *http.Request) error {
	var body reorderBody
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	all, err := a.store.ListRules(r.Context(), p.Token.WorkspaceID, store.RuleFilter{})
	if err != nil {
		return err
	}
	shown := slices.DeleteFunc(slices.Clone(all), func(r rules.Rule) bool { return !isAutomation(r) })
	if errs := checkReorder(body.IDs, shown, false); len(errs) > 0 {
		return errInvalid(errs)
	}
	by := p.Member.ID
	rs, err := a.store.ReorderRuleSubset(r.Context(), p.Token.WorkspaceID, body.IDs, &by)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidField("ids", "a listed rule was deleted meanwhile")
	}
	if err != nil {
		return err
	}
	a.changed(p.Token.WorkspaceID)
	return writeJSON(w, http.StatusOK, wholeList[automationResponse]{Data: toAutomations(rs)})
}

// automationSample is the document's flat test payload.
type automationSample struct {
	FromEmail Optional[string]            `json:"from_email"`
	Subject   Optional[string]            `json:"subject"`
	Body      Optional[string]            `json:"body"`
	Headers   Optional[map[string]string] `json:"headers"`
}

// payload builds the event payload the sample stands for: message.* from
// its fields, contact.email = from_email.
func (s *automationSample) payload() (json.RawMessage, error) {
	msg := map[string]any{}
	p := map[string]any{"message": msg}
	if s.FromEmail.Present() {
		msg["from_email"] = s.FromEmail.Value
		p["contact"] = map[string]any{"email": s.FromEmail.Value}
	}
	if s.Subject.Present() {
		msg["subject"] = s.Subject.Value
	}
	if s.Body.Present() {
		msg["body"] = s.Body.Value
	}
	if s.Headers.Present() {
		msg["headers"] = s.Headers.Value
	}
	return json.Marshal(p)
}

// testAutomation dry-runs the rule on the sample, as an event of its own
// trigger: the same evaluation as POST /v1/automation/rules/{id}/test.
// Nothing is persisted.
func (a *API) testAutomation(w http.ResponseWriter, r *http.Request) error {
	var body automationSample
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadAutomation(r); return err }); err != nil {
		return err
	}
	payload, err := body.payload()
	if err != nil {
		return err
	}
	ec := eventContext{EventPayload: Optional[json.RawMessage]{Set: true, Value: payload}}
	var errs validation.Errors
	in := ec.input(&errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	in.Type = rule.TriggerType
	res, ok, err := a.dryRunSaved(r, rule.WorkspaceID, rule.ID, in)
	if err != nil {
		return err
	}
	if !ok {
		return errNotFound("automation") // deleted meanwhile
	}
	return writeJSON(w, http.StatusOK, res)
}
