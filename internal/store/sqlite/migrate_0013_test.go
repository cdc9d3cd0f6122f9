package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// TestMigration0013 keeps two runs across the step that drops runs'
// (event_id, rule_id) key: one of an event completed before the decision
// record (no record: found by event_id, so marked legacy) and one of an
// event with a record (found by its id, derived from the event). Both are
// then found from their events: listed by event, in RunRuleIDs, and on
// their conversation's timeline.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0013(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 12); err != nil {
		t.Fatalf("MigrateThrough(12): %v", err)
	}
	const (
		oldEvent = "01900000-0000-7000-8000-000000000001"
		oldRun   = "01900000-0000-7000-8000-000000000002" // not derived: made before the record
		newEvent = "01900000-0000-7000-8000-000000000003"
	)
	newCreated := time.UnixMilli(7000).UTC()
	newRun := store.RunID(newEvent, newCreated, 7, 0)
	ids, record, err := store.EncodeDecisions([]store.Decision{{RuleID: 7, RuleVersion: 1, Matched: true}})
	if err != nil {
		t.Fatal(err)
	}
	db := s.Writer()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, secret, created_at, updated_at) VALUES (1, 'w', 's', 0, 0)`, nil},
		{`INSERT INTO rules (id, workspace_id, name, is_active, trigger_type, conditions, actions, priority,
			rollout_percentage, stop_on_match, cooldown_secs, activated_at, created_at, updated_at)
		 VALUES (7, 1, 'tagger', 1, 'messages.incoming', '[]', '[]', 0, 100, 0, 0, 1000, 1000, 1000)`, nil},
		{`INSERT INTO events (id, workspace_id, event_type, conversation_id, payload, payload_hash, source, status,
			attempts, available_at, occurred_at, created_at, processed_at, order_key, decided_rules, decisions)
		 VALUES (?, 1, 'messages.incoming', 'conv-1', '{}', 'h1', 'api', 'processed', 1, 5000, 5000, 5000, 6000,
			'conv-1', NULL, NULL),
		        (?, 1, 'messages.incoming', 'conv-1', '{}', 'h2', 'api', 'processed', 1, 7000, 7000, 7000, 8000,
			'conv-1', ?, ?)`, []any{oldEvent, newEvent, ids, record}},
		{`INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
			result, actions, created_at)
		 VALUES (?, 1, ?, 7, 'tagger', 1, 1, 1, 'executed', '{}', '[]', 5500),
		        (?, 1, ?, 7, 'tagger', 1, 1, 1, 'executed', '{}', '[]', 7000)`,
			[]any{oldRun, oldEvent, newRun, newEvent}},
		{`INSERT INTO run_rollups (workspace_id, rule_id, hour, shard, evaluated, matched, executed, failed)
		 VALUES (1, 7, 0, 0, 2, 2, 2, 0)`, nil},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	legacy := queryStrings(t, db, `SELECT id FROM runs WHERE legacy IS NOT NULL`)
	if !slices.Equal(legacy, []string{oldRun}) {
		t.Errorf("legacy runs = %v, want only %s", legacy, oldRun)
	}

	for _, tc := range []struct{ event, run string }{{oldEvent, oldRun}, {newEvent, newRun}} {
		got, total, err := s.ListRuns(ctx, 1, store.RunFilter{EventID: tc.event}, store.ListQuery{Limit: 10})
		if err != nil || total != 1 || len(got) != 1 || got[0].ID != tc.run {
			t.Errorf("ListRuns(event %s) = %+v, %d, %v; want %s", tc.event, got, total, err, tc.run)
		}
		rules, err := s.RunRuleIDs(ctx, 1, tc.event)
		if err != nil || !slices.Equal(rules, []int64{7}) {
			t.Errorf("RunRuleIDs(%s) = %v, %v; want [7]", tc.event, rules, err)
		}
	}
	acts, total, err := s.ListActivities(ctx, 1, "conv-1", store.ListQuery{})
	if err != nil || total != 2 || len(acts) != 2 {
		t.Fatalf("ListActivities = %+v, %d, %v; want both runs", acts, total, err)
	}
	got := []string{acts[0].RunID, acts[1].RunID}
	slices.Sort(got)
	want := []string{oldRun, newRun}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("timeline runs = %v, want %v", got, want)
	}
}
