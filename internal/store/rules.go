package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// ruleColumns reads a rule from a FROM rules (not aliased). Its counters
// are the sums of its shards in rule_counters (see CounterShards).
const ruleColumns = `id, workspace_id, name, description, is_active, trigger_type, trigger_data,
	conditions, actions, alert_settings, schedule_settings, priority, rollout_percentage,
	stop_on_match, cooldown_secs,
	(SELECT CAST(coalesce(sum(c.match_count), 0) AS BIGINT) FROM rule_counters c WHERE c.rule_id = rules.id),
	(SELECT CAST(coalesce(sum(c.applied_count), 0) AS BIGINT) FROM rule_counters c WHERE c.rule_id = rules.id),
	(SELECT max(c.last_matched_at) FROM rule_counters c WHERE c.rule_id = rules.id),
	(SELECT max(c.last_applied_at) FROM rule_counters c WHERE c.rule_id = rules.id),
	snoozed_until, activated_at, created_at, updated_at, created_by, updated_by, version`

// CounterShards is how many rows each rule's counters (rule_counters) and
// each of its hourly rollups (run_rollups) are spread over. A transaction
// adds to one shard; reads sum them. Concurrent completions that pick
// different shards do not wait for each other's commit on the same rows,
// as they did when every completion updated the rule's own row.
const CounterShards = 8

// ShardOf picks a shard for a key (a run id, a sequence number), in
// [0, CounterShards).
func ShardOf(key string) int16 {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int16(h % CounterShards)
}

func scanRule(row Scanner) (rules.Rule, error) {
	var (
		r                   rules.Rule
		conditions, actions string
		alert, schedule     *string
	)
	err := row.Scan(&r.ID, &r.WorkspaceID, &r.Name, &r.Description, &r.IsActive, &r.TriggerType, &r.TriggerData,
		&conditions, &actions, &alert, &schedule, &r.Priority, &r.RolloutPercentage,
		&r.StopOnMatch, &r.CooldownSecs, &r.MatchCount, &r.AppliedCount, &r.LastMatchedAt, &r.LastAppliedAt,
		&r.SnoozedUntil, &r.ActivatedAt, &r.CreatedAt, &r.UpdatedAt, &r.CreatedBy, &r.UpdatedBy, &r.Version)
	if err != nil {
		return rules.Rule{}, err
	}
	err = decodeRule(&r, ruleDocs{conditions: conditions, actions: actions, alert: alert, schedule: schedule})
	return r, err
}

func getRule(ctx context.Context, q Querier, workspaceID, id int64) (rules.Rule, error) {
	return scanRule(q.QueryRow(ctx,
		`SELECT `+ruleColumns+` FROM rules WHERE workspace_id = $1 AND id = $2`, workspaceID, id))
}

// ruleDocs are a rule's JSON columns as stored.
type ruleDocs struct {
	conditions, actions string
	alert, schedule     *string
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
	if d.alert, err = marshalOrNil(r.AlertSettings); err != nil {
		return ruleDocs{}, err
	}
	if d.schedule, err = marshalOrNil(r.ScheduleSettings); err != nil {
		return ruleDocs{}, err
	}
	return d, nil
}

// marshalOrNil encodes v, or returns nil (SQL NULL) for a nil pointer.
func marshalOrNil[T any](v *T) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// decodeRule fills r's documents from their stored form.
func decodeRule(r *rules.Rule, d ruleDocs) error {
	r.Conditions = json.RawMessage(d.conditions)
	if err := json.Unmarshal([]byte(d.actions), &r.Actions); err != nil {
		return fmt.Errorf("rule %d: decode actions: %w", r.ID, err)
	}
	var err error
	if r.AlertSettings, err = unmarshalOrNil[rules.AlertSettings](d.alert); err != nil {
		return fmt.Errorf("rule %d: decode alert_settings: %w", r.ID, err)
	}
	if r.ScheduleSettings, err = unmarshalOrNil[rules.ScheduleSettings](d.schedule); err != nil {
		return fmt.Errorf("rule %d: decode schedule_settings: %w", r.ID, err)
	}
	return nil
}

// unmarshalOrNil decodes a nullable document; NULL and JSON null are nil.
func unmarshalOrNil[T any](doc *string) (*T, error) {
	if doc == nil || *doc == "null" {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal([]byte(*doc), v); err != nil {
		return nil, err
	}
	return v, nil
}

// placeholders returns "$from, $from+1, …" for n arguments.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// idArgs prepends head to ids as query arguments.
func idArgs(ids []int64, head ...any) []any {
	args := head
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

// ruleRef is one kind of object rules refer to, with the table that keeps
// the references.
type ruleRef struct {
	kind, table, refTable, column string
}

var ruleRefs = [2]ruleRef{
	{"tag", "tags", "rule_tags", "tag_id"},
	{"contact list", "contact_lists", "rule_contact_lists", "list_id"},
}

// checkReferences fails with ErrMissingReference when a tag or list the
// rule uses is not in this workspace (another workspace's counts as
// missing). Callers hold the workspace lock, which DeleteTag and
// DeleteContactList also take, so the objects cannot disappear before the
// references that protect them are written.
func checkReferences(ctx context.Context, q Querier, workspaceID int64, tagIDs, listIDs []int64) error {
	for i, ids := range [2][]int64{tagIDs, listIDs} {
		if len(ids) == 0 {
			continue
		}
		ref := ruleRefs[i]
		found, err := queryAll(ctx, q, scanID, `
			SELECT id FROM `+ref.table+` WHERE workspace_id = $1 AND id IN (`+placeholders(2, len(ids))+`)`,
			idArgs(ids, workspaceID)...)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.Contains(found, id) {
				return fmt.Errorf("%s %d: %w", ref.kind, id, ErrMissingReference)
			}
		}
	}
	return nil
}

// writeReferences replaces the rule's rows in rule_tags and
// rule_contact_lists.
func (s *SQL) writeReferences(ctx context.Context, q Querier, workspaceID, ruleID int64, tagIDs, listIDs []int64) error {
	for i, ids := range [2][]int64{tagIDs, listIDs} {
		ref := ruleRefs[i]
		if _, err := q.Exec(ctx,
			`DELETE FROM `+ref.refTable+` WHERE workspace_id = $1 AND rule_id = $2`, workspaceID, ruleID); err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		values := make([]string, len(ids))
		for j := range ids {
			values[j] = "($1, $2, $" + strconv.Itoa(j+3) + ")"
		}
		_, err := q.Exec(ctx, `INSERT INTO `+ref.refTable+` (workspace_id, rule_id, `+ref.column+`)
			VALUES `+strings.Join(values, ", "), idArgs(ids, workspaceID, ruleID)...)
		if s.d.ForeignKeyViolation(err) {
			return fmt.Errorf("%s: %w", ref.column, ErrMissingReference)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errPriorityRange guards the shifting scheme, which needs every priority
// within 0..rules.MaxPriority; the rule model rejects others before they
// get here.
var errPriorityRange = fmt.Errorf("priority must be between 0 and %d", rules.MaxPriority)

// errFull: every priority of the range is taken, so no rule can be added.
var errFull = fmt.Errorf("every priority from 0 to %d is taken: %w", rules.MaxPriority, ErrConflict)

// parked is where a moving rule waits while the others shift; shifting
// rules pass through -priority-2, which is at most -2: no two rows ever
// share a value, whatever priorities (all within 0..MaxPriority) they hold.
const parked = -1

// shift moves the rules holding from..to (0 <= from <= to) by delta (±1)
// in two statements. SQLite and PostgreSQL check UNIQUE (workspace_id,
// priority) row by row, so the rules pass through negative values first;
// the caller has made sure that the slot they move into is free.
func shift(ctx context.Context, q Querier, workspaceID int64, from, to, delta int) error {
	if from > to {
		return nil
	}
	if _, err := q.Exec(ctx, `
		UPDATE rules SET priority = -priority - 2
		WHERE workspace_id = $1 AND priority >= $2 AND priority <= $3`, workspaceID, from, to); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `
		UPDATE rules SET priority = -priority - 2 + $2 WHERE workspace_id = $1 AND priority <= -2`,
		workspaceID, delta)
	return err
}

// makeRoom frees a slot for a rule that must run after every rule below
// p and before every rule at or after p (0 <= p <= MaxPriority+1, the
// latter meaning "last"), and returns it. When p is free it is the slot.
// Otherwise every rule at or after p shifts down by one, as the contract
// says — unless that would push the last rule past MaxPriority: then the
// rules from p up to the first gap after it shift into that gap, and when
// there is none after p, the rules before p shift up into the last gap
// before it and the slot is p-1. No rule ever leaves the range and no two
// rules that do not move change their relative order.
func makeRoom(ctx context.Context, q Querier, workspaceID int64, p int) (int, error) {
	if p <= rules.MaxPriority {
		var last *int
		err := q.QueryRow(ctx, `
			SELECT max(priority) FROM rules WHERE workspace_id = $1 AND priority >= $2`, workspaceID, p).Scan(&last)
		if err != nil {
			return 0, err
		}
		if last == nil {
			return p, nil // nothing at or after p
		}
		var taken bool
		if err := q.QueryRow(ctx, `
			SELECT count(*) > 0 FROM rules WHERE workspace_id = $1 AND priority = $2`, workspaceID, p).Scan(&taken); err != nil {
			return 0, err
		}
		if !taken {
			return p, nil
		}
		if *last < rules.MaxPriority {
			return p, shift(ctx, q, workspaceID, p, *last, 1)
		}
		var gap *int
		err = q.QueryRow(ctx, `
			SELECT min(r.priority + 1) FROM rules r
			WHERE r.workspace_id = $1 AND r.priority >= $2 AND r.priority < $3
			  AND NOT EXISTS (SELECT 1 FROM rules n WHERE n.workspace_id = $1 AND n.priority = r.priority + 1)`,
			workspaceID, p, rules.MaxPriority).Scan(&gap)
		if err != nil {
			return 0, err
		}
		if gap != nil {
			return p, shift(ctx, q, workspaceID, p, *gap-1, 1)
		}
	}
	// Every slot from p to the end is taken (or p is past the end).
	var gap *int
	err := q.QueryRow(ctx, `
		SELECT max(r.priority - 1) FROM rules r
		WHERE r.workspace_id = $1 AND r.priority >= 1 AND r.priority <= $2
		  AND NOT EXISTS (SELECT 1 FROM rules n WHERE n.workspace_id = $1 AND n.priority = r.priority - 1)`,
		workspaceID, min(p, rules.MaxPriority)).Scan(&gap)
	if err != nil {
		return 0, err
	}
	if gap == nil {
		return 0, errFull
	}
	return p - 1, shift(ctx, q, workspaceID, *gap+1, p-1, -1)
}

// lastSlot is the priority a rule created without one asks for: after the
// last rule (makeRoom compacts when that is past the end).
func lastSlot(ctx context.Context, q Querier, workspaceID int64) (int, error) {
	var p int
	err := q.QueryRow(ctx, `
		SELECT coalesce(max(priority) + 1, 0) FROM rules WHERE workspace_id = $1 AND priority >= 0`,
		workspaceID).Scan(&p)
	return p, err
}

// CreateRule inserts r at priority (last when nil, shifting the rules at
// or after it when taken), as version 1. Counters start at zero;
// created_at, updated_at and ActivatedAt are now.
func (s *SQL) CreateRule(ctx context.Context, r rules.Rule, priority *int) (rules.Rule, error) {
	docs, err := encodeRule(r)
	if err != nil {
		return rules.Rule{}, wrap("create rule", err)
	}
	if priority != nil && (*priority < 0 || *priority > rules.MaxPriority) {
		return rules.Rule{}, wrap("create rule", errPriorityRange)
	}
	tagIDs, listIDs := r.References()
	updatedBy := r.UpdatedBy
	if updatedBy == nil {
		updatedBy = r.CreatedBy
	}
	var out rules.Rule
	err = s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, r.WorkspaceID); err != nil {
			return err
		}
		if err := checkReferences(ctx, q, r.WorkspaceID, tagIDs, listIDs); err != nil {
			return err
		}
		var p int
		if priority != nil {
			p = *priority
		} else if p, err = lastSlot(ctx, q, r.WorkspaceID); err != nil {
			return err
		}
		if p, err = makeRoom(ctx, q, r.WorkspaceID, p); err != nil {
			return err
		}
		now := s.Now()
		var id int64
		err := q.QueryRow(ctx, `
			INSERT INTO rules (workspace_id, name, description, is_active, trigger_type, trigger_data,
				conditions, actions, alert_settings, schedule_settings, priority, rollout_percentage,
				stop_on_match, cooldown_secs, snoozed_until, activated_at, created_at, updated_at,
				created_by, updated_by, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $16, $17, $18, 1)
			RETURNING id`,
			r.WorkspaceID, r.Name, r.Description, r.IsActive, r.TriggerType, r.TriggerData,
			docs.conditions, docs.actions, docs.alert, docs.schedule, p, r.RolloutPercentage,
			r.StopOnMatch, r.CooldownSecs, r.SnoozedUntil, now,
			r.CreatedBy, updatedBy).Scan(&id)
		if err != nil {
			return s.insertErr(err)
		}
		if err := s.writeReferences(ctx, q, r.WorkspaceID, id, tagIDs, listIDs); err != nil {
			return err
		}
		if out, err = getRule(ctx, q, r.WorkspaceID, id); err != nil {
			return err
		}
		if err := writeVersion(ctx, q, out, definitionFields); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, r.WorkspaceID)
	})
	return out, wrap("create rule", err)
}

// GetRule returns a rule of the workspace.
func (s *SQL) GetRule(ctx context.Context, workspaceID, id int64) (rules.Rule, error) {
	r, err := getRule(ctx, s.d.Reader(), workspaceID, id)
	return r, wrap("get rule", err)
}

// ruleWhere renders a RuleFilter as conditions after "workspace_id = $1"
// and the other arguments, numbered from next.
func ruleWhere(f RuleFilter, next int) (string, []any) {
	var (
		where string
		args  []any
	)
	if f.IsActive != nil {
		where += ` AND is_active = $` + strconv.Itoa(next+len(args))
		args = append(args, *f.IsActive)
	}
	if f.TriggerType != "" {
		where += ` AND trigger_type = $` + strconv.Itoa(next+len(args))
		args = append(args, f.TriggerType)
	}
	return where, args
}

func listRules(ctx context.Context, q Querier, workspaceID int64, f RuleFilter) ([]rules.Rule, error) {
	where, args := ruleWhere(f, 2)
	return queryAll(ctx, q, scanRule, `
		SELECT `+ruleColumns+` FROM rules WHERE workspace_id = $1`+where+` ORDER BY priority, id`,
		append([]any{workspaceID}, args...)...)
}

// ListRules returns the workspace's rules by priority, then id.
func (s *SQL) ListRules(ctx context.Context, workspaceID int64, f RuleFilter) ([]rules.Rule, error) {
	out, err := listRules(ctx, s.d.Reader(), workspaceID, f)
	return out, wrap("list rules", err)
}

// ListSnoozedRules returns a page of the rules snoozed at now, by priority
// then id, and how many there are.
func (s *SQL) ListSnoozedRules(ctx context.Context, workspaceID int64, now time.Time, f RuleFilter, p Page) ([]rules.Rule, int, error) {
	filter, fargs := ruleWhere(f, 3)
	where := ` FROM rules WHERE workspace_id = $1 AND snoozed_until > $2` + filter
	args := append([]any{workspaceID, now}, fargs...)
	limit, offset := pageArgs(p)
	n := len(args)
	return page(ctx, s, "list snoozed rules", scanRule,
		`SELECT count(*)`+where, args,
		`SELECT `+ruleColumns+where+` ORDER BY priority, id LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(slices.Clone(args), limit, offset)...)
}

// UpdateRule writes the editable fields of r. Counters and snoozed_until
// are left alone: they are written by the pipeline and SnoozeRule, and a
// read-modify-write through the API must not undo them. A change of the
// definition makes a new version.
func (s *SQL) UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	var out rules.Rule
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, r.WorkspaceID); err != nil {
			return err
		}
		old, err := getRule(ctx, q, r.WorkspaceID, r.ID)
		if err != nil {
			return err
		}
		out, err = s.updateRule(ctx, q, old, r, false)
		return err
	})
	return out, wrap("update rule", err)
}

// updateRule writes r over old inside a transaction that holds the
// workspace lock. The rule gets a new version when its definition changes,
// or always when asked (a restore is a change of its own).
func (s *SQL) updateRule(ctx context.Context, q Querier, old, r rules.Rule, always bool) (rules.Rule, error) {
	if r.Priority < 0 || r.Priority > rules.MaxPriority {
		return rules.Rule{}, errPriorityRange
	}
	docs, err := encodeRule(r)
	if err != nil {
		return rules.Rule{}, err
	}
	oldDocs, err := encodeRule(old)
	if err != nil {
		return rules.Rule{}, err
	}
	tagIDs, listIDs := r.References()
	if err := checkReferences(ctx, q, r.WorkspaceID, tagIDs, listIDs); err != nil {
		return rules.Rule{}, err
	}
	if r.Priority != old.Priority {
		// Take the rule out of the order, then insert it at its new place
		// exactly as CreateRule would.
		if _, err := q.Exec(ctx, `UPDATE rules SET priority = $1 WHERE workspace_id = $2 AND id = $3`,
			parked, r.WorkspaceID, r.ID); err != nil {
			return rules.Rule{}, err
		}
		if r.Priority, err = makeRoom(ctx, q, r.WorkspaceID, r.Priority); err != nil {
			return rules.Rule{}, err
		}
	}
	fields := changedFields(old, r, oldDocs, docs)
	version := old.Version
	if len(fields) > 0 || always {
		version++
	}
	now := s.Now()
	activated := old.ActivatedAt
	if r.IsActive && !old.IsActive {
		activated = now
	}
	_, err = q.Exec(ctx, `
		UPDATE rules
		SET name = $1, description = $2, is_active = $3, trigger_type = $4, trigger_data = $5,
		    conditions = $6, actions = $7, alert_settings = $8, schedule_settings = $9, priority = $10,
		    rollout_percentage = $11, stop_on_match = $12, cooldown_secs = $13, activated_at = $14,
		    updated_at = $15, updated_by = $16, version = $17
		WHERE workspace_id = $18 AND id = $19`,
		r.Name, r.Description, r.IsActive, r.TriggerType, r.TriggerData,
		docs.conditions, docs.actions, docs.alert, docs.schedule, r.Priority,
		r.RolloutPercentage, r.StopOnMatch, r.CooldownSecs, activated,
		now, r.UpdatedBy, version, r.WorkspaceID, r.ID)
	if err != nil {
		return rules.Rule{}, err
	}
	if err := s.writeReferences(ctx, q, r.WorkspaceID, r.ID, tagIDs, listIDs); err != nil {
		return rules.Rule{}, err
	}
	out, err := getRule(ctx, q, r.WorkspaceID, r.ID)
	if err != nil {
		return rules.Rule{}, err
	}
	if version != old.Version {
		if err := writeVersion(ctx, q, out, fields); err != nil {
			return rules.Rule{}, err
		}
	}
	return out, s.rulesChanged(ctx, q, r.WorkspaceID)
}

// DeleteRule deletes a rule and its references. The other rules keep
// their priorities: a gap is harmless, renumbering would be a surprise.
// Its versions stay, so that its old runs can still show it as it was.
func (s *SQL) DeleteRule(ctx context.Context, workspaceID, id int64) error {
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, workspaceID); err != nil {
			return err
		}
		for _, ref := range ruleRefs {
			if _, err := q.Exec(ctx,
				`DELETE FROM `+ref.refTable+` WHERE workspace_id = $1 AND rule_id = $2`, workspaceID, id); err != nil {
				return err
			}
		}
		if err := oneRow(q.Exec(ctx, `DELETE FROM rules WHERE workspace_id = $1 AND id = $2`, workspaceID, id)); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM rule_counters WHERE workspace_id = $1 AND rule_id = $2`, workspaceID, id); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, workspaceID)
	})
	return wrap("delete rule", err)
}

// priorities returns every rule id of the workspace with its priority.
func priorities(ctx context.Context, q Querier, workspaceID int64) (map[int64]int, error) {
	rows, err := q.Query(ctx, `SELECT id, priority FROM rules WHERE workspace_id = $1`, workspaceID)
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

// ReorderRules gives the rules priorities 0..n-1 in the order of ids, which
// must name every rule of the workspace once.
func (s *SQL) ReorderRules(ctx context.Context, workspaceID int64, ids []int64, by *int64) ([]rules.Rule, error) {
	return s.reorder(ctx, workspaceID, ids, by, FullOrder)
}

// ReorderRuleSubset gives the listed rules the priorities they hold now,
// sorted, in the order given; the others keep theirs.
func (s *SQL) ReorderRuleSubset(ctx context.Context, workspaceID int64, ids []int64, by *int64) ([]rules.Rule, error) {
	return s.reorder(ctx, workspaceID, ids, by, SubsetOrder)
}

// reorder moves the rules whose priority changes to their target, through
// negative values so that no two rules ever share a priority, and gives
// each of them a new version.
func (s *SQL) reorder(ctx context.Context, workspaceID int64, ids []int64, by *int64,
	order func(current map[int64]int, ids []int64) (map[int64]int, error)) ([]rules.Rule, error) {
	var out []rules.Rule
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, workspaceID); err != nil {
			return err
		}
		current, err := priorities(ctx, q, workspaceID)
		if err != nil {
			return err
		}
		target, err := order(current, ids)
		if err != nil {
			return err
		}
		moved := map[int64]bool{}
		for id, p := range target {
			if current[id] != p {
				moved[id] = true
			}
		}
		for id := range moved {
			if _, err := q.Exec(ctx, `UPDATE rules SET priority = $1 WHERE workspace_id = $2 AND id = $3`,
				-target[id]-2, workspaceID, id); err != nil {
				return err
			}
		}
		now := s.Now()
		for id := range moved {
			if _, err := q.Exec(ctx, `
				UPDATE rules SET priority = $1, updated_at = $2, updated_by = $3, version = version + 1
				WHERE workspace_id = $4 AND id = $5`,
				target[id], now, by, workspaceID, id); err != nil {
				return err
			}
		}
		if out, err = listRules(ctx, q, workspaceID, RuleFilter{}); err != nil {
			return err
		}
		if len(moved) == 0 {
			return nil
		}
		for _, r := range out {
			if moved[r.ID] {
				if err := writeVersion(ctx, q, r, []string{"priority"}); err != nil {
					return err
				}
			}
		}
		return s.rulesChanged(ctx, q, workspaceID)
	})
	return out, wrap("reorder rules", err)
}

// SnoozeRule sets snoozed_until (nil clears it). A snooze is state, not
// a change of the definition: it makes no version.
func (s *SQL) SnoozeRule(ctx context.Context, workspaceID, id int64, until *time.Time, by *int64) (rules.Rule, error) {
	var out rules.Rule
	err := s.d.Write(ctx, func(q Querier) error {
		if err := oneRow(q.Exec(ctx, `
			UPDATE rules SET snoozed_until = $1, updated_at = $2, updated_by = $3
			WHERE workspace_id = $4 AND id = $5`,
			until, s.Now(), by, workspaceID, id)); err != nil {
			return err
		}
		var err error
		if out, err = getRule(ctx, q, workspaceID, id); err != nil {
			return err
		}
		return s.rulesChanged(ctx, q, workspaceID)
	})
	return out, wrap("snooze rule", err)
}
