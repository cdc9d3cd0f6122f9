// Package rules is the rule model: triggers, conditions, actions, schedules
// and alert settings, and the one place where every limit of the contract
// is checked. It does no I/O.
package rules

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Rule is an automation rule as stored and as returned by the API.
type Rule struct {
	ID                int64             `json:"id"`
	WorkspaceID       int64             `json:"-"`
	Name              string            `json:"name"`
	Description       *string           `json:"description"`
	IsActive          bool              `json:"is_active"`
	TriggerType       string            `json:"trigger_type"`
	TriggerData       *string           `json:"trigger_data"`
	Conditions        json.RawMessage   `json:"conditions"`
	Actions           []Action          `json:"actions"`
	AlertSettings     *AlertSettings    `json:"alert_settings"`
	ScheduleSettings  *ScheduleSettings `json:"schedule_settings"`
	Priority          int               `json:"priority"`
	RolloutPercentage int               `json:"rollout_percentage"`
	StopOnMatch       bool              `json:"stop_on_match"`
	CooldownSecs      int               `json:"cooldown_secs"`
	MatchCount        int64             `json:"match_count"`
	AppliedCount      int64             `json:"applied_count"`
	LastMatchedAt     *time.Time        `json:"last_matched_at"`
	LastAppliedAt     *time.Time        `json:"last_applied_at"`
	SnoozedUntil      *time.Time        `json:"snoozed_until"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	CreatedBy         *int64            `json:"created_by"`
	UpdatedBy         *int64            `json:"updated_by"`
	// Version counts the changes of the rule's definition, from 1; each
	// one is kept in the rule's history (docs/concepts.md#rule-history).
	Version int `json:"version"`

	// ActivatedAt is when the rule was created or last switched on. Time-based
	// triggers only count waiting stretches that began after it, so a new
	// rule never fires retroactively.
	ActivatedAt time.Time `json:"-"`
}

// Limits of the contract (docs/concepts.md#rules). They live here so the validator, the
// OpenAPI document and the docs agree.
const (
	MaxNameLen        = 250
	MaxDescriptionLen = 500
	MaxActions        = 20
	MaxCooldownSecs   = 31536000
	MaxTemplateLen    = 10000 // an action body or note; the contract is silent, 10k keeps rows small
	MaxSubjectLen     = 998   // RFC 5322's line limit
	MaxURLLen         = 2048
	MaxHeaders        = 20
	// MaxPriority is the largest priority a rule can hold. Bounding it keeps
	// every shift of the store's priorities within the column's range: the
	// store closes gaps rather than push a rule past it.
	MaxPriority = 1000000
)

// SnoozedAt reports whether the rule is snoozed at now.
func (r *Rule) SnoozedAt(now time.Time) bool {
	return r.SnoozedUntil != nil && now.Before(*r.SnoozedUntil)
}

// Validate checks every field of r against the contract. The returned
// errors name fields as the API does ("actions[0].tag_id"). It does not
// check that referenced tags and contact lists exist: that needs the
// store (see References).
func (r *Rule) Validate() validation.Errors {
	var errs validation.Errors
	errs.Name("name", r.Name, MaxNameLen)
	if r.Description != nil {
		if utf8.RuneCountInString(*r.Description) > MaxDescriptionLen {
			errs.Add("description", "must be at most %d characters", MaxDescriptionLen)
		} else {
			errs.Text("description", *r.Description)
		}
	}
	triggerOK := true
	if r.TriggerType == "" {
		errs.Add("trigger_type", "is required")
		triggerOK = false
	} else if !ValidTrigger(r.TriggerType) {
		errs.Add("trigger_type", "unknown trigger %q", r.TriggerType)
		triggerOK = false
	}
	if triggerOK {
		if msg := checkTriggerData(r.TriggerType, r.TriggerData); msg != "" {
			errs.Add("trigger_data", "%s", msg)
		}
		_, cerrs := ParseConditions(r.Conditions, r.TriggerType)
		errs.Merge("conditions", cerrs)
	}
	switch {
	case len(r.Actions) == 0:
		errs.Add("actions", "must contain at least one action")
	case len(r.Actions) > MaxActions:
		errs.Add("actions", "must contain at most %d actions", MaxActions)
	default:
		for i := range r.Actions {
			errs.Merge(validation.Index("actions", i), r.Actions[i].Validate())
			errs.Merge(validation.Index("actions", i), r.Actions[i].validateText())
		}
	}
	if r.AlertSettings != nil {
		errs.Merge("alert_settings", r.AlertSettings.Validate())
	}
	if r.ScheduleSettings != nil {
		errs.Merge("schedule_settings", r.ScheduleSettings.Validate())
	}
	if r.Priority < 0 || r.Priority > MaxPriority {
		errs.Add("priority", "must be between 0 and %d", MaxPriority)
	}
	if r.RolloutPercentage < 0 || r.RolloutPercentage > 100 {
		errs.Add("rollout_percentage", "must be between 0 and 100")
	}
	if r.CooldownSecs < 0 || r.CooldownSecs > MaxCooldownSecs {
		errs.Add("cooldown_secs", "must be between 0 and %d", MaxCooldownSecs)
	}
	return errs
}

// References returns the ids of the tags the rule's actions use and of the
// contact lists its conditions use, each once, so the store can keep them
// from being deleted while in use.
func (r *Rule) References() (tagIDs, listIDs []int64) {
	seen := map[int64]bool{}
	for _, a := range r.Actions {
		if (a.Type == ActionAddTag || a.Type == ActionRemoveTag) && a.TagID != nil && !seen[*a.TagID] {
			seen[*a.TagID] = true
			tagIDs = append(tagIDs, *a.TagID)
		}
	}
	conds, errs := ParseConditions(r.Conditions, r.TriggerType)
	if len(errs) == 0 {
		listIDs = ContactListIDs(conds)
	}
	return tagIDs, listIDs
}

// validateText applies the text rules (docs/concepts.md#conventions) to an action's strings,
// and the time range to its snooze: every value of an action is stored
// and rendered again.
func (a *Action) validateText() validation.Errors {
	var errs validation.Errors
	text := func(field string, s *string) {
		if s != nil {
			errs.Text(field, *s)
		}
	}
	text("body", a.Body)
	text("subject", a.Subject)
	text("url", a.URL)
	for name, value := range a.Headers {
		if errs.Text("headers", name) {
			errs.Text("headers."+name, value)
		}
	}
	if a.SnoozeUntil != nil {
		errs.Time("snooze_until", *a.SnoozeUntil)
	}
	return errs
}
