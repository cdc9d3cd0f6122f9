package sqlite

import (
	"context"
	"database/sql"

	"github.com/switchboard-hq/switchboard/internal/store"
)

const tagColumns = `id, workspace_id, name, external_id, created_at`

func scanTag(row scanner) (store.Tag, error) {
	var (
		t       store.Tag
		ext     sql.NullString
		created int64
	)
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &ext, &created); err != nil {
		return store.Tag{}, notFound(err)
	}
	t.ExternalID = strPtr(ext)
	t.CreatedAt = fromMS(created)
	return t, nil
}

func getTag(ctx context.Context, q querier, workspaceID, id int64) (store.Tag, error) {
	return scanTag(q.QueryRowContext(ctx,
		`SELECT `+tagColumns+` FROM tags WHERE workspace_id = ? AND id = ?`, workspaceID, id))
}

// CreateTag adds a tag; its name (in any case) and its external_id must be
// free in the workspace.
func (s *Store) CreateTag(ctx context.Context, t store.Tag) (store.Tag, error) {
	var out store.Tag
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO tags (workspace_id, name, name_key, external_id, created_at)
			VALUES (?, ?, ?, ?, ?)
			RETURNING id`,
			t.WorkspaceID, t.Name, lower(t.Name), t.ExternalID, ms(s.now())).Scan(&id)
		switch {
		case foreignKeyViolation(err):
			return store.ErrNotFound
		case err != nil:
			return conflict(err)
		}
		out, err = getTag(ctx, tx, t.WorkspaceID, id)
		return err
	})
	return out, wrap("create tag", err)
}

// GetTag returns a tag of the workspace.
func (s *Store) GetTag(ctx context.Context, workspaceID, id int64) (store.Tag, error) {
	t, err := getTag(ctx, s.read, workspaceID, id)
	return t, wrap("get tag", err)
}

// ListTags returns a page of the workspace's tags by id, and how many
// there are.
func (s *Store) ListTags(ctx context.Context, workspaceID int64, p store.Page) ([]store.Tag, int, error) {
	var (
		out   []store.Tag
		total int
	)
	limit, offset := pageArgs(p)
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tags WHERE workspace_id = ?`, workspaceID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+tagColumns+` FROM tags WHERE workspace_id = ?
			ORDER BY id LIMIT ? OFFSET ?`, workspaceID, limit, offset)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanTag)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list tags", err)
	}
	return out, total, nil
}

// UpdateTag writes name and external_id.
func (s *Store) UpdateTag(ctx context.Context, t store.Tag) (store.Tag, error) {
	var out store.Tag
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE tags SET name = ?, name_key = ?, external_id = ?
			WHERE workspace_id = ? AND id = ?`,
			t.Name, lower(t.Name), t.ExternalID, t.WorkspaceID, t.ID)
		if err != nil {
			return conflict(err)
		}
		if err := oneRow(res); err != nil {
			return err
		}
		out, err = getTag(ctx, tx, t.WorkspaceID, t.ID)
		return err
	})
	return out, wrap("update tag", err)
}

// DeleteTag deletes a tag no rule uses; otherwise it returns
// *store.ReferencedError naming the rules.
func (s *Store) DeleteTag(ctx context.Context, workspaceID, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := referencedBy(ctx, tx, `
			SELECT rule_id FROM rule_tags WHERE workspace_id = ? AND tag_id = ? ORDER BY rule_id`,
			workspaceID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE workspace_id = ? AND id = ?`, workspaceID, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return wrap("delete tag", err)
}

// referencedBy runs query (rule ids, sorted) and returns a
// *store.ReferencedError when it finds any.
func referencedBy(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	ids, err := collect(rows, func(r scanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return &store.ReferencedError{RuleIDs: ids}
	}
	return nil
}
