package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// Conversations (docs/concepts.md#workspaces-members-tokens-and-roles, docs/concepts.md#processing): what the engine has learned of a
// conversation from its events and from the actions rules decided, and
// its timeline of automation_applied entries. The ids are the host's
// own, any string; one the engine has never seen is not found.

// conversationResponse is the engine's view of a conversation.
type conversationResponse struct {
	ID                    string   `json:"id"`
	Status                string   `json:"status"`
	AssigneeID            *string  `json:"assignee_id"`
	Tags                  []string `json:"tags"`
	Priority              *string  `json:"priority"`
	LastCustomerMessageAt *Time    `json:"last_customer_message_at"`
	LastTeamResponseAt    *Time    `json:"last_team_response_at"`
	UpdatedAt             Time     `json:"updated_at"`
}

// conversationStatusDefault is the status of a conversation no event has
// given one yet: a conversation the engine hears of is open until told
// otherwise (only open conversations wait for time-based rules either).
const conversationStatusDefault = "open"

func toConversation(c store.Conversation) conversationResponse {
	status := c.Status
	if status == "" {
		status = conversationStatusDefault
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	assignee := c.AssigneeID
	if assignee != nil && *assignee == "" {
		assignee = nil // the engine keeps "unassigned" as "", to tell it from "not known yet"
	}
	return conversationResponse{ID: c.ID, Status: status, AssigneeID: assignee, Tags: tags, Priority: c.Priority,
		LastCustomerMessageAt: apiTimePtr(c.LastCustomerMessageAt), LastTeamResponseAt: apiTimePtr(c.LastTeamResponseAt),
		UpdatedAt: apiTime(c.UpdatedAt)}
}

// activityResponse is an entry of a conversation's timeline.
type activityResponse struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	RuleID    int64           `json:"rule_id"`
	RuleName  string          `json:"rule_name"`
	EventID   string          `json:"event_id"`
	RunID     string          `json:"run_id"`
	Actions   json.RawMessage `json:"actions"`
	CreatedAt Time            `json:"created_at"`
}

func toActivity(a store.Activity) activityResponse {
	actions := a.Actions
	if len(actions) == 0 {
		actions = json.RawMessage("[]")
	}
	return activityResponse{ID: a.ID, Kind: a.Kind, RuleID: a.RuleID, RuleName: a.RuleName, EventID: a.EventID,
		RunID: a.RunID, Actions: actions, CreatedAt: apiTime(a.CreatedAt)}
}

func (a *API) loadConversation(r *http.Request) (store.Conversation, error) {
	c, err := a.store.GetConversation(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return c, errNotFound("conversation")
	}
	return c, err
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request) error {
	c, err := a.loadConversation(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toConversation(c))
}

func (a *API) listConversationActivity(w http.ResponseWriter, r *http.Request) error {
	lq, pq, err := parseListQuery(r.URL.Query(), []string{"created_at"})
	if err != nil {
		return err
	}
	c, err := a.loadConversation(r)
	if err != nil {
		return err
	}
	list, total, err := a.store.ListActivities(r.Context(), c.WorkspaceID, c.ID, lq)
	if err != nil {
		return err
	}
	out := make([]activityResponse, len(list))
	for i, x := range list {
		out[i] = toActivity(x)
	}
	return writeJSON(w, http.StatusOK, keysetEnvelope(pq, lq, out, total, func(x activityResponse) Cursor {
		return Cursor{CreatedAt: time.Time(x.CreatedAt), ID: x.ID}
	}))
}
