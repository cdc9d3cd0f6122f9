// Package sqlite is the embedded store: one SQLite file, no server to run.
//
// It is tuned for a server process the way pocketbase tunes it: busy_timeout
// before anything else, WAL so that readers never wait for the writer,
// foreign keys on, and exactly one writer connection whose transactions
// start with BEGIN IMMEDIATE (so two writers queue on the busy timeout
// instead of failing with SQLITE_BUSY half-way through a transaction). Reads
// go to a separate pool of query-only connections. synchronous=FULL is the
// default because an accepted event (the 202) must survive power loss.
//
// Times are INTEGER unix milliseconds in UTC; JSON documents are TEXT. A
// Page with Limit <= 0 returns every row.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// busyTimeout is how long a connection waits for a lock before SQLITE_BUSY.
// The single writer makes waits short; the margin covers a checkpoint or a
// second process (switchboard migrate) holding the file.
const busyTimeout = 10 * time.Second

// Options tunes Open.
type Options struct {
	// Clock stamps created_at/updated_at; nil means the system clock.
	Clock clock.Clock
	// Synchronous is "full" (the default: a committed write survives power
	// loss) or "normal" (WAL keeps the file consistent, but the last commits
	// may be lost on power loss; faster on slow disks).
	Synchronous string
}

// Store is the SQLite implementation of store.Store.
type Store struct {
	*store.SQL // the transaction scripts both dialects share

	write *sql.DB // one connection: SQLite has one writer anyway, and queuing in Go is cheaper than busy-waiting
	read  *sql.DB // query-only connections, concurrent thanks to WAL
	cp    *checkpointer
	clock clock.Clock
	stmts statements // the writer's prepared multi-row statements
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the database file at path. It does not
// migrate: call Migrate.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	// The writer and the readers are separate connections to one file: an
	// in-memory database would give each its own, empty, database.
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store: invalid SQLite path %q: want a file path without query parameters", path)
	}
	sync := strings.ToUpper(opts.Synchronous)
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("store: invalid synchronous mode %q: want \"full\" or \"normal\"", opts.Synchronous)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.System{}
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}

	// modernc applies busy_timeout before the other pragmas whatever their
	// order here; it is listed first for the reader's sake.
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous("+sync+")")

	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	// The one writer walks the queue's and the record's indexes on every
	// batch: a 16 MiB page cache (SQLite's default is 2 MiB) keeps their
	// inner pages in memory rather than read again from the file.
	wq.Add("_pragma", "cache_size(-16384)")
	// A multi-row statement keeps a statement journal (to undo itself
	// alone on a constraint error); past 64 KiB SQLite spills it to a
	// temporary file, opened, written and closed per statement. In memory
	// it costs no system calls.
	wq.Add("_pragma", "temp_store(MEMORY)")
	// The checkpointer copies the WAL back (checkpoint.go); the writer's
	// own checkpoint is what restarts the WAL.
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walRestartPages))
	wq.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The writer connects first: it creates the file and switches it to WAL,
	// which the readers then find in place.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}

	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	// The checkpointer's connection writes (into the database file) but
	// runs no transaction of its own.
	cpdb, err := sql.Open("sqlite", path+"?"+common.Encode())
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	cpdb.SetMaxOpenConns(1)
	cpdb.SetMaxIdleConns(1)
	cpdb.SetConnMaxLifetime(0)
	cpdb.SetConnMaxIdleTime(0)
	cp := startCheckpointer(cpdb)
	return &Store{SQL: store.NewSQL(driver{write: write, read: read, committed: cp.kick}, clk), write: write, read: read,
		cp: cp, clock: clk}, nil
}

// createPrivate creates the database file readable and writable by its
// owner only (0600) before SQLite opens it: it holds signing secrets and
// SMTP passwords. SQLite gives the -wal and -shm files it creates the
// database file's mode. An existing file keeps the mode it has.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("store: unable to create %s: %w", path, err)
	}
	return f.Close()
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Dialect returns "sqlite".
func (s *Store) Dialect() string { return "sqlite" }

// Close stops the checkpointer and closes the connection pools.
func (s *Store) Close() error {
	return errors.Join(s.cp.close(), s.closeStatements(), s.read.Close(), s.write.Close())
}

// querier is what *sql.DB and *sql.Tx have in common, so that one read
// helper serves both inside and outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE through _txlock) and
// commits when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return writeTx(ctx, s.write, s.cp.kick, fn)
}

// writeTx is every write transaction of the store, its own and the shared
// scripts' (driver.Write): committed runs after each commit.
func writeTx(ctx context.Context, db *sql.DB, committed func(), fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	committed()
	return nil
}

// inReadTx runs fn in a read transaction, so that a page and its total come
// from the same snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

// now is the clock's time as it will be stored.
func (s *Store) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// ms encodes a time as stored: unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// msOrNil encodes an optional time.
func msOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// fromMS decodes a stored time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// timePtr decodes an optional stored time.
func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func strPtr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	s := v.String
	return &s
}

func int64Ptr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	n := v.Int64
	return &n
}

// pageArgs returns LIMIT and OFFSET values; -1 is SQLite's "no limit".
func pageArgs(p store.Page) (limit, offset int) {
	limit = p.Limit
	if limit <= 0 {
		limit = -1
	}
	return limit, max(p.Offset, 0)
}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// uniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation
// and, if so, which field of the API it concerns. SQLite names the columns
// ("UNIQUE constraint failed: members.workspace_id, members.email_key"), not
// the index; the last column is the distinguishing one.
func uniqueViolation(err error) (field string, ok bool) {
	code := sqliteCode(err)
	if code != sqlite3.SQLITE_CONSTRAINT_UNIQUE && code != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return "", false
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, "failed: "); i >= 0 {
		msg = msg[i+len("failed: "):]
	}
	msg, _, _ = strings.Cut(msg, " (")
	cols := strings.Split(msg, ", ")
	_, field, _ = strings.Cut(cols[len(cols)-1], ".")
	return strings.TrimSuffix(field, "_key"), true
}

// conflict wraps a unique violation as store.ErrConflict naming the field,
// and returns other errors unchanged.
func conflict(err error) error {
	if field, ok := uniqueViolation(err); ok {
		return fmt.Errorf("%s is already taken: %w", field, store.ErrConflict)
	}
	return err
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// wrap adds the operation to an error, keeping the sentinels matchable.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: unable to %s: %w", op, err)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
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
