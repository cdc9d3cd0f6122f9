package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// driver is PostgreSQL's side of store.Driver.
type driver struct{ pool *pgxpool.Pool }

var _ store.Driver = driver{}

func (d driver) Write(ctx context.Context, fn func(store.Querier) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error { return fn(dbQuerier{tx}) })
}

// Read uses a read-only REPEATABLE READ transaction, so that a page and
// its total come from the same snapshot.
func (d driver) Read(ctx context.Context, fn func(store.Querier) error) error {
	return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(dbQuerier{tx}) })
}

func (d driver) Reader() store.Querier { return dbQuerier{d.pool} }

// LockWorkspace locks the workspace's row FOR NO KEY UPDATE, which does
// not block the foreign-key checks of unrelated inserts, so that
// concurrent nodes serialise on it instead of interleaving under READ
// COMMITTED.
func (d driver) LockWorkspace(ctx context.Context, q store.Querier, id int64) error {
	var one int
	return q.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one)
}

// UniqueViolation names the field from the constraint, which is named
// <table>_<field>_key.
func (d driver) UniqueViolation(err error) (string, bool) {
	code, pe := pgCode(err)
	if code != codeUniqueViolation {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(pe.ConstraintName, pe.TableName+"_"), "_key"), true
}

func (d driver) ForeignKeyViolation(err error) bool { return foreignKeyViolation(err) }

// RulesChanged notifies every node from inside the transaction:
// PostgreSQL delivers it when, and only if, the change commits.
func (d driver) RulesChanged(ctx context.Context, q store.Querier, workspaceID int64) error {
	_, err := q.Exec(ctx, `SELECT pg_notify('`+rulesChannel+`', $1)`, strconv.FormatInt(workspaceID, 10))
	return err
}

// pgRunner is what *pgxpool.Pool and pgx.Tx have in common.
type pgRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// querier runs the shared SQL on PostgreSQL.
type dbQuerier struct{ r pgRunner }

func (q dbQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.r.Exec(ctx, query, toDB(args)...)
	return tag.RowsAffected(), err
}

func (q dbQuerier) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := q.r.Query(ctx, query, toDB(args)...)
	if err != nil {
		return nil, err
	}
	return resultRows{rows}, nil
}

func (q dbQuerier) QueryRow(ctx context.Context, query string, args ...any) store.Row {
	return resultRow{q.r.QueryRow(ctx, query, toDB(args)...)}
}

type resultRows struct{ pgx.Rows }

func (r resultRows) Scan(dest ...any) error {
	if err := r.Rows.Scan(dest...); err != nil {
		return err
	}
	utcTimes(dest)
	return nil
}

type resultRow struct{ pgx.Row }

func (r resultRow) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	}
	utcTimes(dest)
	return nil
}

// toDB truncates time arguments to the millisecond, so that both
// dialects keep the same values.
func toDB(args []any) []any { return store.MapTimes(args, func(t time.Time) any { return ts(t) }) }

// utcTimes puts the times read back in UTC (pgx returns timestamptz in
// the local zone).
func utcTimes(dest []any) {
	for _, d := range dest {
		switch p := d.(type) {
		case *time.Time:
			*p = p.UTC()
		case **time.Time:
			*p = utcPtr(*p)
		}
	}
}

// List binds the values as one array read by unnest.
func (d driver) List(n int, vals any) (string, any) {
	typ := "text"
	switch v := vals.(type) {
	case []int64:
		typ = "bigint"
	case store.UUIDs:
		typ, vals = "uuid", []string(v)
	}
	return fmt.Sprintf("(SELECT unnest($%d::%s[]) AS value)", n, typ), vals
}

// SkipLocked lets concurrent claims pass each other's rows.
func (d driver) SkipLocked() string { return " FOR UPDATE SKIP LOCKED" }

// ForUpdate locks the rows read until the transaction ends.
func (d driver) ForUpdate() string { return " FOR UPDATE" }

// JoinRunsOfEvent: runs (event_id, rule_id) is unique, hence indexed.
func (d driver) JoinRunsOfEvent(run, event string) string {
	return " JOIN runs " + run + " ON " + run + ".event_id = " + event + ".id AND " +
		run + ".workspace_id = " + event + ".workspace_id"
}

func (d driver) LegacyRuns(string) string { return "" }
