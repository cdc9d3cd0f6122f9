package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestMigration0015 keeps two matched runs across the step that keys runs
// by (workspace_id, id): one of an event completed before the decision
// record (its own id, created after the time that id carries: legacy and
// unordered) and one whose id is derived from its event. Both are found
// by id, listed among the workspace's matched runs in (created_at, id)
// order, and on their conversation's timeline.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0015(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 14); err != nil {
		t.Fatalf("MigrateThrough(14): %v", err)
	}
	const (
		oldEvent = "01900000-0000-7000-8000-000000000001"
		oldRun   = "00000000-1000-7000-8000-000000000002" // carries 4096 ms; created at 9000
		newEvent = "01900000-0000-7000-8000-000000000003"
	)
	newRun := store.RunID(newEvent, time.UnixMilli(7000), 7, 0)
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
		{`INSERT INTO events (id, workspace_id, event_type, conversation_id, payload, payload_hash, source, status,
			attempts, available_at, occurred_at, created_at, processed_at, order_key, decided_rules, decisions)
		 VALUES (?, 1, 'messages.incoming', 'conv-1', '{}', 'h1', 'api', 'processed', 1, 5000, 5000, 5000, 9000,
			'conv-1', ',7,', NULL),
		        (?, 1, 'messages.incoming', 'conv-1', '{}', 'h2', 'api', 'processed', 1, 7000, 7000, 7000, 8000,
			'conv-1', ?, ?)`, []any{oldEvent, newEvent, ids, record}},
		{`INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
			result, actions, created_at, legacy)
		 VALUES (?, 1, ?, 7, 'tagger', 1, 1, 1, 'executed', '{}', '[]', 9000, 1),
		        (?, 1, ?, 7, 'tagger', 1, 1, 1, 'executed', '{}', '[]', 7000, NULL)`,
			[]any{oldRun, oldEvent, newRun, newEvent}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CheckMigration0015(t, s, oldRun, newRun,
		queryStrings(t, db, `SELECT id FROM runs WHERE unordered IS NOT NULL`))
	acts, total, err := s.ListActivities(ctx, 1, "conv-1", store.ListQuery{})
	if err != nil || total != 2 || len(acts) != 2 {
		t.Fatalf("ListActivities = %+v, %d, %v; want both runs", acts, total, err)
	}
}
