package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

func testRules(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		vip := f.tag(t, "vip")
		// Conditions come back byte for byte: odd spacing, key order and
		// number spelling included.
		conditions := []byte(` [ {"value" : "OPENED", "operator":"equals",  "field":"conversation.status"},
			{"any": [{"field": "contact.email", "operator": "ends_with", "value": "@vip.test"}]},
			{"field": "custom.score", "operator": "gte", "value": 1.50} ] `)
		snooze := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
		alert, _ := rules.Preset("strict")
		r := rules.Rule{
			WorkspaceID: f.ws.ID,
			Name:        "Escalate VIPs",
			Description: ptr("Tag, prioritise and tell the lead"),
			IsActive:    true,
			TriggerType: rules.TriggerAssigned,
			TriggerData: ptr("anyone"),
			Conditions:  conditions,
			Actions: []rules.Action{
				{Type: rules.ActionAddTag, TagID: ptr(vip.ID)},
				{Type: rules.ActionSetStatus, Status: ptr("snoozed"), SnoozeUntil: &snooze},
				{Type: rules.ActionSendResponse, Body: ptr("Hi {{contact.name}}"), Subject: ptr("Re: {{message.subject}}")},
				{Type: rules.ActionSendWebhook, URL: ptr("https://hooks.example/vip"), Headers: map[string]string{"X-Team": "vip"}},
			},
			AlertSettings: alert,
			ScheduleSettings: &rules.ScheduleSettings{
				Timezone:     "Europe/Paris",
				Windows:      []rules.ScheduleWindow{{Days: []string{"mon", "tue"}, Start: "09:00", End: "17:30"}},
				ExcludeDates: []string{"2026-12-25"},
			},
			RolloutPercentage: 25,
			StopOnMatch:       true,
			CooldownSecs:      3600,
			CreatedBy:         ptr(f.admin.ID),
		}
		win := openWindow()
		got, err := f.s.CreateRule(t.Context(), r, nil)
		wantErr(t, "CreateRule", err, nil)
		win.check(t, "CreatedAt", got.CreatedAt)
		if !got.UpdatedAt.Equal(got.CreatedAt) || !got.ActivatedAt.Equal(got.CreatedAt) {
			t.Errorf("UpdatedAt %v and ActivatedAt %v, want both = CreatedAt %v", got.UpdatedAt, got.ActivatedAt, got.CreatedAt)
		}
		if !bytes.Equal(got.Conditions, conditions) {
			t.Errorf("Conditions = %q, want the submitted bytes %q", got.Conditions, conditions)
		}
		want := r
		want.ID, want.Priority, want.Version = got.ID, 0, 1
		want.UpdatedBy = r.CreatedBy // the creator is the last to have changed it
		want.CreatedAt, want.UpdatedAt, want.ActivatedAt = got.CreatedAt, got.CreatedAt, got.CreatedAt
		wantDiff(t, "created rule", want, got)

		again, err := f.s.GetRule(t.Context(), f.ws.ID, got.ID)
		wantErr(t, "GetRule", err, nil)
		wantDiff(t, "GetRule", got, again)
		if !bytes.Equal(again.Conditions, conditions) {
			t.Errorf("GetRule Conditions = %q, want the submitted bytes", again.Conditions)
		}
		_, err = f.s.GetRule(t.Context(), f.ws.ID, 424242)
		wantErr(t, "GetRule unknown", err, store.ErrNotFound)
		_, err = f.s.CreateRule(t.Context(), newRule(424242, "nowhere"), nil)
		wantErr(t, "CreateRule in an unknown workspace", err, store.ErrNotFound)
	})

	t.Run("EmptyConditionsAreAnEmptyList", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		for _, raw := range [][]byte{nil, {}} {
			r := newRule(f.ws.ID, "no conditions")
			r.Conditions = raw
			got := createRule(t, f.s, r, nil)
			if string(got.Conditions) != "[]" {
				t.Errorf("Conditions %q stored as %q, want []", raw, got.Conditions)
			}
		}
	})

	t.Run("UpdateWritesEditableFieldsOnly", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		orig := f.rule(t, "first", nil)
		snoozeUntil := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
		orig, err := f.s.SnoozeRule(t.Context(), f.ws.ID, orig.ID, &snoozeUntil, nil)
		wantErr(t, "SnoozeRule", err, nil)

		r := orig
		r.Name = "renamed"
		r.Description = ptr("now described")
		r.TriggerType = "custom.order_paid"
		r.Conditions = []byte(`[{"field":"custom.total","operator":"gt","value":100}]`)
		r.Actions = []rules.Action{{Type: rules.ActionSetPriority, Priority: ptr("high")}}
		r.AlertSettings, _ = rules.Preset("relaxed")
		r.RolloutPercentage, r.StopOnMatch, r.CooldownSecs = 50, true, 60
		r.UpdatedBy = ptr(f.admin.ID)
		// Counters, snoozed_until and creation fields are not the caller's
		// to write.
		r.MatchCount, r.AppliedCount = 7, 3
		r.LastMatchedAt, r.LastAppliedAt = ptr(time.Now()), ptr(time.Now())
		r.SnoozedUntil = nil
		r.CreatedAt, r.CreatedBy = time.Unix(0, 0), ptr(int64(99))
		r.ActivatedAt = time.Unix(0, 0)

		win := openWindow()
		got, err := f.s.UpdateRule(t.Context(), r)
		wantErr(t, "UpdateRule", err, nil)
		win.check(t, "UpdatedAt", got.UpdatedAt)
		want := r
		want.MatchCount, want.AppliedCount, want.LastMatchedAt, want.LastAppliedAt = 0, 0, nil, nil
		want.SnoozedUntil = orig.SnoozedUntil
		want.CreatedAt, want.CreatedBy, want.ActivatedAt = orig.CreatedAt, orig.CreatedBy, orig.ActivatedAt
		want.UpdatedAt = got.UpdatedAt
		want.Version = orig.Version + 1
		wantDiff(t, "updated rule", want, got)

		_, err = f.s.UpdateRule(t.Context(), newRule(f.ws.ID, "ghost"))
		wantErr(t, "UpdateRule of a rule never created", err, store.ErrNotFound)
	})

	t.Run("SwitchingOnSetsActivatedAt", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		r := f.rule(t, "toggle", nil)
		created := r.ActivatedAt

		r.IsActive = false
		off, err := f.s.UpdateRule(t.Context(), r)
		wantErr(t, "switch off", err, nil)
		wantDiff(t, "ActivatedAt after switching off", created, off.ActivatedAt)

		// The store keeps milliseconds: let one pass so that a new
		// activation is visible.
		time.Sleep(2 * time.Millisecond)
		win := openWindow()
		off.IsActive = true
		on, err := f.s.UpdateRule(t.Context(), off)
		wantErr(t, "switch on", err, nil)
		win.check(t, "ActivatedAt after switching on", on.ActivatedAt)
		if !on.ActivatedAt.After(created) {
			t.Errorf("ActivatedAt = %v, want after the first activation %v", on.ActivatedAt, created)
		}

		// Staying on is not a new activation.
		on.Name = "still on"
		still, err := f.s.UpdateRule(t.Context(), on)
		wantErr(t, "update while on", err, nil)
		wantDiff(t, "ActivatedAt while staying on", on.ActivatedAt, still.ActivatedAt)
	})

	t.Run("ListFilters", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		a := f.rule(t, "a", nil)
		b := newRule(f.ws.ID, "b")
		b.IsActive = false
		bb := createRule(t, f.s, b, nil)
		c := newRule(f.ws.ID, "c")
		c.TriggerType = rules.TriggerIncoming
		cc := createRule(t, f.s, c, nil)
		for _, tc := range []struct {
			name   string
			filter store.RuleFilter
			want   []rules.Rule
		}{
			{"All", store.RuleFilter{}, []rules.Rule{a, bb, cc}},
			{"Active", store.RuleFilter{IsActive: ptr(true)}, []rules.Rule{a, cc}},
			{"Inactive", store.RuleFilter{IsActive: ptr(false)}, []rules.Rule{bb}},
			{"Trigger", store.RuleFilter{TriggerType: rules.TriggerIncoming}, []rules.Rule{cc}},
			{"Both", store.RuleFilter{IsActive: ptr(false), TriggerType: rules.TriggerIncoming}, []rules.Rule{}},
		} {
			got, err := f.s.ListRules(t.Context(), f.ws.ID, tc.filter)
			wantErr(t, "ListRules "+tc.name, err, nil)
			wantDiff(t, "ListRules "+tc.name, tc.want, got)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		a := f.rule(t, "a", nil)
		f.rule(t, "b", nil)
		wantErr(t, "DeleteRule", f.s.DeleteRule(t.Context(), f.ws.ID, a.ID), nil)
		_, err := f.s.GetRule(t.Context(), f.ws.ID, a.ID)
		wantErr(t, "GetRule after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteRule again", f.s.DeleteRule(t.Context(), f.ws.ID, a.ID), store.ErrNotFound)
		// The others keep their priorities, and the id is not reused.
		wantDiff(t, "order after delete", []string{"b:1"}, order(t, f.s, f.ws.ID))
		c := f.rule(t, "c", nil)
		if c.ID == a.ID {
			t.Errorf("new rule reused the deleted rule's id %d", a.ID)
		}
	})
}

func testRulePriorities(t *testing.T, open Opener) {
	type create struct {
		name     string
		priority *int
	}
	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name    string
			creates []create
			want    []string
		}{
			{"NilGoesLast", []create{{"a", nil}, {"b", nil}, {"c", nil}}, []string{"a:0", "b:1", "c:2"}},
			{"TakenShiftsTheRest", []create{{"a", nil}, {"b", nil}, {"c", nil}, {"d", ptr(1)}},
				[]string{"a:0", "d:1", "b:2", "c:3"}},
			{"TakenFirst", []create{{"a", nil}, {"b", nil}, {"d", ptr(0)}}, []string{"d:0", "a:1", "b:2"}},
			{"FreeSlotShiftsNothing", []create{{"a", nil}, {"b", ptr(5)}, {"c", ptr(3)}},
				[]string{"a:0", "c:3", "b:5"}},
			{"ShiftReachesPastGaps", []create{{"a", nil}, {"b", nil}, {"c", ptr(5)}, {"d", ptr(1)}},
				[]string{"a:0", "d:1", "b:2", "c:6"}},
			{"NilAfterAGap", []create{{"a", ptr(7)}, {"b", nil}}, []string{"a:7", "b:8"}},
			{"AtTheEnd", []create{{"a", nil}, {"b", ptr(1)}}, []string{"a:0", "b:1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				f := setup(t, open)
				for _, c := range tc.creates {
					f.rule(t, c.name, c.priority)
				}
				wantDiff(t, "order", tc.want, order(t, f.s, f.ws.ID))
			})
		}
	})

	t.Run("UpdateMoves", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			move string
			to   int
			want []string
		}{
			{"ToTheTop", "d", 0, []string{"d:0", "a:1", "b:2", "c:3"}},
			{"Down", "a", 2, []string{"b:1", "a:2", "c:3", "d:4"}},
			{"ToAFreeSlot", "b", 10, []string{"a:0", "c:2", "d:3", "b:10"}},
			{"OneUp", "c", 1, []string{"a:0", "c:1", "b:2", "d:4"}},
			{"SamePriorityStays", "b", 1, []string{"a:0", "b:1", "c:2", "d:3"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				f := setup(t, open)
				byName := map[string]rules.Rule{}
				for _, n := range []string{"a", "b", "c", "d"} {
					byName[n] = f.rule(t, n, nil)
				}
				r := byName[tc.move]
				r.Priority = tc.to
				got, err := f.s.UpdateRule(t.Context(), r)
				wantErr(t, "UpdateRule", err, nil)
				if got.Priority != tc.to {
					t.Errorf("moved rule has priority %d, want %d", got.Priority, tc.to)
				}
				wantDiff(t, "order", tc.want, order(t, f.s, f.ws.ID))
			})
		}
	})

	t.Run("Reorder", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		a, b := f.rule(t, "a", nil), f.rule(t, "b", ptr(4))
		c := f.rule(t, "c", nil)
		other, _, _ := createWorkspace(t, f.s, "globex")
		foreign := createRule(t, f.s, newRule(other.ID, "foreign"), nil)

		for _, tc := range []struct {
			name string
			ids  []int64
		}{
			{"MissingOne", []int64{c.ID, a.ID}},
			{"UnknownID", []int64{c.ID, a.ID, b.ID, 424242}},
			{"Duplicate", []int64{c.ID, a.ID, a.ID}},
			{"AnotherWorkspacesRule", []int64{c.ID, a.ID, foreign.ID}},
			{"Empty", nil},
		} {
			_, err := f.s.ReorderRules(t.Context(), f.ws.ID, tc.ids, nil)
			wantErr(t, "ReorderRules "+tc.name, err, store.ErrNotFound)
		}
		wantDiff(t, "order after refused reorders", []string{"a:0", "b:4", "c:5"}, order(t, f.s, f.ws.ID))

		win := openWindow()
		got, err := f.s.ReorderRules(t.Context(), f.ws.ID, []int64{c.ID, a.ID, b.ID}, ptr(f.admin.ID))
		wantErr(t, "ReorderRules", err, nil)
		wantDiff(t, "returned list", []string{"c:0", "a:1", "b:2"}, names(got))
		wantDiff(t, "order", []string{"c:0", "a:1", "b:2"}, order(t, f.s, f.ws.ID))
		for _, r := range got {
			win.check(t, r.Name+" UpdatedAt", r.UpdatedAt)
			wantDiff(t, r.Name+" UpdatedBy", ptr(f.admin.ID), r.UpdatedBy)
		}
		wantDiff(t, "other workspace", []string{"foreign:0"}, order(t, f.s, other.ID))

		empty, _, _ := createWorkspace(t, f.s, "initech")
		got, err = f.s.ReorderRules(t.Context(), empty.ID, nil, nil)
		wantErr(t, "ReorderRules of a workspace without rules", err, nil)
		wantDiff(t, "empty list", []rules.Rule{}, got, cmpopts.EquateEmpty())
	})

	t.Run("ReorderSubset", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		byName := map[string]rules.Rule{}
		for _, n := range []string{"a", "b", "c", "d"} {
			byName[n] = f.rule(t, n, nil)
		}
		byName["e"] = f.rule(t, "e", ptr(10))
		other, _, _ := createWorkspace(t, f.s, "globex")
		foreign := createRule(t, f.s, newRule(other.ID, "foreign"), nil)
		id := func(n string) int64 { return byName[n].ID }

		for _, tc := range []struct {
			name string
			ids  []int64
		}{
			{"UnknownID", []int64{id("a"), 424242}},
			{"Duplicate", []int64{id("a"), id("b"), id("a")}},
			{"AnotherWorkspacesRule", []int64{id("a"), foreign.ID}},
		} {
			_, err := f.s.ReorderRuleSubset(t.Context(), f.ws.ID, tc.ids, nil)
			wantErr(t, "ReorderRuleSubset "+tc.name, err, store.ErrNotFound)
		}
		start := []string{"a:0", "b:1", "c:2", "d:3", "e:10"}
		wantDiff(t, "order after refused reorders", start, order(t, f.s, f.ws.ID))

		got, err := f.s.ReorderRuleSubset(t.Context(), f.ws.ID, nil, nil)
		wantErr(t, "ReorderRuleSubset of nothing", err, nil)
		wantDiff(t, "order after an empty subset", start, names(got))

		// d and b swap the slots they hold (1 and 3).
		got, err = f.s.ReorderRuleSubset(t.Context(), f.ws.ID, []int64{id("d"), id("b")}, ptr(f.admin.ID))
		wantErr(t, "ReorderRuleSubset", err, nil)
		wantDiff(t, "returned list", []string{"a:0", "d:1", "c:2", "b:3", "e:10"}, names(got))
		// e, c and a hold 10, 2 and 0: e takes 0, c keeps 2, a takes 10.
		got, err = f.s.ReorderRuleSubset(t.Context(), f.ws.ID, []int64{id("e"), id("c"), id("a")}, nil)
		wantErr(t, "ReorderRuleSubset", err, nil)
		wantDiff(t, "returned list", []string{"e:0", "d:1", "c:2", "b:3", "a:10"}, names(got))
		wantDiff(t, "order", names(got), order(t, f.s, f.ws.ID))
		wantDiff(t, "other workspace", []string{"foreign:0"}, order(t, f.s, other.ID))
	})

	t.Run("ConcurrentCreatesGetDistinctPriorities", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				var p *int
				if i%3 == 0 {
					p = ptr(0) // some insert at the top, shifting the others
				}
				_, errs[i] = f.s.CreateRule(t.Context(), newRule(f.ws.ID, "r"), p)
			})
		}
		wg.Wait()
		for _, err := range errs {
			wantErr(t, "concurrent CreateRule", err, nil)
		}
		list, err := f.s.ListRules(t.Context(), f.ws.ID, store.RuleFilter{})
		wantErr(t, "ListRules", err, nil)
		seen := map[int]bool{}
		for _, r := range list {
			if seen[r.Priority] {
				t.Fatalf("priority %d is shared: %v", r.Priority, names(list))
			}
			seen[r.Priority] = true
		}
		if len(list) != n {
			t.Fatalf("%d rules, want %d", len(list), n)
		}
	})
}

func testRuleSnoozes(t *testing.T, open Opener) {
	t.Run("SnoozeAndClear", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		r := f.rule(t, "noisy", nil)
		until := time.Date(2030, 1, 1, 0, 0, 0, 999_999_999, time.FixedZone("X", -5*3600))
		win := openWindow()
		got, err := f.s.SnoozeRule(t.Context(), f.ws.ID, r.ID, &until, ptr(f.admin.ID))
		wantErr(t, "SnoozeRule", err, nil)
		wantDiff(t, "SnoozedUntil", ptr(until.UTC().Truncate(time.Millisecond)), got.SnoozedUntil)
		checkStored(t, "SnoozedUntil", *got.SnoozedUntil)
		win.check(t, "UpdatedAt", got.UpdatedAt)
		wantDiff(t, "UpdatedBy", ptr(f.admin.ID), got.UpdatedBy)

		got, err = f.s.SnoozeRule(t.Context(), f.ws.ID, r.ID, nil, nil)
		wantErr(t, "SnoozeRule(nil)", err, nil)
		if got.SnoozedUntil != nil || got.UpdatedBy != nil {
			t.Errorf("after clearing: SnoozedUntil %v, UpdatedBy %v, want both nil", got.SnoozedUntil, got.UpdatedBy)
		}
		_, err = f.s.SnoozeRule(t.Context(), f.ws.ID, r.ID, nil, nil)
		wantErr(t, "clearing twice", err, nil)
		_, err = f.s.SnoozeRule(t.Context(), f.ws.ID, 424242, &until, nil)
		wantErr(t, "SnoozeRule unknown", err, store.ErrNotFound)
	})

	t.Run("ListSnoozed", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		clk := clock.NewFake(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))
		now := clk.Now()
		snooze := func(name string, until *time.Time, edit func(*rules.Rule)) rules.Rule {
			r := newRule(f.ws.ID, name)
			if edit != nil {
				edit(&r)
			}
			r = createRule(t, f.s, r, nil)
			if until != nil {
				var err error
				if r, err = f.s.SnoozeRule(t.Context(), f.ws.ID, r.ID, until, nil); err != nil {
					t.Fatalf("SnoozeRule: %v", err)
				}
			}
			return r
		}
		hour := snooze("hour", ptr(now.Add(time.Hour)), nil)
		twoHours := snooze("two-hours-inactive", ptr(now.Add(2*time.Hour)), func(r *rules.Rule) { r.IsActive = false })
		snooze("expired", ptr(now.Add(-time.Minute)), nil)
		snooze("never", nil, nil)
		custom := snooze("custom", ptr(now.Add(time.Hour)), func(r *rules.Rule) { r.TriggerType = "custom.paid" })
		other, _, _ := createWorkspace(t, f.s, "globex")
		foreign := createRule(t, f.s, newRule(other.ID, "foreign"), nil)
		if _, err := f.s.SnoozeRule(t.Context(), other.ID, foreign.ID, ptr(now.Add(time.Hour)), nil); err != nil {
			t.Fatalf("SnoozeRule: %v", err)
		}

		list := func(f *fixture, filter store.RuleFilter, page store.Page) ([]int64, int) {
			t.Helper()
			got, total, err := f.s.ListSnoozedRules(t.Context(), f.ws.ID, clk.Now(), filter, page)
			wantErr(t, "ListSnoozedRules", err, nil)
			return ids(got), total
		}
		all := store.Page{Limit: 50}
		for _, tc := range []struct {
			name      string
			filter    store.RuleFilter
			page      store.Page
			want      []int64
			wantTotal int
		}{
			{"All", store.RuleFilter{}, all, []int64{hour.ID, twoHours.ID, custom.ID}, 3},
			{"Paged", store.RuleFilter{}, store.Page{Limit: 1, Offset: 1}, []int64{twoHours.ID}, 3},
			{"Active", store.RuleFilter{IsActive: ptr(true)}, all, []int64{hour.ID, custom.ID}, 2},
			{"Trigger", store.RuleFilter{TriggerType: "custom.paid"}, all, []int64{custom.ID}, 1},
		} {
			got, total := list(f, tc.filter, tc.page)
			wantDiff(t, "ListSnoozedRules "+tc.name, tc.want, got)
			if total != tc.wantTotal {
				t.Errorf("ListSnoozedRules %s total = %d, want %d", tc.name, total, tc.wantTotal)
			}
		}

		// Snoozes end by themselves: a rule is snoozed while now < until.
		clk.Advance(90 * time.Minute)
		got, total := list(f, store.RuleFilter{}, all)
		wantDiff(t, "snoozed after 90 minutes", []int64{twoHours.ID}, got)
		if total != 1 {
			t.Errorf("total after 90 minutes = %d, want 1", total)
		}
		clk.Set(now.Add(2 * time.Hour))
		got, total = list(f, store.RuleFilter{}, all)
		wantDiff(t, "snoozed at the end of the last snooze", []int64{}, got)
		if total != 0 {
			t.Errorf("total at the end = %d, want 0", total)
		}
	})
}
