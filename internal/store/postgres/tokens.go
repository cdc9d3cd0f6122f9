package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

const tokenColumns = `t.id, t.workspace_id, t.member_id, t.name, t.role, t.hash, t.hint,
	t.expires_at, t.revoked_at, t.created_at`

func scanToken(row scanner, extra ...any) (store.Token, error) {
	var (
		t    store.Token
		role string
	)
	dest := append([]any{&t.ID, &t.WorkspaceID, &t.MemberID, &t.Name, &role, &t.Hash, &t.Hint,
		&t.ExpiresAt, &t.RevokedAt, &t.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Token{}, notFound(err)
	}
	t.Role = auth.Role(role)
	t.ExpiresAt, t.RevokedAt = utcPtr(t.ExpiresAt), utcPtr(t.RevokedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

func scanTokenRow(row scanner) (store.Token, error) { return scanToken(row) }

func getToken(ctx context.Context, q querier, workspaceID, id int64) (store.Token, error) {
	return scanToken(q.QueryRow(ctx, `
		SELECT `+tokenColumns+` FROM tokens t WHERE t.workspace_id = $1 AND t.id = $2`, workspaceID, id))
}

func insertToken(ctx context.Context, tx pgx.Tx, t store.Token, now time.Time) (store.Token, error) {
	// The composite foreign key would accept a deleted member, whose row
	// stays. FOR SHARE makes a concurrent DeleteMember wait for this token
	// (and then revoke it) or makes this insert see the deletion.
	var one int
	err := tx.QueryRow(ctx, `
		SELECT 1 FROM members WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL FOR SHARE`,
		t.WorkspaceID, t.MemberID).Scan(&one)
	if err != nil {
		return store.Token{}, notFound(err)
	}
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO tokens (workspace_id, member_id, name, role, hash, hint, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING id`,
		t.WorkspaceID, t.MemberID, t.Name, string(t.Role), t.Hash, t.Hint, tsPtr(t.ExpiresAt), now).Scan(&id)
	if err != nil {
		return store.Token{}, conflict(err)
	}
	return getToken(ctx, tx, t.WorkspaceID, id)
}

// CreateToken stores a token for a live member of the workspace; only its
// hash, which must be unique.
func (s *Store) CreateToken(ctx context.Context, t store.Token) (store.Token, error) {
	var out store.Token
	err := s.inTx(ctx, func(tx pgx.Tx) error {
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
		p    store.Principal
		role string
	)
	t, err := scanToken(s.pool.QueryRow(ctx, `
		SELECT `+tokenColumns+`,
		       m.id, m.workspace_id, m.name, m.email, m.role, m.external_id, m.created_at
		FROM tokens t
		JOIN members m ON m.workspace_id = t.workspace_id AND m.id = t.member_id
		WHERE t.hash = $1`, hash),
		&p.Member.ID, &p.Member.WorkspaceID, &p.Member.Name, &p.Member.Email, &role, &p.Member.ExternalID,
		&p.Member.CreatedAt)
	if err != nil {
		return store.Principal{}, wrap("authenticate", err)
	}
	p.Token = t
	p.Member.Role = auth.Role(role)
	p.Member.CreatedAt = p.Member.CreatedAt.UTC()
	return p, nil
}

// GetToken returns a token of the workspace, revoked or not: revoking
// twice is harmless, and the caller may need to see whose it was.
func (s *Store) GetToken(ctx context.Context, workspaceID, id int64) (store.Token, error) {
	t, err := getToken(ctx, s.pool, workspaceID, id)
	return t, wrap("get token", err)
}

// ListTokens returns a page of the workspace's unrevoked tokens by id (of
// memberID only when it is non-zero), and how many there are.
func (s *Store) ListTokens(ctx context.Context, workspaceID, memberID int64, p store.Page) ([]store.Token, int, error) {
	var (
		out   []store.Token
		total int
	)
	limit, offset := limitArg(p)
	const where = ` FROM tokens t
		WHERE t.workspace_id = $1 AND t.revoked_at IS NULL AND ($2::bigint = 0 OR t.member_id = $2)`
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*)`+where, workspaceID, memberID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+tokenColumns+where+` ORDER BY t.id LIMIT $3 OFFSET $4`,
			workspaceID, memberID, limit, offset)
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
	tag, err := s.pool.Exec(ctx, `
		UPDATE tokens SET revoked_at = coalesce(revoked_at, $1)
		WHERE workspace_id = $2 AND id = $3`, ts(at), workspaceID, id)
	if err == nil {
		err = oneRow(tag)
	}
	return wrap("revoke token", err)
}
