package storetest

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

const maxP = rules.MaxPriority

// testRulePriorityBounds checks that priorities never leave
// 0..rules.MaxPriority: shifts close gaps instead, without changing the
// relative order of the rules they do not move (issue 7, item 1).
func testRulePriorityBounds(t *testing.T, open Opener) {
	t.Run("InsertBeforeTheTop", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		byName := map[string]rules.Rule{}
		mk := func(name string, p *int) { byName[name] = f.rule(t, name, p) }
		mk("a", ptr(maxP))
		mk("b", ptr(maxP-1))
		wantDiff(t, "order", []string{"b:999999", "a:1000000"}, order(t, f.s, f.ws.ID))

		// 999,999 and 1,000,000 are taken: c goes before b, the rules before
		// it make room (there are none, so it takes the gap below).
		mk("c", ptr(maxP-1))
		wantDiff(t, "order after c", []string{"c:999998", "b:999999", "a:1000000"}, order(t, f.s, f.ws.ID))
		// Before a, which holds the last slot: c and b move up one.
		mk("d", ptr(maxP))
		wantDiff(t, "order after d", []string{"c:999997", "b:999998", "d:999999", "a:1000000"}, order(t, f.s, f.ws.ID))
		// Last, while the last slot is taken: everything moves up one.
		mk("e", nil)
		wantDiff(t, "order after e",
			[]string{"c:999996", "b:999997", "d:999998", "a:999999", "e:1000000"}, order(t, f.s, f.ws.ID))
		mk("f", ptr(0))
		// A move to the taken last slot goes before its holder.
		r := byName["c"]
		r.Priority = maxP
		got, err := f.s.UpdateRule(t.Context(), r)
		wantErr(t, "UpdateRule to the last slot", err, nil)
		wantDiff(t, "order after moving c",
			[]string{"f:0", "b:999996", "d:999997", "a:999998", "c:999999", "e:1000000"}, order(t, f.s, f.ws.ID))
		if got.Priority != maxP-1 {
			t.Errorf("moved rule answers priority %d, want %d", got.Priority, maxP-1)
		}
	})

	t.Run("ShiftClosesTheFirstGap", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		for _, c := range []struct {
			name string
			p    int
		}{{"a", 5}, {"b", 6}, {"c", 7}, {"z", maxP}} {
			f.rule(t, c.name, ptr(c.p))
		}
		// Shifting every rule at or after 5 would push z past the end:
		// a, b and c move into the gap at 8, z stays.
		f.rule(t, "new", ptr(5))
		wantDiff(t, "order", []string{"new:5", "a:6", "b:7", "c:8", "z:1000000"}, order(t, f.s, f.ws.ID))
		// Below the end the contract's shift applies: every rule after moves.
		g := setup(t, open)
		for _, c := range []struct {
			name string
			p    int
		}{{"a", 5}, {"b", 6}, {"c", 9}} {
			g.rule(t, c.name, ptr(c.p))
		}
		g.rule(t, "new", ptr(5))
		wantDiff(t, "order below the end", []string{"new:5", "a:6", "b:7", "c:10"}, order(t, g.s, g.ws.ID))
	})

	t.Run("ManyAtTheTop", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const n = 40
		want := []string{}
		for i := range n {
			name := fmt.Sprintf("t%02d", i)
			f.rule(t, name, ptr(maxP))
			// Each goes before the holder of the last slot, t00.
			if i == 0 {
				want = append(want, name)
			} else {
				want = slices.Insert(want, len(want)-1, name)
			}
		}
		// The middle of the full block: before its holder, the rules below
		// make room.
		f.rule(t, "mid", ptr(maxP-n/2))
		holder := len(want) - 1 - n/2
		want = slices.Insert(want, holder, "mid")
		for range 5 {
			f.rule(t, "last", nil)
			want = append(want, "last")
		}
		f.rule(t, "first", ptr(0))
		want = slices.Insert(want, 0, "first")
		list, err := f.s.ListRules(t.Context(), f.ws.ID, store.RuleFilter{})
		wantErr(t, "ListRules", err, nil)
		got := make([]string, len(list))
		for i, r := range list {
			got[i] = r.Name
		}
		wantDiff(t, "order", want, got)
		checkPriorities(t, list)
		if p := list[len(list)-1].Priority; p != maxP {
			t.Errorf("last rule at %d, want %d", p, maxP)
		}
	})

	t.Run("OutOfRangeRefused", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		for _, p := range []int{-1, maxP + 1, 1 << 31} {
			if _, err := f.s.CreateRule(t.Context(), newRule(f.ws.ID, "x"), ptr(p)); err == nil {
				t.Errorf("CreateRule at %d: no error", p)
			}
		}
		r := f.rule(t, "r", nil)
		r.Priority = maxP + 1
		if _, err := f.s.UpdateRule(t.Context(), r); err == nil {
			t.Errorf("UpdateRule to %d: no error", r.Priority)
		}
		wantDiff(t, "order", []string{"r:0"}, order(t, f.s, f.ws.ID))
	})
}

// checkPriorities fails unless the listed rules' priorities are strictly
// increasing and within the range.
func checkPriorities(t interface{ Fatalf(string, ...any) }, list []rules.Rule) {
	for i, r := range list {
		if r.Priority < 0 || r.Priority > maxP {
			t.Fatalf("rule %d has priority %d, outside 0..%d", r.ID, r.Priority, maxP)
		}
		if i > 0 && r.Priority <= list[i-1].Priority {
			t.Fatalf("priorities not strictly increasing at %d: %d after %d", i, r.Priority, list[i-1].Priority)
		}
	}
}

// testRulePriorityModel draws random creates, moves, deletes and reorders
// and checks them against a reference model, a slice of rule ids in run
// order: a rule created or moved to priority p runs after every rule
// below p and before every rule at or after it (nil: last).
func testRulePriorityModel(t *testing.T, open Opener) {
	s := open(t)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		ws, _, _ := createWorkspace(t, s, fmt.Sprintf("model-%d", n))
		var model []int64
		list := func() []rules.Rule {
			got, err := s.ListRules(t.Context(), ws.ID, store.RuleFilter{})
			if err != nil {
				rt.Fatalf("ListRules: %v", err)
			}
			return got
		}
		// position is where a rule asking for p goes among current (the
		// rules in order, without the one moving).
		position := func(current []rules.Rule, p *int) int {
			if p == nil {
				return len(current)
			}
			return slices.IndexFunc(current, func(r rules.Rule) bool { return r.Priority >= *p })
		}
		drawPriority := func(label string) *int {
			switch rapid.IntRange(0, 4).Draw(rt, label+"-kind") {
			case 0:
				return nil
			case 1:
				return ptr(rapid.IntRange(0, 3).Draw(rt, label))
			case 2:
				return ptr(rapid.IntRange(maxP-3, maxP).Draw(rt, label))
			default:
				return ptr(rapid.IntRange(0, maxP).Draw(rt, label))
			}
		}
		insert := func(current []rules.Rule, id int64, p *int) {
			at := position(current, p)
			if at < 0 {
				at = len(current)
			}
			model = slices.Insert(model, at, id)
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			before := list()
			op := rapid.IntRange(0, 9).Draw(rt, "op")
			if len(before) == 0 {
				op = 0
			}
			switch {
			case op <= 4: // create
				p := drawPriority("priority")
				r, err := s.CreateRule(t.Context(), newRule(ws.ID, "r"), p)
				if err != nil {
					rt.Fatalf("CreateRule(%v): %v", p, err)
				}
				insert(before, r.ID, p)
				checkShift(rt, before, list(), r.ID, p)
			case op <= 7: // move
				i := rapid.IntRange(0, len(before)-1).Draw(rt, "rule")
				r := before[i]
				p := drawPriority("to")
				if p == nil {
					p = ptr(r.Priority)
				}
				r.Priority = *p
				if _, err := s.UpdateRule(t.Context(), r); err != nil {
					rt.Fatalf("UpdateRule to %d: %v", *p, err)
				}
				if before[i].Priority != *p {
					rest := slices.Delete(slices.Clone(before), i, i+1)
					model = slices.DeleteFunc(model, func(id int64) bool { return id == r.ID })
					insert(rest, r.ID, p)
					checkShift(rt, rest, list(), r.ID, p)
				}
			case op == 8: // delete
				i := rapid.IntRange(0, len(before)-1).Draw(rt, "rule")
				if err := s.DeleteRule(t.Context(), ws.ID, before[i].ID); err != nil {
					rt.Fatalf("DeleteRule: %v", err)
				}
				model = slices.DeleteFunc(model, func(id int64) bool { return id == before[i].ID })
			default: // reorder
				perm := rapid.Permutation(ids(before)).Draw(rt, "order")
				if _, err := s.ReorderRules(t.Context(), ws.ID, perm, nil); err != nil {
					rt.Fatalf("ReorderRules: %v", err)
				}
				model = perm
			}
			after := list()
			checkPriorities(rt, after)
			if got := ids(after); !slices.Equal(got, model) {
				rt.Fatalf("order %v, model %v (priorities %v)", got, model, names(after))
			}
		}
	})
}

// checkShift checks what the contract says of the other rules when rule
// id took priority p: a free p moves nobody; a taken p below a last rule
// that can still move shifts every rule at or after p by one and moves
// nobody else.
func checkShift(rt *rapid.T, before, after []rules.Rule, id int64, p *int) {
	if p == nil || len(before) == 0 {
		return
	}
	prio := map[int64]int{}
	for _, r := range after {
		prio[r.ID] = r.Priority
	}
	taken := slices.ContainsFunc(before, func(r rules.Rule) bool { return r.Priority == *p })
	if !taken {
		if prio[id] != *p {
			rt.Fatalf("rule took free priority %d but holds %d", *p, prio[id])
		}
		for _, r := range before {
			if prio[r.ID] != r.Priority {
				rt.Fatalf("free priority %d taken, yet rule %d moved from %d to %d", *p, r.ID, r.Priority, prio[r.ID])
			}
		}
		return
	}
	if before[len(before)-1].Priority >= maxP {
		return // gaps are closed instead: the model's order check covers it
	}
	for _, r := range before {
		want := r.Priority
		if r.Priority >= *p {
			want++
		}
		if prio[r.ID] != want {
			rt.Fatalf("after taking %d: rule %d moved from %d to %d, want %d", *p, r.ID, r.Priority, prio[r.ID], want)
		}
	}
}
