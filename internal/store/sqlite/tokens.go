package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
)

const tokenColumns = `t.id, t.workspace_id, t.member_id, t.name, t.role, t.hash, t.hint,
	t.expires_at, t.revoked_at, t.created_at`

func scanToken(row scanner, extra ...any) (store.Token, error) {
	var (
		t                store.Token
		expires, revoked sql.NullInt64
		created          int64
	)
	dest := append([]any{&t.ID, &t.WorkspaceID, &t.MemberID, &t.Name, &t.Role, &t.Hash, &t.Hint,
		&expires, &revoked, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Token{}, notFound(err)
	}
	t.ExpiresAt, t.RevokedAt = timePtr(expires), timePtr(revoked)
	t.CreatedAt = fromMS(created)
	return t, nil
}

func scanTokenRow(row scanner) (store.Token, error) { return scanToken(row) }

func getToken(ctx context.Context, q querier, workspaceID, id int64) (store.Token, error) {
	return scanToken(q.QueryRowContext(ctx, `
		SELECT `+tokenColumns+` FROM tokens t WHERE t.workspace_id = ? AND t.id = ?`, workspaceID, id))
}

func insertToken(ctx context.Context, tx *sql.Tx, t store.Token, now time.Time) (store.Token, error) {
	// The composite foreign key would accept a deleted member, whose row
	// stays; a token for it must not be made.
	if _, err := getMember(ctx, tx, t.WorkspaceID, t.MemberID); err != nil {
		return store.Token{}, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `
		INSERT INTO tokens (workspace_id, member_id, name, role, hash, hint, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		t.WorkspaceID, t.MemberID, t.Name, string(t.Role), t.Hash, t.Hint,
		msOrNil(truncPtr(t.ExpiresAt)), ms(now)).Scan(&id)
	if err != nil {
		return store.Token{}, conflict(err)
	}
	return getToken(ctx, tx, t.WorkspaceID, id)
}

// truncPtr drops what the column cannot hold below a millisecond.
func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Millisecond)
	return &v
}

// CreateToken stores a token for a live member of the workspace; only its
// hash, which must be unique.
func (s *Store) CreateToken(ctx context.Context, t store.Token) (store.Token, error) {
	var out store.Token
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = insertToken(ctx, tx, t, s.now())
		return err
	})
	return out, wrap("create token", err)
}

// Authenticate returns the token with that hash and its member, revoked
// tokens (and deleted members) included so the caller can tell "revoked"
// from "unknown".
func (s *Store) Authenticate(ctx context.Context, hash string) (store.Principal, error) {
	var (
		p       store.Principal
		ext     sql.NullString
		created int64
	)
	t, err := scanToken(s.read.QueryRowContext(ctx, `
		SELECT `+tokenColumns+`,
		       m.id, m.workspace_id, m.name, m.email, m.role, m.external_id, m.created_at
		FROM tokens t
		JOIN members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
		WHERE t.hash = ?`, hash),
		&p.Member.ID, &p.Member.WorkspaceID, &p.Member.Name, &p.Member.Email, &p.Member.Role, &ext, &created)
	if err != nil {
		return store.Principal{}, wrap("authenticate", err)
	}
	p.Token = t
	p.Member.ExternalID = strPtr(ext)
	p.Member.CreatedAt = fromMS(created)
	return p, nil
}

// GetToken returns a token of the workspace, revoked or not: revoking
// twice is harmless, and the caller may need to see whose it was.
func (s *Store) GetToken(ctx context.Context, workspaceID, id int64) (store.Token, error) {
	t, err := getToken(ctx, s.read, workspaceID, id)
	return t, wrap("get token", err)
}

// ListTokens returns a page of the workspace's unrevoked tokens by id (of
// memberID only when it is non-zero), and how many there are.
func (s *Store) ListTokens(ctx context.Context, workspaceID, memberID int64, p store.Page) ([]store.Token, int, error) {
	var (
		out   []store.Token
		total int
	)
	limit, offset := pageArgs(p)
	const where = ` FROM tokens t
		WHERE t.workspace_id = ? AND t.revoked_at IS NULL AND (? = 0 OR t.member_id = ?)`
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*)`+where, workspaceID, memberID, memberID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+where+` ORDER BY t.id LIMIT ? OFFSET ?`,
			workspaceID, memberID, memberID, limit, offset)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanTokenRow)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list tokens", err)
	}
	return out, total, nil
}

// RevokeToken marks a token revoked at at. Revoking a revoked token keeps
// its first revocation time and succeeds.
func (s *Store) RevokeToken(ctx context.Context, workspaceID, id int64, at time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE tokens SET revoked_at = coalesce(revoked_at, ?)
			WHERE workspace_id = ? AND id = ?`, ms(at), workspaceID, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return wrap("revoke token", err)
}
