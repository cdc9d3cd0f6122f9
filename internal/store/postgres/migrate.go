package postgres

import (
	"context"
	"embed"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

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
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&applied)
			if err != nil || applied {
				return err
			}
			// Without arguments pgx uses the simple protocol, which runs a
			// file of several statements in one call.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.Exec(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, s.now())
			return err
		})
		if err != nil {
			return wrap("apply migration "+m.Name, err)
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
		if !applied[m.Version] {
			return fmt.Errorf("store: migration %s has not been applied", m.Name)
		}
	}
	return nil
}
