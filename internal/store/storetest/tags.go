package storetest

import (
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
)

func testTags(t *testing.T, open Opener) {
	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		win := openWindow()
		vip, err := f.s.CreateTag(t.Context(), store.Tag{WorkspaceID: f.ws.ID, Name: "VIP", ExternalID: ptr("t-vip")})
		wantErr(t, "CreateTag", err, nil)
		win.check(t, "CreatedAt", vip.CreatedAt)
		wantDiff(t, "created tag", store.Tag{
			ID: vip.ID, WorkspaceID: f.ws.ID, Name: "VIP", ExternalID: ptr("t-vip"), CreatedAt: vip.CreatedAt,
		}, vip)
		got, err := f.s.GetTag(t.Context(), f.ws.ID, vip.ID)
		wantErr(t, "GetTag", err, nil)
		wantDiff(t, "GetTag", vip, got)

		billing := f.tag(t, "billing")
		urgent := f.tag(t, "urgent")
		list, total, err := f.s.ListTags(t.Context(), f.ws.ID, store.Page{Limit: 2, Offset: 1})
		wantErr(t, "ListTags", err, nil)
		if total != 3 {
			t.Errorf("ListTags total = %d, want 3", total)
		}
		wantDiff(t, "ListTags page", []store.Tag{billing, urgent}, list)

		upd := vip
		upd.Name, upd.ExternalID = "V.I.P.", nil
		got, err = f.s.UpdateTag(t.Context(), upd)
		wantErr(t, "UpdateTag", err, nil)
		wantDiff(t, "updated tag", upd, got)
		_, err = f.s.UpdateTag(t.Context(), store.Tag{WorkspaceID: f.ws.ID, ID: 424242, Name: "x"})
		wantErr(t, "UpdateTag unknown", err, store.ErrNotFound)

		wantErr(t, "DeleteTag", f.s.DeleteTag(t.Context(), f.ws.ID, vip.ID), nil)
		_, err = f.s.GetTag(t.Context(), f.ws.ID, vip.ID)
		wantErr(t, "GetTag after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteTag again", f.s.DeleteTag(t.Context(), f.ws.ID, vip.ID), store.ErrNotFound)
		_, err = f.s.CreateTag(t.Context(), store.Tag{WorkspaceID: 424242, Name: "x"})
		wantErr(t, "CreateTag in an unknown workspace", err, store.ErrNotFound)
	})

	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		other, _, _ := createWorkspace(t, f.s, "globex")
		vip, err := f.s.CreateTag(t.Context(), store.Tag{WorkspaceID: f.ws.ID, Name: "VIP", ExternalID: ptr("t-1")})
		wantErr(t, "CreateTag", err, nil)
		plain := f.tag(t, "plain")
		for _, tc := range []struct {
			name       string
			wsID       int64
			tag        string
			externalID *string
			want       error
		}{
			{"SameNameOtherCase", f.ws.ID, "vip", nil, store.ErrConflict},
			{"SameExternalID", f.ws.ID, "other", ptr("t-1"), store.ErrConflict},
			{"SameNameInAnotherWorkspace", other.ID, "VIP", ptr("t-1"), nil},
			{"SecondTagWithoutExternalID", f.ws.ID, "third", nil, nil},
		} {
			_, err := f.s.CreateTag(t.Context(), store.Tag{WorkspaceID: tc.wsID, Name: tc.tag, ExternalID: tc.externalID})
			wantErr(t, "CreateTag "+tc.name, err, tc.want)
		}
		for _, tc := range []struct {
			name string
			edit func(*store.Tag)
			want error
		}{
			{"NameOfAnother", func(tag *store.Tag) { tag.Name = "Vip" }, store.ErrConflict},
			{"ExternalIDOfAnother", func(tag *store.Tag) { tag.ExternalID = ptr("t-1") }, store.ErrConflict},
			{"OwnNameInOtherCase", func(tag *store.Tag) { tag.Name = "PLAIN" }, nil},
		} {
			tag := plain
			tc.edit(&tag)
			_, err := f.s.UpdateTag(t.Context(), tag)
			wantErr(t, "UpdateTag "+tc.name, err, tc.want)
		}
		got, err := f.s.GetTag(t.Context(), f.ws.ID, vip.ID)
		wantErr(t, "GetTag", err, nil)
		wantDiff(t, "tag after conflicting writes", vip, got)
	})
}
