package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/switchboard-hq/switchboard/internal/store"
)

const contactListColumns = `id, workspace_id, name, member_count, created_at`

func scanContactList(row scanner) (store.ContactList, error) {
	var (
		l       store.ContactList
		created int64
	)
	if err := row.Scan(&l.ID, &l.WorkspaceID, &l.Name, &l.MemberCount, &created); err != nil {
		return store.ContactList{}, notFound(err)
	}
	l.CreatedAt = fromMS(created)
	return l, nil
}

func getContactList(ctx context.Context, q querier, workspaceID, id int64) (store.ContactList, error) {
	return scanContactList(q.QueryRowContext(ctx,
		`SELECT `+contactListColumns+` FROM contact_lists WHERE workspace_id = ? AND id = ?`, workspaceID, id))
}

// CreateContactList adds an empty list; its name (in any case) must be free
// in the workspace.
func (s *Store) CreateContactList(ctx context.Context, l store.ContactList) (store.ContactList, error) {
	var out store.ContactList
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO contact_lists (workspace_id, name, name_key, created_at)
			VALUES (?, ?, ?, ?)
			RETURNING id`,
			l.WorkspaceID, l.Name, lower(l.Name), ms(s.now())).Scan(&id)
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
	l, err := getContactList(ctx, s.read, workspaceID, id)
	return l, wrap("get contact list", err)
}

// ListContactLists returns a page of the workspace's lists by id, and how
// many there are.
func (s *Store) ListContactLists(ctx context.Context, workspaceID int64, p store.Page) ([]store.ContactList, int, error) {
	var (
		out   []store.ContactList
		total int
	)
	limit, offset := pageArgs(p)
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM contact_lists WHERE workspace_id = ?`, workspaceID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT `+contactListColumns+` FROM contact_lists WHERE workspace_id = ?
			ORDER BY id LIMIT ? OFFSET ?`, workspaceID, limit, offset)
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE contact_lists SET name = ?, name_key = ? WHERE workspace_id = ? AND id = ?`,
			l.Name, lower(l.Name), l.WorkspaceID, l.ID)
		if err != nil {
			return conflict(err)
		}
		if err := oneRow(res); err != nil {
			return err
		}
		out, err = getContactList(ctx, tx, l.WorkspaceID, l.ID)
		return err
	})
	return out, wrap("update contact list", err)
}

// DeleteContactList deletes a list (and its addresses) that no rule's
// condition uses; otherwise it returns *store.ReferencedError.
func (s *Store) DeleteContactList(ctx context.Context, workspaceID, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := referencedBy(ctx, tx, `
			SELECT rule_id FROM rule_contact_lists WHERE workspace_id = ? AND list_id = ? ORDER BY rule_id`,
			workspaceID, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM contact_lists WHERE workspace_id = ? AND id = ?`, workspaceID, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return wrap("delete contact list", err)
}

// ChangeContactListMembers adds then removes addresses in one transaction
// (an address in both lists ends up removed). Addresses already present
// keep their added_at; member_count moves by the rows actually changed.
func (s *Store) ChangeContactListMembers(ctx context.Context, workspaceID, listID int64, add, remove []string) (store.ContactList, error) {
	addJSON, err := json.Marshal(normalizeEmails(add))
	if err != nil {
		return store.ContactList{}, wrap("change contact list members", err)
	}
	removeJSON, err := json.Marshal(normalizeEmails(remove))
	if err != nil {
		return store.ContactList{}, wrap("change contact list members", err)
	}
	var out store.ContactList
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := getContactList(ctx, tx, workspaceID, listID); err != nil {
			return err
		}
		// json_each turns the whole batch (up to 10,000 addresses) into one
		// statement, however long the list.
		res, err := tx.ExecContext(ctx, `
			INSERT INTO contact_list_members (workspace_id, list_id, email, added_at)
			SELECT ?, ?, value, ? FROM json_each(?) WHERE true
			ON CONFLICT (list_id, email) DO NOTHING`,
			workspaceID, listID, ms(s.now()), string(addJSON))
		if err != nil {
			return err
		}
		added, err := res.RowsAffected()
		if err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `
			DELETE FROM contact_list_members
			WHERE workspace_id = ? AND list_id = ? AND email IN (SELECT value FROM json_each(?))`,
			workspaceID, listID, string(removeJSON))
		if err != nil {
			return err
		}
		removed, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE contact_lists SET member_count = member_count + ? WHERE workspace_id = ? AND id = ?`,
			added-removed, workspaceID, listID); err != nil {
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
	limit, offset := pageArgs(p)
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		l, err := getContactList(ctx, tx, workspaceID, listID)
		if err != nil {
			return err
		}
		total = l.MemberCount
		rows, err := tx.QueryContext(ctx, `
			SELECT email, added_at FROM contact_list_members
			WHERE workspace_id = ? AND list_id = ? ORDER BY email LIMIT ? OFFSET ?`, workspaceID, listID, limit, offset)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r scanner) (store.ContactListEntry, error) {
			var (
				e     store.ContactListEntry
				added int64
			)
			err := r.Scan(&e.Email, &added)
			e.AddedAt = fromMS(added)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, 0, wrap("list contact list members", err)
	}
	return out, total, nil
}

// containingQuery is answered from contact_list_members_email alone
// (workspace_id, email, list_id): the engine runs it once per event.
const containingQuery = `
	SELECT list_id FROM contact_list_members
	WHERE workspace_id = ? AND email = ? AND list_id IN (SELECT value FROM json_each(?))
	ORDER BY list_id`

// ContactListsContaining returns which of listIDs (of this workspace)
// contain email, in one query on contact_list_members_email.
func (s *Store) ContactListsContaining(ctx context.Context, workspaceID int64, email string, listIDs []int64) ([]int64, error) {
	if len(listIDs) == 0 {
		return []int64{}, nil
	}
	ids, err := json.Marshal(listIDs)
	if err != nil {
		return nil, wrap("find contact lists containing an address", err)
	}
	rows, err := s.read.QueryContext(ctx, containingQuery, workspaceID, lower(email), string(ids))
	if err != nil {
		return nil, wrap("find contact lists containing an address", err)
	}
	out, err := collect(rows, func(r scanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	return out, wrap("find contact lists containing an address", err)
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
