package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

const memberColumns = `id, workspace_id, name, email, role, external_id, created_at`

func scanMember(row Scanner) (Member, error) {
	var m Member
	err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.Email, &m.Role, &m.ExternalID, &m.CreatedAt)
	return m, err
}

// getMember reads a live (not deleted) member of the workspace.
func getMember(ctx context.Context, q Querier, workspaceID, id int64) (Member, error) {
	return scanMember(q.QueryRow(ctx, `
		SELECT `+memberColumns+` FROM members
		WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL`, workspaceID, id))
}

func (s *SQL) insertMember(ctx context.Context, q Querier, m Member, now time.Time) (Member, error) {
	var id int64
	err := q.QueryRow(ctx, `
		INSERT INTO members (workspace_id, name, email, email_key, role, external_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING id`,
		m.WorkspaceID, m.Name, m.Email, lower(m.Email), string(m.Role), m.ExternalID, now).Scan(&id)
	if err != nil {
		return Member{}, s.insertErr(err)
	}
	return getMember(ctx, q, m.WorkspaceID, id)
}

// CreateMember adds a member; its e-mail (in any case) and its external_id
// must be free in the workspace.
func (s *SQL) CreateMember(ctx context.Context, m Member) (Member, error) {
	var out Member
	err := s.d.Write(ctx, func(q Querier) error {
		var err error
		if out, err = s.insertMember(ctx, q, m, s.Now()); err != nil {
			return err
		}
		// Compiled rules resolve assignees and trigger_data through members.
		return s.rulesChanged(ctx, q, m.WorkspaceID)
	})
	return out, wrap("create member", err)
}

// GetMember returns a live member of the workspace.
func (s *SQL) GetMember(ctx context.Context, workspaceID, id int64) (Member, error) {
	m, err := getMember(ctx, s.d.Reader(), workspaceID, id)
	return m, wrap("get member", err)
}

// FindMemberByHostID resolves the id a host application uses for a person:
// its external_id first, else Switchboard's own id for a member that has
// no external_id (a member with one is only known by it).
func (s *SQL) FindMemberByHostID(ctx context.Context, workspaceID int64, hostID string) (Member, error) {
	r := s.d.Reader()
	m, err := scanMember(r.QueryRow(ctx, `
		SELECT `+memberColumns+` FROM members
		WHERE workspace_id = $1 AND external_id = $2 AND deleted_at IS NULL`, workspaceID, hostID))
	if errors.Is(err, ErrNotFound) {
		if id, perr := strconv.ParseInt(hostID, 10, 64); perr == nil && id > 0 {
			m, err = scanMember(r.QueryRow(ctx, `
				SELECT `+memberColumns+` FROM members
				WHERE workspace_id = $1 AND id = $2 AND external_id IS NULL AND deleted_at IS NULL`,
				workspaceID, id))
		}
	}
	return m, wrap("find member by host id", err)
}

// ListMembers returns a page of the workspace's live members by id, and
// how many there are.
func (s *SQL) ListMembers(ctx context.Context, workspaceID int64, p Page) ([]Member, int, error) {
	limit, offset := pageArgs(p)
	return page(ctx, s, "list members", scanMember,
		`SELECT count(*) FROM members WHERE workspace_id = $1 AND deleted_at IS NULL`, []any{workspaceID},
		`SELECT `+memberColumns+` FROM members WHERE workspace_id = $1 AND deleted_at IS NULL
		ORDER BY id LIMIT $2 OFFSET $3`, workspaceID, limit, offset)
}

// ensureOtherAdmin fails with ErrLastAdmin unless a live admin other than
// memberID exists. Callers hold the workspace lock, so two demotions
// cannot both see the other admin.
func ensureOtherAdmin(ctx context.Context, q Querier, workspaceID, memberID int64) error {
	var ok bool
	err := q.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM members
			WHERE workspace_id = $1 AND role = 'admin' AND deleted_at IS NULL AND id <> $2
		)`, workspaceID, memberID).Scan(&ok)
	if err != nil {
		return err
	}
	if !ok {
		return ErrLastAdmin
	}
	return nil
}

// UpdateMember writes name, email, role and external_id. Demoting the last
// admin is ErrLastAdmin.
func (s *SQL) UpdateMember(ctx context.Context, m Member) (Member, error) {
	var out Member
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, m.WorkspaceID); err != nil {
			return err
		}
		old, err := getMember(ctx, q, m.WorkspaceID, m.ID)
		if err != nil {
			return err
		}
		if old.Role == auth.Admin && m.Role != auth.Admin {
			if err := ensureOtherAdmin(ctx, q, m.WorkspaceID, m.ID); err != nil {
				return err
			}
		}
		_, err = q.Exec(ctx, `
			UPDATE members SET name = $1, email = $2, email_key = $3, role = $4, external_id = $5
			WHERE workspace_id = $6 AND id = $7`,
			m.Name, m.Email, lower(m.Email), string(m.Role), m.ExternalID, m.WorkspaceID, m.ID)
		if err != nil {
			return s.conflict(err)
		}
		if out, err = getMember(ctx, q, m.WorkspaceID, m.ID); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, m.WorkspaceID)
	})
	return out, wrap("update member", err)
}

// DeleteMember removes the member and revokes its tokens in the same
// transaction. The row stays, marked deleted, so that those tokens
// authenticate as revoked and the id is never reused. Removing the last
// admin is ErrLastAdmin.
func (s *SQL) DeleteMember(ctx context.Context, workspaceID, id int64) error {
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, workspaceID); err != nil {
			return err
		}
		old, err := getMember(ctx, q, workspaceID, id)
		if err != nil {
			return err
		}
		if old.Role == auth.Admin {
			if err := ensureOtherAdmin(ctx, q, workspaceID, id); err != nil {
				return err
			}
		}
		now := s.Now()
		if _, err := q.Exec(ctx, `
			UPDATE members SET deleted_at = $1 WHERE workspace_id = $2 AND id = $3`, now, workspaceID, id); err != nil {
			return err
		}
		if _, err = q.Exec(ctx, `
			UPDATE tokens SET revoked_at = $1
			WHERE workspace_id = $2 AND member_id = $3 AND revoked_at IS NULL`, now, workspaceID, id); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, workspaceID)
	})
	return wrap("delete member", err)
}
