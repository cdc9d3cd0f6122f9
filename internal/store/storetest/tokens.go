package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

func testTokens(t *testing.T, open Opener) {
	t.Run("CreateGetAuthenticate", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		agent := f.member(t, "agent@acme.test", auth.Agent, ptr("host-agent"))
		expires := time.Date(2030, 6, 1, 12, 0, 0, 123_456_789, time.FixedZone("CEST", 2*3600))
		win := openWindow()
		tok, err := f.s.CreateToken(t.Context(), store.Token{
			WorkspaceID: f.ws.ID, MemberID: agent.ID, Name: "helpdesk", Role: auth.Supervisor,
			Hash: auth.HashToken("sbt_helpdesk"), Hint: "sbt_help", ExpiresAt: &expires,
		})
		wantErr(t, "CreateToken", err, nil)
		win.check(t, "CreatedAt", tok.CreatedAt)
		wantDiff(t, "created token", store.Token{
			ID: tok.ID, WorkspaceID: f.ws.ID, MemberID: agent.ID, Name: "helpdesk", Role: auth.Supervisor,
			Hash: auth.HashToken("sbt_helpdesk"), Hint: "sbt_help",
			ExpiresAt: ptr(expires.UTC().Truncate(time.Millisecond)), CreatedAt: tok.CreatedAt,
		}, tok)
		checkStored(t, "ExpiresAt", *tok.ExpiresAt)

		got, err := f.s.GetToken(t.Context(), f.ws.ID, tok.ID)
		wantErr(t, "GetToken", err, nil)
		wantDiff(t, "GetToken", tok, got)

		p, err := f.s.Authenticate(t.Context(), tok.Hash)
		wantErr(t, "Authenticate", err, nil)
		wantDiff(t, "principal", store.Principal{Token: tok, Member: agent}, p)
		// A token never acts above its member's current role.
		if p.Role() != auth.Agent {
			t.Errorf("Principal.Role() = %q, want agent", p.Role())
		}

		_, err = f.s.Authenticate(t.Context(), auth.HashToken("unknown"))
		wantErr(t, "Authenticate an unknown hash", err, store.ErrNotFound)
		_, err = f.s.GetToken(t.Context(), f.ws.ID, 424242)
		wantErr(t, "GetToken unknown", err, store.ErrNotFound)
	})

	t.Run("CreateErrors", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		_, foreign, _ := createWorkspace(t, f.s, "globex")
		for _, tc := range []struct {
			name     string
			memberID int64
			hash     string
			want     error
		}{
			{"TakenHash", f.admin.ID, f.token.Hash, store.ErrConflict},
			{"UnknownMember", 424242, "h1", store.ErrNotFound},
			{"MemberOfAnotherWorkspace", foreign.ID, "h2", store.ErrNotFound},
		} {
			_, err := f.s.CreateToken(t.Context(), store.Token{
				WorkspaceID: f.ws.ID, MemberID: tc.memberID, Name: tc.name, Role: auth.Agent,
				Hash: tc.hash, Hint: "sbt_",
			})
			wantErr(t, "CreateToken "+tc.name, err, tc.want)
		}
	})

	t.Run("ListFiltersAndPages", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		agent := f.member(t, "agent@acme.test", auth.Agent, nil)
		a1 := f.tokenFor(t, f.admin, "a1", auth.Admin)
		g1 := f.tokenFor(t, agent, "g1", auth.Agent)
		a2 := f.tokenFor(t, f.admin, "a2", auth.Agent)
		g2 := f.tokenFor(t, agent, "g2", auth.Agent)
		for _, tc := range []struct {
			name      string
			memberID  int64
			page      store.Page
			want      []store.Token
			wantTotal int
		}{
			{"All", 0, store.Page{Limit: 50}, []store.Token{f.token, a1, g1, a2, g2}, 5},
			{"AllSecondPage", 0, store.Page{Limit: 2, Offset: 2}, []store.Token{g1, a2}, 5},
			{"OneMember", agent.ID, store.Page{Limit: 50}, []store.Token{g1, g2}, 2},
			{"OneMemberPaged", f.admin.ID, store.Page{Limit: 1, Offset: 1}, []store.Token{a1}, 3},
			{"UnknownMember", 424242, store.Page{Limit: 50}, []store.Token{}, 0},
		} {
			list, total, err := f.s.ListTokens(t.Context(), f.ws.ID, tc.memberID, tc.page)
			wantErr(t, "ListTokens "+tc.name, err, nil)
			if total != tc.wantTotal {
				t.Errorf("ListTokens %s: total = %d, want %d", tc.name, total, tc.wantTotal)
			}
			wantDiff(t, "ListTokens "+tc.name, tc.want, list)
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		tok := f.tokenFor(t, f.admin, "laptop", auth.Admin)
		at := time.Date(2027, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
		wantErr(t, "RevokeToken", f.s.RevokeToken(t.Context(), f.ws.ID, tok.ID, at), nil)
		// Revoking again is fine and keeps the first time.
		wantErr(t, "RevokeToken again", f.s.RevokeToken(t.Context(), f.ws.ID, tok.ID, at.Add(time.Hour)), nil)

		want := ptr(at.Truncate(time.Millisecond))
		p, err := f.s.Authenticate(t.Context(), tok.Hash)
		wantErr(t, "Authenticate a revoked token", err, nil)
		wantDiff(t, "revoked token's RevokedAt", want, p.Token.RevokedAt)
		got, err := f.s.GetToken(t.Context(), f.ws.ID, tok.ID)
		wantErr(t, "GetToken of a revoked token", err, nil)
		wantDiff(t, "GetToken RevokedAt", want, got.RevokedAt)

		list, total, err := f.s.ListTokens(t.Context(), f.ws.ID, 0, store.Page{Limit: 50})
		wantErr(t, "ListTokens", err, nil)
		if total != 1 {
			t.Errorf("ListTokens total = %d, want 1 (the revoked token is hidden)", total)
		}
		wantDiff(t, "ListTokens", []store.Token{f.token}, list)

		wantErr(t, "RevokeToken unknown", f.s.RevokeToken(t.Context(), f.ws.ID, 424242, at), store.ErrNotFound)
	})
}
