package store

import "context"

const contactListColumns = `id, workspace_id, name, member_count, created_at`

func scanContactList(row Scanner) (ContactList, error) {
	var l ContactList
	err := row.Scan(&l.ID, &l.WorkspaceID, &l.Name, &l.MemberCount, &l.CreatedAt)
	return l, err
}

func getContactList(ctx context.Context, q Querier, workspaceID, id int64) (ContactList, error) {
	return scanContactList(q.QueryRow(ctx,
		`SELECT `+contactListColumns+` FROM contact_lists WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
}

// CreateContactList adds an empty list; its name (in any case) must be free
// in the workspace.
func (s *SQL) CreateContactList(ctx context.Context, l ContactList) (ContactList, error) {
	var out ContactList
	err := s.d.Write(ctx, func(q Querier) error {
		var id int64
		err := q.QueryRow(ctx, `
			INSERT INTO contact_lists (workspace_id, name, name_key, created_at)
			VALUES ($1, $2, $3, $4)
			RETURNING id`,
			l.WorkspaceID, l.Name, lower(l.Name), s.Now()).Scan(&id)
		if err != nil {
			return s.insertErr(err)
		}
		out, err = getContactList(ctx, q, l.WorkspaceID, id)
		return err
	})
	return out, wrap("create contact list", err)
}

// GetContactList returns a list of the workspace with its member count.
func (s *SQL) GetContactList(ctx context.Context, workspaceID, id int64) (ContactList, error) {
	l, err := getContactList(ctx, s.d.Reader(), workspaceID, id)
	return l, wrap("get contact list", err)
}

// ListContactLists returns a page of the workspace's lists by id, and how
// many there are.
func (s *SQL) ListContactLists(ctx context.Context, workspaceID int64, p Page) ([]ContactList, int, error) {
	limit, offset := pageArgs(p)
	return page(ctx, s, "list contact lists", scanContactList,
		`SELECT count(*) FROM contact_lists WHERE workspace_id = $1`, []any{workspaceID},
		`SELECT `+contactListColumns+` FROM contact_lists WHERE workspace_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
		workspaceID, limit, offset)
}

// UpdateContactList renames a list.
func (s *SQL) UpdateContactList(ctx context.Context, l ContactList) (ContactList, error) {
	var out ContactList
	err := s.d.Write(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `
			UPDATE contact_lists SET name = $1, name_key = $2 WHERE workspace_id = $3 AND id = $4`,
			l.Name, lower(l.Name), l.WorkspaceID, l.ID)
		if err != nil {
			return s.conflict(err)
		}
		if err := oneRow(n, nil); err != nil {
			return err
		}
		out, err = getContactList(ctx, q, l.WorkspaceID, l.ID)
		return err
	})
	return out, wrap("update contact list", err)
}

// DeleteContactList deletes a list (and its addresses) that no rule's
// condition uses; otherwise it returns *ReferencedError. The workspace
// lock orders it with rule writes.
func (s *SQL) DeleteContactList(ctx context.Context, workspaceID, id int64) error {
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, workspaceID); err != nil {
			return err
		}
		if err := referencedBy(ctx, q, `
			SELECT rule_id FROM rule_contact_lists WHERE workspace_id = $1 AND list_id = $2 ORDER BY rule_id`,
			workspaceID, id); err != nil {
			return err
		}
		return oneRow(q.Exec(ctx, `DELETE FROM contact_lists WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
	})
	return wrap("delete contact list", err)
}

// ChangeContactListMembers adds then removes addresses in one transaction
// (an address in both lists ends up removed). Addresses already present
// keep their added_at; member_count moves by the rows actually changed.
// Each side is one statement, however many addresses (up to 10,000).
func (s *SQL) ChangeContactListMembers(ctx context.Context, workspaceID, listID int64, add, remove []string) (ContactList, error) {
	var out ContactList
	err := s.d.Write(ctx, func(q Querier) error {
		if _, err := getContactList(ctx, q, workspaceID, listID); err != nil {
			return err
		}
		list, arg := s.d.List(4, normalizeEmails(add))
		added, err := q.Exec(ctx, `
			INSERT INTO contact_list_members (workspace_id, list_id, email, added_at)
			SELECT $1, $2, value, $3 FROM `+list+` AS v WHERE true
			ON CONFLICT (list_id, email) DO NOTHING`,
			workspaceID, listID, s.Now(), arg)
		if err != nil {
			return err
		}
		list, arg = s.d.List(3, normalizeEmails(remove))
		removed, err := q.Exec(ctx, `
			DELETE FROM contact_list_members
			WHERE workspace_id = $1 AND list_id = $2 AND email IN `+list,
			workspaceID, listID, arg)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `
			UPDATE contact_lists SET member_count = member_count + $1 WHERE workspace_id = $2 AND id = $3`,
			added-removed, workspaceID, listID); err != nil {
			return err
		}
		out, err = getContactList(ctx, q, workspaceID, listID)
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
func (s *SQL) ListContactListMembers(ctx context.Context, workspaceID, listID int64, p Page) ([]ContactListEntry, int, error) {
	var (
		out   []ContactListEntry
		total int
	)
	limit, offset := pageArgs(p)
	err := s.d.Read(ctx, func(q Querier) error {
		l, err := getContactList(ctx, q, workspaceID, listID)
		if err != nil {
			return err
		}
		total = l.MemberCount
		out, err = queryAll(ctx, q, func(r Scanner) (ContactListEntry, error) {
			var e ContactListEntry
			return e, r.Scan(&e.Email, &e.AddedAt)
		}, `
			SELECT email, added_at FROM contact_list_members
			WHERE workspace_id = $1 AND list_id = $2 ORDER BY email LIMIT $3 OFFSET $4`,
			workspaceID, listID, limit, offset)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list contact list members", err)
	}
	return out, total, nil
}

// ContactListsContaining returns which of listIDs (of this workspace)
// contain email, in one query answered from contact_list_members_email
// (workspace_id, email, list_id) alone: the engine runs it once per event.
func (s *SQL) ContactListsContaining(ctx context.Context, workspaceID int64, email string, listIDs []int64) ([]int64, error) {
	if len(listIDs) == 0 {
		return []int64{}, nil
	}
	list, arg := s.d.List(3, listIDs)
	out, err := queryAll(ctx, s.d.Reader(), scanID, `
		SELECT list_id FROM contact_list_members
		WHERE workspace_id = $1 AND email = $2 AND list_id IN `+list+`
		ORDER BY list_id`, workspaceID, lower(email), arg)
	return out, wrap("find contact lists containing an address", err)
}
