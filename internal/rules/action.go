package rules

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Action types (docs/concepts.md#actions).
const (
	ActionAddTag       = "add_tag"
	ActionRemoveTag    = "remove_tag"
	ActionAssignAgent  = "assign_agent"
	ActionUnassign     = "unassign"
	ActionSetStatus    = "set_status"
	ActionSetPriority  = "set_priority"
	ActionAddNote      = "add_note"
	ActionSendResponse = "send_response"
	ActionSendWebhook  = "send_webhook"
)

// ActionTypes lists every action type.
var ActionTypes = []string{
	ActionAddTag, ActionRemoveTag, ActionAssignAgent, ActionUnassign, ActionSetStatus,
	ActionSetPriority, ActionAddNote, ActionSendResponse, ActionSendWebhook,
}

// Conversation statuses and priorities an action may set.
var (
	Statuses   = []string{"open", "closed", "snoozed"}
	Priorities = []string{"low", "medium", "high", "urgent"}
)

// Action is one entry of a rule's tagged-union action list. Only the
// parameters of its Type may be set.
type Action struct {
	Type        string            `json:"type"`
	TagID       *int64            `json:"tag_id,omitempty"`
	UserID      *int64            `json:"user_id,omitempty"`
	Status      *string           `json:"status,omitempty"`
	SnoozeUntil *time.Time        `json:"snooze_until,omitempty"`
	Priority    *string           `json:"priority,omitempty"`
	Body        *string           `json:"body,omitempty"`
	Subject     *string           `json:"subject,omitempty"`
	URL         *string           `json:"url,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
}

// params lists which parameters each type takes, and which it requires.
var params = map[string]struct{ allowed, required []string }{
	ActionAddTag:       {[]string{"tag_id"}, []string{"tag_id"}},
	ActionRemoveTag:    {[]string{"tag_id"}, []string{"tag_id"}},
	ActionAssignAgent:  {[]string{"user_id"}, []string{"user_id"}},
	ActionUnassign:     {nil, nil},
	ActionSetStatus:    {[]string{"status", "snooze_until"}, []string{"status"}},
	ActionSetPriority:  {[]string{"priority"}, []string{"priority"}},
	ActionAddNote:      {[]string{"body"}, []string{"body"}},
	ActionSendResponse: {[]string{"body", "subject"}, []string{"body"}},
	ActionSendWebhook:  {[]string{"url", "headers"}, []string{"url"}},
}

// present returns the names of the parameters set on a.
func (a *Action) present() []string {
	var p []string
	add := func(ok bool, name string) {
		if ok {
			p = append(p, name)
		}
	}
	add(a.TagID != nil, "tag_id")
	add(a.UserID != nil, "user_id")
	add(a.Status != nil, "status")
	add(a.SnoozeUntil != nil, "snooze_until")
	add(a.Priority != nil, "priority")
	add(a.Body != nil, "body")
	add(a.Subject != nil, "subject")
	add(a.URL != nil, "url")
	add(a.Headers != nil, "headers")
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Validate checks one action; fields are relative to the action.
func (a *Action) Validate() validation.Errors {
	var errs validation.Errors
	spec, ok := params[a.Type]
	if !ok {
		if a.Type == "" {
			errs.Add("type", "is required")
		} else {
			errs.Add("type", "unknown action type %q", a.Type)
		}
		return errs
	}
	for _, p := range a.present() {
		if !contains(spec.allowed, p) {
			errs.Add(p, "is not a parameter of %s", a.Type)
		}
	}
	for _, p := range spec.required {
		if !contains(a.present(), p) {
			errs.Add(p, "is required for %s", a.Type)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	switch a.Type {
	case ActionAddTag, ActionRemoveTag:
		if *a.TagID <= 0 {
			errs.Add("tag_id", "must be a tag id")
		}
	case ActionAssignAgent:
		if *a.UserID <= 0 {
			errs.Add("user_id", "must be a member id")
		}
	case ActionSetStatus:
		switch {
		case !contains(Statuses, *a.Status):
			errs.Add("status", "must be one of open, closed, snoozed")
		case *a.Status == "snoozed" && a.SnoozeUntil == nil:
			errs.Add("snooze_until", "is required when status is snoozed")
		case *a.Status != "snoozed" && a.SnoozeUntil != nil:
			errs.Add("snooze_until", "is only allowed when status is snoozed")
		}
	case ActionSetPriority:
		if !contains(Priorities, *a.Priority) {
			errs.Add("priority", "must be one of low, medium, high, urgent")
		}
	case ActionAddNote, ActionSendResponse:
		checkTemplate(&errs, "body", *a.Body, MaxTemplateLen)
		if a.Subject != nil {
			checkTemplate(&errs, "subject", *a.Subject, MaxSubjectLen)
		}
	case ActionSendWebhook:
		checkWebhookURL(&errs, "url", *a.URL)
		if len(a.Headers) > MaxHeaders {
			errs.Add("headers", "must have at most %d entries", MaxHeaders)
		}
		for name := range a.Headers {
			if msg := checkHeaderName(name); msg != "" {
				errs.Add("headers."+name, "%s", msg)
			}
		}
	}
	return errs
}

func checkTemplate(errs *validation.Errors, field, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		errs.Add(field, "must not be empty")
	case utf8.RuneCountInString(s) > max:
		errs.Add(field, "must be at most %d characters", max)
	}
}

// checkWebhookURL accepts absolute http and https URLs. Whether the target
// is allowed (not a private address) is decided at connect time.
func checkWebhookURL(errs *validation.Errors, field, s string) {
	if len(s) > MaxURLLen {
		errs.Add(field, "must be at most %d characters", MaxURLLen)
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs.Add(field, "must be an absolute http or https URL without credentials")
	}
}

// CheckURL validates an outbound URL setting (actions_url, alert webhooks):
// it returns an error message, or "".
func CheckURL(s string) string {
	var errs validation.Errors
	checkWebhookURL(&errs, "", s)
	if len(errs) > 0 {
		return errs[0].Message
	}
	return ""
}

var reservedHeaders = []string{"content-type", "host", "content-length", "transfer-encoding", "connection"}

func checkHeaderName(name string) string {
	lower := strings.ToLower(name)
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return "is not a valid header name"
	}
	if strings.HasPrefix(lower, "webhook-") || contains(reservedHeaders, lower) {
		return "is set by Switchboard and may not be overridden"
	}
	return ""
}
