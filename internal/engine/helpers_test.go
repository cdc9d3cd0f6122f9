package engine

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

var (
	testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday
)

// testRule returns a valid, active rule of trigger messages.incoming with
// the given conditions and one note action.
func testRule(id int64, conds string) rules.Rule {
	return rules.Rule{
		ID: id, Name: fmt.Sprintf("rule %d", id), IsActive: true,
		TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(conds),
		Actions:           []rules.Action{{Type: rules.ActionAddNote, Body: ptr("note {{contact.name}}")}},
		Priority:          int(id),
		RolloutPercentage: 100,
	}
}

// mustCompile compiles rules, validating each first as the store does.
func mustCompile(t testing.TB, opts CompileOptions, rs ...rules.Rule) *Program {
	t.Helper()
	for i := range rs {
		if errs := rs[i].Validate(); len(errs) > 0 {
			t.Fatalf("rule %d invalid: %v", rs[i].ID, errs)
		}
	}
	p, err := Compile(rs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// incoming returns an Input of a messages.incoming event with payload.
func incoming(payload string) *Input {
	return &Input{
		EventID: "ev_1", Type: rules.TriggerIncoming, Source: "api", ChannelSource: "email",
		OccurredAt: testNow.Add(-time.Minute), ConversationID: "conv_1",
		Payload: json.RawMessage(payload), Now: testNow,
	}
}

// evaluate evaluates in with p and fails the test on error.
func evaluate(t testing.TB, p *Program, in *Input) *Plan {
	t.Helper()
	var plan Plan
	if err := p.Evaluate(in, &plan); err != nil {
		t.Fatal(err)
	}
	return &plan
}

// matchedIDs lists the ids of the matched runs of plan, in order.
func matchedIDs(plan *Plan) []int64 {
	var ids []int64
	for _, r := range plan.Runs {
		if r.Matched {
			ids = append(ids, r.Rule.ID)
		}
	}
	return ids
}

// runIDs lists the rule ids of every run of plan, in order.
func runIDs(plan *Plan) []int64 {
	var ids []int64
	for _, r := range plan.Runs {
		ids = append(ids, r.Rule.ID)
	}
	return ids
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
