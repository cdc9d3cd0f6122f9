package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Defaults of a workspace's settings (API.md §1).
const (
	defaultTimezone      = "UTC"
	defaultRetentionDays = 30
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

const workspaceColumns = `id, name, timezone, actions_url, smtp, alert_webhook_url, alert_emails,
	retention_days, secret, previous_secret, previous_secret_until, created_at, updated_at`

func scanWorkspace(row scanner) (store.Workspace, error) {
	var (
		w                         store.Workspace
		actionsURL, smtp, webhook sql.NullString
		alertEmails               string
		previous                  sql.NullString
		previousUntil             sql.NullInt64
		created, updated          int64
	)
	err := row.Scan(&w.ID, &w.Name, &w.Timezone, &actionsURL, &smtp, &webhook, &alertEmails,
		&w.RetentionDays, &w.Secret, &previous, &previousUntil, &created, &updated)
	if err != nil {
		return store.Workspace{}, notFound(err)
	}
	w.ActionsURL = strPtr(actionsURL)
	w.AlertWebhookURL = strPtr(webhook)
	w.PreviousSecret = strPtr(previous)
	w.PreviousSecretUntil = timePtr(previousUntil)
	w.CreatedAt, w.UpdatedAt = fromMS(created), fromMS(updated)
	if smtp.Valid {
		w.SMTP = new(store.SMTPSettings)
		if err := json.Unmarshal([]byte(smtp.String), w.SMTP); err != nil {
			return store.Workspace{}, err
		}
	}
	w.AlertEmails = []string{}
	if err := json.Unmarshal([]byte(alertEmails), &w.AlertEmails); err != nil {
		return store.Workspace{}, err
	}
	return w, nil
}

func getWorkspace(ctx context.Context, q querier, id int64) (store.Workspace, error) {
	return scanWorkspace(q.QueryRowContext(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = ?`, id))
}

// settingsArgs encodes the settings columns of w, applying the defaults to
// zero values.
func settingsArgs(w store.Workspace) (timezone string, smtp any, alertEmails string, retention int, err error) {
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
		smtp = string(b)
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
func (s *Store) CreateWorkspace(ctx context.Context, p store.NewWorkspace) (store.Workspace, store.Member, store.Token, error) {
	var (
		w   store.Workspace
		m   store.Member
		tok store.Token
	)
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO workspaces (name, timezone, alert_emails, retention_days, secret, created_at, updated_at)
			VALUES (?, ?, '[]', ?, ?, ?, ?)
			RETURNING id`,
			p.Name, defaultTimezone, defaultRetentionDays, p.Secret, ms(now), ms(now)).Scan(&id)
		if err != nil {
			return conflict(err)
		}
		if w, err = getWorkspace(ctx, tx, id); err != nil {
			return err
		}
		if m, err = insertMember(ctx, tx, store.Member{
			WorkspaceID: id, Name: p.AdminName, Email: p.AdminEmail, Role: auth.Admin,
		}, now); err != nil {
			return err
		}
		tok, err = insertToken(ctx, tx, store.Token{
			WorkspaceID: id, MemberID: m.ID, Name: p.TokenName, Role: auth.Admin,
			Hash: p.TokenHash, Hint: p.TokenHint,
		}, now)
		return err
	})
	if err != nil {
		return store.Workspace{}, store.Member{}, store.Token{}, wrap("create workspace", err)
	}
	return w, m, tok, nil
}

// GetWorkspace returns a workspace by id.
func (s *Store) GetWorkspace(ctx context.Context, id int64) (store.Workspace, error) {
	w, err := getWorkspace(ctx, s.read, id)
	return w, wrap("get workspace", err)
}

// GetWorkspaceByName returns a workspace by its unique name.
func (s *Store) GetWorkspaceByName(ctx context.Context, name string) (store.Workspace, error) {
	w, err := scanWorkspace(s.read.QueryRowContext(ctx,
		`SELECT `+workspaceColumns+` FROM workspaces WHERE name = ?`, name))
	return w, wrap("get workspace by name", err)
}

// CountWorkspaces returns the number of workspaces.
func (s *Store) CountWorkspaces(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM workspaces`).Scan(&n)
	return n, wrap("count workspaces", err)
}

// UpdateWorkspace writes the name and settings of w; the secrets only
// change through RotateSecret. An empty timezone or a retention of zero
// days take their defaults.
func (s *Store) UpdateWorkspace(ctx context.Context, w store.Workspace) (store.Workspace, error) {
	timezone, smtp, emails, retention, err := settingsArgs(w)
	if err != nil {
		return store.Workspace{}, wrap("update workspace", err)
	}
	var out store.Workspace
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE workspaces
			SET name = ?, timezone = ?, actions_url = ?, smtp = ?, alert_webhook_url = ?,
			    alert_emails = ?, retention_days = ?, updated_at = ?
			WHERE id = ?`,
			w.Name, timezone, w.ActionsURL, smtp, w.AlertWebhookURL, emails, retention, ms(s.now()), w.ID)
		if err != nil {
			return conflict(err)
		}
		if err := oneRow(res); err != nil {
			return err
		}
		out, err = getWorkspace(ctx, tx, w.ID)
		return err
	})
	return out, wrap("update workspace", err)
}

// RotateSecret makes newSecret current; the old one signs alongside it
// until graceUntil so receivers can roll over without dropping deliveries.
func (s *Store) RotateSecret(ctx context.Context, workspaceID int64, newSecret string, graceUntil time.Time) (store.Workspace, error) {
	var out store.Workspace
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// SET reads the row as it was, so previous_secret gets the old secret.
		res, err := tx.ExecContext(ctx, `
			UPDATE workspaces
			SET previous_secret = secret, secret = ?, previous_secret_until = ?, updated_at = ?
			WHERE id = ?`,
			newSecret, ms(graceUntil), ms(s.now()), workspaceID)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		out, err = getWorkspace(ctx, tx, workspaceID)
		return err
	})
	return out, wrap("rotate the workspace secret", err)
}

// oneRow turns "no row changed" into store.ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// lower is the case-folded key uniqueness is checked on. It is computed in
// Go rather than with SQL lower(), which in SQLite folds ASCII only.
func lower(s string) string { return strings.ToLower(s) }
