package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

const memberColumns = `id, workspace_id, name, email, role, external_id, created_at`

func scanMember(row scanner) (store.Member, error) {
	var (
		m       store.Member
		ext     sql.NullString
		created int64
	)
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.Email, &m.Role, &ext, &created); err != nil {
		return store.Member{}, notFound(err)
	}
	m.ExternalID = strPtr(ext)
	m.CreatedAt = fromMS(created)
	return m, nil
}

// getMember reads a live (not deleted) member of the workspace.
func getMember(ctx context.Context, q querier, workspaceID, id int64) (store.Member, error) {
	return scanMember(q.QueryRowContext(ctx, `
		SELECT `+memberColumns+` FROM members
		WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL`, workspaceID, id))
}

// foreignKeyViolation reports whether err is a FOREIGN KEY failure: on an
// insert, the parent (workspace, member, list) does not exist.
func foreignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func insertMember(ctx context.Context, tx *sql.Tx, m store.Member, now time.Time) (store.Member, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `
		INSERT INTO members (workspace_id, name, email, email_key, role, external_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		m.WorkspaceID, m.Name, m.Email, lower(m.Email), string(m.Role), m.ExternalID, ms(now)).Scan(&id)
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = insertMember(ctx, tx, m, s.now())
		return err
	})
	return out, wrap("create member", err)
}

// GetMember returns a live member of the workspace.
func (s *Store) GetMember(ctx context.Context, workspaceID, id int64) (store.Member, error) {
	m, err := getMember(ctx, s.read, workspaceID, id)
	return m, wrap("get member", err)
}

// FindMemberByHostID resolves the id a host application uses for a person:
// its external_id first, else Switchboard's own id for a member that has
// no external_id (a member with one is only known by it).
func (s *Store) FindMemberByHostID(ctx context.Context, workspaceID int64, hostID string) (store.Member, error) {
	m, err := scanMember(s.read.QueryRowContext(ctx, `
		SELECT `+memberColumns+` FROM members
		WHERE workspace_id = ? AND external_id = ? AND deleted_at IS NULL`, workspaceID, hostID))
	if errors.Is(err, store.ErrNotFound) {
		if id, perr := strconv.ParseInt(hostID, 10, 64); perr == nil && id > 0 {
			m, err = scanMember(s.read.QueryRowContext(ctx, `
				SELECT `+memberColumns+` FROM members
				WHERE workspace_id = ? AND id = ? AND external_id IS NULL AND deleted_at IS NULL`,
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
	limit, offset := pageArgs(p)
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `
			SELECT count(*) FROM members WHERE workspace_id = ? AND deleted_at IS NULL`, workspaceID).Scan(&total)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+memberColumns+` FROM members
			WHERE workspace_id = ? AND deleted_at IS NULL
			ORDER BY id LIMIT ? OFFSET ?`, workspaceID, limit, offset)
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
// than memberID exists. It runs inside the write transaction, which SQLite
// serialises, so two demotions cannot both see the other admin.
func ensureOtherAdmin(ctx context.Context, tx *sql.Tx, workspaceID, memberID int64) error {
	var ok bool
	err := tx.QueryRowContext(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM members
			WHERE workspace_id = ? AND role = 'admin' AND deleted_at IS NULL AND id <> ?
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getMember(ctx, tx, m.WorkspaceID, m.ID)
		if err != nil {
			return err
		}
		if old.Role == auth.Admin && m.Role != auth.Admin {
			if err := ensureOtherAdmin(ctx, tx, m.WorkspaceID, m.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE members SET name = ?, email = ?, email_key = ?, role = ?, external_id = ?
			WHERE workspace_id = ? AND id = ?`,
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getMember(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if old.Role == auth.Admin {
			if err := ensureOtherAdmin(ctx, tx, workspaceID, id); err != nil {
				return err
			}
		}
		now := ms(s.now())
		if _, err := tx.ExecContext(ctx, `
			UPDATE members SET deleted_at = ? WHERE workspace_id = ? AND id = ?`, now, workspaceID, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE tokens SET revoked_at = ?
			WHERE workspace_id = ? AND member_id = ? AND revoked_at IS NULL`, now, workspaceID, id)
		return err
	})
	return wrap("delete member", err)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
