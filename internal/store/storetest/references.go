package storetest

import (
	"fmt"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// listRule returns a rule whose conditions test membership of the lists.
func listRule(wsID int64, name string, listIDs ...int64) rules.Rule {
	r := newRule(wsID, name)
	conds := "["
	for i, id := range listIDs {
		if i > 0 {
			conds += ","
		}
		conds += fmt.Sprintf(`{"type":"contact_list","operator":"in","list_id":%d}`, id)
	}
	r.Conditions = []byte(conds + "]")
	return r
}

func testRuleReferences(t *testing.T, open Opener) {
	t.Run("ReferencedTagCannotBeDeleted", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		vip, spam := f.tag(t, "vip"), f.tag(t, "spam")
		r1 := createRule(t, f.s, tagRule(f.ws.ID, "r1", vip.ID), nil)
		r2 := tagRule(f.ws.ID, "r2", vip.ID)
		r2.Actions = append(r2.Actions, rules.Action{Type: rules.ActionRemoveTag, TagID: ptr(spam.ID)})
		r2 = createRule(t, f.s, r2, ptr(0))

		wantReferenced(t, "DeleteTag(vip)", f.s.DeleteTag(t.Context(), f.ws.ID, vip.ID), r1.ID, r2.ID)
		wantReferenced(t, "DeleteTag(spam)", f.s.DeleteTag(t.Context(), f.ws.ID, spam.ID), r2.ID)

		// An update that stops using a tag releases it.
		r1.Actions = []rules.Action{{Type: rules.ActionAddNote, Body: ptr("no tags")}}
		if _, err := f.s.UpdateRule(t.Context(), r1); err != nil {
			t.Fatalf("UpdateRule: %v", err)
		}
		wantReferenced(t, "DeleteTag(vip) after the update", f.s.DeleteTag(t.Context(), f.ws.ID, vip.ID), r2.ID)

		// Deleting the rule releases the rest.
		wantErr(t, "DeleteRule", f.s.DeleteRule(t.Context(), f.ws.ID, r2.ID), nil)
		wantErr(t, "DeleteTag(vip)", f.s.DeleteTag(t.Context(), f.ws.ID, vip.ID), nil)
		wantErr(t, "DeleteTag(spam)", f.s.DeleteTag(t.Context(), f.ws.ID, spam.ID), nil)
	})

	t.Run("MissingTag", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		other, _, _ := createWorkspace(t, f.s, "globex")
		foreign := createTag(t, f.s, other.ID, "foreign")
		gone := f.tag(t, "gone")
		wantErr(t, "DeleteTag", f.s.DeleteTag(t.Context(), f.ws.ID, gone.ID), nil)
		mine := f.tag(t, "mine")
		existing := createRule(t, f.s, tagRule(f.ws.ID, "existing", mine.ID), nil)

		for _, tc := range []struct {
			name  string
			tagID int64
		}{
			{"Unknown", 424242},
			{"AnotherWorkspaces", foreign.ID},
			{"Deleted", gone.ID},
		} {
			_, err := f.s.CreateRule(t.Context(), tagRule(f.ws.ID, tc.name, mine.ID, tc.tagID), nil)
			wantErr(t, "CreateRule with a tag "+tc.name, err, store.ErrMissingReference)

			upd := existing
			upd.Actions = tagRule(f.ws.ID, "", mine.ID, tc.tagID).Actions
			_, err = f.s.UpdateRule(t.Context(), upd)
			wantErr(t, "UpdateRule with a tag "+tc.name, err, store.ErrMissingReference)
		}
		list, err := f.s.ListRules(t.Context(), f.ws.ID, store.RuleFilter{})
		wantErr(t, "ListRules", err, nil)
		wantDiff(t, "rules after refused writes", []rules.Rule{existing}, list)
		// The refused update did not drop the rule's real reference.
		wantReferenced(t, "DeleteTag(mine)", f.s.DeleteTag(t.Context(), f.ws.ID, mine.ID), existing.ID)
		// Nor did another workspace's tag become referenced.
		wantErr(t, "DeleteTag(foreign)", f.s.DeleteTag(t.Context(), other.ID, foreign.ID), nil)
	})

	t.Run("ContactLists", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		vips, press := f.list(t, "vips"), f.list(t, "press")
		// The store learns a rule's lists from rules.Rule.References: if it
		// reported none, every check below would pass for the wrong reason
		// or fail obscurely, so that is the first failure.
		probe := listRule(f.ws.ID, "probe", vips.ID, press.ID)
		if _, lists := probe.References(); len(lists) != 2 || lists[0] != vips.ID || lists[1] != press.ID {
			t.Fatalf("rules.Rule.References reports lists %v for contact_list conditions on %d and %d", lists, vips.ID, press.ID)
		}
		other, _, _ := createWorkspace(t, f.s, "globex")
		foreign := createList(t, f.s, other.ID, "foreign")

		r1 := createRule(t, f.s, listRule(f.ws.ID, "r1", vips.ID, press.ID), nil)
		r2 := createRule(t, f.s, listRule(f.ws.ID, "r2", vips.ID), nil)
		wantReferenced(t, "DeleteContactList(vips)", f.s.DeleteContactList(t.Context(), f.ws.ID, vips.ID), r1.ID, r2.ID)
		wantReferenced(t, "DeleteContactList(press)", f.s.DeleteContactList(t.Context(), f.ws.ID, press.ID), r1.ID)

		for _, tc := range []struct {
			name   string
			listID int64
		}{{"Unknown", 424242}, {"AnotherWorkspaces", foreign.ID}} {
			_, err := f.s.CreateRule(t.Context(), listRule(f.ws.ID, tc.name, tc.listID), nil)
			wantErr(t, "CreateRule with a list "+tc.name, err, store.ErrMissingReference)
		}

		r1.Conditions = []byte(`[]`)
		if _, err := f.s.UpdateRule(t.Context(), r1); err != nil {
			t.Fatalf("UpdateRule: %v", err)
		}
		wantErr(t, "DeleteContactList(press) once unused", f.s.DeleteContactList(t.Context(), f.ws.ID, press.ID), nil)
		wantErr(t, "DeleteRule", f.s.DeleteRule(t.Context(), f.ws.ID, r2.ID), nil)
		wantErr(t, "DeleteContactList(vips) once unused", f.s.DeleteContactList(t.Context(), f.ws.ID, vips.ID), nil)
	})
}
