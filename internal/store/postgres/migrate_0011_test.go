package postgres_test

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestMigration0011 writes a rule's counters and an hourly rollup as the
// schema before 0011 kept them (in the rule's row; one rollup row per
// rule and hour) and checks that the rule and the run totals read the
// same after the migration, and that new counts add to them.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0011(t *testing.T) {
	s := open(t, storetest.PostgresURL(t))
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 9); err != nil {
		t.Fatalf("MigrateThrough(9): %v", err)
	}
	db := s.Pool()
	matched := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	applied := matched.Add(time.Minute)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, secret, created_at, updated_at) OVERRIDING SYSTEM VALUE
			VALUES (1, 'w', 's', now(), now())`, nil},
		{`INSERT INTO rules (id, workspace_id, name, is_active, trigger_type, conditions, actions, priority,
				rollout_percentage, stop_on_match, cooldown_secs, activated_at, created_at, updated_at,
				match_count, applied_count, last_matched_at, last_applied_at)
			OVERRIDING SYSTEM VALUE
			VALUES (1, 1, 'counted', true, 'messages.incoming', '[]', '[]', 0, 100, false, 0, $1, $1, $1, 7, 3, $1, $2),
			       (2, 1, 'untouched', true, 'messages.incoming', '[]', '[]', 1, 100, false, 0, $1, $1, $1, 0, 0, NULL, NULL)`,
			[]any{matched, applied}},
		{`INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
			VALUES (1, 1, 100, 9, 7, 3, 1), (1, 2, 100, 4, 0, 0, 0)`, nil},
		{`SELECT setval(pg_get_serial_sequence('rules', 'id'), 100)`, nil},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CheckMigration0011(t, s, matched, applied, func(q string) error {
		_, err := db.Exec(ctx, q)
		return err
	})
}
