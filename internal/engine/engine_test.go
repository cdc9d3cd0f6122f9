package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

func TestPriorityOrderAndStopOnMatch(t *testing.T) {
	t.Parallel()
	r1, r2, r3, r4 := testRule(1, `[]`), testRule(2, `[]`), testRule(3, `[]`), testRule(4, `[]`)
	r1.Priority, r2.Priority, r3.Priority, r4.Priority = 5, 1, 5, 9
	r3.StopOnMatch = true
	p := mustCompile(t, CompileOptions{}, r4, r3, r1, r2)
	plan := evaluate(t, p, incoming(`{}`))
	// priority 1 (rule 2), then priority 5 by id (1, 3); 3 stops the rest.
	if diff := cmp.Diff([]int64{2, 1, 3}, runIDs(plan)); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	// A stop_on_match rule that does not match does not stop anything.
	r3.Conditions = json.RawMessage(`[{"field":"contact.email","operator":"exists"}]`)
	p = mustCompile(t, CompileOptions{}, r4, r3, r1, r2)
	if diff := cmp.Diff([]int64{2, 1, 3, 4}, runIDs(evaluate(t, p, incoming(`{}`)))); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

func TestOnlyTheEventsTriggerRuns(t *testing.T) {
	t.Parallel()
	other := testRule(2, `[]`)
	other.TriggerType = rules.TriggerStatusClosed
	p := mustCompile(t, CompileOptions{}, testRule(1, `[]`), other)
	if diff := cmp.Diff([]int64{1}, runIDs(evaluate(t, p, incoming(`{}`)))); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	in := incoming(`{}`)
	in.Type = "custom.unknown"
	if got := evaluate(t, p, in).Runs; len(got) != 0 {
		t.Errorf("runs for an unknown trigger: %v", got)
	}
}

func TestEffectiveState(t *testing.T) {
	t.Parallel()
	inactive := testRule(1, `[]`)
	inactive.IsActive = false
	snoozed := testRule(2, `[]`)
	snoozed.SnoozedUntil = ptr(testNow.Add(time.Minute))
	snoozeOver := testRule(3, `[]`)
	snoozeOver.SnoozedUntil = ptr(testNow) // a rule is snoozed while now < snoozed_until
	outside := testRule(4, `[]`)
	outside.ScheduleSettings = &rules.ScheduleSettings{Timezone: "UTC", Windows: []rules.ScheduleWindow{{Days: []string{"sat", "sun"}, Start: "00:00", End: "24:00"}}}
	inside := testRule(5, `[]`)
	inside.ScheduleSettings = &rules.ScheduleSettings{Windows: []rules.ScheduleWindow{{Days: []string{"mon"}, Start: "09:00", End: "12:00"}}}
	p := mustCompile(t, CompileOptions{Timezone: "Europe/Paris"}, inactive, snoozed, snoozeOver, outside, inside)

	// 10:00 UTC on a Monday is 11:00 in Paris: inside rule 5's window.
	if diff := cmp.Diff([]int64{3, 5}, runIDs(evaluate(t, p, incoming(`{}`)))); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	in := incoming(`{}`)
	in.Paused = true
	plan := evaluate(t, p, in)
	if !plan.Paused || len(plan.Runs) != 0 {
		t.Errorf("paused: Paused %v, runs %v", plan.Paused, runIDs(plan))
	}

	st, ok := p.EffectiveState(2, testNow, false)
	want := EffectiveState{RuleID: 2, IsActive: true, IsSnoozed: true, SnoozedUntil: snoozed.SnoozedUntil, ScheduleActive: true}
	if !ok || !cmp.Equal(want, st) {
		t.Errorf("EffectiveState(2) = %+v", st)
	}
	st, _ = p.EffectiveState(4, testNow, true)
	if st.ScheduleActive || st.EffectiveActive || !st.GlobalPaused {
		t.Errorf("EffectiveState(4) = %+v", st)
	}
	if _, ok := p.EffectiveState(99, testNow, false); ok {
		t.Error("EffectiveState of an unknown rule")
	}
}

func TestTriggerData(t *testing.T) {
	t.Parallel()
	assigned := func(id int64, data string) rules.Rule {
		r := testRule(id, `[]`)
		r.TriggerType, r.TriggerData = rules.TriggerAssigned, &data
		return r
	}
	mentioned := testRule(6, `[]`)
	mentioned.TriggerType, mentioned.TriggerData = rules.TriggerMentioned, ptr("11")
	opts := CompileOptions{Members: []Member{{ID: 10, ExternalID: "agent-ann"}, {ID: 11}}}
	p := mustCompile(t, opts,
		assigned(1, "anyone"), assigned(2, "no_one"), assigned(3, "10"), assigned(4, "11"), assigned(5, "99"), mentioned)

	tests := []struct {
		trigger, payload string
		want             []int64
	}{
		{rules.TriggerAssigned, `{"conversation":{"assignee_id":"agent-ann"}}`, []int64{1, 3}},
		{rules.TriggerAssigned, `{"conversation":{"assignee_id":"10"}}`, []int64{1}}, // member 10 is known to the host as agent-ann
		{rules.TriggerAssigned, `{"conversation":{"assignee_id":11}}`, []int64{1, 4}},
		{rules.TriggerAssigned, `{"conversation":{"assignee_id":null}}`, []int64{2}},
		{rules.TriggerAssigned, `{"conversation":{"assignee_id":""}}`, []int64{2}},
		{rules.TriggerAssigned, `{"conversation":{}}`, []int64{2}},
		{rules.TriggerMentioned, `{"mentioned_member_id":"11"}`, []int64{6}},
		{rules.TriggerMentioned, `{"mentioned_member_id":"agent-ann"}`, nil},
	}
	for _, tt := range tests {
		in := incoming(tt.payload)
		in.Type = tt.trigger
		if diff := cmp.Diff(tt.want, runIDs(evaluate(t, p, in))); diff != "" {
			t.Errorf("%s %s: runs (-want +got):\n%s", tt.trigger, tt.payload, diff)
		}
	}
}

func TestTimeTriggersRunOnlyTheirRule(t *testing.T) {
	t.Parallel()
	timed := func(id int64, d string) rules.Rule {
		r := testRule(id, `[]`)
		r.TriggerType, r.TriggerData = rules.TriggerUnansweredByTeam, &d
		return r
	}
	p := mustCompile(t, CompileOptions{}, timed(1, "2 hours"), timed(2, "1 day"))
	in := incoming(`{}`)
	in.Type, in.Source, in.TargetRuleID = rules.TriggerUnansweredByTeam, "scheduler", 2
	if diff := cmp.Diff([]int64{2}, runIDs(evaluate(t, p, in))); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	in.TargetRuleID = 0
	if got := runIDs(evaluate(t, p, in)); got != nil {
		t.Errorf("a time event without a target ran %v", got)
	}
}

func TestReasons(t *testing.T) {
	t.Parallel()
	failing := `[{"field":"contact.email","operator":"equals","value":"nobody@x.io"}]`
	tests := []struct {
		name   string
		rule   func() rules.Rule
		input  func(*Input)
		reason Reason
	}{
		{"match", func() rules.Rule { return testRule(1, `[]`) }, nil, ReasonNone},
		{"conditions first", func() rules.Rule {
			r := testRule(1, failing)
			r.RolloutPercentage, r.CooldownSecs = 0, 60
			return r
		}, func(in *Input) { in.Hops = 5; in.LastMatched = map[int64]time.Time{1: testNow} }, ReasonConditionsNotMet},
		{"rollout before cooldown", func() rules.Rule {
			r := testRule(1, `[]`)
			r.RolloutPercentage, r.CooldownSecs = 0, 60
			return r
		}, func(in *Input) { in.LastMatched = map[int64]time.Time{1: testNow} }, ReasonRolloutExcluded},
		{"cooldown before loop", func() rules.Rule {
			r := testRule(1, `[]`)
			r.CooldownSecs = 60
			return r
		}, func(in *Input) { in.Hops = 3; in.LastMatched = map[int64]time.Time{1: testNow.Add(-59 * time.Second)} }, ReasonCooldown},
		{"cooldown over", func() rules.Rule {
			r := testRule(1, `[]`)
			r.CooldownSecs = 60
			return r
		}, func(in *Input) { in.LastMatched = map[int64]time.Time{1: testNow.Add(-60 * time.Second)} }, ReasonNone},
		{"cooldown of another rule", func() rules.Rule {
			r := testRule(1, `[]`)
			r.CooldownSecs = 60
			return r
		}, func(in *Input) { in.LastMatched = map[int64]time.Time{2: testNow} }, ReasonNone},
		{"three hops", func() rules.Rule { return testRule(1, `[]`) }, func(in *Input) { in.Hops = MaxHops }, ReasonLoopPrevented},
		{"two hops", func() rules.Rule { return testRule(1, `[]`) }, func(in *Input) { in.Hops = MaxHops - 1 }, ReasonNone},
		{"caused by itself", func() rules.Rule { return testRule(1, `[]`) }, func(in *Input) { in.Hops, in.CausedByRules = 1, []int64{4, 1} }, ReasonLoopPrevented},
		{"caused by another", func() rules.Rule { return testRule(1, `[]`) }, func(in *Input) { in.Hops, in.CausedByRules = 1, []int64{4} }, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, CompileOptions{}, tt.rule())
			in := incoming(`{"contact":{"email":"ann@acme.com"}}`)
			if tt.input != nil {
				tt.input(in)
			}
			run := evaluate(t, p, in).Runs[0]
			if run.Reason != tt.reason || run.Matched != (tt.reason == ReasonNone) {
				t.Errorf("reason %q matched %v, want %q", run.Reason, run.Matched, tt.reason)
			}
			if (run.Actions != nil) != run.Matched {
				t.Errorf("actions %v for matched %v", run.Actions, run.Matched)
			}
			if tt.reason != ReasonConditionsNotMet && !cmp.Equal(run.Failure, TraceEntry{}) {
				t.Errorf("failure %+v with reason %q", run.Failure, run.Reason)
			}
		})
	}
	t.Run("loop prevented does not stop later rules", func(t *testing.T) {
		t.Parallel()
		r1 := testRule(1, `[]`)
		r1.StopOnMatch = true
		p := mustCompile(t, CompileOptions{}, r1, testRule(2, `[]`))
		in := incoming(`{}`)
		in.CausedByRules = []int64{1}
		if diff := cmp.Diff([]int64{2}, matchedIDs(evaluate(t, p, in))); diff != "" {
			t.Errorf("matched (-want +got):\n%s", diff)
		}
	})
}

func TestFailureNamesTheConditionAndItsValue(t *testing.T) {
	t.Parallel()
	conds := `[{"field":"conversation.status","operator":"equals","value":"open"},
		{"field":"custom.score","operator":"gt","value":50}]`
	p := mustCompile(t, CompileOptions{}, testRule(1, conds))
	run := evaluate(t, p, incoming(`{"conversation":{"status":"OPEN"},"custom":{"score": 42.5}}`)).Runs[0]
	want := TraceEntry{Path: "conditions[1]", Condition: json.RawMessage(`{"field":"custom.score","operator":"gt","value":50}`), Actual: json.RawMessage(`42.5`)}
	if diff := cmp.Diff(want, run.Failure); diff != "" {
		t.Errorf("failure (-want +got):\n%s", diff)
	}
	b, _ := json.Marshal(run.Failure)
	if string(b) != `{"path":"conditions[1]","condition":{"field":"custom.score","operator":"gt","value":50},"actual":42.5,"result":false}` {
		t.Errorf("JSON %s", b)
	}
}

func TestChainedEffects(t *testing.T) {
	t.Parallel()
	opts := CompileOptions{
		Tags:    []Tag{{ID: 5, Name: "VIP", ExternalID: "t-5"}, {ID: 6, Name: "billing"}},
		Members: []Member{{ID: 10, ExternalID: "agent-ann", Email: "ann@support.io"}, {ID: 11, Email: "bob@support.io"}},
	}
	tagger := testRule(1, `[]`)
	tagger.Actions = []rules.Action{
		{Type: rules.ActionAddTag, TagID: ptr(int64(5))},
		{Type: rules.ActionRemoveTag, TagID: ptr(int64(6))},
		{Type: rules.ActionSetStatus, Status: ptr("closed")},
		{Type: rules.ActionAssignAgent, UserID: ptr(int64(11))},
		{Type: rules.ActionSetPriority, Priority: ptr("urgent")},
	}
	sees := testRule(2, `[{"field":"conversation.tags","operator":"contains","value":"vip"},
		{"field":"conversation.tags","operator":"not_contains","value":"billing"},
		{"field":"conversation.status","operator":"equals","value":"closed"},
		{"field":"conversation.assignee_id","operator":"equals","value":11},
		{"field":"conversation.priority","operator":"equals","value":"urgent"}]`)
	before := testRule(0, `[{"field":"conversation.tags","operator":"contains","value":"vip"}]`)
	p := mustCompile(t, opts, before, tagger, sees)
	payload := `{"conversation":{"status":"open","tags":["billing","emea"],"assignee_id":"agent-ann","priority":"low"}}`
	plan := evaluate(t, p, incoming(payload))
	if diff := cmp.Diff([]int64{1, 2}, matchedIDs(plan)); diff != "" {
		t.Fatalf("matched (-want +got):\n%s", diff)
	}
	wantState := ConversationState{Status: "closed", Priority: "urgent", AssigneeID: ptr("11"), Tags: []string{"emea", "VIP"}}
	if diff := cmp.Diff(wantState, plan.Conversation); diff != "" || !plan.ConversationChanged {
		t.Errorf("state (-want +got):\n%s", diff)
	}

	// unassign and status changes chain too; an assignee who is not a
	// member is skipped and changes nothing.
	unassign := testRule(1, `[]`)
	unassign.Actions = []rules.Action{{Type: rules.ActionAssignAgent, UserID: ptr(int64(99))}, {Type: rules.ActionUnassign}}
	check := testRule(2, `[{"field":"conversation.assignee_id","operator":"not_exists"}]`)
	p = mustCompile(t, opts, unassign, check)
	plan = evaluate(t, p, incoming(payload))
	if diff := cmp.Diff([]int64{1, 2}, matchedIDs(plan)); diff != "" {
		t.Errorf("matched (-want +got):\n%s", diff)
	}
	if a := plan.Runs[0].Actions[0]; a.SkipReason != SkipNotAMember {
		t.Errorf("assign to a non-member: %+v", a)
	}

	// The caller's known state is read over the payload.
	p = mustCompile(t, opts, testRule(1, `[{"field":"conversation.status","operator":"equals","value":"snoozed"},{"field":"conversation.tags","operator":"in","value":["x"]}]`))
	in := incoming(payload)
	in.Conversation = ConversationState{Status: "snoozed", Tags: []string{"X"}}
	if !evaluate(t, p, in).Runs[0].Matched {
		t.Error("known state not read over the payload")
	}
	if in.Conversation.Tags[0] != "X" {
		t.Error("the caller's tags were modified")
	}

	// Setting what is already there is not a change.
	same := testRule(1, `[]`)
	same.Actions = []rules.Action{{Type: rules.ActionSetStatus, Status: ptr("open")}, {Type: rules.ActionAddTag, TagID: ptr(int64(6))}}
	p = mustCompile(t, opts, same)
	if plan := evaluate(t, p, incoming(payload)); plan.ConversationChanged {
		t.Errorf("no-op actions reported a change: %+v", plan.Conversation)
	}
}

func TestPlannedActions(t *testing.T) {
	t.Parallel()
	opts := CompileOptions{
		Tags:    []Tag{{ID: 5, Name: "VIP", ExternalID: "t-5"}, {ID: 6, Name: "billing"}},
		Members: []Member{{ID: 10, ExternalID: "agent-ann", Email: "ann@support.io"}, {ID: 11}},
	}
	snooze := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := testRule(1, `[]`)
	r.Actions = []rules.Action{
		{Type: rules.ActionAddTag, TagID: ptr(int64(5))},
		{Type: rules.ActionRemoveTag, TagID: ptr(int64(6))},
		{Type: rules.ActionAssignAgent, UserID: ptr(int64(10))},
		{Type: rules.ActionAssignAgent, UserID: ptr(int64(11))},
		{Type: rules.ActionUnassign},
		{Type: rules.ActionSetStatus, Status: ptr("snoozed"), SnoozeUntil: &snooze},
		{Type: rules.ActionSetPriority, Priority: ptr("high")},
		{Type: rules.ActionAddNote, Body: ptr("Note for {{contact.name}} ({{custom.unknown}})")},
		{Type: rules.ActionSendResponse, Body: ptr("Hi {{ contact.name }}, re: {{message.subject}}"), Subject: ptr("Re: {{message.subject}}")},
		{Type: rules.ActionSendWebhook, URL: ptr("https://hooks.example.com/x"), Headers: map[string]string{"X-Token": "t"}},
	}
	p := mustCompile(t, opts, r)
	plan := evaluate(t, p, incoming(`{"contact":{"name":"Ann <Lee>"},"message":{"subject":"Order \"4711\""}}`))
	got, err := json.Marshal(plan.Runs[0].Actions)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"add_tag","tag_id":5,"tag_name":"VIP","tag_external_id":"t-5"},` +
		`{"type":"remove_tag","tag_id":6,"tag_name":"billing","tag_external_id":null},` +
		`{"type":"assign_agent","user_id":10,"user_external_id":"agent-ann","user_email":"ann@support.io"},` +
		`{"type":"assign_agent","user_id":11,"user_external_id":null,"user_email":null},` +
		`{"type":"unassign"},` +
		`{"type":"set_status","status":"snoozed","snooze_until":"2026-12-01T09:00:00Z"},` +
		`{"type":"set_priority","priority":"high"},` +
		`{"type":"add_note","body":"Note for Ann \u003cLee\u003e ({{custom.unknown}})"},` +
		`{"type":"send_response","body":"Hi Ann \u003cLee\u003e, re: Order \"4711\"","subject":"Re: Order \"4711\""},` +
		`{"type":"send_webhook","url":"https://hooks.example.com/x","headers":{"X-Token":"t"}}]`
	if string(got) != want {
		t.Errorf("actions\n got %s\nwant %s", got, want)
	}
	for i, a := range plan.Runs[0].Actions {
		if a.Index != i {
			t.Errorf("action %d has index %d", i, a.Index)
		}
	}
}

func TestRolloutKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Input
		want string
	}{
		{Input{ConversationID: "c1", ContactID: "k", EventID: "e", Payload: json.RawMessage(`{"conversation":{"id":"p"}}`)}, "c1"},
		{Input{ContactID: "k", EventID: "e", Payload: json.RawMessage(`{"conversation":{"id":"p\u00e9"}}`)}, "pé"},
		{Input{ContactID: "k", EventID: "e", Payload: json.RawMessage(`{"conversation":{"id":12345678901234567890}}`)}, "12345678901234567890"},
		{Input{ContactID: "k", EventID: "e", Payload: json.RawMessage(`{"conversation":{"id":null}}`)}, "k"},
		{Input{EventID: "e", Payload: json.RawMessage(`{}`)}, "e"},
	}
	for _, tt := range tests {
		if got := RolloutKey(&tt.in); got != tt.want {
			t.Errorf("RolloutKey(%+v) = %q, want %q", tt.in, got, tt.want)
		}
		p := mustCompile(t, CompileOptions{}, testRule(1, `[]`))
		tt.in.Type, tt.in.Now = rules.TriggerIncoming, testNow
		if got := evaluate(t, p, &tt.in).RolloutKey; got != tt.want {
			t.Errorf("Plan.RolloutKey = %q, want %q", got, tt.want)
		}
	}
}

func TestBucketIsTheContractsHash(t *testing.T) {
	t.Parallel()
	// SHA-256("7:conv_1") = 1ac0c5a5 8f1bd41b...; 0x1ac0c5a58f1bd41b mod 100.
	if got := Bucket(7, "conv_1"); got != bucketByHand(7, "conv_1") {
		t.Errorf("Bucket = %d", got)
	}
	in := incoming(`{}`)
	for pct := 0; pct <= 100; pct += 10 {
		r := testRule(42, `[]`)
		r.RolloutPercentage = pct
		run := evaluate(t, mustCompile(t, CompileOptions{}, r), in).Runs[0]
		if want := Bucket(42, "conv_1") < pct; run.Matched != want {
			t.Errorf("pct %d: matched %v, want %v", pct, run.Matched, want)
		}
	}
}

func TestInvalidPayloadAndRules(t *testing.T) {
	t.Parallel()
	p := mustCompile(t, CompileOptions{}, testRule(1, `[]`))
	var plan Plan
	for _, payload := range []string{``, `{`, `{"a":}`, `[1,]`, `{"a":1}x`, `"\x01"`, `{"a":"\u12"}`} {
		if err := p.Evaluate(incoming(payload), &plan); err == nil {
			t.Errorf("payload %q accepted", payload)
		}
	}
	bad := testRule(1, `[{"field":"conversation.status","operator":"eq","value":"x"}]`)
	_, err := Compile([]rules.Rule{bad}, CompileOptions{})
	if err == nil || !strings.Contains(err.Error(), `rule 1: conditions[0].operator: unknown operator "eq"`) {
		t.Errorf("Compile error = %v", err)
	}
}

// TestPlanReuse checks that a reused Plan carries nothing from one event
// into the next.
func TestPlanReuse(t *testing.T) {
	t.Parallel()
	r := testRule(1, `[{"field":"conversation.tags","operator":"contains","value":"vip"}]`)
	adder := testRule(0, `[{"field":"custom.add","operator":"exists"}]`)
	adder.Actions = []rules.Action{{Type: rules.ActionAddTag, TagID: ptr(int64(5))}}
	p := mustCompile(t, CompileOptions{Tags: []Tag{{ID: 5, Name: "vip"}}}, adder, r)
	var plan Plan
	results := func(payload string) string {
		if err := p.Evaluate(incoming(payload), &plan); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(struct {
			M []int64
			C ConversationState
			F TraceEntry
		}{matchedIDs(&plan), plan.Conversation, plan.Runs[len(plan.Runs)-1].Failure})
		return string(b)
	}
	a, b := `{"custom":{"add":1},"conversation":{"tags":["x"]}}`, `{"conversation":{"tags":["Y"]}}`
	first := results(a)
	second := results(b)
	if results(a) != first || results(b) != second || first == second {
		t.Errorf("results depend on the previous event: %s / %s", first, second)
	}
}

// TestAllocations checks the steady state of a worker: evaluating an event
// into a reused Plan allocates at most 10 times, whatever the number of
// rules.
func TestAllocations(t *testing.T) { // not parallel: AllocsPerRun
	for _, n := range []int{10, 1000} {
		p, err := Compile(benchRules(n, true), CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		in := benchInput()
		var plan Plan
		allocs := testing.AllocsPerRun(50, func() { _ = p.Evaluate(in, &plan) })
		if allocs > 10 {
			t.Errorf("%d rules: %v allocations per event", n, allocs)
		}
	}
}

// bucketByHand restates §6 independently of the implementation.
func bucketByHand(ruleID int64, key string) int {
	sum := sha256Sum([]byte(strings.Join([]string{itoa(ruleID), key}, ":")))
	var v uint64
	for _, b := range sum[:8] {
		v = v<<8 | uint64(b)
	}
	return int(v % 100)
}

// TestConcurrentEvaluate shares one Program between goroutines, each with
// its own Plan, as the workers do (run with -race).
func TestConcurrentEvaluate(t *testing.T) {
	t.Parallel()
	p := mustCompile(t, CompileOptions{Tags: []Tag{{ID: 1, Name: "vip"}}, Members: []Member{{ID: 10}}}, fuzzRules()...)
	payloads := []string{
		`{"conversation":{"status":"open","tags":["a"]},"contact":{"email":"a@acme.com","name":"Ann"}}`,
		`{"message":{"subject":"Re: 1","body":"<p>refund</p>","from_email":"b@acme.com"},"custom":{"n":"3"}}`,
	}
	want := make([]string, len(payloads))
	for i, pl := range payloads {
		want[i] = summary(evaluate(t, p, incoming(pl)))
	}
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var plan Plan
			for k := 0; k < 50; k++ {
				i := (g + k) % len(payloads)
				if err := p.Evaluate(incoming(payloads[i]), &plan); err != nil {
					done <- err.Error()
					return
				}
				if got := summary(&plan); got != want[i] {
					done <- got
					return
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
