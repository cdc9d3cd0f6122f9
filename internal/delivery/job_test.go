package delivery

import (
	"encoding/json"
	"testing"
)

func TestJobConstructors(t *testing.T) {
	t.Parallel()
	keys := Keys{Current: "whsec_dGVzdA=="}
	a, err := NewActionJob(ActionDelivery{ID: "d1", WorkspaceID: 4, EventID: "e", RuleID: 1, RunID: "r", Action: json.RawMessage(`{"type":"unassign"}`)},
		"https://desk.example/hooks", keys, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "d1" || a.Target != "4 https://desk.example:443" || a.Attempts != 2 || a.HTTP == nil || a.HTTP.ID != "d1" || a.Mail != nil {
		t.Errorf("action job %+v", a)
	}
	var body map[string]any
	if err := json.Unmarshal(a.HTTP.Body, &body); err != nil || body["type"] != PushType {
		t.Errorf("action body %s (%v)", a.HTTP.Body, err)
	}
	if _, err := NewActionJob(ActionDelivery{ID: "d2", Action: json.RawMessage(`nope`)}, "https://x", keys, 0); err == nil {
		t.Error("a broken action made a job")
	}

	w, err := NewWebhookJob("d3", 4, "https://hooks.example/x", map[string]string{"X-A": "1"},
		WebhookDelivery{Event: json.RawMessage(`{"id":"e"}`), RuleID: 1, RuleName: "n", RunID: "r"}, keys, 0)
	if err != nil || w.Target != "4 https://hooks.example:443" || w.HTTP.Headers["X-A"] != "1" {
		t.Errorf("webhook job %+v (%v)", w, err)
	}

	s := SMTPSettings{Host: "mail.example", Port: 587, From: "support@acme.example", TLS: TLSStartTLS}
	m := NewMailJob("d4", 4, s, []byte(`{"contact":{"email":"ana@c.example"},"message":{"headers":{"Message-ID":"<m@c>"}}}`), "Hi", "Body", 1)
	if m.Target != "4 smtp://mail.example:587" || m.Mail == nil || m.Mail.Mail.To != "ana@c.example" || m.Mail.Mail.InReplyTo != "<m@c>" || m.HTTP != nil {
		t.Errorf("mail job %+v", m)
	}
}
