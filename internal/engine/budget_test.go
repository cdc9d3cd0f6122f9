package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// subjectPayload is a payload whose message.subject is subject and whose
// body is body.
func subjectPayload(subject, body string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as hosts send HTML: "<p>", not "\u003cp\u003e"
	_ = enc.Encode(map[string]any{
		"conversation": map[string]any{"status": "open"},
		"message":      map[string]any{"subject": subject, "body": body},
	})
	return b.String()
}

// hostilePatterns is a condition list of n distinct matches patterns on
// message.subject that never match letters: each keeps a thread on every
// instruction of its program busy, the slowest case of RE2's NFA.
func hostilePatterns(n, size int) string {
	var leaves []string
	for i := range n {
		p := strings.Repeat("[a-z]", (size-3)/5) + fmt.Sprintf("%03d", i)
		leaves = append(leaves, fmt.Sprintf(`{"field":"message.subject","operator":"matches","value":%q}`, p))
	}
	return "[" + strings.Join(leaves, ",") + "]"
}

// TestEvaluationLimit: a rule whose conditions would exceed what is left
// of the event's budget ends not matched with evaluation_limit; reasons
// keep the contract's order; once the budget is spent every later rule
// ends so, cheap or not; matches reads the first 64 KiB of a value only.
func TestEvaluationLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20) // 1 MiB
	tail := strings.Repeat("y", MaxMatchBytes) + "needle"
	hostile := hostilePatterns(8, 500) // 4,000 characters: valid
	cheap := `[{"field":"conversation.status","operator":"equals","value":"open"}]`
	tests := []struct {
		name    string
		conds   []string // one rule each, in priority order
		subject string
		want    []Reason
		matched []bool
	}{
		{"hostile rule alone", []string{hostile}, big, []Reason{ReasonEvaluationLimit}, []bool{false}},
		{"a cheap rule after a hostile one still runs when budget is left",
			[]string{hostile, cheap}, big, []Reason{ReasonEvaluationLimit, ReasonNone}, []bool{false, true}},
		{"a false condition before the costly one: conditions_not_met",
			[]string{`[{"field":"conversation.status","operator":"equals","value":"closed"},` + hostile[1:]},
			big, []Reason{ReasonConditionsNotMet}, []bool{false}},
		{"the same patterns on a short subject run",
			[]string{hostile}, "hello", []Reason{ReasonConditionsNotMet}, []bool{false}},
		{"matches does not read past 64 KiB",
			[]string{`[{"field":"message.subject","operator":"matches","value":"needle"}]`}, tail,
			[]Reason{ReasonConditionsNotMet}, []bool{false}},
		{"contains reads the whole value",
			[]string{`[{"field":"message.subject","operator":"contains","value":"needle"}]`}, tail,
			[]Reason{ReasonNone}, []bool{true}},
		{"matches reads the first 64 KiB",
			[]string{`[{"field":"message.subject","operator":"matches","value":"^y+$"}]`}, tail,
			[]Reason{ReasonNone}, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rs []rules.Rule
			for i, c := range tt.conds {
				rs = append(rs, testRule(int64(i+1), c))
			}
			p := mustCompile(t, CompileOptions{}, rs...)
			plan := evaluate(t, p, incoming(subjectPayload(tt.subject, "")))
			if len(plan.Runs) != len(tt.want) {
				t.Fatalf("%d runs, want %d", len(plan.Runs), len(tt.want))
			}
			for i, r := range plan.Runs {
				if r.Reason != tt.want[i] || r.Matched != tt.matched[i] {
					t.Errorf("rule %d: matched %v, reason %q; want %v, %q", r.Rule.ID, r.Matched, r.Reason, tt.matched[i], tt.want[i])
				}
			}
		})
	}
}

// TestEvaluationBudgetIsPerEvent: many rules cannot escape the budget
// together, and the next event has a fresh one.
func TestEvaluationBudgetIsPerEvent(t *testing.T) {
	t.Parallel()
	// A search for a needle of 8 to 11 bytes costs 3 units per byte.
	const perByte = 3
	if got := containsUnitCost([]byte("needle-00")); got != perByte {
		t.Fatalf("containsUnitCost = %d, want %d", got, perByte)
	}

	t.Run("FourFifths", func(t *testing.T) {
		t.Parallel()
		// Each contains rule costs a fifth of the budget (and a unit for
		// the rule's visit): four run, then what is left is short of a
		// fifth for every later one; a rule without conditions still fits.
		subject := strings.Repeat("z", EvaluationBudget/5/perByte)
		var rs []rules.Rule
		for i := range 20 {
			rs = append(rs, testRule(int64(i+1), fmt.Sprintf(`[{"field":"message.subject","operator":"contains","value":"needle-%02d"}]`, i)))
		}
		rs = append(rs, testRule(21, `[]`))
		p := mustCompile(t, CompileOptions{}, rs...)
		want := strings.Repeat("conditions_not_met ", 4) + strings.Repeat("evaluation_limit ", 16) + "<nil>"
		var plan Plan
		for range 2 { // the same Plan: the budget is reset per event
			if err := p.Evaluate(incoming(subjectPayload(subject, "")), &plan); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range plan.Runs {
				if r.Reason == ReasonNone {
					got = append(got, "<nil>")
				} else {
					got = append(got, string(r.Reason))
				}
			}
			if strings.Join(got, " ") != want {
				t.Fatalf("reasons %v, want %s", got, want)
			}
		}
	})

	t.Run("Spent", func(t *testing.T) {
		t.Parallel()
		// The first rule spends the whole budget: its visit (1) and its
		// search (3 per byte). Every later rule then ends with
		// evaluation_limit, even one without conditions and one whose
		// condition is already decided for this event.
		subject := strings.Repeat("z", (EvaluationBudget-1)/perByte)
		if 1+1+perByte*len(subject) != EvaluationBudget {
			t.Fatalf("the subject does not spend the budget exactly")
		}
		spend := `[{"field":"message.subject","operator":"contains","value":"zzzzzzzz"}]`
		p := mustCompile(t, CompileOptions{}, testRule(1, spend), testRule(2, `[]`), testRule(3, spend))
		plan := evaluate(t, p, incoming(subjectPayload(subject, "")))
		if !plan.Runs[0].Matched || plan.Runs[1].Reason != ReasonEvaluationLimit || plan.Runs[2].Reason != ReasonEvaluationLimit {
			t.Fatalf("runs %+v; want a match, then evaluation_limit twice", plan.Runs)
		}
	})
}

// TestDryRunHasTheEventsBounds: dry-run of an unsaved rule and of a
// saved one (the /test endpoint) evaluate through the same code, with the
// same budget: the hostile rule ends with evaluation_limit in both, and a
// cheap one matches beside it.
func TestDryRunHasTheEventsBounds(t *testing.T) {
	t.Parallel()
	hostile := testRule(1, hostilePatterns(8, 500))
	in := incoming(subjectPayload(strings.Repeat("x", 1<<20), ""))
	res, err := DryRun(&hostile, in, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched || res.Reason != ReasonEvaluationLimit || len(res.Trace) != 8 {
		t.Errorf("dry-run of the unsaved rule: matched %v, reason %q, %d trace entries; want evaluation_limit over 8", res.Matched, res.Reason, len(res.Trace))
	}
	p := mustCompile(t, CompileOptions{}, hostile, testRule(2, `[{"field":"message.subject","operator":"starts_with","value":"x"}]`))
	res, ok, err := p.DryRun(1, in)
	if err != nil || !ok || res.Matched || res.Reason != ReasonEvaluationLimit {
		t.Errorf("dry-run of the saved rule: %+v, %v, %v; want evaluation_limit", res, ok, err)
	}
	res, ok, err = p.DryRun(2, in)
	if err != nil || !ok || !res.Matched {
		t.Errorf("dry-run of the cheap rule: %+v, %v, %v; want a match", res, ok, err)
	}
	// And the event itself ends the same way.
	plan := evaluate(t, p, in)
	if plan.Runs[0].Reason != ReasonEvaluationLimit || !plan.Runs[1].Matched {
		t.Errorf("event: %+v", plan.Runs)
	}
}
