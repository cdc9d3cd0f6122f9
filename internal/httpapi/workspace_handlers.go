package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// secretGrace is how long a rotated-out signing secret keeps signing.
const secretGrace = 24 * time.Hour

// Workspace setting limits.
const (
	maxAlertEmails   = 20
	maxRetentionDays = 3650
)

type smtpResponse struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Username    string `json:"username"`
	From        string `json:"from"`
	TLS         string `json:"tls"`
	PasswordSet bool   `json:"password_set"`
}

type workspaceResponse struct {
	ID              int64         `json:"id"`
	Name            string        `json:"name"`
	Timezone        string        `json:"timezone"`
	ActionsURL      *string       `json:"actions_url"`
	SMTP            *smtpResponse `json:"smtp"`
	AlertWebhookURL *string       `json:"alert_webhook_url"`
	AlertEmails     []string      `json:"alert_emails"`
	RetentionDays   int           `json:"retention_days"`
	// The signing secret is not here: no GET returns it (docs/concepts.md#workspaces-members-tokens-and-roles). It is
	// shown when it is made, by POST /v1/workspaces and
	// POST /v1/workspace/secret, so a leaked admin token or a logged
	// response does not also leak what lets anyone forge deliveries.
	CreatedAt Time `json:"created_at"`
	UpdatedAt Time `json:"updated_at"`
}

func toWorkspace(w store.Workspace) workspaceResponse {
	out := workspaceResponse{ID: w.ID, Name: w.Name, Timezone: w.Timezone, ActionsURL: w.ActionsURL,
		AlertWebhookURL: w.AlertWebhookURL, AlertEmails: w.AlertEmails, RetentionDays: w.RetentionDays,
		CreatedAt: apiTime(w.CreatedAt), UpdatedAt: apiTime(w.UpdatedAt)}
	if out.AlertEmails == nil {
		out.AlertEmails = []string{}
	}
	if s := w.SMTP; s != nil {
		out.SMTP = &smtpResponse{Host: s.Host, Port: s.Port, Username: s.Username, From: s.From, TLS: s.TLS, PasswordSet: s.Password != ""}
	}
	return out
}

type smtpWrite struct {
	Host        Optional[string] `json:"host"`
	Port        Optional[int]    `json:"port"`
	Username    Optional[string] `json:"username"`
	Password    Optional[string] `json:"password"`
	From        Optional[string] `json:"from"`
	TLS         Optional[string] `json:"tls"`
	PasswordSet any              `json:"password_set,omitempty"` // read-only, ignored
}

type workspacePatch struct {
	Name            Optional[string]    `json:"name"`
	Timezone        Optional[string]    `json:"timezone"`
	ActionsURL      Optional[string]    `json:"actions_url"`
	SMTP            Optional[smtpWrite] `json:"smtp"`
	AlertWebhookURL Optional[string]    `json:"alert_webhook_url"`
	AlertEmails     Optional[[]string]  `json:"alert_emails"`
	RetentionDays   Optional[int]       `json:"retention_days"`
	WebhookSecret   any                 `json:"webhook_secret,omitempty"` // rotate with POST /v1/workspace/secret
	readOnly
}

// apply validates the patch and merges it into w (docs/concepts.md#conventions: nested objects
// merge; an omitted password keeps its value).
func (p *workspacePatch) apply(w *store.Workspace) validation.Errors {
	var errs validation.Errors
	checkName(&errs, "name", p.Name, false, maxDirectoryName)
	if p.Name.Present() {
		w.Name = strings.TrimSpace(p.Name.Value)
	}
	switch {
	case p.Timezone.Null:
		errs.Add("timezone", "must be an IANA time zone such as \"Europe/Paris\"")
	case p.Timezone.Set:
		if _, err := time.LoadLocation(p.Timezone.Value); err != nil || p.Timezone.Value == "" || p.Timezone.Value == "Local" {
			errs.Add("timezone", "unknown IANA time zone %q", p.Timezone.Value)
		} else {
			w.Timezone = p.Timezone.Value
		}
	}
	patchURL(&errs, "actions_url", p.ActionsURL, &w.ActionsURL)
	patchURL(&errs, "alert_webhook_url", p.AlertWebhookURL, &w.AlertWebhookURL)
	if p.AlertEmails.Set {
		w.AlertEmails = []string{}
		if len(p.AlertEmails.Value) > maxAlertEmails {
			errs.Add("alert_emails", "may list at most %d addresses", maxAlertEmails)
		}
		for i, e := range p.AlertEmails.Value {
			n, ok := normalizeEmail(e)
			if !ok {
				errs.Add(validation.Index("alert_emails", i), "must be an e-mail address")
			}
			w.AlertEmails = append(w.AlertEmails, n)
		}
	}
	if p.RetentionDays.Set {
		if p.RetentionDays.Null || p.RetentionDays.Value < 1 || p.RetentionDays.Value > maxRetentionDays {
			errs.Add("retention_days", "must be between 1 and %d", maxRetentionDays)
		} else {
			w.RetentionDays = p.RetentionDays.Value
		}
	}
	if p.SMTP.Null {
		w.SMTP = nil
	} else if p.SMTP.Set {
		s := store.SMTPSettings{Port: 587, TLS: "starttls"}
		if w.SMTP != nil {
			s = *w.SMTP
		}
		errs.Merge("smtp", p.SMTP.Value.merge(&s))
		w.SMTP = &s
	}
	return errs
}

func patchURL(errs *validation.Errors, field string, o Optional[string], dst **string) {
	switch {
	case o.Null:
		*dst = nil
	case o.Set:
		if msg := rules.CheckURL(o.Value); msg != "" {
			errs.Add(field, "%s", msg)
			return
		}
		v := o.Value
		*dst = &v
	}
}

func (sw *smtpWrite) merge(s *store.SMTPSettings) validation.Errors {
	var errs validation.Errors
	str := func(field string, o Optional[string], dst *string) {
		if o.Set {
			*dst = ""
			if !o.Null {
				errs.Text(field, o.Value)
				*dst = o.Value
			}
		}
	}
	str("host", sw.Host, &s.Host)
	str("username", sw.Username, &s.Username)
	str("password", sw.Password, &s.Password)
	str("from", sw.From, &s.From)
	str("tls", sw.TLS, &s.TLS)
	if sw.Port.Set {
		s.Port = sw.Port.Value
	}
	if strings.TrimSpace(s.Host) == "" {
		errs.Add("host", "is required")
	}
	if s.Port < 1 || s.Port > 65535 {
		errs.Add("port", "must be between 1 and 65535")
	}
	if n, ok := normalizeEmail(s.From); !ok {
		errs.Add("from", "must be an e-mail address")
	} else {
		s.From = n
	}
	if s.TLS != "none" && s.TLS != "starttls" && s.TLS != "tls" {
		errs.Add("tls", "must be none, starttls or tls")
	}
	return errs
}

func (a *API) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := a.store.GetWorkspace(r.Context(), principalFrom(r.Context()).Token.WorkspaceID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toWorkspace(ws))
}

func (a *API) patchWorkspace(w http.ResponseWriter, r *http.Request) error {
	var body workspacePatch
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	ws, err := a.store.GetWorkspace(r.Context(), principalFrom(r.Context()).Token.WorkspaceID)
	if err != nil {
		return err
	}
	if errs := body.apply(&ws); len(errs) > 0 {
		return errInvalid(errs)
	}
	// Names are display names (docs/concepts.md#workspaces-members-tokens-and-roles): another workspace's name is no
	// conflict, and answering one would tell this tenant that it exists.
	ws, err = a.store.UpdateWorkspace(r.Context(), ws)
	if err != nil {
		return err
	}
	a.changed(ws.ID) // schedules default to the workspace's time zone
	return writeJSON(w, http.StatusOK, toWorkspace(ws))
}

type secretResponse struct {
	Secret string `json:"secret"`
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	secret := auth.NewWebhookSecret()
	_, err := a.store.RotateSecret(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, secret, a.clock.Now().Add(secretGrace))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, secretResponse{Secret: secret})
}

type workspaceCreate struct {
	Name Optional[string] `json:"name"`
}

type workspaceCreated struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	AdminToken string `json:"admin_token"`
	// WebhookSecret is shown here, where it is made, and never again.
	WebhookSecret string `json:"webhook_secret"`
	CreatedAt     Time   `json:"created_at"`
}

func (a *API) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	if !a.cfg.MultiWorkspace {
		return errForbidden("this server runs with one workspace; start it with --multi-workspace to create more")
	}
	var body workspaceCreate
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	var errs validation.Errors
	checkName(&errs, "name", body.Name, true, maxDirectoryName)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	ws, _, token, err := tenancy.CreateWorkspace(r.Context(), a.store, strings.TrimSpace(body.Name.Value), "")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, workspaceCreated{ID: ws.ID, Name: ws.Name, AdminToken: token,
		WebhookSecret: ws.Secret, CreatedAt: apiTime(ws.CreatedAt)})
}
