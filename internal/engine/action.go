package engine

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// PlannedAction is one action of a matched run, ready for delivery: its
// templates rendered and, for tags and assignees, the directory data the
// host needs. Its JSON is the "action" object of a delivery (§5).
type PlannedAction struct {
	// Index is the action's position in the rule's action list.
	Index int
	Type  string

	TagID         int64
	TagName       string
	TagExternalID string // "" is none (null)

	UserID         int64
	UserExternalID string // "" is none (null)
	UserEmail      string

	Status      string
	SnoozeUntil *time.Time
	Priority    string
	Body        string
	Subject     string // "" is none
	URL         string
	Headers     map[string]string

	// SkipReason, when set, means the action is to be recorded as skipped
	// with this reason instead of delivered: "not_a_member" for an
	// assign_agent whose user is not a member.
	SkipReason string
}

// SkipNotAMember is the skip reason of an assign_agent action whose user
// is not a member of the workspace at run time.
const SkipNotAMember = "not_a_member"

// MarshalJSON writes the parameters of the action's type only.
func (a PlannedAction) MarshalJSON() ([]byte, error) {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	switch a.Type {
	case rules.ActionAddTag, rules.ActionRemoveTag:
		return json.Marshal(struct {
			Type          string  `json:"type"`
			TagID         int64   `json:"tag_id"`
			TagName       string  `json:"tag_name"`
			TagExternalID *string `json:"tag_external_id"`
		}{a.Type, a.TagID, a.TagName, opt(a.TagExternalID)})
	case rules.ActionAssignAgent:
		return json.Marshal(struct {
			Type           string  `json:"type"`
			UserID         int64   `json:"user_id"`
			UserExternalID *string `json:"user_external_id"`
			UserEmail      *string `json:"user_email"`
		}{a.Type, a.UserID, opt(a.UserExternalID), opt(a.UserEmail)})
	case rules.ActionSetStatus:
		return json.Marshal(struct {
			Type        string     `json:"type"`
			Status      string     `json:"status"`
			SnoozeUntil *time.Time `json:"snooze_until,omitempty"`
		}{a.Type, a.Status, a.SnoozeUntil})
	case rules.ActionSetPriority:
		return json.Marshal(struct {
			Type     string `json:"type"`
			Priority string `json:"priority"`
		}{a.Type, a.Priority})
	case rules.ActionAddNote:
		return json.Marshal(struct {
			Type string `json:"type"`
			Body string `json:"body"`
		}{a.Type, a.Body})
	case rules.ActionSendResponse:
		return json.Marshal(struct {
			Type    string  `json:"type"`
			Body    string  `json:"body"`
			Subject *string `json:"subject,omitempty"`
		}{a.Type, a.Body, opt(a.Subject)})
	case rules.ActionSendWebhook:
		return json.Marshal(struct {
			Type    string            `json:"type"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers,omitempty"`
		}{a.Type, a.URL, a.Headers})
	}
	return json.Marshal(struct {
		Type string `json:"type"`
	}{a.Type})
}

// caction is a compiled action.
type caction struct {
	a             *rules.Action
	index         int
	body, subject *template
}

func compileAction(a *rules.Action, i int) caction {
	c := caction{a: a, index: i}
	if a.Body != nil {
		c.body = parseTemplate(*a.Body)
	}
	if a.Subject != nil {
		c.subject = parseTemplate(*a.Subject)
	}
	return c
}

// planActions plans a matched rule's actions into the Plan's buffer. With
// apply set, conversation-changing actions update the conversation state
// that later rules of the event read (chained effects).
func (ev *evaluator) planActions(cr *crule, apply bool) []PlannedAction {
	s := ev.s
	start := len(s.actions)
	for i := range cr.actions {
		ca := &cr.actions[i]
		a := ca.a
		pa := PlannedAction{Index: ca.index, Type: a.Type}
		switch a.Type {
		case rules.ActionAddTag, rules.ActionRemoveTag:
			pa.TagID = deref(a.TagID)
			t := ev.p.tags[pa.TagID]
			pa.TagName, pa.TagExternalID = t.Name, t.ExternalID
			if apply && t.Name != "" {
				ev.setTag(t.Name, a.Type == rules.ActionAddTag)
			}
		case rules.ActionAssignAgent:
			pa.UserID = deref(a.UserID)
			m, ok := ev.p.members[pa.UserID]
			if !ok {
				pa.SkipReason = SkipNotAMember
				break
			}
			pa.UserExternalID, pa.UserEmail = m.ExternalID, m.Email
			if apply {
				ev.setAssignee(m.HostID())
			}
		case rules.ActionUnassign:
			if apply {
				ev.setAssignee("")
			}
		case rules.ActionSetStatus:
			pa.Status = deref(a.Status)
			if a.SnoozeUntil != nil {
				t := *a.SnoozeUntil
				pa.SnoozeUntil = &t
			}
			if apply {
				ev.setText(convStatus, pa.Status)
			}
		case rules.ActionSetPriority:
			pa.Priority = deref(a.Priority)
			if apply {
				ev.setText(convPriority, pa.Priority)
			}
		case rules.ActionAddNote, rules.ActionSendResponse:
			if ca.body != nil {
				pa.Body = ca.body.render(&s.doc, &s.keyBuf)
			}
			if ca.subject != nil {
				pa.Subject = ca.subject.render(&s.doc, &s.keyBuf)
			}
		case rules.ActionSendWebhook:
			pa.URL = deref(a.URL)
			pa.Headers = a.Headers
		}
		s.actions = append(s.actions, pa)
	}
	return s.actions[start:len(s.actions):len(s.actions)]
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// convKnown reports whether conversation field f comes from the state
// rather than the payload.
func (ev *evaluator) convKnown(f int) bool {
	c := &ev.plan.Conversation
	switch f {
	case convStatus:
		return c.Status != ""
	case convPriority:
		return c.Priority != ""
	case convAssignee:
		return c.AssigneeID != nil
	default:
		return c.Tags != nil
	}
}

// convSlot sets v from conversation field f of the state.
func (ev *evaluator) convSlot(v *slotValue, f int) {
	c := &ev.plan.Conversation
	switch f {
	case convStatus:
		ev.textSlot(v, c.Status)
	case convPriority:
		ev.textSlot(v, c.Priority)
	case convAssignee:
		ev.textSlot(v, *c.AssigneeID) // "" is unassigned: missing
	default:
		s := ev.s
		v.present, v.kind = true, jArray
		start := len(s.elems)
		rawStart := len(s.arena)
		s.arena = append(s.arena, '[')
		for i, t := range c.Tags {
			if i > 0 {
				s.arena = append(s.arena, ',')
			}
			s.arena = appendJSONString(s.arena, []byte(t))
		}
		s.arena = append(s.arena, ']')
		v.raw = s.arena[rawStart:len(s.arena):len(s.arena)]
		for _, t := range c.Tags {
			at := len(s.arena)
			s.arena = append(s.arena, t...)
			sc := scalar{kind: jString, text: s.arena[at:len(s.arena):len(s.arena)]}
			sc.prepare(&s.arena)
			s.elems = append(s.elems, sc)
		}
		v.elems = s.elems[start:len(s.elems):len(s.elems)]
	}
}

// changed records that field f was set, and refreshes its value for the
// conditions of later rules. The Plan reports a change only when the
// value differs from the one it had (from the state, else the payload).
func (ev *evaluator) changed(f int, differs bool) {
	if differs {
		ev.plan.ConversationChanged = true
	}
	if si := ev.p.convSlot[f]; si >= 0 {
		ev.resolveSlot(si)
		// Leaves that read the field must be computed again; changes are
		// rare (a matched rule's action), so forgetting everything is fine.
		clear(ev.s.memo)
	}
}

func (ev *evaluator) setText(f int, value string) {
	c := &ev.plan.Conversation
	field, path := &c.Status, pathStatus
	if f == convPriority {
		field, path = &c.Priority, pathPriority
	}
	before := *field
	if before == "" {
		before = ev.payloadText(path)
	}
	*field = value
	ev.changed(f, !strings.EqualFold(before, value))
}

func (ev *evaluator) setAssignee(hostID string) {
	c := &ev.plan.Conversation
	var before string
	if c.AssigneeID != nil {
		before = *c.AssigneeID
	} else {
		before = ev.payloadText(pathAssignee)
	}
	c.AssigneeID = &hostID
	ev.changed(convAssignee, before != hostID)
}

var (
	pathStatus   = []string{"conversation", "status"}
	pathPriority = []string{"conversation", "priority"}
	pathAssignee = []string{"conversation", "assignee_id"}
	pathTags     = []string{"conversation", "tags"}
)

// setTag adds or removes a tag name (tags compare case-insensitively).
func (ev *evaluator) setTag(name string, add bool) {
	c := &ev.plan.Conversation
	if !ev.s.tagsOwned {
		tags := c.Tags
		if tags == nil {
			tags = ev.payloadTags()
		}
		c.Tags = append(make([]string, 0, len(tags)+1), tags...)
		ev.s.tagsOwned = true
	}
	i := slices.IndexFunc(c.Tags, func(t string) bool { return strings.EqualFold(t, name) })
	switch {
	case add && i < 0:
		c.Tags = append(c.Tags, name)
	case !add && i >= 0:
		c.Tags = slices.Delete(c.Tags, i, i+1)
	default:
		return
	}
	ev.changed(convTags, true)
}

// payloadTags returns payload.conversation.tags as text.
func (ev *evaluator) payloadTags() []string {
	d := &ev.s.doc
	tags := []string{}
	i := d.lookup(pathTags, &ev.s.keyBuf)
	if i < 0 || d.nodes[i].kind != jArray {
		return tags
	}
	for e, k := i+1, int32(0); k < d.nodes[i].n; e, k = d.nodes[e].next, k+1 {
		switch d.nodes[e].kind {
		case jString:
			tags = append(tags, string(d.appendString(nil, e)))
		case jNumber:
			tags = append(tags, string(d.raw(e)))
		}
	}
	return tags
}

// payloadText returns a payload string or number as text, "" otherwise.
func (ev *evaluator) payloadText(path []string) string {
	d := &ev.s.doc
	i := d.lookup(path, &ev.s.keyBuf)
	if i < 0 {
		return ""
	}
	switch d.nodes[i].kind {
	case jString:
		return string(d.appendString(nil, i))
	case jNumber:
		return string(d.raw(i))
	}
	return ""
}
