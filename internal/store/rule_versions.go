package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
)

// definitionFields are the API names of a rule's definition, in the
// order changed_fields lists them; a new rule's first version lists all.
var definitionFields = []string{
	"name", "description", "is_active", "trigger_type", "trigger_data", "conditions", "actions",
	"alert_settings", "schedule_settings", "priority", "rollout_percentage", "stop_on_match", "cooldown_secs",
}

// changedFields names the definition fields in which r differs from old
// (docs are their encoded documents), in definitionFields order.
func changedFields(old, r rules.Rule, oldDocs, docs ruleDocs) []string {
	eq := func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	differs := map[string]bool{
		"name":               old.Name != r.Name,
		"description":        !eq(old.Description, r.Description),
		"is_active":          old.IsActive != r.IsActive,
		"trigger_type":       old.TriggerType != r.TriggerType,
		"trigger_data":       !eq(old.TriggerData, r.TriggerData),
		"conditions":         oldDocs.conditions != docs.conditions,
		"actions":            oldDocs.actions != docs.actions,
		"alert_settings":     !eq(oldDocs.alert, docs.alert),
		"schedule_settings":  !eq(oldDocs.schedule, docs.schedule),
		"priority":           old.Priority != r.Priority,
		"rollout_percentage": old.RolloutPercentage != r.RolloutPercentage,
		"stop_on_match":      old.StopOnMatch != r.StopOnMatch,
		"cooldown_secs":      old.CooldownSecs != r.CooldownSecs,
	}
	out := []string{}
	for _, f := range definitionFields {
		if differs[f] {
			out = append(out, f)
		}
	}
	return out
}

// versionDoc is a rule as a version keeps it. The documents are embedded
// as they are stored (conditions as a string, to keep the submitted bytes)
// and times are unix milliseconds, so that migration 0005 can write the
// first version of the rules that predate history in SQL.
type versionDoc struct {
	Name              string          `json:"name"`
	Description       *string         `json:"description"`
	IsActive          bool            `json:"is_active"`
	TriggerType       string          `json:"trigger_type"`
	TriggerData       *string         `json:"trigger_data"`
	Conditions        string          `json:"conditions"`
	Actions           json.RawMessage `json:"actions"`
	AlertSettings     json.RawMessage `json:"alert_settings"`
	ScheduleSettings  json.RawMessage `json:"schedule_settings"`
	Priority          int             `json:"priority"`
	RolloutPercentage int             `json:"rollout_percentage"`
	StopOnMatch       bool            `json:"stop_on_match"`
	CooldownSecs      int             `json:"cooldown_secs"`
	MatchCount        int64           `json:"match_count"`
	AppliedCount      int64           `json:"applied_count"`
	LastMatchedAt     *int64          `json:"last_matched_at"`
	LastAppliedAt     *int64          `json:"last_applied_at"`
	SnoozedUntil      *int64          `json:"snoozed_until"`
	ActivatedAt       int64           `json:"activated_at"`
	CreatedAt         int64           `json:"created_at"`
	UpdatedAt         int64           `json:"updated_at"`
	CreatedBy         *int64          `json:"created_by"`
	UpdatedBy         *int64          `json:"updated_by"`
}

func msPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func fromMSPtr(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := time.UnixMilli(*v).UTC()
	return &t
}

func rawOrNull(s *string) json.RawMessage {
	if s == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(*s)
}

func strOrNil(raw json.RawMessage) *string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	s := string(raw)
	return &s
}

// encodeVersion renders r, as it is after a change, as a version keeps it.
func encodeVersion(r rules.Rule) (string, error) {
	d, err := encodeRule(r)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(versionDoc{
		Name: r.Name, Description: r.Description, IsActive: r.IsActive, TriggerType: r.TriggerType,
		TriggerData: r.TriggerData, Conditions: d.conditions, Actions: json.RawMessage(d.actions),
		AlertSettings: rawOrNull(d.alert), ScheduleSettings: rawOrNull(d.schedule),
		Priority: r.Priority, RolloutPercentage: r.RolloutPercentage, StopOnMatch: r.StopOnMatch,
		CooldownSecs: r.CooldownSecs, MatchCount: r.MatchCount, AppliedCount: r.AppliedCount,
		LastMatchedAt: msPtr(r.LastMatchedAt), LastAppliedAt: msPtr(r.LastAppliedAt), SnoozedUntil: msPtr(r.SnoozedUntil),
		ActivatedAt: r.ActivatedAt.UnixMilli(), CreatedAt: r.CreatedAt.UnixMilli(), UpdatedAt: r.UpdatedAt.UnixMilli(),
		CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy,
	})
	return string(b), err
}

// decodeVersion is the inverse of encodeVersion.
func decodeVersion(v *RuleVersion, doc string) error {
	var d versionDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return fmt.Errorf("rule %d version %d: %w", v.RuleID, v.Version, err)
	}
	v.Rule = rules.Rule{
		ID: v.RuleID, WorkspaceID: v.WorkspaceID, Name: d.Name, Description: d.Description, IsActive: d.IsActive,
		TriggerType: d.TriggerType, TriggerData: d.TriggerData, Priority: d.Priority,
		RolloutPercentage: d.RolloutPercentage, StopOnMatch: d.StopOnMatch, CooldownSecs: d.CooldownSecs,
		MatchCount: d.MatchCount, AppliedCount: d.AppliedCount,
		LastMatchedAt: fromMSPtr(d.LastMatchedAt), LastAppliedAt: fromMSPtr(d.LastAppliedAt), SnoozedUntil: fromMSPtr(d.SnoozedUntil),
		ActivatedAt: time.UnixMilli(d.ActivatedAt).UTC(), CreatedAt: time.UnixMilli(d.CreatedAt).UTC(),
		UpdatedAt: time.UnixMilli(d.UpdatedAt).UTC(), CreatedBy: d.CreatedBy, UpdatedBy: d.UpdatedBy,
		Version: v.Version,
	}
	if len(d.Actions) == 0 {
		d.Actions = json.RawMessage("[]")
	}
	err := decodeRule(&v.Rule, ruleDocs{conditions: d.Conditions, actions: string(d.Actions),
		alert: strOrNil(d.AlertSettings), schedule: strOrNil(d.ScheduleSettings)})
	if err != nil {
		return fmt.Errorf("version %d: %w", v.Version, err)
	}
	return nil
}

// writeVersion records r, just changed (its Version, UpdatedAt and
// UpdatedBy are the change's), in the same transaction as the change.
func writeVersion(ctx context.Context, q Querier, r rules.Rule, fields []string) error {
	doc, err := encodeVersion(r)
	if err != nil {
		return err
	}
	names, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `
		INSERT INTO rule_versions (workspace_id, rule_id, version, changed_at, changed_by, changed_fields, definition)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.WorkspaceID, r.ID, r.Version, r.UpdatedAt, r.UpdatedBy, string(names), doc)
	return err
}

const versionColumns = `workspace_id, rule_id, version, changed_at, changed_by, changed_fields, definition`

func scanVersion(row Scanner) (RuleVersion, error) {
	var (
		v           RuleVersion
		fields, doc string
	)
	if err := row.Scan(&v.WorkspaceID, &v.RuleID, &v.Version, &v.ChangedAt, &v.ChangedBy, &fields, &doc); err != nil {
		return RuleVersion{}, err
	}
	if err := json.Unmarshal([]byte(fields), &v.ChangedFields); err != nil {
		return RuleVersion{}, fmt.Errorf("rule %d version %d: changed_fields: %w", v.RuleID, v.Version, err)
	}
	return v, decodeVersion(&v, doc)
}

func getRuleVersion(ctx context.Context, q Querier, workspaceID, ruleID int64, n int) (RuleVersion, error) {
	return scanVersion(q.QueryRow(ctx, `
		SELECT `+versionColumns+` FROM rule_versions WHERE workspace_id = $1 AND rule_id = $2 AND version = $3`,
		workspaceID, ruleID, n))
}

// ListRuleVersions returns a page of a rule's versions, newest first, and
// how many there are. A deleted rule's versions are still listed; a rule
// the workspace never had is ErrNotFound.
func (s *SQL) ListRuleVersions(ctx context.Context, workspaceID, ruleID int64, p Page) ([]RuleVersion, int, error) {
	limit, offset := pageArgs(p)
	out, total, err := page(ctx, s, "list rule versions", scanVersion,
		`SELECT count(*) FROM rule_versions WHERE workspace_id = $1 AND rule_id = $2`, []any{workspaceID, ruleID},
		`SELECT `+versionColumns+` FROM rule_versions WHERE workspace_id = $1 AND rule_id = $2
		ORDER BY version DESC LIMIT $3 OFFSET $4`,
		workspaceID, ruleID, limit, offset)
	if err == nil && total == 0 {
		err = wrap("list rule versions", ErrNotFound)
	}
	return out, total, err
}

// GetRuleVersion returns version n of a rule, also of a rule since
// deleted (a run shows the rule as it was when it ran).
func (s *SQL) GetRuleVersion(ctx context.Context, workspaceID, ruleID int64, n int) (RuleVersion, error) {
	v, err := getRuleVersion(ctx, s.d.Reader(), workspaceID, ruleID, n)
	return v, wrap("get rule version", err)
}

// RestoreRuleVersion makes a new version of a rule whose definition is
// version n's; its priority, counters and snooze stay. A tag or contact
// list version n refers to that no longer exists is ErrMissingReference,
// and nothing changes.
func (s *SQL) RestoreRuleVersion(ctx context.Context, workspaceID, ruleID int64, n int, by *int64) (rules.Rule, error) {
	var out rules.Rule
	err := s.d.Write(ctx, func(q Querier) error {
		if err := s.d.LockWorkspace(ctx, q, workspaceID); err != nil {
			return err
		}
		cur, err := getRule(ctx, q, workspaceID, ruleID)
		if err != nil {
			return err
		}
		v, err := getRuleVersion(ctx, q, workspaceID, ruleID, n)
		if err != nil {
			return err
		}
		r, old := cur, v.Rule
		r.Name, r.Description, r.IsActive = old.Name, old.Description, old.IsActive
		r.TriggerType, r.TriggerData, r.Conditions, r.Actions = old.TriggerType, old.TriggerData, old.Conditions, old.Actions
		r.AlertSettings, r.ScheduleSettings = old.AlertSettings, old.ScheduleSettings
		r.RolloutPercentage, r.StopOnMatch, r.CooldownSecs = old.RolloutPercentage, old.StopOnMatch, old.CooldownSecs
		r.UpdatedBy = by
		out, err = s.updateRule(ctx, q, cur, r, true)
		return err
	})
	return out, wrap("restore rule version", err)
}
