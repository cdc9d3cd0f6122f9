package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// TestMigration0014 keeps two deliveries across the step that keys
// deliveries by (workspace_id, id): one written before it (created when
// its run was written, later than the time its id carries: unordered)
// and one whose created_at is its id's time. Both are found by id, and
// listed in (created_at, id) order, the unordered one last here.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0014(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 13); err != nil {
		t.Fatalf("MigrateThrough(13): %v", err)
	}
	const event = "01900000-0000-7000-8000-000000000003"
	created := time.UnixMilli(7000).UTC()
	run := store.RunID(event, created, 7, 0)
	older, newer := store.DeliveryID(run, 0), store.DeliveryID(run, 1)
	db := s.Writer()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, secret, created_at, updated_at) VALUES (1, 'w', 's', 0, 0)`, nil},
		{`INSERT INTO events (id, workspace_id, event_type, conversation_id, payload, payload_hash, source, status,
			attempts, available_at, occurred_at, created_at, processed_at, order_key)
		 VALUES (?, 1, 'messages.incoming', 'conv-1', '{}', 'h1', 'api', 'processed', 1, 7000, 7000, 7000, 8000,
			'conv-1')`, []any{event}},
		{`INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, rule_version, matched, executed, status,
			result, actions, created_at)
		 VALUES (?, 1, ?, 7, 'tagger', 1, 1, 0, 'pending', '{}', '[{"type":"add_tag"},{"type":"add_note"}]', 7000)`,
			[]any{run, event}},
		{`INSERT INTO deliveries (id, workspace_id, run_id, action_index, status, available_at, created_at)
		 VALUES (?, 1, ?, 0, 'pending', 7003, 7003), (?, 1, ?, 1, 'pending', 7000, 7000)`,
			[]any{older, run, newer, run}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	storetest.CheckMigration0014(t, s, event, run, older, newer, created,
		queryStrings(t, db, `SELECT id FROM deliveries WHERE unordered IS NOT NULL`))
}

// queryStrings returns the one text column of a query's rows.
func queryStrings(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
