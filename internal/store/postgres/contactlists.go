package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/store"
)

const contactListColumns = `id, workspace_id, name, member_count, created_at`

func scanContactList(row scanner) (store.ContactList, error) {
	var l store.ContactList
	if err := row.Scan(&l.ID, &l.WorkspaceID, &l.Name, &l.MemberCount, &l.CreatedAt); err != nil {
		return store.ContactList{}, notFound(err)
	}
	l.CreatedAt = l.CreatedAt.UTC()
	return l, nil
}

func getContactList(ctx context.Context, q querier, workspaceID, id int64) (store.ContactList, error) {
	return scanContactList(q.QueryRow(ctx,
		`SELECT `+contactListColumns+` FROM contact_lists WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
}

// CreateContactList adds an empty list; its name (in any case) must be free
// in the workspace.
func (s *Store) CreateContactList(ctx context.Context, l store.ContactList) (store.ContactList, error) {
	var out store.ContactList
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO contact_lists (workspace_id, name, name_key, created_at)
			VALUES ($1, $2, $3, $4)
			RETURNING id`,
			l.WorkspaceID, l.Name, lower(l.Name), s.now()).Scan(&id)
		switch {
		case foreignKeyViolation(err):
			return store.ErrNotFound
		case err != nil:
			return conflict(err)
		}
		out, err = getContactList(ctx, tx, l.WorkspaceID, id)
		return err
	})
	return out, wrap("create contact list", err)
}

// GetContactList returns a list of the workspace with its member count.
func (s *Store) GetContactList(ctx context.Context, workspaceID, id int64) (store.ContactList, error) {
	l, err := getContactList(ctx, s.pool, workspaceID, id)
	return l, wrap("get contact list", err)
}

// ListContactLists returns a page of the workspace's lists by id, and how
// many there are.
func (s *Store) ListContactLists(ctx context.Context, workspaceID int64, p store.Page) ([]store.ContactList, int, error) {
	var (
		out   []store.ContactList
		total int
	)
	limit, offset := limitArg(p)
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx,
			`SELECT count(*) FROM contact_lists WHERE workspace_id = $1`, workspaceID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT `+contactListColumns+` FROM contact_lists WHERE workspace_id = $1
			ORDER BY id LIMIT $2 OFFSET $3`, workspaceID, limit, offset)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanContactList)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list contact lists", err)
	}
	return out, total, nil
}

// UpdateContactList renames a list.
func (s *Store) UpdateContactList(ctx context.Context, l store.ContactList) (store.ContactList, error) {
	var out store.ContactList
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE contact_lists SET name = $1, name_key = $2 WHERE workspace_id = $3 AND id = $4`,
			l.Name, lower(l.Name), l.WorkspaceID, l.ID)
		if err != nil {
			return conflict(err)
		}
		if err := oneRow(tag); err != nil {
			return err
		}
		out, err = getContactList(ctx, tx, l.WorkspaceID, l.ID)
		return err
	})
	return out, wrap("update contact list", err)
}

// DeleteContactList deletes a list (and its addresses) that no rule's
// condition uses; otherwise it returns *store.ReferencedError. The
// workspace lock orders it with rule writes.
func (s *Store) DeleteContactList(ctx context.Context, workspaceID, id int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		if err := referencedBy(ctx, tx, `
			SELECT rule_id FROM rule_contact_lists WHERE workspace_id = $1 AND list_id = $2 ORDER BY rule_id`,
			workspaceID, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM contact_lists WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
		if err != nil {
			return err
		}
		return oneRow(tag)
	})
	return wrap("delete contact list", err)
}

// ChangeContactListMembers adds then removes addresses in one transaction
// (an address in both lists ends up removed). Addresses already present
// keep their added_at; member_count moves by the rows actually changed,
// which stays right under concurrency because the count update is atomic
// and ON CONFLICT DO NOTHING waits for a concurrent insert of the same
// address to settle.
func (s *Store) ChangeContactListMembers(ctx context.Context, workspaceID, listID int64, add, remove []string) (store.ContactList, error) {
	add, remove = normalizeEmails(add), normalizeEmails(remove)
	var out store.ContactList
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := getContactList(ctx, tx, workspaceID, listID); err != nil {
			return err
		}
		// unnest turns the whole batch (up to 10,000 addresses) into one
		// statement.
		added, err := tx.Exec(ctx, `
			INSERT INTO contact_list_members (workspace_id, list_id, email, added_at)
			SELECT $1, $2, e, $3 FROM unnest($4::text[]) AS e
			ON CONFLICT (list_id, email) DO NOTHING`,
			workspaceID, listID, s.now(), add)
		if err != nil {
			return err
		}
		removed, err := tx.Exec(ctx, `
			DELETE FROM contact_list_members
			WHERE workspace_id = $1 AND list_id = $2 AND email = ANY ($3::text[])`, workspaceID, listID, remove)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE contact_lists SET member_count = member_count + $1 WHERE workspace_id = $2 AND id = $3`,
			added.RowsAffected()-removed.RowsAffected(), workspaceID, listID); err != nil {
			return err
		}
		out, err = getContactList(ctx, tx, workspaceID, listID)
		return err
	})
	return out, wrap("change contact list members", err)
}

// normalizeEmails lower-cases and de-duplicates addresses; callers are
// expected to have done it, but the stored form must not depend on that.
func normalizeEmails(emails []string) []string {
	out := make([]string, 0, len(emails))
	seen := make(map[string]bool, len(emails))
	for _, e := range emails {
		e = lower(e)
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// ListContactListMembers returns a page of a list's addresses,
// alphabetically, and how many there are.
func (s *Store) ListContactListMembers(ctx context.Context, workspaceID, listID int64, p store.Page) ([]store.ContactListEntry, int, error) {
	var (
		out   []store.ContactListEntry
		total int
	)
	limit, offset := limitArg(p)
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		l, err := getContactList(ctx, tx, workspaceID, listID)
		if err != nil {
			return err
		}
		total = l.MemberCount
		rows, err := tx.Query(ctx, `
			SELECT email, added_at FROM contact_list_members
			WHERE workspace_id = $1 AND list_id = $2 ORDER BY email LIMIT $3 OFFSET $4`, workspaceID, listID, limit, offset)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r scanner) (store.ContactListEntry, error) {
			var e store.ContactListEntry
			err := r.Scan(&e.Email, &e.AddedAt)
			e.AddedAt = e.AddedAt.UTC()
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, 0, wrap("list contact list members", err)
	}
	return out, total, nil
}

// ContactListsContaining returns which of listIDs (of this workspace)
// contain email, in one query on contact_list_members_email.
func (s *Store) ContactListsContaining(ctx context.Context, workspaceID int64, email string, listIDs []int64) ([]int64, error) {
	if len(listIDs) == 0 {
		return []int64{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT list_id FROM contact_list_members
		WHERE workspace_id = $1 AND email = $2 AND list_id = ANY ($3::bigint[])
		ORDER BY list_id`, workspaceID, lower(email), listIDs)
	if err != nil {
		return nil, wrap("find contact lists containing an address", err)
	}
	out, err := collect(rows, scanID)
	return out, wrap("find contact lists containing an address", err)
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
