package postgres_test

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestMigration0015 keeps two matched runs across the step that keys runs
// by (workspace_id, id): one of an event completed before the decision
// record (its own id, created after the time that id carries: unordered)
// and one whose id is derived from its event. Both are found by id and
// listed among the workspace's matched runs in (created_at, id) order.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0015(t *testing.T) {
	s := open(t, storetest.PostgresURL(t))
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 14); err != nil {
		t.Fatalf("MigrateThrough(14): %v", err)
	}
	const (
		oldEvent = "01900000-0000-7000-8000-000000000001"
		oldRun   = "00000000-1000-7000-8000-000000000002" // carries 4096 ms; created at 9000
		newEvent = "01900000-0000-7000-8000-000000000003"
	)
	at := func(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
	newRun := store.RunID(newEvent, at(7000), 7, 0)
	ids, record, err := store.EncodeDecisions([]store.Decision{{RuleID: 7, RuleVersion: 1, Matched: true}})
	if err != nil {
		t.Fatal(err)
	}
	db := s.Pool()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, secret, created_at, updated_at) OVERRIDING SYSTEM VALUE
			VALUES (1, 'w', 's', now(), now())`, nil},
		{`INSERT INTO events (id, workspace_id, event_type, conversation_id, payload, payload_hash, source, status,
			attempts, available_at, occurred_at, created_at, processed_at, order_key, decided_rules, decisions)
		 VALUES ($1, 1, 'messages.incoming', 'conv-1', '{}', 'h1', 'api', 'processed', 1, $3, $3, $3, $3, 'conv-1',
			'{7}', NULL),
		        ($2, 1, 'messages.incoming', 'conv-1', '{}', 'h2', 'api', 'processed', 1, $4, $4, $4, $4, 'conv-1',
			$5, $6)`, []any{oldEvent, newEvent, at(5000), at(7000), ids, record}},
		{`INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
			result, actions, created_at)
		 VALUES ($1, 1, $2, 7, 'tagger', 1, true, true, 'executed', '{}', '[]', $5),
		        ($3, 1, $4, 7, 'tagger', 1, true, true, 'executed', '{}', '[]', $6)`,
			[]any{oldRun, oldEvent, newRun, newEvent, at(9000), at(7000)}},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CheckMigration0015(t, s, oldRun, newRun, queryStrings(t, db, `SELECT id::text FROM runs WHERE unordered`))
}
