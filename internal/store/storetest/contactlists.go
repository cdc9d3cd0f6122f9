package storetest

import (
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
)

func testContactLists(t *testing.T, open Opener) {
	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		other, _, _ := createWorkspace(t, f.s, "globex")
		win := openWindow()
		vips := f.list(t, "VIPs")
		win.check(t, "CreatedAt", vips.CreatedAt)
		wantDiff(t, "created list", store.ContactList{
			ID: vips.ID, WorkspaceID: f.ws.ID, Name: "VIPs", CreatedAt: vips.CreatedAt,
		}, vips)
		got, err := f.s.GetContactList(t.Context(), f.ws.ID, vips.ID)
		wantErr(t, "GetContactList", err, nil)
		wantDiff(t, "GetContactList", vips, got)

		press := f.list(t, "press")
		_, err = f.s.CreateContactList(t.Context(), store.ContactList{WorkspaceID: f.ws.ID, Name: "vips"})
		wantErr(t, "CreateContactList with a taken name", err, store.ErrConflict)
		createList(t, f.s, other.ID, "VIPs") // names are per workspace
		_, err = f.s.CreateContactList(t.Context(), store.ContactList{WorkspaceID: 424242, Name: "x"})
		wantErr(t, "CreateContactList in an unknown workspace", err, store.ErrNotFound)

		list, total, err := f.s.ListContactLists(t.Context(), f.ws.ID, store.Page{Limit: 50})
		wantErr(t, "ListContactLists", err, nil)
		if total != 2 {
			t.Errorf("ListContactLists total = %d, want 2", total)
		}
		wantDiff(t, "ListContactLists", []store.ContactList{vips, press}, list)
		list, _, err = f.s.ListContactLists(t.Context(), f.ws.ID, store.Page{Limit: 1, Offset: 1})
		wantErr(t, "ListContactLists page 2", err, nil)
		wantDiff(t, "ListContactLists page 2", []store.ContactList{press}, list)

		renamed := press
		renamed.Name = "Press"
		got, err = f.s.UpdateContactList(t.Context(), renamed)
		wantErr(t, "UpdateContactList", err, nil)
		wantDiff(t, "renamed list", renamed, got)
		renamed.Name = "vIPs"
		_, err = f.s.UpdateContactList(t.Context(), renamed)
		wantErr(t, "UpdateContactList to a taken name", err, store.ErrConflict)
		_, err = f.s.UpdateContactList(t.Context(), store.ContactList{WorkspaceID: f.ws.ID, ID: 424242, Name: "x"})
		wantErr(t, "UpdateContactList unknown", err, store.ErrNotFound)

		// A list with addresses deletes with them.
		_, err = f.s.ChangeContactListMembers(t.Context(), f.ws.ID, press.ID, []string{"a@x.test"}, nil)
		wantErr(t, "ChangeContactListMembers", err, nil)
		wantErr(t, "DeleteContactList", f.s.DeleteContactList(t.Context(), f.ws.ID, press.ID), nil)
		_, err = f.s.GetContactList(t.Context(), f.ws.ID, press.ID)
		wantErr(t, "GetContactList after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteContactList again", f.s.DeleteContactList(t.Context(), f.ws.ID, press.ID), store.ErrNotFound)
	})

	t.Run("Members", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		l := f.list(t, "customers")
		win := openWindow()
		got, err := f.s.ChangeContactListMembers(t.Context(), f.ws.ID, l.ID,
			[]string{"Ann@Example.test", "bob@example.test", "ann@example.test"}, nil)
		wantErr(t, "ChangeContactListMembers add", err, nil)
		if got.MemberCount != 2 {
			t.Fatalf("MemberCount after adding 2 addresses = %d", got.MemberCount)
		}
		first, total, err := f.s.ListContactListMembers(t.Context(), f.ws.ID, l.ID, store.Page{Limit: 50})
		wantErr(t, "ListContactListMembers", err, nil)
		if total != 2 || len(first) != 2 || first[0].Email != "ann@example.test" || first[1].Email != "bob@example.test" {
			t.Fatalf("members = %+v (total %d), want ann and bob, lower-cased", first, total)
		}
		win.check(t, "AddedAt", first[0].AddedAt)

		// Adding a present address is ignored (it keeps its added_at),
		// removing an absent one too; both happen in one call.
		got, err = f.s.ChangeContactListMembers(t.Context(), f.ws.ID, l.ID,
			[]string{"ANN@example.test", "cy@example.test", "dee@example.test"},
			[]string{"Bob@Example.test", "nobody@example.test"})
		wantErr(t, "ChangeContactListMembers add and remove", err, nil)
		wantDiff(t, "list after change", store.ContactList{
			ID: l.ID, WorkspaceID: f.ws.ID, Name: "customers", MemberCount: 3, CreatedAt: l.CreatedAt,
		}, got)
		entries, total, err := f.s.ListContactListMembers(t.Context(), f.ws.ID, l.ID, store.Page{Limit: 2})
		wantErr(t, "ListContactListMembers", err, nil)
		if total != 3 {
			t.Errorf("ListContactListMembers total = %d, want 3", total)
		}
		if len(entries) != 2 || entries[0] != first[0] || entries[1].Email != "cy@example.test" {
			t.Fatalf("first page = %+v, want ann (unchanged) then cy", entries)
		}
		entries, _, err = f.s.ListContactListMembers(t.Context(), f.ws.ID, l.ID, store.Page{Limit: 2, Offset: 2})
		wantErr(t, "ListContactListMembers page 2", err, nil)
		if len(entries) != 1 || entries[0].Email != "dee@example.test" {
			t.Fatalf("second page = %+v, want dee", entries)
		}

		got, err = f.s.GetContactList(t.Context(), f.ws.ID, l.ID)
		wantErr(t, "GetContactList", err, nil)
		if got.MemberCount != 3 {
			t.Errorf("GetContactList MemberCount = %d, want 3", got.MemberCount)
		}
		got, err = f.s.ChangeContactListMembers(t.Context(), f.ws.ID, l.ID, nil,
			[]string{"ann@example.test", "cy@example.test", "dee@example.test"})
		wantErr(t, "ChangeContactListMembers remove all", err, nil)
		if got.MemberCount != 0 {
			t.Errorf("MemberCount after removing everyone = %d, want 0", got.MemberCount)
		}

		_, err = f.s.ChangeContactListMembers(t.Context(), f.ws.ID, 424242, []string{"a@x.test"}, nil)
		wantErr(t, "ChangeContactListMembers unknown list", err, store.ErrNotFound)
		_, _, err = f.s.ListContactListMembers(t.Context(), f.ws.ID, 424242, store.Page{Limit: 50})
		wantErr(t, "ListContactListMembers unknown list", err, store.ErrNotFound)
	})

	t.Run("ContactListsContaining", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		other, _, _ := createWorkspace(t, f.s, "globex")
		l1, l2, l3 := f.list(t, "one"), f.list(t, "two"), f.list(t, "three")
		foreign := createList(t, f.s, other.ID, "foreign")
		for _, c := range []struct {
			ws, list int64
			emails   []string
		}{
			{f.ws.ID, l1.ID, []string{"ann@example.test"}},
			{f.ws.ID, l2.ID, []string{"ann@example.test", "bob@example.test"}},
			{f.ws.ID, l3.ID, []string{"bob@example.test"}},
			{other.ID, foreign.ID, []string{"ann@example.test"}},
		} {
			if _, err := f.s.ChangeContactListMembers(t.Context(), c.ws, c.list, c.emails, nil); err != nil {
				t.Fatalf("ChangeContactListMembers: %v", err)
			}
		}
		all := []int64{l3.ID, foreign.ID, l2.ID, l1.ID, 424242}
		for _, tc := range []struct {
			name  string
			email string
			lists []int64
			want  []int64
		}{
			{"Ann", "ann@example.test", all, sorted([]int64{l1.ID, l2.ID})},
			{"AnyCase", "ANN@Example.TEST", all, sorted([]int64{l1.ID, l2.ID})},
			{"Bob", "bob@example.test", all, sorted([]int64{l2.ID, l3.ID})},
			{"Subset", "ann@example.test", []int64{l2.ID}, []int64{l2.ID}},
			{"Nobody", "zed@example.test", all, []int64{}},
			{"NoLists", "ann@example.test", nil, []int64{}},
		} {
			got, err := f.s.ContactListsContaining(t.Context(), f.ws.ID, tc.email, tc.lists)
			wantErr(t, "ContactListsContaining "+tc.name, err, nil)
			wantDiff(t, "ContactListsContaining "+tc.name, tc.want, sorted(got))
		}
	})
}
