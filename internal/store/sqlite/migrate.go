package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"sync"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// migrationFiles holds the schema, one file per step, named
// NNNN_description.sql; a step never changes once released, the next one
// follows it.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations parses the embedded files once: they cannot change while
// the binary runs.
var loadMigrations = sync.OnceValues(func() ([]store.Migration, error) {
	return store.ParseMigrations(migrationFiles, "migrations")
})

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
		// A step that rebuilds a table others reference runs with foreign
		// keys off (SQLite ignores the pragma inside a transaction, so it
		// is set around it, on the one writer connection) and checks them
		// itself before committing.
		noFK := strings.HasPrefix(m.SQL, "-- foreign_keys: off")
		if noFK {
			if _, err := s.write.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
				return wrap("apply migration "+m.Name, err)
			}
		}
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var applied bool
			err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&applied)
			if err != nil || applied {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if noFK {
				if err := foreignKeyCheck(ctx, tx); err != nil {
					return err
				}
			}
			_, err = tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, ms(s.now()))
			return err
		})
		if noFK {
			if _, ferr := s.write.ExecContext(ctx, `PRAGMA foreign_keys = ON`); ferr != nil && err == nil {
				err = ferr
			}
		}
		if err != nil {
			return wrap("apply migration "+m.Name, err)
		}
	}
	return nil
}

// foreignKeyCheck fails when any row references a parent that does not
// exist, as the foreign keys would have refused.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var (
			table, parent string
			rowid         sql.NullInt64
			fk            int
		)
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		return fmt.Errorf("row %d of %s references a missing row of %s", rowid.Int64, table, parent)
	}
	return rows.Err()
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
		if !applied[m.Version] {
			return fmt.Errorf("store: migration %s has not been applied", m.Name)
		}
	}
	return nil
}
