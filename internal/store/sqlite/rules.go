package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

const ruleColumns = `id, workspace_id, name, description, is_active, trigger_type, trigger_data,
	conditions, actions, alert_settings, schedule_settings, priority, rollout_percentage,
	stop_on_match, cooldown_secs, match_count, applied_count, last_matched_at, last_applied_at,
	snoozed_until, activated_at, created_at, updated_at, created_by, updated_by`

func scanRule(row scanner) (rules.Rule, error) {
	var (
		r                                 rules.Rule
		description, triggerData          sql.NullString
		conditions, actions               string
		alert, schedule                   sql.NullString
		lastMatched, lastApplied, snoozed sql.NullInt64
		activated, created, updated       int64
		createdBy, updatedBy              sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.Name, &description, &r.IsActive, &r.TriggerType, &triggerData,
		&conditions, &actions, &alert, &schedule, &r.Priority, &r.RolloutPercentage,
		&r.StopOnMatch, &r.CooldownSecs, &r.MatchCount, &r.AppliedCount, &lastMatched, &lastApplied,
		&snoozed, &activated, &created, &updated, &createdBy, &updatedBy)
	if err != nil {
		return rules.Rule{}, notFound(err)
	}
	r.Description, r.TriggerData = strPtr(description), strPtr(triggerData)
	r.Conditions = json.RawMessage(conditions)
	if err := json.Unmarshal([]byte(actions), &r.Actions); err != nil {
		return rules.Rule{}, fmt.Errorf("rule %d: decode actions: %w", r.ID, err)
	}
	if alert.Valid {
		r.AlertSettings = new(rules.AlertSettings)
		if err := json.Unmarshal([]byte(alert.String), r.AlertSettings); err != nil {
			return rules.Rule{}, fmt.Errorf("rule %d: decode alert_settings: %w", r.ID, err)
		}
	}
	if schedule.Valid {
		r.ScheduleSettings = new(rules.ScheduleSettings)
		if err := json.Unmarshal([]byte(schedule.String), r.ScheduleSettings); err != nil {
			return rules.Rule{}, fmt.Errorf("rule %d: decode schedule_settings: %w", r.ID, err)
		}
	}
	r.LastMatchedAt, r.LastAppliedAt, r.SnoozedUntil = timePtr(lastMatched), timePtr(lastApplied), timePtr(snoozed)
	r.ActivatedAt, r.CreatedAt, r.UpdatedAt = fromMS(activated), fromMS(created), fromMS(updated)
	r.CreatedBy, r.UpdatedBy = int64Ptr(createdBy), int64Ptr(updatedBy)
	return r, nil
}

func getRule(ctx context.Context, q querier, workspaceID, id int64) (rules.Rule, error) {
	return scanRule(q.QueryRowContext(ctx,
		`SELECT `+ruleColumns+` FROM rules WHERE workspace_id = ? AND id = ?`, workspaceID, id))
}

// ruleDocs are a rule's JSON columns as stored.
type ruleDocs struct {
	conditions, actions string
	alert, schedule     any // string or nil
}

// encodeRule renders the JSON columns. Conditions are kept byte for byte
// (the contract returns them exactly as submitted); an absent list is [].
func encodeRule(r rules.Rule) (ruleDocs, error) {
	d := ruleDocs{conditions: string(r.Conditions)}
	if len(bytes.TrimSpace(r.Conditions)) == 0 {
		d.conditions = "[]"
	}
	actions := r.Actions
	if actions == nil {
		actions = []rules.Action{}
	}
	b, err := json.Marshal(actions)
	if err != nil {
		return ruleDocs{}, err
	}
	d.actions = string(b)
	if r.AlertSettings != nil {
		if b, err = json.Marshal(r.AlertSettings); err != nil {
			return ruleDocs{}, err
		}
		d.alert = string(b)
	}
	if r.ScheduleSettings != nil {
		if b, err = json.Marshal(r.ScheduleSettings); err != nil {
			return ruleDocs{}, err
		}
		d.schedule = string(b)
	}
	return d, nil
}

// checkReferences fails with store.ErrMissingReference when a tag or list
// the rule uses is not in this workspace (another workspace's counts as
// missing). It runs in the writing transaction, so the objects cannot
// disappear before the references that protect them are written.
func checkReferences(ctx context.Context, tx *sql.Tx, workspaceID int64, tagIDs, listIDs []int64) error {
	for _, ref := range []struct {
		kind, table string
		ids         []int64
	}{{"tag", "tags", tagIDs}, {"contact list", "contact_lists", listIDs}} {
		if len(ref.ids) == 0 {
			continue
		}
		b, err := json.Marshal(ref.ids)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `
			SELECT id FROM `+ref.table+`
			WHERE workspace_id = ? AND id IN (SELECT value FROM json_each(?))`, workspaceID, string(b))
		if err != nil {
			return err
		}
		found, err := collect(rows, scanID)
		if err != nil {
			return err
		}
		if missing := firstMissing(ref.ids, found); missing != 0 {
			return fmt.Errorf("%s %d: %w", ref.kind, missing, store.ErrMissingReference)
		}
	}
	return nil
}

func scanID(r scanner) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}

// firstMissing returns the first of want absent from have, or 0.
func firstMissing(want, have []int64) int64 {
	set := make(map[int64]bool, len(have))
	for _, id := range have {
		set[id] = true
	}
	for _, id := range want {
		if !set[id] {
			return id
		}
	}
	return 0
}

// writeReferences replaces the rule's rows in rule_tags and
// rule_contact_lists.
func writeReferences(ctx context.Context, tx *sql.Tx, workspaceID, ruleID int64, tagIDs, listIDs []int64) error {
	for _, ref := range []struct {
		table, column string
		ids           []int64
	}{{"rule_tags", "tag_id", tagIDs}, {"rule_contact_lists", "list_id", listIDs}} {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM `+ref.table+` WHERE workspace_id = ? AND rule_id = ?`, workspaceID, ruleID); err != nil {
			return err
		}
		if len(ref.ids) == 0 {
			continue
		}
		b, err := json.Marshal(ref.ids)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO `+ref.table+` (workspace_id, rule_id, `+ref.column+`)
			SELECT ?, ?, value FROM json_each(?)`, workspaceID, ruleID, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// parked is where a moving rule waits while the others shift. Shifted
// priorities pass through -priority-1, which never reaches it.
const parked = math.MinInt32

// makeRoom frees priority p: when a rule holds it, every rule at or after
// p moves down by one, keeping their order. Going through negative values
// keeps UNIQUE (workspace_id, priority) true after each statement, which
// SQLite checks row by row.
func makeRoom(ctx context.Context, tx *sql.Tx, workspaceID int64, p int) error {
	var taken bool
	err := tx.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM rules WHERE workspace_id = ? AND priority = ?)`, workspaceID, p).Scan(&taken)
	if err != nil || !taken {
		return err
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE rules SET priority = -priority - 1 WHERE workspace_id = ? AND priority >= ?`, workspaceID, p); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE rules SET priority = -priority WHERE workspace_id = ? AND priority < 0 AND priority <> ?`,
		workspaceID, parked)
	return err
}

// errNegativePriority guards the shifting scheme, which needs p >= 0; the
// rule model rejects negative priorities before they get here.
var errNegativePriority = errors.New("priority must be at least 0")

func workspaceExists(ctx context.Context, q querier, id int64) error {
	var ok bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = ?)`, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

// CreateRule inserts r at priority (last when nil, shifting the rules at
// or after it when taken). Counters start at zero; created_at, updated_at
// and ActivatedAt are now.
func (s *Store) CreateRule(ctx context.Context, r rules.Rule, priority *int) (rules.Rule, error) {
	docs, err := encodeRule(r)
	if err != nil {
		return rules.Rule{}, wrap("create rule", err)
	}
	tagIDs, listIDs := r.References()
	updatedBy := r.UpdatedBy
	if updatedBy == nil {
		updatedBy = r.CreatedBy
	}
	var out rules.Rule
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := workspaceExists(ctx, tx, r.WorkspaceID); err != nil {
			return err
		}
		if err := checkReferences(ctx, tx, r.WorkspaceID, tagIDs, listIDs); err != nil {
			return err
		}
		var p int
		if priority == nil {
			err := tx.QueryRowContext(ctx, `
				SELECT coalesce(max(priority) + 1, 0) FROM rules WHERE workspace_id = ?`, r.WorkspaceID).Scan(&p)
			if err != nil {
				return err
			}
		} else {
			if p = *priority; p < 0 {
				return errNegativePriority
			}
			if err := makeRoom(ctx, tx, r.WorkspaceID, p); err != nil {
				return err
			}
		}
		now := ms(s.now())
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO rules (workspace_id, name, description, is_active, trigger_type, trigger_data,
				conditions, actions, alert_settings, schedule_settings, priority, rollout_percentage,
				stop_on_match, cooldown_secs, snoozed_until, activated_at, created_at, updated_at,
				created_by, updated_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id`,
			r.WorkspaceID, r.Name, r.Description, r.IsActive, r.TriggerType, r.TriggerData,
			docs.conditions, docs.actions, docs.alert, docs.schedule, p, r.RolloutPercentage,
			r.StopOnMatch, r.CooldownSecs, msOrNil(r.SnoozedUntil), now, now, now,
			r.CreatedBy, updatedBy).Scan(&id)
		if err != nil {
			return err
		}
		if err := writeReferences(ctx, tx, r.WorkspaceID, id, tagIDs, listIDs); err != nil {
			return err
		}
		out, err = getRule(ctx, tx, r.WorkspaceID, id)
		return err
	})
	return out, wrap("create rule", err)
}

// GetRule returns a rule of the workspace.
func (s *Store) GetRule(ctx context.Context, workspaceID, id int64) (rules.Rule, error) {
	r, err := getRule(ctx, s.read, workspaceID, id)
	return r, wrap("get rule", err)
}

// ruleFilter is the WHERE fragment for store.RuleFilter; its arguments come
// from filterArgs in the same order.
const ruleFilter = ` AND (? IS NULL OR is_active = ?) AND (? = '' OR trigger_type = ?)`

func filterArgs(f store.RuleFilter) []any {
	return []any{f.IsActive, f.IsActive, f.TriggerType, f.TriggerType}
}

func listRules(ctx context.Context, q querier, workspaceID int64, f store.RuleFilter) ([]rules.Rule, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT `+ruleColumns+` FROM rules WHERE workspace_id = ?`+ruleFilter+`
		ORDER BY priority, id`, append([]any{workspaceID}, filterArgs(f)...)...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRule)
}

// ListRules returns the workspace's rules by priority, then id.
func (s *Store) ListRules(ctx context.Context, workspaceID int64, f store.RuleFilter) ([]rules.Rule, error) {
	out, err := listRules(ctx, s.read, workspaceID, f)
	return out, wrap("list rules", err)
}

// ListSnoozedRules returns a page of the rules snoozed at now, by priority
// then id, and how many there are.
func (s *Store) ListSnoozedRules(ctx context.Context, workspaceID int64, now time.Time, f store.RuleFilter, p store.Page) ([]rules.Rule, int, error) {
	var (
		out   []rules.Rule
		total int
	)
	limit, offset := pageArgs(p)
	const where = ` FROM rules WHERE workspace_id = ? AND snoozed_until > ?` + ruleFilter
	args := append([]any{workspaceID, ms(now)}, filterArgs(f)...)
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+ruleColumns+where+` ORDER BY priority, id LIMIT ? OFFSET ?`,
			append(args, limit, offset)...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanRule)
		return err
	})
	if err != nil {
		return nil, 0, wrap("list snoozed rules", err)
	}
	return out, total, nil
}

// UpdateRule writes the editable fields of r. Counters and snoozed_until
// are left alone: they are written by the pipeline and SnoozeRule, and a
// read-modify-write through the API must not undo them.
func (s *Store) UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	docs, err := encodeRule(r)
	if err != nil {
		return rules.Rule{}, wrap("update rule", err)
	}
	tagIDs, listIDs := r.References()
	var out rules.Rule
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getRule(ctx, tx, r.WorkspaceID, r.ID)
		if err != nil {
			return err
		}
		if err := checkReferences(ctx, tx, r.WorkspaceID, tagIDs, listIDs); err != nil {
			return err
		}
		now := s.now()
		if r.Priority != old.Priority {
			if r.Priority < 0 {
				return errNegativePriority
			}
			// Take the rule out of the order, then insert it at its new
			// place exactly as CreateRule would.
			if _, err := tx.ExecContext(ctx, `UPDATE rules SET priority = ? WHERE workspace_id = ? AND id = ?`,
				parked, r.WorkspaceID, r.ID); err != nil {
				return err
			}
			if err := makeRoom(ctx, tx, r.WorkspaceID, r.Priority); err != nil {
				return err
			}
		}
		activated := old.ActivatedAt
		if r.IsActive && !old.IsActive {
			activated = now
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE rules
			SET name = ?, description = ?, is_active = ?, trigger_type = ?, trigger_data = ?,
			    conditions = ?, actions = ?, alert_settings = ?, schedule_settings = ?, priority = ?,
			    rollout_percentage = ?, stop_on_match = ?, cooldown_secs = ?, activated_at = ?,
			    updated_at = ?, updated_by = ?
			WHERE workspace_id = ? AND id = ?`,
			r.Name, r.Description, r.IsActive, r.TriggerType, r.TriggerData,
			docs.conditions, docs.actions, docs.alert, docs.schedule, r.Priority,
			r.RolloutPercentage, r.StopOnMatch, r.CooldownSecs, ms(activated),
			ms(now), r.UpdatedBy, r.WorkspaceID, r.ID)
		if err != nil {
			return err
		}
		if err := writeReferences(ctx, tx, r.WorkspaceID, r.ID, tagIDs, listIDs); err != nil {
			return err
		}
		out, err = getRule(ctx, tx, r.WorkspaceID, r.ID)
		return err
	})
	return out, wrap("update rule", err)
}

// DeleteRule deletes a rule and its references. The other rules keep
// their priorities: a gap is harmless, renumbering would be a surprise.
func (s *Store) DeleteRule(ctx context.Context, workspaceID, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"rule_tags", "rule_contact_lists"} {
			if _, err := tx.ExecContext(ctx,
				`DELETE FROM `+table+` WHERE workspace_id = ? AND rule_id = ?`, workspaceID, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE workspace_id = ? AND id = ?`, workspaceID, id)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return wrap("delete rule", err)
}

// priorities returns every rule id of the workspace with its priority.
func priorities(ctx context.Context, tx *sql.Tx, workspaceID int64) (map[int64]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, priority FROM rules WHERE workspace_id = ?`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var (
			id int64
			p  int
		)
		if err := rows.Scan(&id, &p); err != nil {
			return nil, err
		}
		out[id] = p
	}
	return out, rows.Err()
}

// setPriorities moves the rules whose priority changes to their target,
// through negative values so that no two rules ever share a priority.
func setPriorities(ctx context.Context, tx *sql.Tx, workspaceID int64, current, target map[int64]int, by *int64, now time.Time) error {
	var moved []int64
	for id, p := range target {
		if current[id] != p {
			moved = append(moved, id)
		}
	}
	for _, id := range moved {
		if _, err := tx.ExecContext(ctx, `UPDATE rules SET priority = ? WHERE workspace_id = ? AND id = ?`,
			-target[id]-1, workspaceID, id); err != nil {
			return err
		}
	}
	for _, id := range moved {
		if _, err := tx.ExecContext(ctx, `
			UPDATE rules SET priority = ?, updated_at = ?, updated_by = ? WHERE workspace_id = ? AND id = ?`,
			target[id], ms(now), by, workspaceID, id); err != nil {
			return err
		}
	}
	return nil
}

// ReorderRules gives the rules priorities 0..n-1 in the order of ids, which
// must name every rule of the workspace once.
func (s *Store) ReorderRules(ctx context.Context, workspaceID int64, ids []int64, by *int64) ([]rules.Rule, error) {
	return s.reorder(ctx, workspaceID, ids, by, store.FullOrder)
}

// ReorderRuleSubset gives the listed rules the priorities they hold now,
// sorted, in the order given; the others keep theirs.
func (s *Store) ReorderRuleSubset(ctx context.Context, workspaceID int64, ids []int64, by *int64) ([]rules.Rule, error) {
	return s.reorder(ctx, workspaceID, ids, by, store.SubsetOrder)
}

func (s *Store) reorder(ctx context.Context, workspaceID int64, ids []int64, by *int64,
	order func(current map[int64]int, ids []int64) (map[int64]int, error)) ([]rules.Rule, error) {
	var out []rules.Rule
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		current, err := priorities(ctx, tx, workspaceID)
		if err != nil {
			return err
		}
		target, err := order(current, ids)
		if err != nil {
			return err
		}
		if err := setPriorities(ctx, tx, workspaceID, current, target, by, s.now()); err != nil {
			return err
		}
		out, err = listRules(ctx, tx, workspaceID, store.RuleFilter{})
		return err
	})
	return out, wrap("reorder rules", err)
}

// SnoozeRule sets snoozed_until (nil clears it).
func (s *Store) SnoozeRule(ctx context.Context, workspaceID, id int64, until *time.Time, by *int64) (rules.Rule, error) {
	var out rules.Rule
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE rules SET snoozed_until = ?, updated_at = ?, updated_by = ?
			WHERE workspace_id = ? AND id = ?`,
			msOrNil(until), ms(s.now()), by, workspaceID, id)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		out, err = getRule(ctx, tx, workspaceID, id)
		return err
	})
	return out, wrap("snooze rule", err)
}

// oneRow turns "no row changed" into store.ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
