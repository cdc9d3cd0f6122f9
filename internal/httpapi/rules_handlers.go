package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Limits for snoozes and previews (docs/concepts.md#rules).
const (
	maxSnooze       = 366 * 24 * time.Hour
	defaultPreviewH = 168
	maxPreviewH     = 2160
)

// ruleResponse is a rule as the API returns it.
type ruleResponse struct {
	ID                int64                `json:"id"`
	Name              string               `json:"name"`
	Description       *string              `json:"description"`
	IsActive          bool                 `json:"is_active"`
	TriggerType       string               `json:"trigger_type"`
	TriggerData       *string              `json:"trigger_data"`
	Conditions        json.RawMessage      `json:"conditions"`
	Actions           []actionResponse     `json:"actions"`
	AlertSettings     *rules.AlertSettings `json:"alert_settings"`
	ScheduleSettings  *scheduleResponse    `json:"schedule_settings"`
	Priority          int                  `json:"priority"`
	RolloutPercentage int                  `json:"rollout_percentage"`
	StopOnMatch       bool                 `json:"stop_on_match"`
	CooldownSecs      int                  `json:"cooldown_secs"`
	MatchCount        int64                `json:"match_count"`
	AppliedCount      int64                `json:"applied_count"`
	LastMatchedAt     *Time                `json:"last_matched_at"`
	LastAppliedAt     *Time                `json:"last_applied_at"`
	SnoozedUntil      *Time                `json:"snoozed_until"`
	CreatedAt         Time                 `json:"created_at"`
	UpdatedAt         Time                 `json:"updated_at"`
	CreatedBy         *int64               `json:"created_by"`
	UpdatedBy         *int64               `json:"updated_by"`
	Version           int                  `json:"version"`
}

// actionResponse is an action as the API returns it: the model's action
// with its time in the API's format (the shallower field hides the
// embedded one when encoding).
type actionResponse struct {
	rules.Action
	SnoozeUntil *Time `json:"snooze_until,omitempty"`
}

// scheduleResponse is schedule settings with times in the API's format.
type scheduleResponse struct {
	rules.ScheduleSettings
	ActiveFrom  *Time `json:"active_from,omitempty"`
	ActiveUntil *Time `json:"active_until,omitempty"`
}

func toActions(as []rules.Action) []actionResponse {
	out := make([]actionResponse, len(as))
	for i, a := range as {
		out[i] = actionResponse{Action: a, SnoozeUntil: apiTimePtr(a.SnoozeUntil)}
	}
	return out
}

func toSchedule(s *rules.ScheduleSettings) *scheduleResponse {
	if s == nil {
		return nil
	}
	out := &scheduleResponse{ScheduleSettings: *s, ActiveFrom: apiTimePtr(s.ActiveFrom), ActiveUntil: apiTimePtr(s.ActiveUntil)}
	if out.Windows == nil {
		out.Windows = []rules.ScheduleWindow{} // a list, as the document says, not null
	}
	return out
}

// normalizeTimes stores the times a rule carries as the API returns them:
// UTC, millisecond precision (docs/concepts.md#conventions).
func normalizeTimes(r *rules.Rule) {
	norm := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		v := t.UTC().Truncate(time.Millisecond)
		return &v
	}
	for i := range r.Actions {
		r.Actions[i].SnoozeUntil = norm(r.Actions[i].SnoozeUntil)
	}
	if s := r.ScheduleSettings; s != nil {
		s.ActiveFrom, s.ActiveUntil = norm(s.ActiveFrom), norm(s.ActiveUntil)
	}
}

// toRule presents r at now: a snooze that has ended reads null.
func toRule(r rules.Rule, now time.Time) ruleResponse {
	out := ruleResponse{
		ID: r.ID, Name: r.Name, Description: r.Description, IsActive: r.IsActive,
		TriggerType: r.TriggerType, TriggerData: r.TriggerData, Conditions: r.Conditions,
		Actions: toActions(r.Actions), AlertSettings: r.AlertSettings, ScheduleSettings: toSchedule(r.ScheduleSettings),
		Priority: r.Priority, RolloutPercentage: r.RolloutPercentage, StopOnMatch: r.StopOnMatch,
		CooldownSecs: r.CooldownSecs, MatchCount: r.MatchCount, AppliedCount: r.AppliedCount,
		LastMatchedAt: apiTimePtr(r.LastMatchedAt), LastAppliedAt: apiTimePtr(r.LastAppliedAt),
		CreatedAt: apiTime(r.CreatedAt), UpdatedAt: apiTime(r.UpdatedAt),
		CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy, Version: r.Version,
	}
	if len(out.Conditions) == 0 {
		out.Conditions = json.RawMessage("[]")
	}
	if r.SnoozedAt(now) {
		out.SnoozedUntil = apiTimePtr(r.SnoozedUntil)
	}
	return out
}

func toRules(rs []rules.Rule, now time.Time) []ruleResponse {
	out := make([]ruleResponse, len(rs))
	for i, r := range rs {
		out[i] = toRule(r, now)
	}
	return out
}

// ruleWrite is the body of POST, PATCH and PUT on rules. Absent fields are
// unchanged (or defaulted on create); null clears a nullable field.
type ruleWrite struct {
	Name              Optional[string]                              `json:"name"`
	Description       Optional[string]                              `json:"description"`
	IsActive          Optional[bool]                                `json:"is_active"`
	TriggerType       Optional[string]                              `json:"trigger_type"`
	TriggerData       Optional[string]                              `json:"trigger_data"`
	Conditions        Optional[json.RawMessage]                     `json:"conditions"`
	Actions           Optional[[]rules.Action]                      `json:"actions"`
	AlertSettings     Optional[patchObject[rules.AlertSettings]]    `json:"alert_settings"`
	ScheduleSettings  Optional[patchObject[rules.ScheduleSettings]] `json:"schedule_settings"`
	Priority          Optional[int]                                 `json:"priority"`
	RolloutPercentage Optional[int]                                 `json:"rollout_percentage"`
	StopOnMatch       Optional[bool]                                `json:"stop_on_match"`
	CooldownSecs      Optional[int]                                 `json:"cooldown_secs"`
	ruleReadOnly
}

// ruleReadOnly are the rule fields a client may send back from a GET;
// they are ignored. snoozed_until changes only through /snooze.
type ruleReadOnly struct {
	readOnly
	MatchCount    any `json:"match_count,omitempty"`
	AppliedCount  any `json:"applied_count,omitempty"`
	LastMatchedAt any `json:"last_matched_at,omitempty"`
	LastAppliedAt any `json:"last_applied_at,omitempty"`
	SnoozedUntil  any `json:"snoozed_until,omitempty"`
	CreatedBy     any `json:"created_by,omitempty"`
	UpdatedBy     any `json:"updated_by,omitempty"`
	Version       any `json:"version,omitempty"`
}

// apply merges the body into r. Non-nullable fields sent as null are
// reported; everything else is left to rules.Validate.
func (b *ruleWrite) apply(r *rules.Rule) validation.Errors {
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
		r.Description = nil
		if !b.Description.Null {
			v := b.Description.Value
			r.Description = &v
		}
	}
	if b.IsActive.Set && notNull("is_active", b.IsActive.Null) {
		r.IsActive = b.IsActive.Value
	}
	if b.TriggerType.Set && notNull("trigger_type", b.TriggerType.Null) {
		r.TriggerType = b.TriggerType.Value
	}
	if b.TriggerData.Set {
		r.TriggerData = nil
		if !b.TriggerData.Null {
			v := b.TriggerData.Value
			r.TriggerData = &v
		}
	}
	if b.Conditions.Set {
		r.Conditions = json.RawMessage("[]")
		if !b.Conditions.Null {
			r.Conditions = compactJSON(b.Conditions.Value)
		}
	}
	if b.Actions.Set && notNull("actions", b.Actions.Null) {
		r.Actions = b.Actions.Value
	}
	if b.AlertSettings.Set {
		// PATCH merges onto the stored settings: read them before clearing.
		base := r.AlertSettings
		r.AlertSettings = nil
		if !b.AlertSettings.Null {
			if base == nil {
				// Omitted fields of new settings take the default preset's values.
				base, _ = rules.Preset("default")
			}
			s, err := b.AlertSettings.Value.onto("alert_settings", base)
			if err != nil {
				return problemErrors(err, errs)
			}
			r.AlertSettings = s
		}
	}
	if b.ScheduleSettings.Set {
		var base *rules.ScheduleSettings
		if r.ScheduleSettings != nil {
			base = r.ScheduleSettings
		}
		r.ScheduleSettings = nil
		if !b.ScheduleSettings.Null {
			s, err := b.ScheduleSettings.Value.onto("schedule_settings", base)
			if err != nil {
				return problemErrors(err, errs)
			}
			r.ScheduleSettings = s
		}
	}
	if b.Priority.Set && notNull("priority", b.Priority.Null) {
		r.Priority = b.Priority.Value
	}
	if b.RolloutPercentage.Set && notNull("rollout_percentage", b.RolloutPercentage.Null) {
		r.RolloutPercentage = b.RolloutPercentage.Value
	}
	if b.StopOnMatch.Set && notNull("stop_on_match", b.StopOnMatch.Null) {
		r.StopOnMatch = b.StopOnMatch.Value
	}
	if b.CooldownSecs.Set && notNull("cooldown_secs", b.CooldownSecs.Null) {
		r.CooldownSecs = b.CooldownSecs.Value
	}
	return errs
}

// problemErrors folds a nested decoding problem into field errors.
func problemErrors(err error, errs validation.Errors) validation.Errors {
	var p *Problem
	if errors.As(err, &p) && len(p.Errors) > 0 {
		return append(errs, p.Errors...)
	}
	errs.Add("", "%v", err)
	return errs
}

// compactJSON drops insignificant whitespace; the conditions are otherwise
// kept exactly as submitted.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return raw
	}
	return out.Bytes()
}

// validateRule runs the model's validation and checks that the tags and
// contact lists the rule refers to exist in the workspace.
func (a *API) validateRule(r *http.Request, rule *rules.Rule) error {
	if errs := rule.Validate(); len(errs) > 0 {
		return errInvalid(errs)
	}
	errs, err := a.checkReferences(r, rule)
	if err != nil {
		return err
	}
	return errs.Err()
}

// checkReferences reports the tags (actions) and contact lists
// (conditions) a rule names that do not exist in its workspace.
func (a *API) checkReferences(r *http.Request, rule *rules.Rule) (validation.Errors, error) {
	var errs validation.Errors
	ws := rule.WorkspaceID
	for i, act := range rule.Actions {
		if act.TagID == nil {
			continue
		}
		if _, err := a.store.GetTag(r.Context(), ws, *act.TagID); errors.Is(err, store.ErrNotFound) {
			errs.Add(validation.Index("actions", i)+".tag_id", "no tag %d in this workspace", *act.TagID)
		} else if err != nil {
			return nil, err
		}
	}
	for _, ref := range contactListRefs(rule.Conditions) {
		if _, err := a.store.GetContactList(r.Context(), ws, ref.id); errors.Is(err, store.ErrNotFound) {
			errs.Add("conditions"+ref.path+".list_id", "no contact list %d in this workspace", ref.id)
		} else if err != nil {
			return nil, err
		}
	}
	return errs, nil
}

type listRef struct {
	path string
	id   int64
}

// contactListRefs finds contact_list conditions in raw conditions JSON,
// with their paths, for error messages.
func contactListRefs(raw json.RawMessage) []listRef {
	var tree any
	if json.Unmarshal(raw, &tree) != nil {
		return nil
	}
	var refs []listRef
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				walk(e, validation.Index(path, i))
			}
		case map[string]any:
			if x["type"] == "contact_list" {
				if n, ok := x["list_id"].(float64); ok && n > 0 {
					refs = append(refs, listRef{path: path, id: int64(n)})
				}
				return
			}
			for _, k := range []string{"any", "all"} {
				if sub, ok := x[k]; ok {
					walk(sub, path+"."+k)
				}
			}
			if sub, ok := x["not"]; ok {
				walk(sub, path+".not")
			}
		}
	}
	walk(tree, "")
	return refs
}

// saveErr maps store errors of rule writes.
func saveErr(err error) error {
	switch {
	case errors.Is(err, store.ErrMissingReference):
		return errInvalidField("actions", "a referenced tag or contact list was deleted meanwhile; check the rule's references")
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("rule")
	case errors.Is(err, store.ErrConflict):
		// Every priority of the range is taken (a million rules).
		return errConflict(err.Error())
	}
	return err
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := ruleFilter(q.Get, q.Has)
	if err != nil {
		return err
	}
	rs, err := a.store.ListRules(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wholeList[ruleResponse]{Data: toRules(rs, a.clock.Now())})
}

func ruleFilter(get func(string) string, has func(string) bool) (store.RuleFilter, error) {
	var f store.RuleFilter
	if has("is_active") {
		switch get("is_active") {
		case "true", "1":
			v := true
			f.IsActive = &v
		case "false", "0":
			v := false
			f.IsActive = &v
		default:
			return f, errBadField("is_active", "must be true or false")
		}
	}
	if has("trigger_type") {
		t := get("trigger_type")
		if !rules.ValidTrigger(t) {
			return f, errBadField("trigger_type", "unknown trigger %q", t)
		}
		f.TriggerType = t
	}
	return f, nil
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request) error {
	var body ruleWrite
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	rule := rules.Rule{WorkspaceID: p.Token.WorkspaceID, IsActive: true, RolloutPercentage: 100,
		Conditions: json.RawMessage("[]")}
	if errs := body.apply(&rule); len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := a.validateRule(r, &rule); err != nil {
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
	return writeJSON(w, http.StatusCreated, toRule(created, a.clock.Now()))
}

func (a *API) loadRule(r *http.Request) (rules.Rule, error) {
	id, err := pathID(r, "id", "rule")
	if err != nil {
		return rules.Rule{}, err
	}
	rule, err := a.store.GetRule(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return rule, errNotFound("rule")
	}
	return rule, err
}

func (a *API) getRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadRule(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toRule(rule, a.clock.Now()))
}

func (a *API) updateRule(w http.ResponseWriter, r *http.Request) error {
	var body ruleWrite
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadRule(r); return err }); err != nil {
		return err
	}
	if errs := body.apply(&rule); len(errs) > 0 {
		return errInvalid(errs)
	}
	return a.saveRule(w, r, rule)
}

// saveRule validates and writes an edited rule and answers with it.
func (a *API) saveRule(w http.ResponseWriter, r *http.Request, rule rules.Rule) error {
	if err := a.validateRule(r, &rule); err != nil {
		return err
	}
	by := principalFrom(r.Context()).Member.ID
	rule.UpdatedBy = &by
	saved, err := a.store.UpdateRule(r.Context(), rule)
	if err != nil {
		return saveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusOK, toRule(saved, a.clock.Now()))
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadRule(r)
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

type reorderBody struct {
	IDs []int64 `json:"ids"`
}

func (a *API) reorderRules(w http.ResponseWriter, r *http.Request) error {
	var body reorderBody
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	existing, err := a.store.ListRules(r.Context(), p.Token.WorkspaceID, store.RuleFilter{})
	if err != nil {
		return err
	}
	if errs := checkReorder(body.IDs, existing, true); len(errs) > 0 {
		return errInvalid(errs)
	}
	by := p.Member.ID
	rs, err := a.store.ReorderRules(r.Context(), p.Token.WorkspaceID, body.IDs, &by)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidField("ids", "the workspace's rules changed meanwhile; list every rule id exactly once")
	}
	if err != nil {
		return err
	}
	a.changed(p.Token.WorkspaceID)
	return writeJSON(w, http.StatusOK, wholeList[ruleResponse]{Data: toRules(rs, a.clock.Now())})
}

// checkReorder checks ids against the workspace's rules: each known and
// listed once, and (when all) every rule listed.
func checkReorder(ids []int64, existing []rules.Rule, all bool) validation.Errors {
	var errs validation.Errors
	known := make(map[int64]bool, len(existing))
	for _, r := range existing {
		known[r.ID] = true
	}
	seen := map[int64]bool{}
	for i, id := range ids {
		switch {
		case !known[id]:
			errs.Add(validation.Index("ids", i), "no rule %d in this workspace", id)
		case seen[id]:
			errs.Add(validation.Index("ids", i), "rule %d is listed twice", id)
		}
		seen[id] = true
	}
	if len(errs) == 0 && all && len(seen) != len(known) {
		errs.Add("ids", "must list every rule of the workspace exactly once (%d rules, %d listed)", len(known), len(seen))
	}
	if ids == nil {
		errs = validation.Errors{{Field: "ids", Message: "is required"}}
	}
	return errs
}

func (a *API) listSnoozedRules(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := ruleFilter(q.Get, q.Has)
	if err != nil {
		return err
	}
	pq, err := parsePage(q, false)
	if err != nil {
		return err
	}
	now := a.clock.Now()
	rs, total, err := a.store.ListSnoozedRules(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, now, f, pq.storePage())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, toRules(rs, now), total))
}

type snoozeBody struct {
	SnoozedUntil Optional[time.Time] `json:"snoozed_until"`
}

type snoozeResponse struct {
	Message      string `json:"message"`
	ID           int64  `json:"id"`
	SnoozedUntil *Time  `json:"snoozed_until"`
}

func (a *API) snoozeRule(w http.ResponseWriter, r *http.Request) error {
	var body snoozeBody
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadRule(r); return err }); err != nil {
		return err
	}
	now := a.clock.Now()
	if !body.SnoozedUntil.Present() {
		return errInvalidField("snoozed_until", "is required")
	}
	until := body.SnoozedUntil.Value.UTC().Truncate(time.Millisecond)
	switch {
	case !validation.TimeInRange(until):
		return errInvalidField("snoozed_until", "%s", validation.TimeRangeMessage)
	case !until.After(now):
		return errInvalidField("snoozed_until", "must be in the future")
	case until.Sub(now) > maxSnooze:
		return errInvalidField("snoozed_until", "must be within 366 days")
	}
	by := principalFrom(r.Context()).Member.ID
	if _, err := a.store.SnoozeRule(r.Context(), rule.WorkspaceID, rule.ID, &until, &by); err != nil {
		return saveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusOK, snoozeResponse{
		Message: fmt.Sprintf("rule %d snoozed until %s", rule.ID, formatTime(until)), ID: rule.ID, SnoozedUntil: apiTimePtr(&until)})
}

func (a *API) unsnoozeRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadRule(r)
	if err != nil {
		return err
	}
	by := principalFrom(r.Context()).Member.ID
	if _, err := a.store.SnoozeRule(r.Context(), rule.WorkspaceID, rule.ID, nil, &by); err != nil {
		return saveErr(err)
	}
	a.changed(rule.WorkspaceID)
	return writeJSON(w, http.StatusOK, snoozeResponse{Message: fmt.Sprintf("rule %d unsnoozed", rule.ID), ID: rule.ID})
}

type effectiveState struct {
	RuleID          int64 `json:"rule_id"`
	IsActive        bool  `json:"is_active"`
	IsSnoozed       bool  `json:"is_snoozed"`
	SnoozedUntil    *Time `json:"snoozed_until"`
	GlobalPaused    bool  `json:"global_paused"`
	ScheduleActive  bool  `json:"schedule_active"`
	EffectiveActive bool  `json:"effective_active"`
}

// effectiveStateOf judges a rule at now (docs/concepts.md#effective-state).
func (a *API) effectiveStateOf(r *http.Request, rule rules.Rule, now time.Time) (effectiveState, error) {
	ws, err := a.store.GetWorkspace(r.Context(), rule.WorkspaceID)
	if err != nil {
		return effectiveState{}, err
	}
	ctl, err := a.store.GetControl(r.Context(), rule.WorkspaceID)
	if err != nil {
		return effectiveState{}, err
	}
	sched, err := rules.CompileSchedule(rule.ScheduleSettings, ws.Timezone)
	if err != nil {
		return effectiveState{}, fmt.Errorf("rule %d has an invalid stored schedule: %w", rule.ID, err)
	}
	st := effectiveState{
		RuleID: rule.ID, IsActive: rule.IsActive, IsSnoozed: rule.SnoozedAt(now),
		GlobalPaused: ctl.PausedAt(now), ScheduleActive: sched.Active(now),
	}
	if st.IsSnoozed {
		st.SnoozedUntil = apiTimePtr(rule.SnoozedUntil)
	}
	st.EffectiveActive = st.IsActive && !st.IsSnoozed && !st.GlobalPaused && st.ScheduleActive
	return st, nil
}

func (a *API) getEffectiveState(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.loadRule(r)
	if err != nil {
		return err
	}
	st, err := a.effectiveStateOf(r, rule, a.clock.Now())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

type alertSettingsBody struct {
	Preset        Optional[string]                           `json:"preset"`
	AlertSettings Optional[patchObject[rules.AlertSettings]] `json:"alert_settings"`
}

func (a *API) putAlertSettings(w http.ResponseWriter, r *http.Request) error {
	var body alertSettingsBody
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadRule(r); return err }); err != nil {
		return err
	}
	switch {
	case body.Preset.Set == body.AlertSettings.Set:
		return errInvalidField("preset", "send exactly one of preset and alert_settings")
	case body.Preset.Set:
		p, ok := rules.Preset(body.Preset.Value)
		if body.Preset.Null || !ok {
			return errInvalidField("preset", "unknown preset %q; one of %v", body.Preset.Value, rules.PresetNames())
		}
		rule.AlertSettings = p
	case body.AlertSettings.Null:
		rule.AlertSettings = nil
	default:
		base, _ := rules.Preset("default")
		s, err := body.AlertSettings.Value.onto("alert_settings", base)
		if err != nil {
			return err
		}
		rule.AlertSettings = s
	}
	return a.saveRule(w, r, rule)
}

type scheduleSettingsBody struct {
	ScheduleSettings Optional[*rules.ScheduleSettings] `json:"schedule_settings"`
}

func (a *API) putScheduleSettings(w http.ResponseWriter, r *http.Request) error {
	var body scheduleSettingsBody
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadRule(r); return err }); err != nil {
		return err
	}
	if !body.ScheduleSettings.Set {
		return errInvalidField("schedule_settings", "is required (null removes the schedule)")
	}
	rule.ScheduleSettings = body.ScheduleSettings.Value
	if body.ScheduleSettings.Null {
		rule.ScheduleSettings = nil
	}
	return a.saveRule(w, r, rule)
}

type rolloutBody struct {
	RolloutPercentage Optional[int] `json:"rollout_percentage"`
}

func (a *API) putRollout(w http.ResponseWriter, r *http.Request) error {
	var body rolloutBody
	var rule rules.Rule
	if err := decodeAndLoad(w, r, &body, func() (err error) { rule, err = a.loadRule(r); return err }); err != nil {
		return err
	}
	if !body.RolloutPercentage.Present() {
		return errInvalidField("rollout_percentage", "is required: an integer from 0 to 100")
	}
	rule.RolloutPercentage = body.RolloutPercentage.Value
	return a.saveRule(w, r, rule)
}

type schedulePreview struct {
	RuleID   int64           `json:"rule_id"`
	Timezone string          `json:"timezone"`
	Windows  []previewWindow `json:"windows"`
}

type previewWindow struct {
	Start Time `json:"start"`
	End   Time `json:"end"`
}

func (a *API) previewSchedule(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	hours := defaultPreviewH
	if q.Has("hours") {
		n, err := strconv.Atoi(q.Get("hours"))
		if err != nil || n < 1 || n > maxPreviewH {
			return errBadField("hours", "must be an integer from 1 to %d", maxPreviewH)
		}
		hours = n
	}
	start := a.clock.Now()
	if q.Has("start_at") {
		t, err := time.Parse(time.RFC3339Nano, q.Get("start_at"))
		if err != nil {
			return errBadField("start_at", "must be an RFC 3339 time")
		}
		start = t.UTC()
	}
	// The range must end within year 9999, or a window's end could not be
	// written (RFC 3339 has four-digit years).
	end := start.Add(time.Duration(hours) * time.Hour)
	if !validation.TimeInRange(start) || !validation.TimeInRange(end) {
		return errBadField("start_at", "%s, and so must start_at + hours", validation.TimeRangeMessage)
	}
	rule, err := a.loadRule(r)
	if err != nil {
		return err
	}
	ws, err := a.store.GetWorkspace(r.Context(), rule.WorkspaceID)
	if err != nil {
		return err
	}
	sched, err := rules.CompileSchedule(rule.ScheduleSettings, ws.Timezone)
	if err != nil {
		return fmt.Errorf("rule %d has an invalid stored schedule: %w", rule.ID, err)
	}
	tz := ws.Timezone
	if sched != nil {
		tz = sched.Location().String()
	}
	ranges := sched.Windows(start, end)
	out := schedulePreview{RuleID: rule.ID, Timezone: tz, Windows: make([]previewWindow, len(ranges))}
	for i, rg := range ranges {
		out.Windows[i] = previewWindow{Start: apiTime(rg.Start), End: apiTime(rg.End)}
	}
	return writeJSON(w, http.StatusOK, out)
}

// ---- global control ----

type controlResponse struct {
	Singleton   bool    `json:"singleton"`
	IsPaused    bool    `json:"is_paused"`
	PauseReason *string `json:"pause_reason"`
	PausedUntil *Time   `json:"paused_until"`
	UpdatedAt   Time    `json:"updated_at"`
	UpdatedBy   *int64  `json:"updated_by"`
}

// toControl presents the record at now: a pause whose paused_until has
// passed reads as not paused.
func toControl(c store.Control, now time.Time) controlResponse {
	out := controlResponse{Singleton: true, IsPaused: c.PausedAt(now), PauseReason: c.PauseReason,
		UpdatedAt: apiTime(c.UpdatedAt), UpdatedBy: c.UpdatedBy}
	if out.IsPaused {
		out.PausedUntil = apiTimePtr(c.PausedUntil)
	}
	return out
}

type controlBody struct {
	IsPaused    Optional[bool]      `json:"is_paused"`
	PauseReason Optional[string]    `json:"pause_reason"`
	PausedUntil Optional[time.Time] `json:"paused_until"`
	Singleton   any                 `json:"singleton,omitempty"` // read-only, ignored
	UpdatedAt   any                 `json:"updated_at,omitempty"`
	UpdatedBy   any                 `json:"updated_by,omitempty"`
}

func (a *API) getControl(w http.ResponseWriter, r *http.Request) error {
	c, err := a.store.GetControl(r.Context(), principalFrom(r.Context()).Token.WorkspaceID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toControl(c, a.clock.Now()))
}

func (a *API) putControl(w http.ResponseWriter, r *http.Request) error {
	var body controlBody
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	now := a.clock.Now()
	var errs validation.Errors
	if !body.IsPaused.Present() {
		errs.Add("is_paused", "is required")
	}
	c := store.Control{WorkspaceID: p.Token.WorkspaceID, IsPaused: body.IsPaused.Value}
	if body.PauseReason.Present() {
		if len([]rune(body.PauseReason.Value)) > rules.MaxDescriptionLen {
			errs.Add("pause_reason", "must be at most %d characters", rules.MaxDescriptionLen)
		} else {
			errs.Text("pause_reason", body.PauseReason.Value)
		}
		v := body.PauseReason.Value
		c.PauseReason = &v
	}
	if body.PausedUntil.Present() {
		until := body.PausedUntil.Value.UTC().Truncate(time.Millisecond)
		switch {
		case !validation.TimeInRange(until):
			errs.Add("paused_until", "%s", validation.TimeRangeMessage)
		case !c.IsPaused:
			errs.Add("paused_until", "requires is_paused: true")
		case !until.After(now):
			errs.Add("paused_until", "must be in the future")
		}
		c.PausedUntil = &until
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	by := p.Member.ID
	c.UpdatedBy = &by
	c, err := a.store.PutControl(r.Context(), c)
	if err != nil {
		return err
	}
	a.changed(p.Token.WorkspaceID)
	return writeJSON(w, http.StatusOK, toControl(c, now))
}
