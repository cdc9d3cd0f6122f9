package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

func testMigrations(t *testing.T, open Opener) {
	t.Run("MigrateAgainIsANoOp", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if !slices.Contains(Dialects, s.Dialect()) {
			t.Errorf("Dialect() = %q, want one of %v", s.Dialect(), Dialects)
		}
		if err := s.Ready(t.Context()); err != nil {
			t.Fatalf("Ready on a migrated store: %v", err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := s.Ready(t.Context()); err != nil {
			t.Fatalf("Ready after a second Migrate: %v", err)
		}
	})
}

func testWorkspaces(t *testing.T, open Opener) {
	t.Run("CreateMakesAdminAndToken", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		n, err := s.CountWorkspaces(t.Context())
		wantErr(t, "CountWorkspaces", err, nil)
		if n != 0 {
			t.Fatalf("CountWorkspaces on an empty store = %d, want 0", n)
		}

		win := openWindow()
		w, m, tok, err := s.CreateWorkspace(t.Context(), newWorkspace("acme"))
		wantErr(t, "CreateWorkspace", err, nil)
		win.check(t, "CreatedAt", w.CreatedAt)
		wantDiff(t, "workspace", store.Workspace{
			ID: w.ID, Name: "acme", Timezone: "UTC", AlertEmails: []string{}, RetentionDays: 30,
			Secret: "whsec_acme", CreatedAt: w.CreatedAt, UpdatedAt: w.CreatedAt,
		}, w)
		wantDiff(t, "admin", store.Member{
			ID: m.ID, WorkspaceID: w.ID, Name: "Admin of acme", Email: "admin@acme.test",
			Role: auth.Admin, CreatedAt: w.CreatedAt,
		}, m)
		wantDiff(t, "token", store.Token{
			ID: tok.ID, WorkspaceID: w.ID, MemberID: m.ID, Name: "bootstrap", Role: auth.Admin,
			Hash: auth.HashToken("token-acme"), Hint: "sbt_acme", CreatedAt: w.CreatedAt,
		}, tok)

		got, err := s.GetWorkspace(t.Context(), w.ID)
		wantErr(t, "GetWorkspace", err, nil)
		wantDiff(t, "GetWorkspace", w, got)
		got, err = s.GetWorkspaceByName(t.Context(), "acme")
		wantErr(t, "GetWorkspaceByName", err, nil)
		wantDiff(t, "GetWorkspaceByName", w, got)
		p, err := s.Authenticate(t.Context(), auth.HashToken("token-acme"))
		wantErr(t, "Authenticate", err, nil)
		wantDiff(t, "principal", store.Principal{Token: tok, Member: m}, p)

		createWorkspace(t, s, "globex")
		n, err = s.CountWorkspaces(t.Context())
		wantErr(t, "CountWorkspaces", err, nil)
		if n != 2 {
			t.Fatalf("CountWorkspaces = %d, want 2", n)
		}
	})

	t.Run("CreateIsOneTransaction", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		createWorkspace(t, s, "acme")

		// The token hash is taken: the workspace row must roll back too.
		clash := newWorkspace("globex")
		clash.TokenHash = auth.HashToken("token-acme")
		_, _, _, err := s.CreateWorkspace(t.Context(), clash)
		wantErr(t, "CreateWorkspace with a taken token hash", err, store.ErrConflict)
		_, err = s.GetWorkspaceByName(t.Context(), "globex")
		wantErr(t, "GetWorkspaceByName of the rolled-back workspace", err, store.ErrNotFound)

		n, err := s.CountWorkspaces(t.Context())
		wantErr(t, "CountWorkspaces", err, nil)
		if n != 1 {
			t.Fatalf("CountWorkspaces = %d, want 1", n)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for name, call := range map[string]func() error{
			"GetWorkspace": func() error { _, err := s.GetWorkspace(t.Context(), 424242); return err },
			"GetWorkspaceByName": func() error {
				_, err := s.GetWorkspaceByName(t.Context(), "nope")
				return err
			},
			"UpdateWorkspace": func() error {
				_, err := s.UpdateWorkspace(t.Context(), store.Workspace{ID: 424242, Name: "x"})
				return err
			},
			"RotateSecret": func() error {
				_, err := s.RotateSecret(t.Context(), 424242, "whsec_new", time.Now())
				return err
			},
		} {
			wantErr(t, name, call(), store.ErrNotFound)
		}
	})

	t.Run("UpdateWritesSettingsNotSecrets", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		w := f.ws
		w.Name = "acme-renamed"
		w.Timezone = "Europe/Paris"
		w.ActionsURL = ptr("https://helpdesk.example/actions")
		w.SMTP = &store.SMTPSettings{Host: "smtp.example", Port: 587, Username: "bot",
			Password: "s3cret", From: "bot@acme.test", TLS: "starttls"}
		w.AlertWebhookURL = ptr("https://alerts.example/hook")
		w.AlertEmails = []string{"ops@acme.test", "lead@acme.test"}
		w.RetentionDays = 90
		w.Secret = "whsec_forged"
		w.PreviousSecret = ptr("whsec_forged_too")

		win := openWindow()
		got, err := f.s.UpdateWorkspace(t.Context(), w)
		wantErr(t, "UpdateWorkspace", err, nil)
		win.check(t, "UpdatedAt", got.UpdatedAt)
		want := w
		want.Secret, want.PreviousSecret = f.ws.Secret, nil
		want.UpdatedAt = got.UpdatedAt
		wantDiff(t, "updated workspace", want, got)
		again, err := f.s.GetWorkspace(t.Context(), w.ID)
		wantErr(t, "GetWorkspace", err, nil)
		wantDiff(t, "GetWorkspace after update", got, again)

		// Clearing the optional settings stores nulls, not empty values.
		w = got
		w.ActionsURL, w.SMTP, w.AlertWebhookURL, w.AlertEmails = nil, nil, nil, nil
		got, err = f.s.UpdateWorkspace(t.Context(), w)
		wantErr(t, "UpdateWorkspace clearing settings", err, nil)
		if got.ActionsURL != nil || got.SMTP != nil || got.AlertWebhookURL != nil || len(got.AlertEmails) != 0 {
			t.Fatalf("cleared settings read back as %+v", got)
		}
	})

	t.Run("NamesAreDisplayNames", func(t *testing.T) {
		t.Parallel()
		// Two tenants may choose one name; nothing may tell either that the
		// other did. Only a lookup by that name is ambiguous.
		f := setup(t, open)
		other, _, _ := createWorkspace(t, f.s, "globex")
		w := f.ws
		w.Name = "globex"
		got, err := f.s.UpdateWorkspace(t.Context(), w)
		wantErr(t, "UpdateWorkspace to another workspace's name", err, nil)
		if got.Name != "globex" {
			t.Fatalf("name after update = %q, want globex", got.Name)
		}
		dup := newWorkspace("globex")
		dup.TokenHash = auth.HashToken("a third token")
		third, _, _, err := f.s.CreateWorkspace(t.Context(), dup)
		wantErr(t, "CreateWorkspace with a name in use", err, nil)
		if third.ID == other.ID || third.ID == f.ws.ID {
			t.Fatalf("the third workspace reuses id %d", third.ID)
		}
		_, err = f.s.GetWorkspaceByName(t.Context(), "globex")
		wantErr(t, "GetWorkspaceByName of a shared name", err, store.ErrAmbiguousName)
		_, err = f.s.GetWorkspaceByName(t.Context(), "nobody")
		wantErr(t, "GetWorkspaceByName of an unknown name", err, store.ErrNotFound)
	})

	t.Run("RotateSecret", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		grace := time.Date(2031, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
		got, err := f.s.RotateSecret(t.Context(), f.ws.ID, "whsec_second", grace)
		wantErr(t, "RotateSecret", err, nil)
		if got.Secret != "whsec_second" || got.PreviousSecret == nil || *got.PreviousSecret != "whsec_acme" {
			t.Fatalf("after rotation: secret %q, previous %v", got.Secret, got.PreviousSecret)
		}
		wantDiff(t, "PreviousSecretUntil", ptr(grace.Truncate(time.Millisecond)), got.PreviousSecretUntil)

		got, err = f.s.RotateSecret(t.Context(), f.ws.ID, "whsec_third", grace.Add(time.Hour))
		wantErr(t, "second RotateSecret", err, nil)
		if got.Secret != "whsec_third" || *got.PreviousSecret != "whsec_second" {
			t.Fatalf("after second rotation: secret %q, previous %q", got.Secret, *got.PreviousSecret)
		}
		again, err := f.s.GetWorkspace(t.Context(), f.ws.ID)
		wantErr(t, "GetWorkspace", err, nil)
		wantDiff(t, "GetWorkspace after rotation", got, again)
	})
}
