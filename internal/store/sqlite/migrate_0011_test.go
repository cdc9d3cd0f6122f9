package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// TestMigration0011 writes a rule's counters and an hourly rollup as the
// schema before 0011 kept them (in the rule's row; one rollup row per
// rule and hour) and checks that the rule and the run totals read the
// same after the migration, and that new counts add to them.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0011(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 9); err != nil {
		t.Fatalf("MigrateThrough(9): %v", err)
	}
	db := s.Writer()
	matched := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	applied := matched.Add(time.Minute)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, secret, created_at, updated_at) VALUES (1, 'w', 's', 0, 0)`, nil},
		{`INSERT INTO rules (id, workspace_id, name, is_active, trigger_type, conditions, actions, priority,
				rollout_percentage, stop_on_match, cooldown_secs, activated_at, created_at, updated_at,
				match_count, applied_count, last_matched_at, last_applied_at)
			VALUES (1, 1, 'counted', true, 'messages.incoming', '[]', '[]', 0, 100, false, 0, ?1, ?1, ?1, 7, 3, ?1, ?2),
			       (2, 1, 'untouched', true, 'messages.incoming', '[]', '[]', 1, 100, false, 0, ?1, ?1, ?1, 0, 0, NULL, NULL)`,
			[]any{matched.UnixMilli(), applied.UnixMilli()}},
		{`INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
			VALUES (1, 1, 100, 9, 7, 3, 1), (1, 2, 100, 4, 0, 0, 0)`, nil},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	r, err := s.GetRule(ctx, 1, 1)
	if err != nil {
		t.Fatalf("GetRule: %v", err)
	}
	if r.MatchCount != 7 || r.AppliedCount != 3 || r.LastMatchedAt == nil || !r.LastMatchedAt.Equal(matched) ||
		r.LastAppliedAt == nil || !r.LastAppliedAt.Equal(applied) {
		t.Errorf("rule after 0011: %d/%d, %v, %v; want 7/3, %v, %v",
			r.MatchCount, r.AppliedCount, r.LastMatchedAt, r.LastAppliedAt, matched, applied)
	}
	r2, err := s.GetRule(ctx, 1, 2)
	if err != nil || r2.MatchCount != 0 || r2.LastMatchedAt != nil {
		t.Errorf("untouched rule after 0011: %v, %d, %v", err, r2.MatchCount, r2.LastMatchedAt)
	}
	// New counts of another shard add to the migrated ones.
	if _, err := db.ExecContext(ctx, `INSERT INTO run_rollups (workspace_id, rule_id, hour, shard, evaluated, matched, executed, failed)
		VALUES (1, 1, 100, 3, 2, 1, 0, 0)`); err != nil {
		t.Fatalf("insert rollup shard: %v", err)
	}
	yes, no := true, false
	for _, tc := range []struct {
		f    store.RunFilter
		want int
	}{
		{store.RunFilter{}, 15}, {store.RunFilter{RuleID: 1}, 11}, {store.RunFilter{RuleID: 1, Matched: &yes}, 8},
		{store.RunFilter{Matched: &no}, 7},
	} {
		_, total, err := s.ListRuns(ctx, 1, tc.f, store.ListQuery{Limit: 1})
		if err != nil || total != tc.want {
			t.Errorf("ListRuns(%+v): total %d, %v; want %d", tc.f, total, err, tc.want)
		}
	}
}
