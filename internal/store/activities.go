package store

import (
	"context"
	"fmt"
)

// A conversation's timeline is its events' matched runs: one
// automation_applied entry per matched run, with the actions the run
// decided. Nothing is written for it: the conversation's events are found
// through events_conversation and their runs through Driver.JoinRunsOfEvent,
// so a page costs the conversation's events, not the workspace's. An
// entry's id and created_at are its run's.

const activityColumns = `a.id, a.workspace_id, e.conversation_id, 'automation_applied', a.rule_id, a.rule_name,
	a.event_id, a.id, coalesce(a.actions, '[]'), a.created_at, a.rule_version`

func (s *SQL) activityFrom() string {
	return ` FROM events e` + s.d.JoinRunsOfEvent("a", "e")
}

// activityRow is an entry as read, with its run's rule version, which
// names the rule when the run stores no name (nameRuns).
type activityRow struct {
	Activity
	ruleVersion int
}

func scanActivity(r Scanner) (activityRow, error) {
	var (
		a       activityRow
		actions []byte
	)
	err := r.Scan(&a.ID, &a.WorkspaceID, &a.ConversationID, &a.Kind, &a.RuleID, &a.RuleName, &a.EventID,
		&a.RunID, &actions, &a.CreatedAt, &a.ruleVersion)
	a.Actions = expandActions(actions)
	return a, err
}

// ListActivities returns a page of a conversation's timeline ordered by
// (created_at, id) — descending when q.Desc — and how many entries it has.
// With q.AfterTime set the page starts strictly after that position and
// q.Offset is ignored. An unknown conversation has an empty timeline.
func (s *SQL) ListActivities(ctx context.Context, workspaceID int64, conversationID string, q ListQuery) ([]Activity, int, error) {
	if !ValidText(conversationID) {
		return []Activity{}, 0, nil
	}
	where := ` WHERE e.workspace_id = $1 AND e.conversation_id = $2 AND a.matched`
	args := []any{workspaceID, conversationID}
	countArgs := len(args)
	dir, op := "ASC", ">"
	if q.Desc {
		dir, op = "DESC", "<"
	}
	offset := int64(max(q.Offset, 0))
	page := where
	if q.AfterTime != nil {
		after := hexID(q.AfterID)
		if after == "" {
			return nil, 0, wrap("list activities", fmt.Errorf("cursor id %q is not a UUID", q.AfterID))
		}
		args = append(args, *q.AfterTime, after)
		page += fmt.Sprintf(` AND (a.created_at, a.id) %s ($%d, $%d)`, op, len(args)-1, len(args))
		offset = 0
	}
	limit, _ := pageArgs(Page{Limit: q.Limit})
	args = append(args, limit, offset)
	var (
		out   []Activity
		total int
	)
	err := s.d.Read(ctx, func(tx Querier) error {
		if err := tx.QueryRow(ctx, `SELECT count(*)`+s.activityFrom()+where, args[:countArgs]...).Scan(&total); err != nil {
			return err
		}
		rows, err := queryAll(ctx, tx, scanActivity, `SELECT `+activityColumns+s.activityFrom()+page+
			fmt.Sprintf(` ORDER BY a.created_at %s, a.id %s LIMIT $%d OFFSET $%d`, dir, dir, len(args)-1, len(args)),
			args...)
		if err != nil {
			return err
		}
		runs := make([]Run, len(rows))
		for i, a := range rows {
			runs[i] = Run{RuleID: a.RuleID, RuleVersion: a.ruleVersion, RuleName: a.RuleName}
		}
		if err := nameRuns(ctx, tx, s.d, workspaceID, runs); err != nil {
			return err
		}
		out = make([]Activity, len(rows))
		for i, a := range rows {
			out[i] = a.Activity
			out[i].RuleName = runs[i].RuleName
		}
		return nil
	})
	if err != nil {
		return nil, 0, wrap("list activities", err)
	}
	if out == nil {
		out = []Activity{}
	}
	return out, total, nil
}
