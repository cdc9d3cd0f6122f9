package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// parseID reads an id of an event, run, delivery or activity, or reports
// that it is not a UUID (and so cannot name a stored row: the columns are
// uuid). Ids travel to PostgreSQL as [16]byte, which pgx encodes in binary
// directly; a string or a uuid.UUID (a driver.Valuer) goes through a failed
// binary encoding per value first, which is slow for arrays.
func parseID(id string) ([16]byte, bool) {
	u, err := uuid.Parse(id)
	return u, err == nil
}

// parseIDs is parseID for a column of ids.
func parseIDs[T any](rows []T, id func(*T) string) ([][16]byte, error) {
	out := make([][16]byte, len(rows))
	for i := range rows {
		u, ok := parseID(id(&rows[i]))
		if !ok {
			return nil, fmt.Errorf("id %q is not a UUID", id(&rows[i]))
		}
		out[i] = u
	}
	return out, nil
}

// newID returns a fresh UUIDv7. google/uuid makes them strictly increasing
// within a process, so events ingested together keep their order by id.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// args collects query arguments and hands out their placeholders.
type args []any

// add appends v and returns its placeholder ($n).
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// listOrder returns the keyset condition, ORDER BY and LIMIT/OFFSET of q
// for a table aliased alias whose sortable columns are sortable, adding
// their arguments to a. A keyset position (AfterTime) orders by
// (created_at, id) in the requested direction whatever SortBy says, since
// that is the position it names. Ties are broken by id; NULLs
// (processed_at) sort as if after every value, as in SQLite.
func listOrder(q store.ListQuery, alias string, a *args, sortable ...string) (string, error) {
	dir, cmp, nulls := " ASC", ">", " NULLS LAST"
	if q.Desc {
		dir, cmp, nulls = " DESC", "<", " NULLS FIRST"
	}
	col, offset := q.SortBy, max(q.Offset, 0)
	if col == "" {
		col = "created_at"
	}
	var sql string
	if q.AfterTime != nil {
		// An empty id is before every id, as the empty string is in
		// SQLite.
		var id [16]byte // the nil UUID
		if q.AfterID != "" {
			var ok bool
			if id, ok = parseID(q.AfterID); !ok {
				return "", fmt.Errorf("keyset id %q is not a UUID", q.AfterID)
			}
		}
		col, offset = "created_at", 0
		sql = fmt.Sprintf(" AND (%[1]s.created_at, %[1]s.id) %s (%s, %s)", alias, cmp, a.add(ts(*q.AfterTime)), a.add(id))
	}
	known := false
	for _, s := range sortable {
		known = known || s == col
	}
	if !known {
		return "", fmt.Errorf("cannot sort by %q", col)
	}
	switch col {
	case "id":
		sql += " ORDER BY " + alias + ".id" + dir
	case "processed_at":
		sql += " ORDER BY " + alias + "." + col + dir + nulls + ", " + alias + ".id" + dir
	default:
		sql += " ORDER BY " + alias + "." + col + dir + ", " + alias + ".id" + dir
	}
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	return sql + " LIMIT " + a.add(limit) + " OFFSET " + a.add(offset), nil
}

// PostgreSQL error codes a transaction is retried on.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// pipelined runs fn on one connection of the pool. fn opens and commits
// its transaction itself, by queueing BEGIN and COMMIT in its batches
// (see queueTx), so that a transaction costs one round trip per batch
// rather than one per statement. If fn fails with a transaction open, the
// transaction is rolled back. fn runs again when it failed on a deadlock,
// a serialization failure, or an error retryable accepts; it must be safe
// to run again (its ids are chosen before the first attempt).
func (s *Store) pipelined(ctx context.Context, retryable func(error) bool, fn func(conn *pgx.Conn) error) error {
	const attempts = 4
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(time.Duration(i) * 5 * time.Millisecond):
			}
		}
		err = s.onConn(ctx, fn)
		code, _ := pgCode(err)
		if err == nil || !(code == codeDeadlockDetected || code == codeSerializationFailure ||
			retryable != nil && retryable(err)) {
			return err
		}
	}
	return err
}

// onConn runs fn on a connection of the pool and rolls back what it left
// open. (A connection that still is in a transaction when released is
// closed by the pool; the rollback keeps it.)
func (s *Store) onConn(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	err = fn(c.Conn())
	if err != nil && c.Conn().PgConn().TxStatus() != 'I' && !c.Conn().IsClosed() {
		_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	return err
}

// orNow returns t as stored, or now when t is unset.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return ts(t)
}
