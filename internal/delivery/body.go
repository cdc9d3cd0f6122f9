package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// PushType is the "type" of every push body sent to an actions_url.
const PushType = "automation.action"

// ActionDelivery is what the push body of a conversation action (add_tag …
// send_response) is made from: one outbox row and its action.
type ActionDelivery struct {
	ID             string // the delivery id; also the webhook-id
	WorkspaceID    int64
	EventID        string
	RuleID         int64
	RunID          string
	ConversationID *string
	ContactID      *string
	// Action is the action object as the outbox row holds it: the type,
	// its parameters with templates rendered, and the directory fields
	// (tag_name, user_email, …) — engine.PlannedAction's JSON.
	Action json.RawMessage
}

// PushBody is the JSON POSTed to the workspace's actions_url (docs/host-integration.md#receiving-actions-push).
func PushBody(d ActionDelivery) ([]byte, error) {
	if !json.Valid(d.Action) {
		return nil, fmt.Errorf("delivery: action of delivery %s is not JSON", d.ID)
	}
	return marshal(struct {
		ID             string          `json:"id"`
		Type           string          `json:"type"`
		WorkspaceID    int64           `json:"workspace_id"`
		EventID        string          `json:"event_id"`
		RuleID         int64           `json:"rule_id"`
		RunID          string          `json:"run_id"`
		ConversationID *string         `json:"conversation_id"`
		ContactID      *string         `json:"contact_id"`
		Action         json.RawMessage `json:"action"`
	}{d.ID, PushType, d.WorkspaceID, d.EventID, d.RuleID, d.RunID, d.ConversationID, d.ContactID, d.Action})
}

// WebhookDelivery is what a send_webhook body is made from.
type WebhookDelivery struct {
	// Event is the event object as GET /v1/automation/events/{id} shows
	// it (§8); the caller renders it, so the two can never differ.
	Event    json.RawMessage
	RuleID   int64
	RuleName string
	RunID    string
}

// WebhookBody is the JSON a send_webhook action POSTs to its URL (§5).
func WebhookBody(w WebhookDelivery) ([]byte, error) {
	if !json.Valid(w.Event) {
		return nil, fmt.Errorf("delivery: event of run %s is not JSON", w.RunID)
	}
	type rule struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	return marshal(struct {
		Event json.RawMessage `json:"event"`
		Rule  rule            `json:"rule"`
		RunID string          `json:"run_id"`
	}{w.Event, rule{w.RuleID, w.RuleName}, w.RunID})
}

// marshal is json.Marshal without HTML escaping: a note that says "<b>"
// should reach the host as written, not as \u003cb\u003e.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
