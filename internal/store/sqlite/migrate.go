package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	var ms []migration
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
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// Migrate applies the embedded migrations that have not run yet, each in its
// own transaction. BEGIN IMMEDIATE takes the database's write lock before
// the "already applied?" check, so several processes migrating the same
// file at once apply each step exactly once; the others wait on the busy
// timeout and then find it done.
func (s *Store) Migrate(ctx context.Context) error {
	steps, err := loadMigrations()
	if err != nil {
		return wrap("load migrations", err)
	}
	if _, err := s.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return wrap("create schema_migrations", err)
	}
	for _, m := range steps {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var applied bool
			err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.version).Scan(&applied)
			if err != nil || applied {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, ms(s.now()))
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
	rows, err := s.read.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return wrap("read schema_migrations (has the database been migrated?)", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return wrap("read schema_migrations", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return wrap("read schema_migrations", err)
	}
	for _, m := range steps {
		if !applied[m.version] {
			return fmt.Errorf("store: migration %s has not been applied", m.name)
		}
	}
	return nil
}
