package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

// Defaults of a workspace's settings.
const (
	defaultTimezone      = "UTC"
	defaultRetentionDays = 30
)

const workspaceColumns = `id, name, timezone, actions_url, smtp, alert_webhook_url, alert_emails,
	retention_days, secret, previous_secret, previous_secret_until, created_at, updated_at`

func scanWorkspace(row Scanner) (Workspace, error) {
	var (
		w                 Workspace
		smtp, alertEmails []byte
	)
	err := row.Scan(&w.ID, &w.Name, &w.Timezone, &w.ActionsURL, &smtp, &w.AlertWebhookURL, &alertEmails,
		&w.RetentionDays, &w.Secret, &w.PreviousSecret, &w.PreviousSecretUntil, &w.CreatedAt, &w.UpdatedAt)
	if err != nil {
		return Workspace{}, err
	}
	if smtp != nil {
		w.SMTP = new(SMTPSettings)
		if err := json.Unmarshal(smtp, w.SMTP); err != nil {
			return Workspace{}, fmt.Errorf("workspace %d: smtp: %w", w.ID, err)
		}
	}
	w.AlertEmails = []string{}
	if err := json.Unmarshal(alertEmails, &w.AlertEmails); err != nil {
		return Workspace{}, fmt.Errorf("workspace %d: alert_emails: %w", w.ID, err)
	}
	return w, nil
}

func getWorkspace(ctx context.Context, q Querier, id int64) (Workspace, error) {
	return scanWorkspace(q.QueryRow(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = $1`, id))
}

// settingsArgs encodes the settings columns of w, applying the defaults to
// zero values.
func settingsArgs(w Workspace) (timezone string, smtp *string, alertEmails string, retention int, err error) {
	timezone = w.Timezone
	if timezone == "" {
		timezone = defaultTimezone
	}
	retention = w.RetentionDays
	if retention <= 0 {
		retention = defaultRetentionDays
	}
	if w.SMTP != nil {
		b, err := json.Marshal(w.SMTP)
		if err != nil {
			return "", nil, "", 0, err
		}
		s := string(b)
		smtp = &s
	}
	emails := w.AlertEmails
	if emails == nil {
		emails = []string{}
	}
	b, err := json.Marshal(emails)
	if err != nil {
		return "", nil, "", 0, err
	}
	return timezone, smtp, string(b), retention, nil
}

// CreateWorkspace creates the workspace, its admin member and that member's
// token in one transaction: a workspace nobody can administer never exists.
// Names are display names: two workspaces may share one.
func (s *SQL) CreateWorkspace(ctx context.Context, p NewWorkspace) (Workspace, Member, Token, error) {
	var (
		w   Workspace
		m   Member
		tok Token
	)
	now := s.Now()
	err := s.d.Write(ctx, func(q Querier) error {
		var id int64
		err := q.QueryRow(ctx, `
			INSERT INTO workspaces (name, timezone, alert_emails, retention_days, secret, created_at, updated_at)
			VALUES ($1, $2, '[]', $3, $4, $5, $6)
			RETURNING id`,
			p.Name, defaultTimezone, defaultRetentionDays, p.Secret, now, now).Scan(&id)
		if err != nil {
			return s.conflict(err)
		}
		if w, err = getWorkspace(ctx, q, id); err != nil {
			return err
		}
		if m, err = s.insertMember(ctx, q, Member{
			WorkspaceID: id, Name: p.AdminName, Email: p.AdminEmail, Role: auth.Admin,
		}, now); err != nil {
			return err
		}
		tok, err = s.insertToken(ctx, q, Token{
			WorkspaceID: id, MemberID: m.ID, Name: p.TokenName, Role: auth.Admin,
			Hash: p.TokenHash, Hint: p.TokenHint,
		}, now)
		return err
	})
	if err != nil {
		return Workspace{}, Member{}, Token{}, wrap("create workspace", err)
	}
	return w, m, tok, nil
}

// GetWorkspace returns a workspace by id.
func (s *SQL) GetWorkspace(ctx context.Context, id int64) (Workspace, error) {
	w, err := getWorkspace(ctx, s.d.Reader(), id)
	return w, wrap("get workspace", err)
}

// ErrAmbiguousName: more than one workspace has the name asked for.
var ErrAmbiguousName = fmt.Errorf("store: several workspaces have this name; use the id: %w", ErrConflict)

// ListWorkspacesByName returns the workspaces with that name, by id
// (names are display names: there may be several).
func (s *SQL) ListWorkspacesByName(ctx context.Context, name string) ([]Workspace, error) {
	ws, err := queryAll(ctx, s.d.Reader(), scanWorkspace,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE name = $1 ORDER BY id`, name)
	return ws, wrap("list workspaces by name", err)
}

// GetWorkspaceByName returns the one workspace with that name: none is
// ErrNotFound, several (names are display names) ErrAmbiguousName.
func (s *SQL) GetWorkspaceByName(ctx context.Context, name string) (Workspace, error) {
	ws, err := s.ListWorkspacesByName(ctx, name)
	switch {
	case err != nil:
		return Workspace{}, err
	case len(ws) == 0:
		return Workspace{}, wrap("get workspace by name", ErrNotFound)
	case len(ws) > 1:
		return Workspace{}, ErrAmbiguousName
	}
	return ws[0], nil
}

// CountWorkspaces returns the number of workspaces.
func (s *SQL) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	err := s.d.Reader().QueryRow(ctx, `SELECT count(*) FROM workspaces`).Scan(&n)
	return n, wrap("count workspaces", err)
}

// UpdateWorkspace writes the name and settings of w; the secrets only
// change through RotateSecret. An empty timezone or a retention of zero
// days take their defaults.
func (s *SQL) UpdateWorkspace(ctx context.Context, w Workspace) (Workspace, error) {
	timezone, smtp, emails, retention, err := settingsArgs(w)
	if err != nil {
		return Workspace{}, wrap("update workspace", err)
	}
	var out Workspace
	err = s.d.Write(ctx, func(q Querier) error {
		err := oneRow(q.Exec(ctx, `
			UPDATE workspaces
			SET name = $1, timezone = $2, actions_url = $3, smtp = $4, alert_webhook_url = $5,
			    alert_emails = $6, retention_days = $7, updated_at = $8
			WHERE id = $9`,
			w.Name, timezone, w.ActionsURL, smtp, w.AlertWebhookURL, emails, retention, s.Now(), w.ID))
		if err != nil {
			return s.conflict(err)
		}
		if out, err = getWorkspace(ctx, q, w.ID); err != nil {
			return err
		}
		// The timezone is compiled into schedules without one of their own.
		return s.rulesChanged(ctx, q, w.ID)
	})
	return out, wrap("update workspace", err)
}

// RotateSecret makes newSecret current; the old one signs alongside it
// until graceUntil so receivers can roll over without dropping deliveries.
func (s *SQL) RotateSecret(ctx context.Context, workspaceID int64, newSecret string, graceUntil time.Time) (Workspace, error) {
	var out Workspace
	err := s.d.Write(ctx, func(q Querier) error {
		// SET reads the row as it was, so previous_secret gets the old secret.
		err := oneRow(q.Exec(ctx, `
			UPDATE workspaces
			SET previous_secret = secret, secret = $1, previous_secret_until = $2, updated_at = $3
			WHERE id = $4`,
			newSecret, graceUntil, s.Now(), workspaceID))
		if err != nil {
			return err
		}
		out, err = getWorkspace(ctx, q, workspaceID)
		return err
	})
	return out, wrap("rotate the workspace secret", err)
}
