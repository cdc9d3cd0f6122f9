package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

const memberColumns = `id, workspace_id, name, email, role, external_id, created_at`

func scanMember(row scanner) (store.Member, error) {
	var (
		m    store.Member
		role string
	)
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.Email, &role, &m.ExternalID, &m.CreatedAt); err != nil {
		return store.Member{}, notFound(err)
	}
	m.Role = auth.Role(role)
	m.CreatedAt = m.CreatedAt.UTC()
	return m, nil
}

// getMember reads a live (not deleted) member of the workspace.
func getMember(ctx context.Context, q querier, workspaceID, id int64) (store.Member, error) {
	return scanMember(q.QueryRow(ctx, `
		SELECT `+memberColumns+` FROM members
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL`, workspaceID, id))
}

func insertMember(ctx context.Context, tx pgx.Tx, m store.Member, now time.Time) (store.Member, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO members (workspace_id, name, email, email_key, role, external_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`,
		m.WorkspaceID, m.Name, m.Email, lower(m.Email), string(m.Role), m.ExternalID, now).Scan(&id)
	switch {
	case foreignKeyViolation(err):
		return store.Member{}, store.ErrNotFound
	case err != nil:
		return store.Member{}, conflict(err)
	}
	return getMember(ctx, tx, m.WorkspaceID, id)
}

// CreateMember adds a member; its e-mail (in any case) and its external_id
// must be free in the workspace.
func (s *Store) CreateMember(ctx context.Context, m store.Member) (store.Member, error) {
	var out store.Member
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = insertMember(ctx, tx, m, s.now())
		return err
	})
	return out, wrap("create member", err)
}

// GetMember returns a live member of the workspace.
func (s *Store) GetMember(ctx context.Context, workspaceID, id int64) (store.Member, error) {
	m, err := getMember(ctx, s.pool, workspaceID, id)
	return m, wrap("get member", err)
}

// FindMemberByHostID resolves the id a host application uses for a person:
// its external_id first, else Switchboard's own id for a member that has
// no external_id (a member with one is only known by it).
func (s *Store) FindMemberByHostID(ctx context.Context, workspaceID int64, hostID string) (store.Member, error) {
	m, err := scanMember(s.pool.QueryRow(ctx, `
		SELECT `+memberColumns+` FROM members
		WHERE workspace_id = $1 AND external_id = $2 AND deleted_at IS NULL`, workspaceID, hostID))
	if errors.Is(err, store.ErrNotFound) {
		if id, perr := strconv.ParseInt(hostID, 10, 64); perr == nil && id > 0 {
			m, err = scanMember(s.pool.QueryRow(ctx, `
				SELECT `+memberColumns+` FROM members
				WHERE workspace_id = $1 AND id = $2 AND external_id IS NULL AND deleted_at IS NULL`,
				workspaceID, id))
		}
	}
	return m, wrap("find member by host id", err)
}

// ListMembers returns a page of the workspace's live members by id, and
// how many there are.
func (s *Store) ListMembers(ctx context.Context, workspaceID int64, p store.Page) ([]store.Member, int, error) {
	var (
		out   []store.Member
		total int
	)
	limit, offset := limitArg(p)
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT count(*) FROM members WHERE workspace_id = $1 AND deleted_at IS NULL`, workspaceID).Scan(&total)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT `+memberColumns+` FROM members
			WHERE workspace_id = $1 AND deleted_at IS NULL
			ORDER BY id LIMIT $2 OFFSET $3`, workspaceID, limit, offset)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanMember)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list members", err)
	}
	return out, total, nil
}

// ensureOtherAdmin fails with store.ErrLastAdmin unless a live admin other
// than memberID exists. Callers hold the workspace lock, so two demotions
// cannot both count the other admin.
func ensureOtherAdmin(ctx context.Context, tx pgx.Tx, workspaceID, memberID int64) error {
	var ok bool
	err := tx.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM members
			WHERE workspace_id = $1 AND role = 'admin' AND deleted_at IS NULL AND id <> $2
		)`, workspaceID, memberID).Scan(&ok)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrLastAdmin
	}
	return nil
}

// UpdateMember writes name, email, role and external_id.
func (s *Store) UpdateMember(ctx context.Context, m store.Member) (store.Member, error) {
	var out store.Member
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspace(ctx, tx, m.WorkspaceID); err != nil {
			return err
		}
		old, err := getMember(ctx, tx, m.WorkspaceID, m.ID)
		if err != nil {
			return err
		}
		if old.Role == auth.Admin && m.Role != auth.Admin {
			if err := ensureOtherAdmin(ctx, tx, m.WorkspaceID, m.ID); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			UPDATE members SET name = $1, email = $2, email_key = $3, role = $4, external_id = $5
			WHERE workspace_id = $6 AND id = $7`,
			m.Name, m.Email, lower(m.Email), string(m.Role), m.ExternalID, m.WorkspaceID, m.ID)
		if err != nil {
			return conflict(err)
		}
		out, err = getMember(ctx, tx, m.WorkspaceID, m.ID)
		return err
	})
	return out, wrap("update member", err)
}

// DeleteMember removes the member and revokes its tokens in the same
// transaction. The row stays, marked deleted, so that those tokens
// authenticate as revoked and the id is never reused.
func (s *Store) DeleteMember(ctx context.Context, workspaceID, id int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		old, err := getMember(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if old.Role == auth.Admin {
			if err := ensureOtherAdmin(ctx, tx, workspaceID, id); err != nil {
				return err
			}
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `
			UPDATE members SET deleted_at = $1 WHERE workspace_id = $2 AND id = $3`, now, workspaceID, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE tokens SET revoked_at = $1
			WHERE workspace_id = $2 AND member_id = $3 AND revoked_at IS NULL`, now, workspaceID, id)
		return err
	})
	return wrap("delete member", err)
}
