package store

import "context"

const tagColumns = `id, workspace_id, name, external_id, created_at`

func scanTag(row Scanner) (Tag, error) {
	var t Tag
	err := row.Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.ExternalID, &t.CreatedAt)
	return t, err
}

func getTag(ctx context.Context, q Querier, workspaceID, id int64) (Tag, error) {
	return scanTag(q.QueryRow(ctx,
		`SELECT `+tagColumns+` FROM tags WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
}

// CreateTag adds a tag; its name (in any case) and its external_id must be
// free in the workspace.
func (s *SQL) CreateTag(ctx context.Context, t Tag) (Tag, error) {
	var out Tag
	err := s.d.Write(ctx, func(q Querier) error {
		var id int64
		err := q.QueryRow(ctx, `
			INSERT INTO tags (workspace_id, name, name_key, external_id, created_at)
			VALUES ($1, $2, $3, $4, $5)
			RETURNING id`,
			t.WorkspaceID, t.Name, lower(t.Name), t.ExternalID, s.Now()).Scan(&id)
		if err != nil {
			return s.insertErr(err)
		}
		out, err = getTag(ctx, q, t.WorkspaceID, id)
		return err // a new tag changes no compiled rule: none can use it yet
	})
	return out, wrap("create tag", err)
}

// GetTag returns a tag of the workspace.
func (s *SQL) GetTag(ctx context.Context, workspaceID, id int64) (Tag, error) {
	t, err := getTag(ctx, s.d.Reader(), workspaceID, id)
	return t, wrap("get tag", err)
}

// ListTags returns a page of the workspace's tags by id, and how many
// there are.
func (s *SQL) ListTags(ctx context.Context, workspaceID int64, p Page) ([]Tag, int, error) {
	limit, offset := pageArgs(p)
	return page(ctx, s, "list tags", scanTag,
		`SELECT count(*) FROM tags WHERE workspace_id = $1`, []any{workspaceID},
		`SELECT `+tagColumns+` FROM tags WHERE workspace_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
		workspaceID, limit, offset)
}

// UpdateTag writes name and external_id.
func (s *SQL) UpdateTag(ctx context.Context, t Tag) (Tag, error) {
	var out Tag
	err := s.d.Write(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `
			UPDATE tags SET name = $1, name_key = $2, external_id = $3
			WHERE workspace_id = $4 AND id = $5`,
			t.Name, lower(t.Name), t.ExternalID, t.WorkspaceID, t.ID)
		if err != nil {
			return s.conflict(err)
		}
		if err := oneRow(n, nil); err != nil {
			return err
		}
		if out, err = getTag(ctx, q, t.WorkspaceID, t.ID); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, t.WorkspaceID)
	})
	return out, wrap("update tag", err)
}

// DeleteTag deletes a tag no rule uses; otherwise it returns
// *ReferencedError naming the rules. The workspace lock orders it with
// rule writes, so a rule saved concurrently is either seen here or finds
// the tag gone.
func (s *SQL) DeleteTag(ctx context.Context, workspaceID, id int64) error {
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, workspaceID); err != nil {
			return err
		}
		if err := referencedBy(ctx, q, `
			SELECT rule_id FROM rule_tags WHERE workspace_id = $1 AND tag_id = $2 ORDER BY rule_id`,
			workspaceID, id); err != nil {
			return err
		}
		if err := oneRow(q.Exec(ctx, `DELETE FROM tags WHERE workspace_id = $1 AND id = $2`, workspaceID, id)); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, workspaceID)
	})
	return wrap("delete tag", err)
}
