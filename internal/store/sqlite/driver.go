package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// driver is SQLite's side of store.Driver: transactions on the single
// writer connection or the reader pool, and the conversion of times to
// the INTEGER unix milliseconds the schema keeps.
type driver struct {
	write     *sql.DB
	read      *sql.DB
	committed func() // after each write transaction commits (the checkpointer's kick)
}

var _ store.Driver = driver{}

func (d driver) Write(ctx context.Context, fn func(store.Querier) error) error {
	return writeTx(ctx, d.write, d.committed, func(tx *sql.Tx) error { return fn(dbQuerier{tx}) })
}

func (d driver) Read(ctx context.Context, fn func(store.Querier) error) error {
	tx, err := d.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(dbQuerier{tx})
}

func (d driver) Reader() store.Querier { return dbQuerier{d.read} }

// LockWorkspace only checks that the workspace exists: the one writer
// connection already serialises every write transaction.
func (d driver) LockWorkspace(ctx context.Context, q store.Querier, id int64) error {
	var one int
	return q.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1`, id).Scan(&one)
}

func (d driver) UniqueViolation(err error) (string, bool) { return uniqueViolation(err) }

func (d driver) ForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// RulesChanged has nobody to tell: one process owns a SQLite file.
func (d driver) RulesChanged(context.Context, store.Querier, int64) error { return nil }

// sqlRunner is what *sql.DB and *sql.Tx have in common.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier runs the shared SQL on SQLite.
type dbQuerier struct{ r sqlRunner }

func (q dbQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.r.ExecContext(ctx, query, toDB(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q dbQuerier) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := q.r.QueryContext(ctx, query, toDB(args)...)
	if err != nil {
		return nil, err
	}
	return resultRows{rows}, nil
}

func (q dbQuerier) QueryRow(ctx context.Context, query string, args ...any) store.Row {
	return resultRow{q.r.QueryRowContext(ctx, query, toDB(args)...)}
}

type resultRows struct{ *sql.Rows }

func (r resultRows) Scan(dest ...any) error { return scanTimes(r.Rows.Scan, dest) }
func (r resultRows) Close()                 { _ = r.Rows.Close() }

type resultRow struct{ *sql.Row }

func (r resultRow) Scan(dest ...any) error {
	err := scanTimes(r.Row.Scan, dest)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// toDB encodes time arguments as stored: unix milliseconds.
func toDB(args []any) []any {
	return store.MapTimes(args, func(t time.Time) any { return t.UnixMilli() })
}

// scanTimes scans into dest, decoding INTEGER milliseconds into the
// *time.Time and **time.Time destinations.
func scanTimes(scan func(...any) error, dest []any) error {
	var (
		fix  [8]int
		nfix int
	)
	for i, d := range dest {
		switch d.(type) {
		case *time.Time, **time.Time:
			if nfix == len(fix) {
				return scanTimesSlow(scan, dest)
			}
			fix[nfix] = i
			nfix++
		}
	}
	if nfix == 0 {
		return scan(dest...)
	}
	var tmp [8]sql.NullInt64
	orig := make([]any, nfix)
	for k := range nfix {
		i := fix[k]
		orig[k] = dest[i]
		dest[i] = &tmp[k]
	}
	err := scan(dest...)
	for k := range nfix {
		dest[fix[k]] = orig[k]
	}
	if err != nil {
		return err
	}
	for k := range nfix {
		setTime(orig[k], tmp[k])
	}
	return nil
}

// scanTimesSlow is scanTimes for rows with more than eight times.
func scanTimesSlow(scan func(...any) error, dest []any) error {
	tmp := make([]sql.NullInt64, len(dest))
	d2 := make([]any, len(dest))
	for i, d := range dest {
		switch d.(type) {
		case *time.Time, **time.Time:
			d2[i] = &tmp[i]
		default:
			d2[i] = d
		}
	}
	if err := scan(d2...); err != nil {
		return err
	}
	for i, d := range dest {
		switch d.(type) {
		case *time.Time, **time.Time:
			setTime(d, tmp[i])
		}
	}
	return nil
}

func setTime(dest any, v sql.NullInt64) {
	switch p := dest.(type) {
	case *time.Time:
		if v.Valid {
			*p = fromMS(v.Int64)
		} else {
			*p = time.Time{}
		}
	case **time.Time:
		if v.Valid {
			t := fromMS(v.Int64)
			*p = &t
		} else {
			*p = nil
		}
	}
}

// List binds the values as one JSON array read by json_each.
func (d driver) List(n int, vals any) (string, any) {
	if ids, ok := vals.(store.UUIDs); ok {
		vals = []string(ids)
	}
	b, err := json.Marshal(vals)
	if err != nil {
		b = []byte("[]") // vals is a slice of ints or strings: Marshal cannot fail
	}
	return fmt.Sprintf("(SELECT value FROM json_each($%d))", n), string(b)
}

// SkipLocked is empty: the one writer connection already serialises claims.
func (d driver) SkipLocked() string { return "" }

// ForUpdate is empty: a write transaction holds the whole database.
func (d driver) ForUpdate() string { return "" }

// JoinRunsOfEvent: the runs whose id starts with the event's created_at
// (the first 13 characters of a run id are its 48 bits of milliseconds in
// hex, and the 14th is always '-', just below '.'), or, for the runs of
// events from before the decision record, runs_legacy_event: both halves
// of the OR are index lookups (the first a range of the key,
// (workspace_id, id)). CROSS JOIN keeps the events outside; each half
// names the workspace, the second with a unary + (a condition common to
// both halves, or usable in both, turns the OR into a walk of every run
// of the workspace).
func (d driver) JoinRunsOfEvent(run, event string) string {
	prefix := fmt.Sprintf(`printf('%%08x-%%04x', %[1]s.created_at >> 16, %[1]s.created_at & 65535)`, event)
	return fmt.Sprintf(` CROSS JOIN runs %[1]s ON
		   (%[1]s.workspace_id = %[2]s.workspace_id AND %[1]s.id > %[3]s || '-' AND %[1]s.id < %[3]s || '.'
		    AND %[1]s.event_id = %[2]s.id)
		OR (%[1]s.legacy IS NOT NULL AND %[1]s.event_id = %[2]s.id AND +%[1]s.workspace_id = %[2]s.workspace_id)`,
		run, event, prefix)
}

func (d driver) LegacyRuns(run string) string { return " AND " + run + ".legacy IS NOT NULL" }
