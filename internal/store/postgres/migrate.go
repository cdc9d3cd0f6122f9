package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the schema, one file per step, named
// NNNN_description.sql; a step never changes once released, the next one
// follows it.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations parses the embedded files once: they cannot change while
// the binary runs.
var loadMigrations = sync.OnceValues(func() ([]migration, error) {
	return parseMigrations(migrationFiles, "migrations")
})

func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var steps []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", e.Name())
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		steps = append(steps, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	return steps, nil
}

// migrateLockClass is the first key of the migration advisory lock; the
// second is the schema's hash, so that deployments in different schemas of
// one database do not wait for each other.
const migrateLockClass int32 = 0x5357_4d47 // "SWMG"

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL
)`

// Migrate applies the embedded migrations that have not run yet, each in its
// own transaction. Each transaction first takes a transaction-scoped
// advisory lock, so nodes starting together apply every step exactly once:
// the others wait for the lock, then find the step recorded.
func (s *Store) Migrate(ctx context.Context) error {
	steps, err := loadMigrations()
	if err != nil {
		return wrap("load migrations", err)
	}
	for _, m := range steps {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx,
				`SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrateLockClass); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
				return err
			}
			var applied bool
			err := tx.QueryRow(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied)
			if err != nil || applied {
				return err
			}
			// Without arguments pgx uses the simple protocol, which runs a
			// file of several statements in one call.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err = tx.Exec(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, s.now())
			return err
		})
		if err != nil {
			return wrap("apply migration "+m.name, err)
		}
	}
	return nil
}

// Ready reports whether the database answers and every embedded migration
// has been applied: a binary newer than its schema must not serve.
func (s *Store) Ready(ctx context.Context) error {
	steps, err := loadMigrations()
	if err != nil {
		return wrap("load migrations", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return wrap("read schema_migrations (has the database been migrated?)", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return wrap("read schema_migrations (has the database been migrated?)", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	for _, m := range steps {
		if !applied[m.version] {
			return fmt.Errorf("store: migration %s has not been applied", m.name)
		}
	}
	return nil
}
