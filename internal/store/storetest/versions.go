package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

var allDefinitionFields = []string{
	"name", "description", "is_active", "trigger_type", "trigger_data", "conditions", "actions",
	"alert_settings", "schedule_settings", "priority", "rollout_percentage", "stop_on_match", "cooldown_secs",
}

// versions returns the rule's versions, newest first, checking the total.
func versions(t *testing.T, s store.Store, wsID, ruleID int64) []store.RuleVersion {
	t.Helper()
	vs, total, err := s.ListRuleVersions(t.Context(), wsID, ruleID, store.Page{})
	wantErr(t, "ListRuleVersions", err, nil)
	if total != len(vs) {
		t.Fatalf("ListRuleVersions total %d, %d listed", total, len(vs))
	}
	return vs
}

// wantVersion checks the newest version against the rule as the store
// returned it after the change.
func wantVersion(t *testing.T, what string, vs []store.RuleVersion, r rules.Rule, fields []string, by *int64) {
	t.Helper()
	if len(vs) == 0 {
		t.Fatalf("%s: no versions", what)
	}
	v := vs[0]
	if v.Version != r.Version || v.RuleID != r.ID || v.WorkspaceID != r.WorkspaceID {
		t.Fatalf("%s: version %d of rule %d, want %d of %d", what, v.Version, v.RuleID, r.Version, r.ID)
	}
	wantDiff(t, what+" changed_fields", fields, v.ChangedFields)
	wantDiff(t, what+" changed_by", by, v.ChangedBy)
	if !v.ChangedAt.Equal(r.UpdatedAt) {
		t.Errorf("%s: changed_at %v, want the rule's updated_at %v", what, v.ChangedAt, r.UpdatedAt)
	}
	checkStored(t, what+" changed_at", v.ChangedAt)
	wantDiff(t, what+" rule", r, v.Rule)
}

func testRuleVersions(t *testing.T, open Opener) {
	t.Run("EveryDefinitionChange", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		by := ptr(f.admin.ID)
		vip := f.tag(t, "vip")
		r := tagRule(f.ws.ID, "first", vip.ID)
		r.Conditions = []byte(`[ {"field": "contact.email", "operator": "ends_with", "value": "@vip.test"} ]`)
		r.CreatedBy = by
		created, err := f.s.CreateRule(t.Context(), r, nil)
		wantErr(t, "CreateRule", err, nil)
		if created.Version != 1 {
			t.Fatalf("new rule has version %d, want 1", created.Version)
		}
		wantVersion(t, "create", versions(t, f.s, f.ws.ID, created.ID), created, allDefinitionFields, by)

		edit := created
		edit.Name, edit.CooldownSecs, edit.UpdatedBy = "renamed", 60, by
		edit.AlertSettings, _ = rules.Preset("strict")
		updated, err := f.s.UpdateRule(t.Context(), edit)
		wantErr(t, "UpdateRule", err, nil)
		if updated.Version != 2 {
			t.Fatalf("updated rule has version %d, want 2", updated.Version)
		}
		vs := versions(t, f.s, f.ws.ID, created.ID)
		wantVersion(t, "update", vs, updated, []string{"name", "alert_settings", "cooldown_secs"}, by)
		wantDiff(t, "version 1 kept", created, vs[1].Rule)

		// Nothing changed: no version. A snooze is state: no version.
		same, err := f.s.UpdateRule(t.Context(), updated)
		wantErr(t, "UpdateRule without a change", err, nil)
		snoozed, err := f.s.SnoozeRule(t.Context(), f.ws.ID, created.ID, ptr(time.Now().Add(time.Hour)), by)
		wantErr(t, "SnoozeRule", err, nil)
		if same.Version != 2 || snoozed.Version != 2 || len(versions(t, f.s, f.ws.ID, created.ID)) != 2 {
			t.Fatalf("versions %d and %d after a no-op and a snooze, want 2 and 2 versions kept", same.Version, snoozed.Version)
		}

		// A reorder versions the rules whose priority changed.
		other := f.rule(t, "other", nil)
		still := f.rule(t, "still", nil)
		list, err := f.s.ReorderRules(t.Context(), f.ws.ID, []int64{other.ID, created.ID, still.ID}, by)
		wantErr(t, "ReorderRules", err, nil)
		wantVersion(t, "reorder moved", versions(t, f.s, f.ws.ID, created.ID), list[1], []string{"priority"}, by)
		wantVersion(t, "reorder moved other", versions(t, f.s, f.ws.ID, other.ID), list[0], []string{"priority"}, by)
		if vs := versions(t, f.s, f.ws.ID, still.ID); len(vs) != 1 || list[2].Version != 1 {
			t.Errorf("a rule the reorder did not move has %d versions (version %d), want 1", len(vs), list[2].Version)
		}

		// A priority move through UpdateRule versions the moved rule only:
		// shifting keeps the others' relative order.
		move := list[2]
		move.Priority, move.UpdatedBy = 0, by
		moved, err := f.s.UpdateRule(t.Context(), move)
		wantErr(t, "UpdateRule priority", err, nil)
		wantVersion(t, "move", versions(t, f.s, f.ws.ID, still.ID), moved, []string{"priority"}, by)
		if vs := versions(t, f.s, f.ws.ID, other.ID); len(vs) != 2 {
			t.Errorf("a shifted rule has %d versions, want 2", len(vs))
		}
	})

	t.Run("ListPagesNewestFirst", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		r := f.rule(t, "r", nil)
		for _, name := range []string{"b", "c", "d"} {
			r.Name = name
			var err error
			r, err = f.s.UpdateRule(t.Context(), r)
			wantErr(t, "UpdateRule", err, nil)
		}
		vs, total, err := f.s.ListRuleVersions(t.Context(), f.ws.ID, r.ID, store.Page{Limit: 2, Offset: 1})
		wantErr(t, "ListRuleVersions", err, nil)
		if total != 4 || len(vs) != 2 || vs[0].Version != 3 || vs[1].Version != 2 || vs[0].Rule.Name != "c" {
			t.Fatalf("page: total %d, %d versions (%+v), want 4 and versions 3 (c), 2", total, len(vs), vs)
		}
		_, _, err = f.s.ListRuleVersions(t.Context(), f.ws.ID, 424242, store.Page{})
		wantErr(t, "ListRuleVersions of no rule", err, store.ErrNotFound)
		other, _, _ := createWorkspace(t, f.s, "globex")
		_, _, err = f.s.ListRuleVersions(t.Context(), other.ID, r.ID, store.Page{})
		wantErr(t, "ListRuleVersions from another workspace", err, store.ErrNotFound)
		_, err = f.s.GetRuleVersion(t.Context(), other.ID, r.ID, 1)
		wantErr(t, "GetRuleVersion from another workspace", err, store.ErrNotFound)
		_, err = f.s.GetRuleVersion(t.Context(), f.ws.ID, r.ID, 5)
		wantErr(t, "GetRuleVersion past the last", err, store.ErrNotFound)
		_, err = f.s.RestoreRuleVersion(t.Context(), other.ID, r.ID, 1, nil)
		wantErr(t, "RestoreRuleVersion from another workspace", err, store.ErrNotFound)
	})

	t.Run("Restore", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		by := ptr(f.admin.ID)
		vip := f.tag(t, "vip")
		v1 := createRule(t, f.s, tagRule(f.ws.ID, "tagging", vip.ID), nil)
		f.rule(t, "before", ptr(0)) // v1 shifts to 1

		edit, err := f.s.GetRule(t.Context(), f.ws.ID, v1.ID)
		wantErr(t, "GetRule", err, nil)
		edit.Name, edit.IsActive, edit.RolloutPercentage = "noting", false, 10
		edit.Actions = []rules.Action{{Type: rules.ActionAddNote, Body: ptr("no tag")}}
		edit.Priority = 7
		v2, err := f.s.UpdateRule(t.Context(), edit)
		wantErr(t, "UpdateRule", err, nil)

		restored, err := f.s.RestoreRuleVersion(t.Context(), f.ws.ID, v1.ID, 1, by)
		wantErr(t, "RestoreRuleVersion", err, nil)
		want := v1
		want.Priority, want.Version = v2.Priority, 3 // the priority stays
		want.UpdatedAt, want.UpdatedBy = restored.UpdatedAt, by
		want.ActivatedAt = restored.UpdatedAt // switched on again by the restore
		wantDiff(t, "restored rule", want, restored)
		wantVersion(t, "restore", versions(t, f.s, f.ws.ID, v1.ID), restored,
			[]string{"name", "is_active", "actions", "rollout_percentage"}, by)

		// Version 2 no longer uses the tag: delete it, and version 1 can no
		// longer be restored.
		_, err = f.s.RestoreRuleVersion(t.Context(), f.ws.ID, v1.ID, 2, by)
		wantErr(t, "restore version 2", err, nil)
		wantErr(t, "DeleteTag", f.s.DeleteTag(t.Context(), f.ws.ID, vip.ID), nil)
		before, err := f.s.GetRule(t.Context(), f.ws.ID, v1.ID)
		wantErr(t, "GetRule", err, nil)
		_, err = f.s.RestoreRuleVersion(t.Context(), f.ws.ID, v1.ID, 1, by)
		wantErr(t, "restore a version whose tag is gone", err, store.ErrMissingReference)
		after, err := f.s.GetRule(t.Context(), f.ws.ID, v1.ID)
		wantErr(t, "GetRule", err, nil)
		wantDiff(t, "rule after the refused restore", before, after)
		if vs := versions(t, f.s, f.ws.ID, v1.ID); len(vs) != 4 {
			t.Errorf("%d versions after the refused restore, want 4", len(vs))
		}
		_, err = f.s.RestoreRuleVersion(t.Context(), f.ws.ID, v1.ID, 9, by)
		wantErr(t, "restore a version that does not exist", err, store.ErrNotFound)
	})

	t.Run("KeptAfterDelete", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		r := f.rule(t, "doomed", nil)
		r.Name = "renamed"
		r, err := f.s.UpdateRule(t.Context(), r)
		wantErr(t, "UpdateRule", err, nil)
		wantErr(t, "DeleteRule", f.s.DeleteRule(t.Context(), f.ws.ID, r.ID), nil)
		v, err := f.s.GetRuleVersion(t.Context(), f.ws.ID, r.ID, 2)
		wantErr(t, "GetRuleVersion of a deleted rule", err, nil)
		wantDiff(t, "deleted rule's last version", r, v.Rule)
		if vs := versions(t, f.s, f.ws.ID, r.ID); len(vs) != 2 {
			t.Errorf("%d versions of the deleted rule, want 2", len(vs))
		}
		_, err = f.s.RestoreRuleVersion(t.Context(), f.ws.ID, r.ID, 1, nil)
		wantErr(t, "restore a deleted rule", err, store.ErrNotFound)
	})
}
