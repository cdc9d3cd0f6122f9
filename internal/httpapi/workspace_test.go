package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/httpapi"
)

type smtpDoc struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Username    string `json:"username"`
	From        string `json:"from"`
	TLS         string `json:"tls"`
	PasswordSet bool   `json:"password_set"`
}

type workspaceDoc struct {
	ID              int64    `json:"id"`
	Name            string   `json:"name"`
	Timezone        string   `json:"timezone"`
	ActionsURL      *string  `json:"actions_url"`
	SMTP            *smtpDoc `json:"smtp"`
	AlertWebhookURL *string  `json:"alert_webhook_url"`
	AlertEmails     []string `json:"alert_emails"`
	RetentionDays   int      `json:"retention_days"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
}

func TestWorkspaceSettings(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		get := func() workspaceDoc {
			t.Helper()
			var w workspaceDoc
			e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200).decode(t, &w)
			return w
		}
		patch := func(body any) workspaceDoc {
			t.Helper()
			var w workspaceDoc
			e.do(t, "PATCH", "/v1/workspace", e.A.Admin.Token, body).expect(t, 200).decode(t, &w)
			return w
		}
		w := get()
		if diff := cmp.Diff(workspaceDoc{ID: e.A.ID, Name: "acme", Timezone: "UTC", AlertEmails: []string{}, RetentionDays: 30,
			CreatedAt: ts(t0), UpdatedAt: ts(t0)}, w); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}

		e.clock.Advance(time.Second)
		w = patch(map[string]any{
			"timezone": "Europe/Paris", "actions_url": "https://helpdesk.example.com/switchboard",
			"alert_webhook_url": "https://ops.example.com/alerts", "alert_emails": []any{"Ops@Example.com"}, "retention_days": 90,
			"smtp": map[string]any{"host": "smtp.example.com", "port": 465, "username": "bot", "password": "hunter2",
				"from": "help@example.com", "tls": "tls"},
		})
		want := workspaceDoc{ID: e.A.ID, Name: "acme", Timezone: "Europe/Paris", ActionsURL: ptr("https://helpdesk.example.com/switchboard"),
			SMTP:            &smtpDoc{Host: "smtp.example.com", Port: 465, Username: "bot", From: "help@example.com", TLS: "tls", PasswordSet: true},
			AlertWebhookURL: ptr("https://ops.example.com/alerts"), AlertEmails: []string{"ops@example.com"}, RetentionDays: 90,
			CreatedAt: ts(t0), UpdatedAt: ts(t0.Add(time.Second))}
		if diff := cmp.Diff(want, w); diff != "" {
			t.Errorf("after PATCH (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, get()); diff != "" {
			t.Errorf("GET after PATCH (-want +got):\n%s", diff)
		}
		raw := e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200)
		if strings.Contains(string(raw.Body), "hunter2") {
			t.Errorf("the SMTP password leaks: %s", raw.Body)
		}

		// smtp merges; an omitted password keeps its value.
		w = patch(map[string]any{"smtp": map[string]any{"port": 2525, "tls": "starttls"}})
		if diff := cmp.Diff(&smtpDoc{Host: "smtp.example.com", Port: 2525, Username: "bot", From: "help@example.com", TLS: "starttls", PasswordSet: true}, w.SMTP); diff != "" {
			t.Errorf("smtp merge (-want +got):\n%s", diff)
		}
		// Sending back a GET body (password_set and all) keeps it too.
		doc := e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200).object(t)
		doc["name"] = "acme-support"
		w = patch(doc)
		if w.Name != "acme-support" || w.SMTP == nil || !w.SMTP.PasswordSet || w.Timezone != "Europe/Paris" {
			t.Errorf("PATCH of a GET body: %+v", w)
		}
		// null clears the password, then smtp.
		if w = patch(map[string]any{"smtp": map[string]any{"password": nil}}); w.SMTP == nil || w.SMTP.PasswordSet {
			t.Errorf("password null: %+v", w.SMTP)
		}
		w = patch(map[string]any{"smtp": nil, "actions_url": nil, "alert_emails": []any{}})
		if w.SMTP != nil || w.ActionsURL != nil || len(w.AlertEmails) != 0 || w.AlertWebhookURL == nil {
			t.Errorf("clearing: %+v", w)
		}
		// New smtp settings fill their defaults (port 587, starttls).
		w = patch(map[string]any{"smtp": map[string]any{"host": "mx.example.com", "from": "a@example.com"}})
		if diff := cmp.Diff(&smtpDoc{Host: "mx.example.com", Port: 587, From: "a@example.com", TLS: "starttls"}, w.SMTP); diff != "" {
			t.Errorf("new smtp defaults (-want +got):\n%s", diff)
		}
		// B is untouched.
		var b workspaceDoc
		e.do(t, "GET", "/v1/workspace", e.B.Admin.Token, nil).expect(t, 200).decode(t, &b)
		if b.ID != e.B.ID || b.Timezone != "UTC" || b.SMTP != nil {
			t.Errorf("B's workspace: %+v", b)
		}

		// Rotation returns a new secret, once; it signs from then on.
		before := storedSecret(t, e, e.A.ID)
		var s struct {
			Secret string `json:"secret"`
		}
		e.do(t, "POST", "/v1/workspace/secret", e.A.Admin.Token, nil).expect(t, 200).decode(t, &s)
		if !strings.HasPrefix(s.Secret, "whsec_") || s.Secret == before {
			t.Errorf("rotated secret %q (before %q)", s.Secret, before)
		}
		if got := storedSecret(t, e, e.A.ID); got != s.Secret {
			t.Errorf("the store signs with %q after rotation, want %q", got, s.Secret)
		}
		// The secret is not writable through PATCH.
		patch(map[string]any{"webhook_secret": "whsec_mine"})
		if got := storedSecret(t, e, e.A.ID); got != s.Secret {
			t.Errorf("PATCH wrote the secret: %q", got)
		}
	})
}

func TestCreateWorkspace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		single := setup(t, d)
		single.do(t, "POST", "/v1/workspaces", single.A.Admin.Token, map[string]any{"name": "initech"}).problem(t, 403)

		e := setupWith(t, d, httpapi.Config{MultiWorkspace: true})
		r := e.newRule(t, e.A, ruleBody())
		e.clock.Advance(1500 * time.Millisecond)
		var created struct {
			ID         int64  `json:"id"`
			Name       string `json:"name"`
			AdminToken string `json:"admin_token"`
			CreatedAt  string `json:"created_at"`
		}
		e.do(t, "POST", "/v1/workspaces", e.A.Admin.Token, map[string]any{"name": "initech"}).expect(t, 201).decode(t, &created)
		if created.Name != "initech" || created.ID == e.A.ID || created.ID == e.B.ID || created.CreatedAt != "2026-06-15T09:00:01.500Z" ||
			!strings.HasPrefix(created.AdminToken, "sbt_") {
			t.Errorf("created workspace: %+v", created)
		}
		tok := created.AdminToken
		// The token is an admin of the new workspace, and only of it.
		var w workspaceDoc
		e.do(t, "GET", "/v1/workspace", tok, nil).expect(t, 200).decode(t, &w)
		if w.ID != created.ID || w.Name != "initech" {
			t.Errorf("the new token's workspace: %+v", w)
		}
		var rules struct {
			Data []rule `json:"data"`
		}
		e.do(t, "GET", "/v1/automation/rules", tok, nil).expect(t, 200).decode(t, &rules)
		if len(rules.Data) != 0 {
			t.Errorf("the new workspace sees rules: %+v", rules.Data)
		}
		e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d", r.ID), tok, nil).problem(t, 404)
		var members envelope[memberDoc]
		e.do(t, "GET", "/v1/members", tok, nil).expect(t, 200).decode(t, &members)
		if members.Total != 1 || members.Data[0].Role != "admin" {
			t.Errorf("the new workspace's members: %+v", members)
		}
		// Its admin may create workspaces too.
		e.do(t, "POST", "/v1/workspaces", tok, map[string]any{"name": "initrode"}).expect(t, 201)
		// And A's view did not change.
		if got := e.listRules(t, e.A); len(got) != 1 || got[0].ID != r.ID {
			t.Errorf("A's rules: %+v", got)
		}
	})
}

// storedSecret is workspace ws's current signing secret, read from the
// store: no GET shows it.
func storedSecret(t testing.TB, e *env, ws int64) string {
	t.Helper()
	w, err := e.store.GetWorkspace(context.Background(), ws)
	if err != nil {
		t.Fatalf("get workspace %d: %v", ws, err)
	}
	return w.Secret
}
