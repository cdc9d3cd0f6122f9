package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

func testMembers(t *testing.T, open Opener) {
	t.Run("CreateGetList", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		win := openWindow()
		bob := f.member(t, "Bob@Acme.test", auth.Supervisor, ptr("host-bob"))
		win.check(t, "CreatedAt", bob.CreatedAt)
		wantDiff(t, "created member", store.Member{
			ID: bob.ID, WorkspaceID: f.ws.ID, Name: "Member Bob@Acme.test", Email: "Bob@Acme.test",
			Role: auth.Supervisor, ExternalID: ptr("host-bob"), CreatedAt: bob.CreatedAt,
		}, bob)
		got, err := f.s.GetMember(t.Context(), f.ws.ID, bob.ID)
		wantErr(t, "GetMember", err, nil)
		wantDiff(t, "GetMember", bob, got)

		carol := f.member(t, "carol@acme.test", auth.Agent, nil)
		dave := f.member(t, "dave@acme.test", auth.Agent, nil)
		all := []store.Member{f.admin, bob, carol, dave}
		for _, tc := range []struct {
			page store.Page
			want []store.Member
		}{
			{store.Page{Limit: 50}, all},
			{store.Page{Limit: 2}, all[:2]},
			{store.Page{Limit: 2, Offset: 1}, all[1:3]},
			{store.Page{Limit: 2, Offset: 4}, []store.Member{}},
			{store.Page{}, all},
		} {
			list, total, err := f.s.ListMembers(t.Context(), f.ws.ID, tc.page)
			wantErr(t, "ListMembers", err, nil)
			if total != 4 {
				t.Errorf("ListMembers(%+v) total = %d, want 4", tc.page, total)
			}
			wantDiff(t, "ListMembers page", tc.want, list)
		}

		_, err = f.s.CreateMember(t.Context(), store.Member{
			WorkspaceID: 424242, Name: "x", Email: "x@x.test", Role: auth.Agent,
		})
		wantErr(t, "CreateMember in an unknown workspace", err, store.ErrNotFound)
		_, err = f.s.GetMember(t.Context(), f.ws.ID, 424242)
		wantErr(t, "GetMember unknown", err, store.ErrNotFound)
	})

	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		otherWS, _, _ := createWorkspace(t, f.s, "globex")
		bob := f.member(t, "bob@acme.test", auth.Agent, ptr("host-bob"))
		carol := f.member(t, "carol@acme.test", auth.Agent, nil)

		for _, tc := range []struct {
			name       string
			wsID       int64
			email      string
			externalID *string
			want       error
		}{
			{"SameEmailOtherCase", f.ws.ID, "BOB@acme.TEST", nil, store.ErrConflict},
			{"SameExternalID", f.ws.ID, "robert@acme.test", ptr("host-bob"), store.ErrConflict},
			{"SameEmailInAnotherWorkspace", otherWS.ID, "bob@acme.test", nil, nil},
			{"SameExternalIDInAnotherWorkspace", otherWS.ID, "b@globex.test", ptr("host-bob"), nil},
			{"SecondMemberWithoutExternalID", f.ws.ID, "erin@acme.test", nil, nil},
		} {
			_, err := f.s.CreateMember(t.Context(), store.Member{
				WorkspaceID: tc.wsID, Name: tc.name, Email: tc.email, Role: auth.Agent, ExternalID: tc.externalID,
			})
			wantErr(t, "CreateMember "+tc.name, err, tc.want)
		}

		// Updates hit the same constraints; a member may keep its own values.
		for _, tc := range []struct {
			name string
			edit func(m *store.Member)
			want error
		}{
			{"EmailOfAnother", func(m *store.Member) { m.Email = "Bob@Acme.Test" }, store.ErrConflict},
			{"ExternalIDOfAnother", func(m *store.Member) { m.ExternalID = ptr("host-bob") }, store.ErrConflict},
			{"OwnEmailInOtherCase", func(m *store.Member) { m.Email = "CAROL@acme.test" }, nil},
		} {
			m := carol
			tc.edit(&m)
			_, err := f.s.UpdateMember(t.Context(), m)
			wantErr(t, "UpdateMember "+tc.name, err, tc.want)
		}
		got, err := f.s.GetMember(t.Context(), f.ws.ID, bob.ID)
		wantErr(t, "GetMember", err, nil)
		wantDiff(t, "bob after conflicting writes", bob, got)
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		bob := f.member(t, "bob@acme.test", auth.Agent, nil)
		m := bob
		m.Name, m.Email, m.Role, m.ExternalID = "Robert", "robert@acme.test", auth.Supervisor, ptr("host-7")
		m.CreatedAt = m.CreatedAt.AddDate(-1, 0, 0) // read-only: ignored
		got, err := f.s.UpdateMember(t.Context(), m)
		wantErr(t, "UpdateMember", err, nil)
		m.CreatedAt = bob.CreatedAt
		wantDiff(t, "updated member", m, got)

		_, err = f.s.UpdateMember(t.Context(), store.Member{
			WorkspaceID: f.ws.ID, ID: 424242, Name: "x", Email: "x@acme.test", Role: auth.Agent,
		})
		wantErr(t, "UpdateMember unknown", err, store.ErrNotFound)
	})

	t.Run("FindMemberByHostID", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		withExt := f.member(t, "ext@acme.test", auth.Agent, ptr("host-1"))
		plain := f.member(t, "plain@acme.test", auth.Agent, nil)
		// An external id that looks like another member's numeric id: the
		// external id wins.
		shadow := f.member(t, "shadow@acme.test", auth.Agent, ptr(strconv.FormatInt(plain.ID, 10)))
		other, _, _ := createWorkspace(t, f.s, "globex")
		foreign := createMember(t, f.s, other.ID, "foreign@globex.test", auth.Agent, ptr("host-foreign"))

		for _, tc := range []struct {
			hostID string
			want   int64 // 0: ErrNotFound
		}{
			{"host-1", withExt.ID},
			{strconv.FormatInt(plain.ID, 10), shadow.ID},
			{strconv.FormatInt(withExt.ID, 10), 0}, // has an external id: not known by its own id
			{strconv.FormatInt(f.admin.ID, 10), f.admin.ID},
			{"host-foreign", 0},
			{strconv.FormatInt(foreign.ID, 10), 0},
			{"nobody", 0},
			{"", 0},
		} {
			m, err := f.s.FindMemberByHostID(t.Context(), f.ws.ID, tc.hostID)
			if tc.want == 0 {
				wantErr(t, "FindMemberByHostID("+tc.hostID+")", err, store.ErrNotFound)
				continue
			}
			wantErr(t, "FindMemberByHostID("+tc.hostID+")", err, nil)
			if m.ID != tc.want {
				t.Errorf("FindMemberByHostID(%q) = member %d, want %d", tc.hostID, m.ID, tc.want)
			}
		}
	})

	t.Run("LastAdmin", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		demote := func(m store.Member) error {
			m.Role = auth.Supervisor
			_, err := f.s.UpdateMember(t.Context(), m)
			return err
		}
		wantErr(t, "demote the only admin", demote(f.admin), store.ErrLastAdmin)
		wantErr(t, "delete the only admin", f.s.DeleteMember(t.Context(), f.ws.ID, f.admin.ID), store.ErrLastAdmin)

		// Renaming the only admin is not a demotion.
		renamed := f.admin
		renamed.Name = "Still Admin"
		_, err := f.s.UpdateMember(t.Context(), renamed)
		wantErr(t, "rename the only admin", err, nil)

		second := f.member(t, "second@acme.test", auth.Admin, nil)
		wantErr(t, "demote one of two admins", demote(f.admin), nil)
		wantErr(t, "delete the last admin", f.s.DeleteMember(t.Context(), f.ws.ID, second.ID), store.ErrLastAdmin)

		// A deleted admin does not count.
		third := f.member(t, "third@acme.test", auth.Admin, nil)
		wantErr(t, "delete one of two admins", f.s.DeleteMember(t.Context(), f.ws.ID, third.ID), nil)
		wantErr(t, "demote the last live admin", demote(second), store.ErrLastAdmin)

		// Another workspace's admins do not count either.
		createWorkspace(t, f.s, "globex")
		wantErr(t, "demote the last admin beside another workspace", demote(second), store.ErrLastAdmin)
	})

	t.Run("ConcurrentDemotionsKeepAnAdmin", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		admins := []store.Member{f.admin}
		for _, email := range []string{"b@acme.test", "c@acme.test", "d@acme.test"} {
			admins = append(admins, f.member(t, email, auth.Admin, nil))
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, m := range admins {
			wg.Go(func() {
				m.Role = auth.Agent
				_, err := f.s.UpdateMember(t.Context(), m)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
		wg.Wait()
		refused := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, store.ErrLastAdmin):
				refused++
			case err != nil:
				t.Fatalf("UpdateMember: %v", err)
			}
		}
		if refused != 1 {
			t.Fatalf("%d demotions refused, want exactly 1", refused)
		}
	})

	t.Run("DeleteRevokesTokens", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		bob := f.member(t, "bob@acme.test", auth.Supervisor, ptr("host-bob"))
		t1 := f.tokenFor(t, bob, "laptop", auth.Supervisor)
		t2 := f.tokenFor(t, bob, "ci", auth.Agent)

		wantErr(t, "DeleteMember", f.s.DeleteMember(t.Context(), f.ws.ID, bob.ID), nil)
		_, err := f.s.GetMember(t.Context(), f.ws.ID, bob.ID)
		wantErr(t, "GetMember after delete", err, store.ErrNotFound)
		_, err = f.s.FindMemberByHostID(t.Context(), f.ws.ID, "host-bob")
		wantErr(t, "FindMemberByHostID after delete", err, store.ErrNotFound)
		wantErr(t, "second DeleteMember", f.s.DeleteMember(t.Context(), f.ws.ID, bob.ID), store.ErrNotFound)

		for _, tok := range []store.Token{t1, t2} {
			p, err := f.s.Authenticate(t.Context(), tok.Hash)
			if !errors.Is(err, store.ErrNotFound) {
				wantErr(t, "Authenticate a deleted member's token", err, nil)
				if p.Token.RevokedAt == nil {
					t.Errorf("token %q of a deleted member authenticates without RevokedAt", tok.Name)
				}
			}
		}
		list, total, err := f.s.ListTokens(t.Context(), f.ws.ID, 0, store.Page{Limit: 50})
		wantErr(t, "ListTokens", err, nil)
		if total != 1 || len(list) != 1 || list[0].ID != f.token.ID {
			t.Errorf("ListTokens after delete = %d tokens (total %d), want only the bootstrap token", len(list), total)
		}
		members, total, err := f.s.ListMembers(t.Context(), f.ws.ID, store.Page{Limit: 50})
		wantErr(t, "ListMembers", err, nil)
		if total != 1 || len(members) != 1 {
			t.Errorf("ListMembers after delete = %d (total %d), want 1", len(members), total)
		}

		// The address and the external id are free again.
		again := f.member(t, "BOB@acme.test", auth.Agent, ptr("host-bob"))
		if again.ID == bob.ID {
			t.Errorf("a new member reused the deleted member's id %d", bob.ID)
		}
		_, err = f.s.CreateToken(t.Context(), store.Token{
			WorkspaceID: f.ws.ID, MemberID: bob.ID, Name: "late", Role: auth.Agent, Hash: "late", Hint: "late",
		})
		wantErr(t, "CreateToken for a deleted member", err, store.ErrNotFound)
	})
}
