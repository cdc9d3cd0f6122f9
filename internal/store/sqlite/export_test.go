package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/packed"
)

// Pragmas is what the connections were configured with, for tests.
type Pragmas struct {
	JournalMode     string
	ForeignKeys     bool
	Synchronous     int
	BusyTimeoutMS   int
	ReaderQueryOnly bool
	AutoCheckpoint  int // the writer's wal_autocheckpoint, in pages
}

// Pragmas reads the writer's settings and whether readers are query-only.
func (s *Store) Pragmas(ctx context.Context) Pragmas {
	var p Pragmas
	_ = s.write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&p.JournalMode)
	_ = s.write.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&p.ForeignKeys)
	_ = s.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&p.Synchronous)
	_ = s.write.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&p.BusyTimeoutMS)
	_ = s.read.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&p.ReaderQueryOnly)
	_ = s.write.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&p.AutoCheckpoint)
	return p
}

// LastCheckpoint is the checkpointer's latest result: the WAL's frames
// and how many were copied into the database file (ok: one ran).
func (s *Store) LastCheckpoint() (frames, copied int64, ok bool) {
	if r := s.cp.last.Load(); r != nil {
		return r[0], r[1], true
	}
	return 0, 0, false
}

// WALRestartPages is the writer's own checkpoint threshold.
const WALRestartPages = walRestartPages

// ContainingPlan returns SQLite's plan for ContactListsContaining's query.
func (s *Store) ContainingPlan(ctx context.Context) (string, error) {
	return s.plan(ctx, `
		SELECT list_id FROM contact_list_members
		WHERE workspace_id = $1 AND email = $2 AND list_id IN (SELECT value FROM json_each($3))
		ORDER BY list_id`, 1, "a@b.test", "[1,2,3]")
}

// QueuePlans returns SQLite's plans for the queue's hot statements, by
// name: claim, finish (CompleteEvents' fence check), next due.
func (s *Store) QueuePlans(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"claim":    {fmt.Sprintf(claimQuery, 32), []any{1, "owner", 2}},
		"finish":   {finishEvents.text(2), make([]any, 2*finishEvents.width)},
		"next due": {nextDueQuery, nil},
	} {
		p, err := s.plan(ctx, q.sql, q.args...)
		if err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

// KeyPlans returns SQLite's plans for the reads that walk runs and
// deliveries by their (workspace_id, id) key (store/keyorder.go) and a
// conversation's timeline (JoinRunsOfEvent), by name.
func (s *Store) KeyPlans(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for name, q := range map[string]string{
		"timeline": `SELECT a.id FROM events e` + driver{}.JoinRunsOfEvent("a", "e") +
			` WHERE e.workspace_id = 1 AND e.conversation_id = 'c'`,
		"runs by key": `SELECT r.id FROM runs r WHERE r.workspace_id = 1 AND r.matched = 1 AND r.unordered IS NULL
			AND (r.created_at, r.id) < (5, 'x') AND r.id <= 'x' ORDER BY r.id DESC LIMIT 5`,
		"unordered runs": `SELECT r.id FROM runs r WHERE r.workspace_id = 1 AND r.matched = 1
			AND r.unordered IS NOT NULL ORDER BY r.created_at, r.id LIMIT 5`,
		"deliveries by key": `SELECT d.id FROM deliveries d WHERE d.workspace_id = 1 AND d.unordered IS NULL
			AND (d.created_at, d.id) > (5, 'x') AND d.id >= 'x' ORDER BY d.id LIMIT 5`,
		"unordered deliveries": `SELECT d.id FROM deliveries d WHERE d.workspace_id = 1
			AND d.unordered IS NOT NULL ORDER BY d.created_at DESC, d.id DESC LIMIT 5`,
	} {
		p, err := s.plan(ctx, q)
		if err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

func (s *Store) plan(ctx context.Context, query string, args ...any) (string, error) {
	rows, err := s.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan += detail + "\n"
	}
	return plan, rows.Err()
}

// Writer is the writer connection, for benchmarks that compare the store
// with hand-written SQL.
func (s *Store) Writer() *sql.DB { return s.write }

// MigrateThrough applies the embedded migrations up to version only, so
// that a test can write data the earlier schema allowed and then migrate
// the rest. It swaps the package's migration list: tests that call it
// must not run in parallel.
func (s *Store) MigrateThrough(ctx context.Context, version int) error {
	all, err := loadMigrations()
	if err != nil {
		return err
	}
	var some []store.Migration
	for _, m := range all {
		if m.Version <= version {
			some = append(some, m)
		}
	}
	saved := loadMigrations
	loadMigrations = func() ([]store.Migration, error) { return some, nil }
	defer func() { loadMigrations = saved }()
	return s.Migrate(ctx)
}

// StoredPayload is an event's payload column as stored
// (storetest.RawPayloads).
func (s *Store) StoredPayload(ctx context.Context, eventID string) ([]byte, error) {
	var b []byte
	err := s.read.QueryRowContext(ctx, `SELECT payload FROM events WHERE id = ?`, eventID).Scan(&b)
	return b, err
}

// SetStoredPayload overwrites an event's payload column: a packed value
// as a BLOB, as completions write it, any other as TEXT, as ingestion
// does (storetest.RawPayloads).
func (s *Store) SetStoredPayload(ctx context.Context, eventID string, stored []byte) error {
	var v any = string(stored)
	if packed.IsPacked(stored) {
		v = stored
	}
	_, err := s.write.ExecContext(ctx, `UPDATE events SET payload = ? WHERE id = ?`, v, eventID)
	return err
}
