package engine_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/internal/engine"
	"github.com/switchboard-hq/switchboard/internal/rules"
)

func ptr[T any](v T) *T { return &v }

// A worker compiles the workspace's rules once per snapshot, keeps one
// Plan, and evaluates each event with everything resolved beforehand.
func Example() {
	rs := []rules.Rule{{
		ID: 1, Name: "Tag VIP mail", IsActive: true, TriggerType: rules.TriggerIncoming, RolloutPercentage: 100,
		Conditions: json.RawMessage(`[{"type":"from_email","operator":"domain","value":"acme.com"}]`),
		Actions: []rules.Action{
			{Type: rules.ActionAddTag, TagID: ptr(int64(5))},
			{Type: rules.ActionSendResponse, Body: ptr("Hi {{contact.name}}, we are on it.")},
		},
	}, {
		ID: 2, Name: "Escalate tagged", IsActive: true, TriggerType: rules.TriggerIncoming, RolloutPercentage: 100, Priority: 1,
		Conditions: json.RawMessage(`[{"field":"conversation.tags","operator":"contains","value":"vip"}]`),
		Actions:    []rules.Action{{Type: rules.ActionSetPriority, Priority: ptr("urgent")}},
	}}
	prog, err := engine.Compile(rs, engine.CompileOptions{Timezone: "UTC", Tags: []engine.Tag{{ID: 5, Name: "VIP"}}})
	if err != nil {
		panic(err)
	}

	in := &engine.Input{
		EventID: "ev_1", Type: rules.TriggerIncoming, ConversationID: "c_1",
		Payload: json.RawMessage(`{"contact":{"name":"Ann"},"message":{"from_email":"ann@acme.com"}}`),
		Now:     time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}
	// The pipeline resolves only what the rules of this trigger need.
	_ = prog.ContactListIDs(in.Type)  // contact lists to check the sender against
	_ = prog.CooldownRuleIDs(in.Type) // rules whose last match for RolloutKey(in) to load

	var plan engine.Plan
	if err := prog.Evaluate(in, &plan); err != nil {
		panic(err)
	}
	for _, run := range plan.Runs {
		actions, _ := json.Marshal(run.Actions)
		fmt.Println(run.Rule.ID, run.Matched, string(actions))
	}
	fmt.Println(plan.Conversation.Tags, plan.Conversation.Priority)
	// Output:
	// 1 true [{"type":"add_tag","tag_id":5,"tag_name":"VIP","tag_external_id":null},{"type":"send_response","body":"Hi Ann, we are on it."}]
	// 2 true [{"type":"set_priority","priority":"urgent"}]
	// [VIP] urgent
}

// DryRun shows why a rule would or would not fire, condition by condition.
func ExampleDryRun() {
	rule := rules.Rule{ // unsaved: ID 0
		TriggerType: rules.TriggerIncoming, IsActive: true, RolloutPercentage: 100,
		Conditions: json.RawMessage(`[{"any":[{"type":"subject_contains","value":"urgent"},{"field":"custom.plan","operator":"equals","value":"gold"}]}]`),
		Actions:    []rules.Action{{Type: rules.ActionAddNote, Body: ptr("{{message.subject}}")}},
	}
	res, err := engine.DryRun(&rule, &engine.Input{
		Payload: json.RawMessage(`{"message":{"subject":"Site down"},"custom":{"plan":"Silver"}}`),
		Now:     time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}, engine.CompileOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Matched, res.Reason)
	for _, e := range res.Trace {
		actual, _ := json.Marshal(e.Actual) // a missing value or a group is null
		fmt.Println(e.Path, e.Result, string(actual))
	}
	// Output:
	// false conditions_not_met
	// conditions[0] false null
	// conditions[0].any[0] false "Site down"
	// conditions[0].any[1] false "Silver"
}
