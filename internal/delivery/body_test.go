package delivery

import (
	"encoding/json"
	"testing"
)

func TestPushBody(t *testing.T) {
	t.Parallel()
	conv := "c-9"
	got, err := PushBody(ActionDelivery{
		ID: "d-1", WorkspaceID: 3, EventID: "e-1", RuleID: 7, RunID: "r-1", ConversationID: &conv,
		Action: json.RawMessage(`{"type": "add_note", "body": "<b>VIP</b> & co"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"d-1","type":"automation.action","workspace_id":3,"event_id":"e-1","rule_id":7,"run_id":"r-1","conversation_id":"c-9","contact_id":null,"action":{"type":"add_note","body":"<b>VIP</b> & co"}}`
	if string(got) != want {
		t.Errorf("PushBody =\n%s\nwant\n%s", got, want)
	}
	if _, err := PushBody(ActionDelivery{ID: "d", Action: json.RawMessage(`{`)}); err == nil {
		t.Error("an action that is not JSON was accepted")
	}
}

func TestWebhookBody(t *testing.T) {
	t.Parallel()
	got, err := WebhookBody(WebhookDelivery{Event: json.RawMessage(`{"id": "e-1", "payload": {"a": 1}}`), RuleID: 7, RuleName: "VIP <escalate>", RunID: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event":{"id":"e-1","payload":{"a":1}},"rule":{"id":7,"name":"VIP <escalate>"},"run_id":"r-1"}`
	if string(got) != want {
		t.Errorf("WebhookBody =\n%s\nwant\n%s", got, want)
	}
	if _, err := WebhookBody(WebhookDelivery{Event: nil}); err == nil {
		t.Error("a missing event was accepted")
	}
}
