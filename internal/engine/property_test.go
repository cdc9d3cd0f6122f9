package engine

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// Rollout: a key's bucket is fixed, and raising the percentage only ever
// adds keys (§6).
func TestPropertyRollout(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.Int64Range(0, 1<<40).Draw(t, "rule")
		key := rapid.String().Draw(t, "key")
		lo := rapid.IntRange(0, 100).Draw(t, "lo")
		hi := rapid.IntRange(lo, 100).Draw(t, "hi")
		b := Bucket(id, key)
		if b != Bucket(id, key) || b < 0 || b > 99 {
			t.Fatalf("bucket %d", b)
		}
		in := func(pct int) bool {
			r := testRule(id, `[]`)
			r.RolloutPercentage = pct
			p, err := Compile([]rules.Rule{r}, CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ev := incoming(`{}`)
			ev.ConversationID = key
			if key == "" {
				ev.EventID = ""
			}
			var plan Plan
			if err := p.Evaluate(ev, &plan); err != nil {
				t.Fatal(err)
			}
			return plan.Runs[0].Matched
		}
		inLo, inHi := in(lo), in(hi)
		if inLo && !inHi {
			t.Fatalf("inside at %d%% but not at %d%%", lo, hi)
		}
		if inLo != (b < lo) || inHi != (b < hi) {
			t.Fatalf("bucket %d: in(%d)=%v in(%d)=%v", b, lo, inLo, hi, inHi)
		}
	})
}

// Cooldown: a rule that matched the key d seconds ago is in cooldown
// exactly while d < cooldown_secs.
func TestPropertyCooldown(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		secs := rapid.IntRange(1, rules.MaxCooldownSecs).Draw(t, "cooldown")
		ago := time.Duration(rapid.Int64Range(-10, 2*int64(secs)*1000).Draw(t, "ago_ms")) * time.Millisecond
		r := testRule(1, `[]`)
		r.CooldownSecs = secs
		p, _ := Compile([]rules.Rule{r}, CompileOptions{})
		in := incoming(`{}`)
		in.LastMatched = map[int64]time.Time{1: testNow.Add(-ago)}
		var plan Plan
		_ = p.Evaluate(in, &plan)
		want := ago < time.Duration(secs)*time.Second
		if got := plan.Runs[0].Reason == ReasonCooldown; got != want {
			t.Fatalf("cooldown %ds, matched %v ago: cooldown reason %v, want %v", secs, ago, got, want)
		}
	})
}

// Ordering: rules run in (priority, id) order, and the first matching
// stop_on_match rule ends the event.
func TestPropertyPriorityAndStop(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 12).Draw(t, "n")
		type spec struct {
			id         int64
			prio       int
			stop, hits bool
		}
		specs := make([]spec, n)
		rs := make([]rules.Rule, n)
		for i := range specs {
			s := spec{
				id:   int64(i + 1),
				prio: rapid.IntRange(0, 4).Draw(t, "prio"),
				stop: rapid.Bool().Draw(t, "stop"),
				hits: rapid.Bool().Draw(t, "hits"),
			}
			conds := `[]`
			if !s.hits {
				conds = `[{"field":"custom.never","operator":"exists"}]`
			}
			rs[i] = testRule(s.id, conds)
			rs[i].Priority, rs[i].StopOnMatch = s.prio, s.stop
			specs[i] = s
		}
		perm := rapid.Permutation(rs).Draw(t, "order")
		p, err := Compile(perm, CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(specs, func(a, b spec) int { return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(a.id, b.id)) })
		var wantRuns, wantMatched []int64
		for _, s := range specs {
			wantRuns = append(wantRuns, s.id)
			if s.hits {
				wantMatched = append(wantMatched, s.id)
				if s.stop {
					break
				}
			}
		}
		var plan Plan
		_ = p.Evaluate(incoming(`{}`), &plan)
		if fmt.Sprint(runIDs(&plan)) != fmt.Sprint(wantRuns) || fmt.Sprint(matchedIDs(&plan)) != fmt.Sprint(wantMatched) {
			t.Fatalf("runs %v matched %v, want %v %v", runIDs(&plan), matchedIDs(&plan), wantRuns, wantMatched)
		}
	})
}

// Chained effects: each rule tests the conversation's tags as earlier
// rules of the same event left them, exactly as a sequential model does,
// and the first matching stop_on_match rule ends the event. The counters
// show that both paths are drawn: a stop that ended the event early, and
// an event that ran its rules to the end.
func TestPropertyChainedTags(t *testing.T) {
	t.Parallel()
	var stopped, ranOut atomic.Int64
	names := []string{"a", "b", "c"}
	tags := []Tag{{ID: 1, Name: "a"}, {ID: 2, Name: "B"}, {ID: 3, Name: "c"}}
	rapid.Check(t, func(t *rapid.T) {
		initial := rapid.SliceOfDistinct(rapid.SampledFrom(names), func(s string) string { return s }).Draw(t, "initial")
		n := rapid.IntRange(1, 8).Draw(t, "rules")
		type spec struct {
			test      string
			negate    bool
			act       int64
			add, stop bool
		}
		specs := make([]spec, n)
		rs := make([]rules.Rule, n)
		for i := range specs {
			s := spec{
				test:   rapid.SampledFrom(names).Draw(t, "test"),
				negate: rapid.Bool().Draw(t, "negate"),
				act:    rapid.Int64Range(1, 3).Draw(t, "tag"),
				add:    rapid.Bool().Draw(t, "add"),
				stop:   rapid.Bool().Draw(t, "stop"),
			}
			op := "contains"
			if s.negate {
				op = "not_contains"
			}
			rs[i] = testRule(int64(i+1), fmt.Sprintf(`[{"field":"conversation.tags","operator":%q,"value":%q}]`, op, strings.ToUpper(s.test)))
			typ := rules.ActionRemoveTag
			if s.add {
				typ = rules.ActionAddTag
			}
			rs[i].Actions = []rules.Action{{Type: typ, TagID: ptr(s.act)}}
			rs[i].StopOnMatch = s.stop
			specs[i] = s
		}
		p, err := Compile(rs, CompileOptions{Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		model := map[string]bool{}
		for _, tg := range initial {
			model[tg] = true
		}
		var wantMatched []int64
		wantRuns := n
		for i, s := range specs {
			if model[s.test] == s.negate {
				continue
			}
			wantMatched = append(wantMatched, int64(i+1))
			model[names[s.act-1]] = s.add
			if s.stop {
				wantRuns = i + 1
				break
			}
		}
		if wantRuns < n {
			stopped.Add(1)
		} else {
			ranOut.Add(1)
		}
		payload, _ := json.Marshal(map[string]any{"conversation": map[string]any{"tags": initial}})
		var plan Plan
		if err := p.Evaluate(incoming(string(payload)), &plan); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(matchedIDs(&plan)) != fmt.Sprint(wantMatched) || len(plan.Runs) != wantRuns {
			t.Fatalf("matched %v in %d runs, want %v in %d", matchedIDs(&plan), len(plan.Runs), wantMatched, wantRuns)
		}
		if len(wantMatched) > 0 {
			got := map[string]bool{}
			for _, tg := range plan.Conversation.Tags {
				got[strings.ToLower(tg)] = true
			}
			for _, name := range names {
				if got[name] != model[name] {
					t.Fatalf("tags %v, model %v", plan.Conversation.Tags, model)
				}
			}
		}
	})
	if stopped.Load() == 0 || ranOut.Load() == 0 {
		t.Errorf("%d checks ended at a stop_on_match rule and %d ran every rule; both paths must be drawn", stopped.Load(), ranOut.Load())
	}
}
