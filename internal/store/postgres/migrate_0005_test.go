package postgres_test

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestMigration0005 writes what the schema before 0005 allowed — a rule
// left at -2147483648 by the old shift's placeholder, one at 2147483647
// — and checks that the migration renumbers that workspace in its order,
// leaves the other alone, and records every rule's first version;
// afterwards every request of the workspace works.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0005(t *testing.T) {
	s := open(t, storetest.PostgresURL(t))
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 4); err != nil {
		t.Fatalf("MigrateThrough(4): %v", err)
	}
	db := s.Pool()
	for _, ws := range []int64{1, 2} {
		if _, err := db.Exec(ctx, `INSERT INTO workspaces (id, name, secret, created_at, updated_at)
			OVERRIDING SYSTEM VALUE VALUES ($1, 'w', 's', now(), now())`, ws); err != nil {
			t.Fatalf("insert workspace: %v", err)
		}
	}
	for _, r := range []struct {
		id, ws   int64
		priority int32
	}{
		{1, 1, -2147483648}, {2, 1, 2147483647}, {3, 1, 5}, {4, 1, 0},
		{5, 2, 7}, {6, 2, 3},
	} {
		_, err := db.Exec(ctx, `
			INSERT INTO rules (id, workspace_id, name, is_active, trigger_type, conditions, actions,
				alert_settings, priority, rollout_percentage, stop_on_match, cooldown_secs, activated_at, created_at, updated_at)
			OVERRIDING SYSTEM VALUE
			VALUES ($1, $2, 'r', true, 'messages.incoming', ' [ ] ', '[{"type":"add_note","body":"x"}]',
				'{"enabled":true}', $3, 100, false, 0, $4, $4, $4)`, r.id, r.ws, r.priority, time.Now().UTC().Truncate(time.Millisecond)) // the store keeps milliseconds
		if err != nil {
			t.Fatalf("insert rule %d: %v", r.id, err)
		}
	}
	for _, seq := range []string{"workspaces", "rules"} {
		if _, err := db.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+seq+`', 'id'), 100)`); err != nil {
			t.Fatalf("setval: %v", err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for ws, want := range map[int64]map[int64]int{1: {1: 0, 4: 1, 3: 2, 2: 3}, 2: {6: 3, 5: 7}} {
		list, err := s.ListRules(ctx, ws, store.RuleFilter{})
		if err != nil {
			t.Fatalf("ListRules: %v", err)
		}
		for _, r := range list {
			if want[r.ID] != r.Priority {
				t.Errorf("workspace %d: rule %d at %d, want priorities %v", ws, r.ID, r.Priority, want)
			}
			v, err := s.GetRuleVersion(ctx, ws, r.ID, 1)
			if err != nil {
				t.Fatalf("GetRuleVersion(%d, 1): %v", r.ID, err)
			}
			if r.Version != 1 || v.Rule.Name != r.Name || string(v.Rule.Conditions) != " [ ] " ||
				v.Rule.Priority != r.Priority || v.Rule.AlertSettings == nil || !v.Rule.IsActive ||
				!v.ChangedAt.Equal(r.UpdatedAt) || !v.Rule.CreatedAt.Equal(r.CreatedAt) ||
				len(v.ChangedFields) != 13 || len(v.Rule.Actions) != 1 {
				t.Errorf("rule %d (version %d): first version %+v does not match the rule %+v", r.ID, r.Version, v, r)
			}
		}
	}
	body := "x"
	created, err := s.CreateRule(ctx, rules.Rule{WorkspaceID: 1, Name: "after", IsActive: true, TriggerType: rules.TriggerIncoming,
		Conditions: []byte(`[]`), Actions: []rules.Action{{Type: rules.ActionAddNote, Body: &body}}, RolloutPercentage: 100}, nil)
	if err != nil || created.Priority != 4 {
		t.Fatalf("CreateRule without priority: %v (priority %d), want 4", err, created.Priority)
	}
}
