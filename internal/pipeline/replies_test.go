package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
)

// TestAutoReplyGuards: a send_response is skipped, with its reason, for
// an automatic message (RFC 3834), a no-reply sender, and a recipient
// that got an automated reply in the last hour (counted from when it was
// decided); after the hour the same recipient gets one again.
func TestAutoReplyGuards(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		e.rule(t, rules.Rule{Name: "acknowledge", TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(`[]`),
			Actions: []rules.Action{{Type: rules.ActionSendResponse, Body: ptr("We got it, {{contact.name}}.")}}})
		workers := pipeline.NewWorkers(e.st, e.engine, pipeline.WorkerOptions{Clock: e.clock})
		process := func(conv, payload string) string {
			t.Helper()
			ev := e.ingest(t, rules.TriggerIncoming, conv, payload)
			if _, err := workers.Cycle(context.Background()); err != nil {
				t.Fatal(err)
			}
			runs := e.runs(t, ev.ID)
			if len(runs) != 1 {
				t.Fatalf("%d runs, want 1", len(runs))
			}
			var res struct {
				Actions []struct{ Status, Reason string } `json:"actions"`
			}
			if err := json.Unmarshal(runs[0].Result, &res); err != nil || len(res.Actions) != 1 {
				t.Fatalf("result %s: %v", runs[0].Result, err)
			}
			if res.Actions[0].Status == "skipped" {
				return res.Actions[0].Reason
			}
			return res.Actions[0].Status
		}
		ann := `{"contact": {"email": "ann@acme.test", "name": "Ann"}, "message": {"from_email": "ann@acme.test"}}`
		for _, tc := range []struct{ name, conv, payload, want string }{
			{"first message", "c1", ann, "pending"},
			{"the same customer again", "c2", ann, pipeline.SkipRecipientCooldown},
			{"an automatic message", "c3", `{"message": {"from_email": "bob@acme.test",
				"headers": {"auto-submitted": "auto-replied"}}}`, "auto_submitted"},
			{"a mailing list", "c4", `{"message": {"from_email": "list@acme.test", "headers": {"List-Id": "<x.acme.test>"}}}`, "bulk_mail"},
			{"a no-reply sender", "c5", `{"message": {"from_email": "no-reply@acme.test"}}`, "no_reply_address"},
		} {
			if got := process(tc.conv, tc.payload); got != tc.want {
				t.Errorf("%s: send_response %s, want %s", tc.name, got, tc.want)
			}
		}
		e.clock.Advance(61 * time.Minute)
		if got := process("c6", ann); got != "pending" {
			t.Errorf("after the hour: send_response %s, want pending", got)
		}
	})
}
