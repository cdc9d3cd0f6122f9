package httpapi_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/engine"
)

// Dry-runs (docs/concepts.md#trying-a-rule) through the router: the engine's evaluation with
// the workspace's directory, and nothing persisted.

// dryRun is a dry-run answer.
type dryRun struct {
	Matched        bool             `json:"matched"`
	Reason         *string          `json:"reason"`
	Trace          []traceEntry     `json:"trace"`
	RolloutBucket  int              `json:"rollout_bucket"`
	WouldExecute   []map[string]any `json:"would_execute"`
	EffectiveState effectiveState   `json:"effective_state"`
}

type effectiveState struct {
	RuleID          int64   `json:"rule_id"`
	IsActive        bool    `json:"is_active"`
	IsSnoozed       bool    `json:"is_snoozed"`
	SnoozedUntil    *string `json:"snoozed_until"`
	GlobalPaused    bool    `json:"global_paused"`
	ScheduleActive  bool    `json:"schedule_active"`
	EffectiveActive bool    `json:"effective_active"`
}

var dryRunFields = []string{"effective_state", "matched", "reason", "rollout_bucket", "trace", "would_execute"}

// dryRun posts body to path as A's supervisor and decodes the 200.
func (e *env) dryRun(t testing.TB, path string, body any) dryRun {
	t.Helper()
	r := e.do(t, "POST", path, e.A.Supervisor.Token, body).expect(t, 200)
	if diff := cmp.Diff(dryRunFields, keys(t, r.Body)); diff != "" {
		t.Errorf("dry-run fields (-contract +got):\n%s", diff)
	}
	var res dryRun
	r.decode(t, &res)
	return res
}

// nothingPersisted checks that no event, run or counter came out of the
// dry-runs before it.
func (e *env) nothingPersisted(t *testing.T, rs ...rule) {
	t.Helper()
	if p := e.listEvents(t, ""); p.Total != 0 {
		t.Errorf("a dry-run stored %d events", p.Total)
	}
	if p := e.listRuns(t, ""); p.Total != 0 {
		t.Errorf("a dry-run stored %d runs", p.Total)
	}
	for _, r := range rs {
		got := e.getRule(t, e.A, r.ID)
		if got.MatchCount != 0 || got.AppliedCount != 0 || got.LastMatchedAt != nil || got.LastAppliedAt != nil ||
			got.UpdatedAt != r.UpdatedAt {
			t.Errorf("a dry-run moved rule %d: %+v", r.ID, got)
		}
	}
}

func reason(s string) *string { return &s }

func TestDryRunSavedRule(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		first := `{"field": "message.subject", "operator": "contains", "value": "REFUND"}`
		r := e.newRule(t, e.A, with(ruleBody(),
			"conditions", json.RawMessage(`[`+first+`, {"any": [
				{"field": "contact.email", "operator": "ends_with", "value": "@example.com"},
				{"field": "custom.plan", "operator": "equals", "value": "vip"}]}]`),
			"actions", []any{
				map[string]any{"type": "add_note", "body": "{{contact.name}} asked: {{message.subject}} {{unknown.var}}"},
				map[string]any{"type": "send_response", "body": "Hi {{contact.name}}", "subject": "Re: {{message.subject}}"},
				map[string]any{"type": "set_priority", "priority": "high"},
			}))
		payload := map[string]any{
			"contact":      map[string]any{"name": "Ann", "email": "ann@example.com"},
			"message":      map[string]any{"subject": "Refund please"},
			"conversation": map[string]any{"id": "pc-9"},
		}
		e.clock.Advance(time.Minute)

		res := e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload, "conversation_id": "conv-42"})
		if !res.Matched || res.Reason != nil {
			t.Errorf("matched %v reason %v, want a match", res.Matched, res.Reason)
		}
		if res.RolloutBucket != engine.Bucket(r.ID, "conv-42") {
			t.Errorf("rollout_bucket %d, want engine.Bucket(%d, conv-42) = %d", res.RolloutBucket, r.ID, engine.Bucket(r.ID, "conv-42"))
		}
		if diff := cmp.Diff([]map[string]any{
			{"type": "add_note", "body": "Ann asked: Refund please {{unknown.var}}"},
			{"type": "send_response", "body": "Hi Ann", "subject": "Re: Refund please"},
			{"type": "set_priority", "priority": "high"},
		}, res.WouldExecute); diff != "" {
			t.Errorf("would_execute (-want +got):\n%s", diff)
		}
		if len(res.Trace) == 0 {
			t.Fatalf("no trace")
		}
		if diff := cmp.Diff(traceEntry{Path: "conditions[0]", Condition: json.RawMessage(compact(t, first)),
			Actual: json.RawMessage(`"Refund please"`), Result: true}, res.Trace[0]); diff != "" {
			t.Errorf("trace[0] (-want +got):\n%s", diff)
		}
		paths := map[string]traceEntry{}
		for _, te := range res.Trace {
			paths[te.Path] = te
		}
		if te, ok := paths["conditions[1].any[0]"]; !ok || string(te.Actual) != `"ann@example.com"` || !te.Result {
			t.Errorf("trace of conditions[1].any[0]: %+v (trace %+v)", te, res.Trace)
		}
		if te, ok := paths["conditions[1]"]; !ok || !te.Result {
			t.Errorf("trace of the group conditions[1]: %+v", te)
		}
		if diff := cmp.Diff(effectiveState{RuleID: r.ID, IsActive: true, ScheduleActive: true, EffectiveActive: true}, res.EffectiveState); diff != "" {
			t.Errorf("effective_state (-want +got):\n%s", diff)
		}

		// The rollout key falls back to the payload's conversation, then
		// the contact.
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload})
		if res.RolloutBucket != engine.Bucket(r.ID, "pc-9") {
			t.Errorf("rollout_bucket from payload.conversation.id: %d, want %d", res.RolloutBucket, engine.Bucket(r.ID, "pc-9"))
		}
		noConv := with(payload, "conversation", absent)
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": noConv, "contact_id": "k-7"})
		if res.RolloutBucket != engine.Bucket(r.ID, "k-7") {
			t.Errorf("rollout_bucket from contact_id: %d, want %d", res.RolloutBucket, engine.Bucket(r.ID, "k-7"))
		}

		// Not matching: the reason, the trace with what was read, nothing
		// to execute.
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID,
			"event_payload": with(payload, "message", map[string]any{"subject": "Hello"})})
		if res.Matched || res.Reason == nil || *res.Reason != "conditions_not_met" || len(res.WouldExecute) != 0 {
			t.Errorf("non-matching dry-run: %+v", res)
		}
		if len(res.Trace) == 0 || string(res.Trace[0].Actual) != `"Hello"` || res.Trace[0].Result {
			t.Errorf("non-matching trace: %+v", res.Trace)
		}
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload,
			"event_type": "status.closed"})
		if res.Matched || !cmp.Equal(res.Reason, reason("trigger_mismatch")) {
			t.Errorf("another event type: matched %v reason %v, want trigger_mismatch", res.Matched, res.Reason)
		}
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload,
			"event_type": "messages.incoming"})
		if !res.Matched {
			t.Errorf("the rule's own event type: %+v", res)
		}

		// The effective state is reported, not applied: an inactive rule
		// of a paused workspace still evaluates.
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%d", r.ID), e.A.Admin.Token, map[string]any{"is_active": false}).expect(t, 200)
		e.do(t, "PUT", "/v1/automation/control", e.A.Admin.Token, map[string]any{"is_paused": true}).expect(t, 200)
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload})
		if !res.Matched || res.EffectiveState.IsActive || !res.EffectiveState.GlobalPaused || res.EffectiveState.EffectiveActive {
			t.Errorf("inactive rule, paused workspace: %+v", res)
		}
		// Rollout is evaluated.
		e.do(t, "PUT", fmt.Sprintf("/v1/automation/rules/%d/rollout", r.ID), e.A.Admin.Token, map[string]any{"rollout_percentage": 0}).expect(t, 200)
		res = e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload, "conversation_id": "conv-42"})
		if res.Matched || !cmp.Equal(res.Reason, reason("rollout_excluded")) || res.RolloutBucket != engine.Bucket(r.ID, "conv-42") {
			t.Errorf("rollout 0: %+v", res)
		}

		e.nothingPersisted(t, e.getRule(t, e.A, r.ID))
		// Nor do dry-runs leave work for the workers.
		e.process(t)
		e.nothingPersisted(t)
	})
}

func TestDryRunUnsavedRule(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		saved := e.newRule(t, e.A, ruleBody())
		payload := map[string]any{"contact": map[string]any{"name": "Ann"}, "message": map[string]any{"subject": "Refund please"}}
		unsaved := map[string]any{
			"trigger_type":  "messages.incoming",
			"conditions":    []any{map[string]any{"field": "message.subject", "operator": "starts_with", "value": "refund"}},
			"actions":       []any{map[string]any{"type": "add_note", "body": "for {{contact.name}}: {{nope}}"}},
			"event_payload": payload,
		}
		res := e.dryRun(t, "/v1/automation/rules/dry-run", with(unsaved, "conversation_id", "conv-42"))
		if !res.Matched || res.RolloutBucket != engine.Bucket(0, "conv-42") {
			t.Errorf("unsaved rule: matched %v bucket %d, want a match in engine.Bucket(0, conv-42) = %d",
				res.Matched, res.RolloutBucket, engine.Bucket(0, "conv-42"))
		}
		if diff := cmp.Diff([]map[string]any{{"type": "add_note", "body": "for Ann: {{nope}}"}}, res.WouldExecute); diff != "" {
			t.Errorf("would_execute (-want +got):\n%s", diff)
		}
		if res.EffectiveState.RuleID != 0 {
			t.Errorf("unsaved rule's effective_state: %+v", res.EffectiveState)
		}
		// Actions are optional; conditions default to none.
		res = e.dryRun(t, "/v1/automation/rules/dry-run", with(unsaved, "actions", absent, "conditions", absent))
		if !res.Matched || len(res.WouldExecute) != 0 || len(res.Trace) != 0 {
			t.Errorf("unsaved rule without actions or conditions: %+v", res)
		}
		res = e.dryRun(t, "/v1/automation/rules/dry-run", with(unsaved, "rollout_percentage", 0))
		if res.Matched || !cmp.Equal(res.Reason, reason("rollout_excluded")) {
			t.Errorf("unsaved rule at 0%%: %+v", res)
		}
		res = e.dryRun(t, "/v1/automation/rules/dry-run", with(unsaved, "event_type", "messages.response"))
		if res.Matched || !cmp.Equal(res.Reason, reason("trigger_mismatch")) {
			t.Errorf("unsaved rule, another event type: %+v", res)
		}
		res = e.dryRun(t, "/v1/automation/rules/dry-run", with(unsaved, "event_payload", map[string]any{}))
		if res.Matched || !cmp.Equal(res.Reason, reason("conditions_not_met")) || len(res.Trace) != 1 || string(res.Trace[0].Actual) != "null" {
			t.Errorf("unsaved rule, empty payload: %+v", res)
		}

		byID := map[string]any{"rule_id": saved.ID, "event_payload": payload}
		rows := []vcase{
			{name: "rule_id and trigger_type", body: with(byID, "trigger_type", "messages.incoming"), status: 422, fields: []string{"rule_id"}},
			{name: "rule_id and conditions", body: with(byID, "conditions", []any{}), status: 422, fields: []string{"rule_id"}},
			{name: "rule_id and actions", body: with(byID, "actions", []any{}), status: 422, fields: []string{"rule_id"}},
			{name: "rule_id and rollout", body: with(byID, "rollout_percentage", 50), status: 422, fields: []string{"rule_id"}},
			{name: "unknown rule_id", body: with(byID, "rule_id", 987654), status: 422, fields: []string{"rule_id"}},
			{name: "rule_id of another workspace", body: with(byID, "rule_id", "{otherRule}"), status: 422, fields: []string{"rule_id"}},
			{name: "rule_id not a number", body: with(byID, "rule_id", "abc"), status: 422, fields: []string{"rule_id"}},
			{name: "saved, missing event_payload", body: with(byID, "event_payload", absent), status: 422, fields: []string{"event_payload"}},
			{name: "saved, null event_payload", body: with(byID, "event_payload", nil), status: 422, fields: []string{"event_payload"}},
			{name: "saved, event_payload a list", body: with(byID, "event_payload", []any{}), status: 422, fields: []string{"event_payload"}},
			{name: "saved, unknown event_type", body: with(byID, "event_type", "messages.unknown"), status: 422, fields: []string{"event_type"}},
			{name: "unsaved, missing event_payload", body: with(unsaved, "event_payload", absent), status: 422, fields: []string{"event_payload"}},
			{name: "unsaved, event_payload a string", body: with(unsaved, "event_payload", "{}"), status: 422, fields: []string{"event_payload"}},
			{name: "unsaved, no trigger_type", body: with(unsaved, "trigger_type", absent), status: 422, fields: []string{"trigger_type"}},
			{name: "unsaved, unknown trigger_type", body: with(unsaved, "trigger_type", "messages.unknown"), status: 422, fields: []string{"trigger_type"}},
			{name: "unsaved, bad operator", body: with(unsaved, "conditions", []any{map[string]any{"field": "message.subject", "operator": "eq", "value": "x"}}),
				status: 422, fields: []string{"conditions[0].operator"}},
			{name: "unsaved, rollout over 100", body: with(unsaved, "rollout_percentage", 101), status: 422, fields: []string{"rollout_percentage"}},
			{name: "unsaved, empty actions", body: with(unsaved, "actions", []any{}), status: 422, fields: []string{"actions"}},
			{name: "unsaved, unknown action", body: with(unsaved, "actions", []any{map[string]any{"type": "explode"}}), status: 422},
			{name: "nothing", body: map[string]any{}, status: 422, fields: []string{"event_payload"}},
			{name: "unknown field", body: with(byID, "rule", 1), status: 400, fields: []string{"rule"}},
			{name: "name is not a dry-run field", body: with(unsaved, "name", "x"), status: 400, fields: []string{"name"}},
			{name: "malformed JSON", body: `{"rule_id": `, status: 400},
			{name: "agent", body: byID, status: 403, token: "{agent}"},
		}
		for i := range rows {
			rows[i].method, rows[i].path = "POST", "/v1/automation/rules/dry-run"
			if rows[i].token == "{agent}" {
				rows[i].token = e.A.Agent.Token
			}
		}
		other := e.newRule(t, e.B, ruleBody())
		for i := range rows {
			if m, ok := rows[i].body.(map[string]any); ok && m["rule_id"] == "{otherRule}" {
				rows[i].body = with(m, "rule_id", other.ID)
			}
		}
		// t.Run returns once every parallel row has finished.
		t.Run("validation", func(t *testing.T) { runCases(t, e, rows, nil) })
		e.nothingPersisted(t, saved)
	})
}

func TestRuleTest(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, with(ruleBody(), "trigger_type", "status.closed",
			"conditions", []any{map[string]any{"field": "contact.email", "operator": "exists"}},
			"actions", []any{map[string]any{"type": "add_note", "body": "closed for {{contact.email}}"}}))
		path := fmt.Sprintf("/v1/automation/rules/%d/test", r.ID)
		payload := map[string]any{"contact": map[string]any{"email": "ann@example.com"}}

		// Evaluated as an event of the rule's own trigger, whatever
		// event_type says; the same answer as a dry-run of that type.
		res := e.dryRun(t, path, map[string]any{"event_payload": payload, "event_type": "messages.incoming", "conversation_id": "c-3"})
		if !res.Matched || res.Reason != nil || res.RolloutBucket != engine.Bucket(r.ID, "c-3") {
			t.Errorf("/test: %+v", res)
		}
		if diff := cmp.Diff([]map[string]any{{"type": "add_note", "body": "closed for ann@example.com"}}, res.WouldExecute); diff != "" {
			t.Errorf("would_execute (-want +got):\n%s", diff)
		}
		viaDryRun := e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload,
			"event_type": "status.closed", "conversation_id": "c-3"})
		if diff := cmp.Diff(viaDryRun, res); diff != "" {
			t.Errorf("/test differs from a dry-run with the rule's trigger (-dry-run +test):\n%s", diff)
		}
		mismatch := e.dryRun(t, "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload,
			"event_type": "messages.incoming"})
		if mismatch.Matched || !cmp.Equal(mismatch.Reason, reason("trigger_mismatch")) {
			t.Errorf("dry-run with another type: %+v", mismatch)
		}
		res = e.dryRun(t, path, map[string]any{"event_payload": map[string]any{}})
		if res.Matched || !cmp.Equal(res.Reason, reason("conditions_not_met")) {
			t.Errorf("/test without the field: %+v", res)
		}

		e.do(t, "POST", path, e.A.Supervisor.Token, map[string]any{}).expectProblem(t, 422, "event_payload")
		e.do(t, "POST", path, e.A.Supervisor.Token, map[string]any{"event_payload": payload, "rule_id": r.ID}).problem(t, 400)
		e.do(t, "POST", path, e.A.Agent.Token, map[string]any{"event_payload": payload}).problem(t, 403)
		e.do(t, "POST", "/v1/automation/rules/987654/test", e.A.Supervisor.Token, map[string]any{"event_payload": payload}).problem(t, 404)
		e.do(t, "POST", path, e.B.Admin.Token, map[string]any{"event_payload": payload}).problem(t, 404)
		e.nothingPersisted(t, r)
	})
}

func TestDryRunContactList(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		list := e.newList(t, e.A)
		e.do(t, "PUT", fmt.Sprintf("/v1/contact-lists/%d/members", list), e.A.Admin.Token,
			map[string]any{"add": []any{"vip@example.com"}}).expect(t, 200)
		in := map[string]any{"type": "contact_list", "operator": "in", "list_id": list}
		r := e.newRule(t, e.A, with(ruleBody(), "conditions", []any{in}))
		try := func(body map[string]any, sender map[string]any) bool {
			t.Helper()
			return e.dryRun(t, "/v1/automation/rules/dry-run", with(body, "event_payload", sender)).Matched
		}
		saved := map[string]any{"rule_id": r.ID}
		unsavedIn := map[string]any{"trigger_type": "messages.incoming", "conditions": []any{in}}
		unsavedNotIn := map[string]any{"trigger_type": "messages.incoming", "conditions": []any{with(in, "operator", "not_in")}}
		vip := map[string]any{"contact": map[string]any{"email": "VIP@Example.com"}}
		vipSender := map[string]any{"message": map[string]any{"from_email": "vip@example.com"}}
		other := map[string]any{"contact": map[string]any{"email": "other@example.com"}}
		for _, c := range []struct {
			name   string
			body   map[string]any
			sender map[string]any
			want   bool
		}{
			{"saved, member (any case)", saved, vip, true},
			{"saved, member as the message's sender", saved, vipSender, true},
			{"saved, not a member", saved, other, false},
			{"saved, no sender", saved, map[string]any{}, false},
			{"unsaved in, member", unsavedIn, vip, true},
			{"unsaved in, not a member", unsavedIn, other, false},
			{"unsaved not_in, member", unsavedNotIn, vip, false},
			{"unsaved not_in, not a member", unsavedNotIn, other, true},
		} {
			if got := try(c.body, c.sender); got != c.want {
				t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
			}
		}
		// Membership is read when the dry-run runs, not when the rule was
		// compiled.
		e.do(t, "PUT", fmt.Sprintf("/v1/contact-lists/%d/members", list), e.A.Admin.Token,
			map[string]any{"add": []any{"other@example.com"}, "remove": []any{"vip@example.com"}}).expect(t, 200)
		if !try(saved, other) || try(saved, vip) {
			t.Errorf("a dry-run does not see the list's new members")
		}
		e.nothingPersisted(t, r)
	})
}

// TestDryRunUnsavedRuleReferences: an unsaved rule is validated like a
// saved one, so the tags and contact lists it names must exist in the
// workspace (docs/concepts.md#conditions, #actions: 422), not evaluate as empty ones.
func TestDryRunUnsavedRuleReferences(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		otherTag, otherList := e.newTag(t, e.B), e.newList(t, e.B)
		payload := map[string]any{"contact": map[string]any{"email": "ann@example.com"}}
		check := func(what string, body map[string]any, field string) {
			t.Helper()
			r := e.do(t, "POST", "/v1/automation/rules/dry-run", e.A.Supervisor.Token, body)
			if r.Status != 422 {
				t.Errorf("%s: %s, want 422 naming %s", what, r, field)
				return
			}
			r.expectProblem(t, 422, field)
		}
		for name, id := range map[string]int64{"another workspace's tag": otherTag, "an unknown tag": 987654} {
			check(name, map[string]any{"trigger_type": "messages.incoming", "event_payload": payload,
				"actions": []any{map[string]any{"type": "add_note", "body": "x"}, map[string]any{"type": "add_tag", "tag_id": id}},
			}, "actions[1].tag_id")
		}
		for name, id := range map[string]int64{"another workspace's list": otherList, "an unknown list": 987654} {
			check(name, map[string]any{"trigger_type": "messages.incoming", "event_payload": payload,
				"conditions": []any{map[string]any{"not": map[string]any{"type": "contact_list", "operator": "in", "list_id": id}}},
			}, "conditions[0].not.list_id")
		}
	})
}
