package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// TestSettleDecidesWhatProcessWould: Engine.Settle settles exactly the
// events nothing evaluates, with the outcome Process gives them, and an
// ingester that settles stores them finished with what that outcome
// writes.
func TestSettleDecidesWhatProcessWould(t *testing.T) {
	t.Parallel()
	const payload = `{"conversation": {"status": "opened", "tags": ["vip"], "assignee_id": null},
		"message": {"direction": "incoming"}}`
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, e *env)
		typ     string
		causeBy bool
		settles bool
		status  string
	}{
		{name: "no rules", typ: rules.TriggerIncoming, settles: true, status: store.EventProcessed},
		{name: "rules of other triggers", typ: rules.TriggerIncoming, settles: true, status: store.EventProcessed,
			setup: func(t *testing.T, e *env) {
				e.rule(t, rules.Rule{TriggerType: rules.TriggerResponse, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
			}},
		{name: "a rule of its trigger", typ: rules.TriggerIncoming,
			setup: func(t *testing.T, e *env) {
				e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
			}},
		{name: "an inactive rule of its trigger", typ: rules.TriggerIncoming, settles: true, status: store.EventProcessed,
			setup: func(t *testing.T, e *env) {
				r := e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
				r.IsActive = false
				if _, err := e.st.UpdateRule(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				e.programs.Invalidate(e.ws.ID)
			}},
		{name: "a time-based rule", typ: rules.TriggerIncoming,
			setup: func(t *testing.T, e *env) {
				e.rule(t, rules.Rule{TriggerType: rules.TriggerUnansweredByTeam, TriggerData: ptr("2 hours"),
					Actions: []rules.Action{{Type: rules.ActionUnassign}}})
			}},
		{name: "caused by a delivery", typ: rules.TriggerIncoming, causeBy: true},
		{name: "paused", typ: rules.TriggerIncoming, settles: true, status: store.EventSkipped,
			setup: func(t *testing.T, e *env) {
				if _, err := e.st.PutControl(context.Background(), store.Control{WorkspaceID: e.ws.ID, IsPaused: true}); err != nil {
					t.Fatal(err)
				}
				e.programs.Invalidate(e.ws.ID)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachDialect(t, func(t *testing.T, e *env) {
				if tc.setup != nil {
					tc.setup(t, e)
				}
				conv := "c1"
				ne := store.NewEvent{Event: store.Event{WorkspaceID: e.ws.ID, EventType: tc.typ, Source: "api",
					ConversationID: &conv, Payload: json.RawMessage(payload), PayloadHash: "0000"}}
				if tc.causeBy {
					ne.CausedBy = ptr("01a00000-0000-7000-8000-000000000000")
				}
				e.engine.Settle(context.Background(), &ne)
				if got := ne.Settled != nil; got != tc.settles {
					t.Fatalf("settled = %v, want %v", got, tc.settles)
				}
				if !tc.settles {
					return
				}
				if ne.OccurredAt.IsZero() {
					t.Error("a settled event without occurred_at was not given its arrival")
				}
				want, err := e.engine.Process(context.Background(), ne.Event)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, *ne.Settled); diff != "" {
					t.Errorf("Settle's outcome differs from Process's (-process +settle):\n%s", diff)
				}

				// Stored through an ingester that settles: finished, no
				// worker needed, the conversation learned.
				in := pipeline.NewIngester(e.st, pipeline.IngesterOptions{Settle: e.engine.Settle})
				defer in.Close()
				ne.Settled, ne.OccurredAt = nil, e.clock.Now()
				g := &store.IngestGroup{Events: []store.NewEvent{ne}}
				if err := in.Ingest(context.Background(), g); err != nil || g.Err != nil {
					t.Fatalf("Ingest: %v, %v", err, g.Err)
				}
				if !g.Results[0].Settled {
					t.Fatal("the ingester did not settle the event")
				}
				got, err := e.st.GetEvent(context.Background(), e.ws.ID, g.Results[0].Event.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != tc.status || got.ProcessedAt == nil || got.Attempts != 1 {
					t.Errorf("stored %q, processed_at %v, attempts %d; want %q, set, 1", got.Status, got.ProcessedAt, got.Attempts, tc.status)
				}
				c, err := e.st.GetConversation(context.Background(), e.ws.ID, conv)
				if err != nil {
					t.Fatal(err)
				}
				if c.Status != "open" || len(c.Tags) != 1 || c.Tags[0] != "vip" || c.LastCustomerMessageAt == nil {
					t.Errorf("conversation = %+v, want open, tagged vip, with the customer's message time", c)
				}
			})
		})
	}
}
