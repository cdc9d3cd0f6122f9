package engine

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// fuzzRules exercise every operator, groups, typed conditions, chained
// actions and templates.
func fuzzRules() []rules.Rule {
	conds := []string{
		`[{"field":"conversation.status","operator":"equals","value":"open"},{"field":"conversation.tags","operator":"not_contains","value":"vip"}]`,
		`[{"any":[{"field":"message.subject","operator":"matches","value":"(?s)re:.*\\d"},{"field":"contact.email","operator":"domain","value":"acme.com"}]}]`,
		`[{"not":{"field":"custom.n","operator":"gte","value":"10"}},{"field":"custom.t","operator":"lt","value":"2026-01-01T00:00:00Z"}]`,
		`[{"field":"conversation.tags","operator":"contains","value":"vip"},{"field":"custom.list","operator":"in","value":["a",1,true]}]`,
		`[{"type":"body_contains","value":"refund"},{"type":"from_email","operator":"domain","value":"acme.com"}]`,
		`[{"type":"subject_contains","value":"urgent"},{"type":"contact_list","operator":"not_in","list_id":3}]`,
		`[{"field":"conversation.assignee_id","operator":"not_exists"},{"field":"message.from_email","operator":"ends_with","value":".com"}]`,
		`[{"all":[{"field":"custom.n","operator":"not_in","value":[1,2]},{"field":"event.occurred_at","operator":"gt","value":"2020-01-01T00:00:00Z"}]},{"field":"contact.name","operator":"starts_with","value":"a"}]`,
	}
	rs := make([]rules.Rule, len(conds))
	for i, c := range conds {
		rs[i] = testRule(int64(i+1), c)
		rs[i].RolloutPercentage = 20 + 10*i
		rs[i].CooldownSecs = 60 * (i % 2)
		rs[i].StopOnMatch = i == 6
	}
	rs[0].Actions = []rules.Action{{Type: rules.ActionAddTag, TagID: ptr(int64(1))}, {Type: rules.ActionSetStatus, Status: ptr("closed")}}
	rs[2].Actions = []rules.Action{{Type: rules.ActionAssignAgent, UserID: ptr(int64(10))}, {Type: rules.ActionRemoveTag, TagID: ptr(int64(1))}}
	rs[4].Actions = []rules.Action{{Type: rules.ActionSendResponse, Body: ptr("Hi {{contact.name}}, {{message.subject}} {{x.y}}"), Subject: ptr("Re: {{{message.subject}}}")}}
	rs[5].Actions = []rules.Action{{Type: rules.ActionUnassign}, {Type: rules.ActionSetPriority, Priority: ptr("high")}}
	return rs
}

// FuzzEvaluate evaluates random payloads against fixed rules: it must
// never panic, must be deterministic, must not depend on what a reused
// Plan held before, and dry-run must agree with it on conditions.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"conversation":{"status":"OPEN","tags":["x"]},"contact":{"email":"a@acme.com","name":"Ann"}}`))
	f.Add([]byte(`{"message":{"subject":"Re: 42","body":"<p>refund</p>","from_email":"b@acme.com"},"custom":{"n":"3","t":"2025-05-05T05:05:05Z","list":[1]}}`))
	f.Add([]byte(`[]`))
	opts := CompileOptions{Tags: []Tag{{ID: 1, Name: "vip"}}, Members: []Member{{ID: 10, ExternalID: "ann"}}}
	p, err := Compile(fuzzRules(), opts)
	if err != nil {
		f.Fatal(err)
	}
	var reused Plan
	f.Fuzz(func(t *testing.T, payload []byte) {
		in := incoming("")
		in.Payload = payload
		in.ContactLists = []int64{3}
		in.LastMatched = map[int64]time.Time{2: testNow.Add(-30 * time.Second)}
		var fresh Plan
		errFresh := p.Evaluate(in, &fresh)
		errReused := p.Evaluate(in, &reused)
		if (errFresh == nil) != json.Valid(payload) || (errReused == nil) != (errFresh == nil) {
			t.Fatalf("errors %v / %v for valid=%v", errFresh, errReused, json.Valid(payload))
		}
		if errFresh != nil {
			return
		}
		a, b := summary(&fresh), summary(&reused)
		if a != b {
			t.Fatalf("not deterministic:\n%s\n%s", a, b)
		}
		for _, run := range fresh.Runs {
			if run.Reason == ReasonConditionsNotMet && (run.Failure.Path == "" || (run.Failure.Actual != nil && !json.Valid(run.Failure.Actual))) {
				t.Fatalf("bad failure %+v", run.Failure)
			}
			if _, err := json.Marshal(run.Actions); err != nil {
				t.Fatal(err)
			}
		}
		for id := int64(1); id <= int64(len(p.rules)); id++ {
			res, _, err := p.DryRun(id, in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(res)
			if err != nil || !json.Valid(out) {
				t.Fatalf("dry-run JSON: %v", err)
			}
		}
	})
}

// summary renders a Plan comparably.
func summary(p *Plan) string {
	c := p.Conversation
	s := fmt.Sprintf("key=%q paused=%v changed=%v status=%q priority=%q tags=%q", p.RolloutKey, p.Paused, p.ConversationChanged, c.Status, c.Priority, c.Tags)
	if c.AssigneeID != nil {
		s += " assignee=" + *p.Conversation.AssigneeID
	}
	for _, r := range p.Runs {
		acts, _ := json.Marshal(r.Actions)
		s += fmt.Sprintf("\n%d %v %q %s %s %s %s", r.Rule.ID, r.Matched, r.Reason, r.Failure.Path, r.Failure.Condition, r.Failure.Actual, acts)
	}
	return s
}
