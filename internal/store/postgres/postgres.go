// Package postgres is the store for several Switchboard nodes sharing one
// PostgreSQL database.
//
// Times are timestamptz truncated to whole milliseconds by the store before
// every write (so both dialects return the same values) and returned in
// UTC. Writes that must see a consistent picture of a workspace — rule
// priorities and references, the last-admin rule, deleting a referenced
// tag or list — first lock the workspace's row (FOR NO KEY UPDATE, which
// does not block the foreign-key checks of unrelated inserts), so that
// concurrent nodes serialise on it instead of interleaving under READ
// COMMITTED. A Page with Limit <= 0 returns every row.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Options tunes Open.
type Options struct {
	// Clock stamps created_at/updated_at; nil means the system clock.
	Clock clock.Clock
}

// defaultMaxConns is the pool's size unless the URL sets pool_max_conns.
// pgxpool's own default (the number of CPUs, at least 4) is too few for a
// node: the change feed holds one connection for good, and the workers,
// the ingest committers, the delivery workers, the scheduler and the API's
// reads each need one at once. With 4, a 2-core node ran 3 statements at a
// time and the workers waited for connections more than for PostgreSQL.
const defaultMaxConns = 20

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	*store.SQL // the transaction scripts both dialects share

	pool  *pgxpool.Pool
	clock clock.Clock
	shard atomic.Uint32 // the last counter shard a completion took (see CompleteEvents)
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN; pool settings such as pool_max_conns and runtime parameters such as
// search_path are read from it). It does not migrate: call Migrate.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: invalid PostgreSQL URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: unable to connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: unable to connect to PostgreSQL: %w", err)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.System{}
	}
	return &Store{SQL: store.NewSQL(driver{pool: pool}, clk), pool: pool, clock: clk}, nil
}

// Pool returns the connection pool, for what the store interface does not
// cover (LISTEN/NOTIFY).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Dialect returns "postgres".
func (s *Store) Dialect() string { return "postgres" }

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what *pgxpool.Pool and pgx.Tx have in common, so that one read
// helper serves both inside and outside a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// inTx runs fn in a transaction and commits when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// inReadTx runs fn in a read-only REPEATABLE READ transaction, so that a
// page and its total come from the same snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// lockWorkspace locks the workspace's row for the rest of the transaction,
// or returns store.ErrNotFound.
func lockWorkspace(ctx context.Context, tx pgx.Tx, id int64) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one)
	return notFound(err)
}

// now is the clock's time as it will be stored.
func (s *Store) now() time.Time { return ts(s.clock.Now()) }

// ts is t as stored: UTC, whole milliseconds.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// tsPtr is ts for an optional time.
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := ts(*t)
	return &v
}

// utcPtr puts a time read back from the database in UTC (pgx returns
// timestamptz in the local zone).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// limitArg returns the LIMIT value; NULL is PostgreSQL's "no limit".
func limitArg(p store.Page) (limit *int, offset int) {
	if p.Limit > 0 {
		l := p.Limit
		limit = &l
	}
	return limit, max(p.Offset, 0)
}

// PostgreSQL error codes the store branches on.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

func pgCode(err error) (string, *pgconn.PgError) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe
	}
	return "", nil
}

// conflict wraps a unique violation as store.ErrConflict naming the field
// (constraints are named <table>_<field>_key), and returns other errors
// unchanged.
func conflict(err error) error {
	if code, pe := pgCode(err); code == codeUniqueViolation {
		field := strings.TrimSuffix(strings.TrimPrefix(pe.ConstraintName, pe.TableName+"_"), "_key")
		return fmt.Errorf("%s is already taken: %w", field, store.ErrConflict)
	}
	return err
}

// foreignKeyViolation reports whether err is a FOREIGN KEY failure.
func foreignKeyViolation(err error) bool {
	code, _ := pgCode(err)
	return code == codeForeignKeyViolation
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// oneRow turns "no row changed" into store.ErrNotFound.
func oneRow(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// wrap adds the operation to an error, keeping the sentinels matchable.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: unable to %s: %w", op, err)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanID(r scanner) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}

// lower is the case-folded key uniqueness is checked on, computed in Go so
// that both dialects fold the same way whatever the database's collation.
func lower(s string) string { return strings.ToLower(s) }
