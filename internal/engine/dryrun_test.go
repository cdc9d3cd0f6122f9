package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

func TestDryRunTrace(t *testing.T) {
	t.Parallel()
	conds := `[{"field":"conversation.status","operator":"equals","value":"open"},
		{"any":[{"field":"contact.email","operator":"domain","value":"acme.com"},{"not":{"field":"custom.vip","operator":"exists"}}]},
		{"type":"body_contains","value":"refund"}]`
	r := testRule(0, conds) // unsaved
	payload := `{"conversation":{"status":"Open"},"contact":{"email":"ann@other.org"},"custom":{"vip":true},
		"message":{"body":"<p>I want a <i>refund</i></p>"}}`
	res, err := DryRun(&r, incoming(payload), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	want := []TraceEntry{
		{Path: "conditions[0]", Condition: raw(`{"field":"conversation.status","operator":"equals","value":"open"}`), Actual: raw(`"Open"`), Result: true},
		{Path: "conditions[1]", Condition: raw(`{"any":[{"field":"contact.email","operator":"domain","value":"acme.com"},{"not":{"field":"custom.vip","operator":"exists"}}]}`), Result: false},
		{Path: "conditions[1].any[0]", Condition: raw(`{"field":"contact.email","operator":"domain","value":"acme.com"}`), Actual: raw(`"ann@other.org"`), Result: false},
		{Path: "conditions[1].any[1]", Condition: raw(`{"not":{"field":"custom.vip","operator":"exists"}}`), Result: false},
		{Path: "conditions[1].any[1].not", Condition: raw(`{"field":"custom.vip","operator":"exists"}`), Actual: raw(`true`), Result: true},
		{Path: "conditions[2]", Condition: raw(`{"type":"body_contains","value":"refund"}`), Actual: raw(`"I want a refund"`), Result: true},
	}
	if diff := cmp.Diff(want, res.Trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if res.Matched || res.Reason != ReasonConditionsNotMet || res.RolloutBucket != Bucket(0, "conv_1") || len(res.WouldExecute) != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestDryRunReasons(t *testing.T) {
	t.Parallel()
	assigned := testRule(7, `[{"field":"conversation.status","operator":"equals","value":"open"}]`)
	assigned.TriggerType, assigned.TriggerData = rules.TriggerAssigned, ptr("anyone")
	assigned.IsActive = false // dry-run reports the effective state, never applies it
	assigned.SnoozedUntil = ptr(testNow.Add(time.Hour))
	payload := `{"conversation":{"status":"open","assignee_id":"a1"},"contact":{"name":"Ann"}}`
	tests := []struct {
		name    string
		mutate  func(*rules.Rule, *Input)
		matched bool
		reason  Reason
	}{
		{"own trigger by default", func(r *rules.Rule, in *Input) { in.Type = "" }, true, ReasonNone},
		{"trigger mismatch", func(r *rules.Rule, in *Input) { in.Type = rules.TriggerIncoming }, false, ReasonTriggerMismatch},
		{"trigger data mismatch", func(r *rules.Rule, in *Input) {
			in.Type, in.Payload = "", json.RawMessage(`{"conversation":{"status":"open"}}`)
		}, false, ReasonTriggerDataMismatch},
		{"conditions", func(r *rules.Rule, in *Input) {
			in.Type, in.Payload = "", json.RawMessage(`{"conversation":{"status":"closed","assignee_id":"a1"}}`)
		}, false, ReasonConditionsNotMet},
		{"rollout", func(r *rules.Rule, in *Input) { in.Type, r.RolloutPercentage = "", 0 }, false, ReasonRolloutExcluded},
		{"no cooldown nor loop prevention", func(r *rules.Rule, in *Input) {
			in.Type, r.CooldownSecs = "", 600
			in.LastMatched, in.Hops, in.CausedByRules = map[int64]time.Time{7: testNow}, 9, []int64{7}
		}, true, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := assigned
			in := incoming(payload)
			in.Paused = true
			tt.mutate(&r, in)
			res, err := DryRun(&r, in, CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != tt.matched || res.Reason != tt.reason {
				t.Errorf("matched %v reason %q, want %v %q", res.Matched, res.Reason, tt.matched, tt.reason)
			}
			if len(res.Trace) != 1 {
				t.Errorf("trace %v", res.Trace)
			}
			st := res.EffectiveState
			if st.RuleID != 7 || st.IsActive || !st.IsSnoozed || !st.GlobalPaused || !st.ScheduleActive || st.EffectiveActive {
				t.Errorf("effective state %+v", st)
			}
		})
	}
}

func TestDryRunJSON(t *testing.T) {
	t.Parallel()
	r := testRule(3, `[{"field":"contact.name","operator":"exists"}]`)
	r.Actions = []rules.Action{{Type: rules.ActionSendResponse, Body: ptr("Hi {{contact.name}} {{contact.nickname}}")}}
	p := mustCompile(t, CompileOptions{}, r)
	res, ok, err := p.DryRun(3, incoming(`{"contact":{"name":"Ann"}}`))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	got, _ := json.Marshal(res)
	want := `{"matched":true,"reason":null,"trace":[{"path":"conditions[0]","condition":{"field":"contact.name","operator":"exists"},"actual":"Ann","result":true}],` +
		`"rollout_bucket":` + itoa(int64(Bucket(3, "conv_1"))) + `,"would_execute":[{"type":"send_response","body":"Hi Ann {{contact.nickname}}"}],` +
		`"effective_state":{"rule_id":3,"is_active":true,"is_snoozed":false,"snoozed_until":null,"global_paused":false,"schedule_active":true,"effective_active":true}}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	res, _, _ = p.DryRun(3, incoming(`{}`))
	got, _ = json.Marshal(res)
	if !json.Valid(got) || res.Reason != ReasonConditionsNotMet || string(res.Trace[0].Actual) != "" {
		t.Errorf("JSON %s", got)
	}
	if _, ok, _ := p.DryRun(4, incoming(`{}`)); ok {
		t.Error("DryRun of an unknown rule")
	}
	if _, err := DryRun(&r, incoming(`{`), CompileOptions{}); err == nil {
		t.Error("invalid payload accepted")
	}
}

// TestDryRunAgreesWithEvaluate checks that dry-run and evaluation decide
// alike for effective rules without cooldown or loops.
func TestDryRunAgreesWithEvaluate(t *testing.T) {
	t.Parallel()
	for i, conds := range []string{
		`[]`, `[{"field":"custom.n","operator":"gt","value":3}]`,
		`[{"any":[{"field":"custom.n","operator":"lt","value":3},{"field":"custom.s","operator":"matches","value":"^a"}]}]`,
		`[{"not":{"field":"custom.s","operator":"in","value":["abc","x"]}}]`,
	} {
		for _, payload := range []string{`{}`, `{"custom":{"n":5,"s":"abc"}}`, `{"custom":{"n":"1","s":"zzz"}}`} {
			r := testRule(int64(i+1), conds)
			r.RolloutPercentage = 50
			p := mustCompile(t, CompileOptions{}, r)
			run := evaluate(t, p, incoming(payload)).Runs[0]
			res, _, err := p.DryRun(r.ID, incoming(payload))
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched != run.Matched || res.Reason != run.Reason {
				t.Errorf("%s on %s: dry-run %v %q, evaluate %v %q", conds, payload, res.Matched, res.Reason, run.Matched, run.Reason)
			}
		}
	}
}
