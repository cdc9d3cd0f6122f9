package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// TestRunsKeepTheirRuleVersion: a run records the version of the rule
// that made it and shows that version's name and conditions, so renaming,
// changing or deleting the rule does not rewrite history.
func TestRunsKeepTheirRuleVersion(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.rule(t, rules.Rule{Name: "first name", TriggerType: rules.TriggerIncoming,
			Conditions: json.RawMessage(`[{"field": "message.subject", "operator": "contains", "value": "urgent"}]`),
			Actions:    []rules.Action{{Type: rules.ActionAddNote, Body: ptr("noted")}}})
		workers := pipeline.NewWorkers(e.st, e.engine, pipeline.WorkerOptions{Clock: e.clock})
		process := func() store.Run {
			t.Helper()
			ev := e.ingest(t, rules.TriggerIncoming, "c1", `{"message": {"subject": "hello"}}`)
			if _, err := workers.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			runs := e.runs(t, ev.ID)
			if len(runs) != 1 {
				t.Fatalf("%d runs, want 1", len(runs))
			}
			return runs[0]
		}
		before := process()
		r.Name = "second name"
		r.Conditions = json.RawMessage(`[{"field": "message.subject", "operator": "contains", "value": "help"}]`)
		if _, err := e.st.UpdateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
		e.programs.Invalidate(e.ws.ID)
		after := process()
		if err := e.st.DeleteRule(ctx, e.ws.ID, r.ID); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			run     store.Run
			name    string
			version int
			value   string
		}{{before, "first name", 1, "urgent"}, {after, "second name", 2, "help"}} {
			got, err := e.st.GetRun(ctx, e.ws.ID, tc.run.ID)
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Trace []struct {
					Condition struct{ Value string } `json:"condition"`
				} `json:"trace"`
			}
			if err := json.Unmarshal(got.Result, &res); err != nil || len(res.Trace) != 1 {
				t.Fatalf("result %s: %v", got.Result, err)
			}
			if got.RuleName != tc.name || got.RuleVersion != tc.version || res.Trace[0].Condition.Value != tc.value {
				t.Errorf("run after the rule changed and was deleted: %q v%d condition %q; want %q v%d %q",
					got.RuleName, got.RuleVersion, res.Trace[0].Condition.Value, tc.name, tc.version, tc.value)
			}
		}
	})
}

// TestActionsKeepTheLearnedTags: an event that does not tell the
// conversation's tags, whose rule adds one, adds it to the tags learned
// so far instead of replacing them.
func TestActionsKeepTheLearnedTags(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		urgent := e.tag(t, "urgent")
		e.rule(t, rules.Rule{Name: "tag urgent", TriggerType: rules.TriggerIncoming,
			Conditions: json.RawMessage(`[{"field": "message.subject", "operator": "contains", "value": "urgent"}]`),
			Actions:    []rules.Action{{Type: rules.ActionAddTag, TagID: &urgent.ID}}})
		workers := pipeline.NewWorkers(e.st, e.engine, pipeline.WorkerOptions{Clock: e.clock})
		for _, payload := range []string{
			`{"conversation": {"id": "c1", "tags": ["vip"]}, "message": {"subject": "hello"}}`,
			`{"message": {"subject": "urgent: down"}}`,
		} {
			e.ingest(t, rules.TriggerIncoming, "c1", payload)
			if _, err := workers.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
		}
		conv, err := e.st.GetConversation(ctx, e.ws.ID, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if len(conv.Tags) != 2 || conv.Tags[0] != "vip" || conv.Tags[1] != "urgent" {
			t.Fatalf("tags = %v, want [vip urgent]", conv.Tags)
		}
	})
}

// TestAssigneeNullIsLearned: a payload saying assignee_id null unassigns
// the conversation; one that does not mention it keeps the assignee.
func TestAssigneeNullIsLearned(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		workers := pipeline.NewWorkers(e.st, e.engine, pipeline.WorkerOptions{Clock: e.clock})
		assignee := func(payload string) *string {
			t.Helper()
			e.ingest(t, rules.TriggerIncoming, "c1", payload)
			if _, err := workers.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			conv, err := e.st.GetConversation(ctx, e.ws.ID, "c1")
			if err != nil {
				t.Fatal(err)
			}
			return conv.AssigneeID
		}
		if a := assignee(`{"conversation": {"assignee_id": "m-7"}}`); a == nil || *a != "m-7" {
			t.Fatalf("assignee = %v, want m-7", a)
		}
		if a := assignee(`{"message": {"subject": "hi"}}`); a == nil || *a != "m-7" {
			t.Fatalf("after an event that does not say: assignee = %v, want m-7 kept", a)
		}
		if a := assignee(`{"conversation": {"assignee_id": null}}`); a == nil || *a != "" {
			t.Fatalf("after assignee_id null: assignee = %v, want unassigned", a)
		}
	})
}
