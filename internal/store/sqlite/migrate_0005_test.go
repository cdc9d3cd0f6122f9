package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// TestMigration0005 writes what the schema before 0005 allowed — a
// priority shifted past int64 (SQLite then keeps a REAL), one at the
// largest int64 — and checks that the migration renumbers that workspace
// in its order, leaves the other alone, and records every rule's first
// version; afterwards every request of the workspace works.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0005(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 4); err != nil {
		t.Fatalf("MigrateThrough(4): %v", err)
	}
	db := s.Writer()
	for _, ws := range []int64{1, 2} {
		if _, err := db.ExecContext(ctx, `INSERT INTO workspaces (id, name, secret, created_at, updated_at) VALUES (?, 'w', 's', 0, 0)`, ws); err != nil {
			t.Fatalf("insert workspace: %v", err)
		}
	}
	for _, r := range []struct {
		id, ws   int64
		priority any
	}{
		{1, 1, 9.223372036854776e18}, {2, 1, int64(9223372036854775807)}, {3, 1, int64(5)}, {4, 1, int64(0)},
		{5, 2, int64(7)}, {6, 2, int64(3)},
	} {
		_, err := db.ExecContext(ctx, `
			INSERT INTO rules (id, workspace_id, name, description, is_active, trigger_type, conditions, actions,
				alert_settings, priority, rollout_percentage, stop_on_match, cooldown_secs, activated_at, created_at,
				updated_at, updated_by)
			VALUES (?, ?, 'r', NULL, 1, 'messages.incoming', ' [ ] ', '[{"type":"add_note","body":"x"}]',
				'{"enabled":true}', ?, 100, 0, 0, 1000, 1000, 2000, NULL)`, r.id, r.ws, r.priority)
		if err != nil {
			t.Fatalf("insert rule %d: %v", r.id, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	order := func(ws int64) map[int64]int {
		t.Helper()
		list, err := s.ListRules(ctx, ws, store.RuleFilter{})
		if err != nil {
			t.Fatalf("ListRules: %v", err)
		}
		out := map[int64]int{}
		for _, r := range list {
			out[r.ID] = r.Priority
		}
		return out
	}
	for ws, want := range map[int64]map[int64]int{1: {4: 0, 3: 1, 2: 2, 1: 3}, 2: {6: 3, 5: 7}} {
		got := order(ws)
		for id, p := range want {
			if got[id] != p {
				t.Errorf("workspace %d: priorities %v, want %v", ws, got, want)
				break
			}
		}
	}
	for id := int64(1); id <= 6; id++ {
		ws := int64(1)
		if id > 4 {
			ws = 2
		}
		r, err := s.GetRule(ctx, ws, id)
		if err != nil {
			t.Fatalf("GetRule(%d): %v", id, err)
		}
		v, err := s.GetRuleVersion(ctx, ws, id, 1)
		if err != nil {
			t.Fatalf("GetRuleVersion(%d, 1): %v", id, err)
		}
		if r.Version != 1 || v.Rule.Name != r.Name || string(v.Rule.Conditions) != " [ ] " ||
			v.Rule.Priority != r.Priority || v.Rule.AlertSettings == nil || !v.Rule.IsActive ||
			!v.ChangedAt.Equal(r.UpdatedAt) || len(v.ChangedFields) != 13 || len(v.Rule.Actions) != 1 {
			t.Errorf("rule %d (version %d): first version %+v does not match the rule %+v", id, r.Version, v, r)
		}
	}
	// Nothing stored can make a later request fail: last, first, moves.
	created, err := s.CreateRule(ctx, rule(1, "after"), nil)
	if err != nil || created.Priority != 4 {
		t.Fatalf("CreateRule without priority: %v (priority %d), want 4", err, created.Priority)
	}
	if _, err := s.CreateRule(ctx, rule(1, "first"), ptr(0)); err != nil {
		t.Fatalf("CreateRule at 0: %v", err)
	}
}

func rule(ws int64, name string) rules.Rule {
	return rules.Rule{WorkspaceID: ws, Name: name, IsActive: true, TriggerType: rules.TriggerIncoming,
		Conditions: []byte(`[]`), Actions: []rules.Action{{Type: rules.ActionAddNote, Body: ptr("x")}}, RolloutPercentage: 100}
}

func ptr[T any](v T) *T { return &v }
