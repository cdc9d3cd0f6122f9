package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/store"
)

const tagColumns = `id, workspace_id, name, external_id, created_at`

func scanTag(row scanner) (store.Tag, error) {
	var t store.Tag
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.ExternalID, &t.CreatedAt); err != nil {
		return store.Tag{}, notFound(err)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

func getTag(ctx context.Context, q querier, workspaceID, id int64) (store.Tag, error) {
	return scanTag(q.QueryRow(ctx,
		`SELECT `+tagColumns+` FROM tags WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
}

// CreateTag adds a tag; its name (in any case) and its external_id must be
// free in the workspace.
func (s *Store) CreateTag(ctx context.Context, t store.Tag) (store.Tag, error) {
	var out store.Tag
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO tags (workspace_id, name, name_key, external_id, created_at)
			VALUES ($1, $2, $3, $4, $5)
			RETURNING id`,
			t.WorkspaceID, t.Name, lower(t.Name), t.ExternalID, s.now()).Scan(&id)
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
	t, err := getTag(ctx, s.pool, workspaceID, id)
	return t, wrap("get tag", err)
}

// ListTags returns a page of the workspace's tags by id, and how many
// there are.
func (s *Store) ListTags(ctx context.Context, workspaceID int64, p store.Page) ([]store.Tag, int, error) {
	var (
		out   []store.Tag
		total int
	)
	limit, offset := limitArg(p)
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tags WHERE workspace_id = $1`, workspaceID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT `+tagColumns+` FROM tags WHERE workspace_id = $1
			ORDER BY id LIMIT $2 OFFSET $3`, workspaceID, limit, offset)
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE tags SET name = $1, name_key = $2, external_id = $3
			WHERE workspace_id = $4 AND id = $5`,
			t.Name, lower(t.Name), t.ExternalID, t.WorkspaceID, t.ID)
		if err != nil {
			return conflict(err)
		}
		if err := oneRow(tag); err != nil {
			return err
		}
		out, err = getTag(ctx, tx, t.WorkspaceID, t.ID)
		return err
	})
	return out, wrap("update tag", err)
}

// DeleteTag deletes a tag no rule uses; otherwise it returns
// *store.ReferencedError naming the rules. The workspace lock orders it
// with rule writes, so a rule saved concurrently is either seen here or
// finds the tag gone.
func (s *Store) DeleteTag(ctx context.Context, workspaceID, id int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		if err := referencedBy(ctx, tx, `
			SELECT rule_id FROM rule_tags WHERE workspace_id = $1 AND tag_id = $2 ORDER BY rule_id`,
			workspaceID, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tags WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
		if err != nil {
			return err
		}
		return oneRow(tag)
	})
	return wrap("delete tag", err)
}

// referencedBy runs query (rule ids, sorted) and returns a
// *store.ReferencedError when it finds any.
func referencedBy(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	ids, err := collect(rows, scanID)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return &store.ReferencedError{RuleIDs: ids}
	}
	return nil
}
