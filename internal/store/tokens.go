package store

import (
	"context"
	"time"
)

const tokenColumns = `t.id, t.workspace_id, t.member_id, t.name, t.role, t.hash, t.hint,
	t.expires_at, t.revoked_at, t.created_at`

func scanToken(row Scanner, extra ...any) (Token, error) {
	var t Token
	dest := append([]any{&t.ID, &t.WorkspaceID, &t.MemberID, &t.Name, &t.Role, &t.Hash, &t.Hint,
		&t.ExpiresAt, &t.RevokedAt, &t.CreatedAt}, extra...)
	err := row.Scan(dest...)
	return t, err
}

func scanTokenRow(row Scanner) (Token, error) { return scanToken(row) }

func getToken(ctx context.Context, q Querier, workspaceID, id int64) (Token, error) {
	return scanToken(q.QueryRow(ctx, `
		SELECT `+tokenColumns+` FROM tokens t WHERE t.workspace_id = $1 AND t.id = $2`, workspaceID, id))
}

func (s *SQL) insertToken(ctx context.Context, q Querier, t Token, now time.Time) (Token, error) {
	// The composite foreign key would accept a deleted member, whose row
	// stays; a token for it must not be made.
	if _, err := getMember(ctx, q, t.WorkspaceID, t.MemberID); err != nil {
		return Token{}, err
	}
	var id int64
	err := q.QueryRow(ctx, `
		INSERT INTO tokens (workspace_id, member_id, name, role, hash, hint, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING id`,
		t.WorkspaceID, t.MemberID, t.Name, string(t.Role), t.Hash, t.Hint, t.ExpiresAt, now).Scan(&id)
	if err != nil {
		return Token{}, s.conflict(err)
	}
	return getToken(ctx, q, t.WorkspaceID, id)
}

// CreateToken stores a token for a live member of the workspace; only its
// hash, which must be unique.
func (s *SQL) CreateToken(ctx context.Context, t Token) (Token, error) {
	var out Token
	err := s.d.Write(ctx, func(q Querier) error {
		var err error
		out, err = s.insertToken(ctx, q, t, s.Now())
		return err
	})
	return out, wrap("create token", err)
}

// Authenticate returns the token with that hash and its member, revoked
// tokens (and deleted members) included so the caller can tell "revoked"
// from "unknown".
func (s *SQL) Authenticate(ctx context.Context, hash string) (Principal, error) {
	var p Principal
	t, err := scanToken(s.d.Reader().QueryRow(ctx, `
		SELECT `+tokenColumns+`,
		       m.id, m.workspace_id, m.name, m.email, m.role, m.external_id, m.created_at
		FROM tokens t
		JOIN members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
		WHERE t.hash = $1`, hash),
		&p.Member.ID, &p.Member.WorkspaceID, &p.Member.Name, &p.Member.Email, &p.Member.Role,
		&p.Member.ExternalID, &p.Member.CreatedAt)
	if err != nil {
		return Principal{}, wrap("authenticate", err)
	}
	p.Token = t
	return p, nil
}

// GetToken returns a token of the workspace, revoked or not: revoking
// twice is harmless, and the caller may need to see whose it was.
func (s *SQL) GetToken(ctx context.Context, workspaceID, id int64) (Token, error) {
	t, err := getToken(ctx, s.d.Reader(), workspaceID, id)
	return t, wrap("get token", err)
}

// ListTokens returns a page of the workspace's unrevoked tokens by id (of
// memberID only when it is non-zero), and how many there are.
func (s *SQL) ListTokens(ctx context.Context, workspaceID, memberID int64, p Page) ([]Token, int, error) {
	limit, offset := pageArgs(p)
	const where = ` FROM tokens t
		WHERE t.workspace_id = $1 AND t.revoked_at IS NULL AND (CAST($2 AS BIGINT) = 0 OR t.member_id = $2)`
	return page(ctx, s, "list tokens", scanTokenRow,
		`SELECT count(*)`+where, []any{workspaceID, memberID},
		`SELECT `+tokenColumns+where+` ORDER BY t.id LIMIT $3 OFFSET $4`, workspaceID, memberID, limit, offset)
}

// RevokeToken marks a token revoked at at. Revoking a revoked token keeps
// its first revocation time and succeeds.
func (s *SQL) RevokeToken(ctx context.Context, workspaceID, id int64, at time.Time) error {
	err := s.d.Write(ctx, func(q Querier) error {
		return oneRow(q.Exec(ctx, `
			UPDATE tokens SET revoked_at = coalesce(revoked_at, $1)
			WHERE workspace_id = $2 AND id = $3`, at, workspaceID, id))
	})
	return wrap("revoke token", err)
}
