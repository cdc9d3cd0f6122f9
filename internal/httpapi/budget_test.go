package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// hostileConditions are n distinct matches patterns of about size
// characters on message.subject, each keeping RE2's NFA busy on every
// instruction (issue 7 item 2).
func hostileConditions(n, size int) []any {
	var conds []any
	for i := range n {
		p := strings.Repeat("[a-z]", (size-3)/5) + fmt.Sprintf("%03d", i)
		conds = append(conds, map[string]any{"field": "message.subject", "operator": "matches", "value": p})
	}
	return conds
}

// TestRulePatternBudget: the matches patterns of one rule total at most
// 4,096 characters, on create and on update (docs/concepts.md#conditions "Bounded cost").
func TestRulePatternBudget(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		e.do(t, "POST", "/v1/automation/rules", e.A.Admin.Token, with(ruleBody(), "conditions", hostileConditions(9, 500))).
			expectProblem(t, 422, "conditions")
		r := e.newRule(t, e.A, with(ruleBody(), "conditions", hostileConditions(8, 500)))
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%d", r.ID), e.A.Admin.Token,
			map[string]any{"conditions": hostileConditions(50, 100)}).expectProblem(t, 422, "conditions")
	})
}

// TestDryRunEvaluationLimit: dry-run of a saved rule, of an unsaved one
// and /test have the bounds of an event. With the 8 costliest patterns a
// rule may have and a subject near the 1 MiB a request may carry, each
// answers at once with evaluation_limit, where it took minutes before.
func TestDryRunEvaluationLimit(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		conds := hostileConditions(8, 500)
		r := e.newRule(t, e.A, with(ruleBody(), "conditions", conds))
		payload := map[string]any{"message": map[string]any{"subject": strings.Repeat("x", 900_000)}}
		for _, c := range []struct {
			name, path string
			body       map[string]any
		}{
			{"saved", "/v1/automation/rules/dry-run", map[string]any{"rule_id": r.ID, "event_payload": payload}},
			{"unsaved", "/v1/automation/rules/dry-run", map[string]any{"trigger_type": "messages.incoming",
				"conditions": conds, "event_payload": payload}},
			{"test", fmt.Sprintf("/v1/automation/rules/%d/test", r.ID), map[string]any{"event_payload": payload}},
		} {
			start := time.Now()
			res := e.dryRun(t, c.path, c.body)
			if res.Matched || res.Reason == nil || *res.Reason != "evaluation_limit" || len(res.Trace) != 8 {
				t.Errorf("%s: matched %v, reason %v, %d trace entries; want evaluation_limit over 8", c.name, res.Matched, res.Reason, len(res.Trace))
			}
			// Unbounded, this took minutes (87 s for 20 such leaves); the
			// race detector and a shared machine slow a 900 KB request and
			// its trace tenfold.
			bound := 5 * time.Second
			if raceEnabled {
				bound = 2 * time.Minute
			}
			if took := time.Since(start); took > bound {
				t.Errorf("%s: took %s, want under %s", c.name, took, bound)
			}
		}
	})
}
