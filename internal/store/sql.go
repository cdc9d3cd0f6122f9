package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
)

// The store's transaction scripts (directory, rules, reads) are written
// once, in this package, over a narrow per-dialect layer, the way River
// keeps its drivers thin: a Driver runs transactions and classifies
// errors, and a Querier runs SQL. What really differs between SQLite and
// PostgreSQL — the queue's claims, batched writes, ingestion, the change
// feed, the SQL of those — stays in the dialect packages.
//
// The shared SQL is written so that both databases run it as it is:
//   - placeholders are $1, $2, … (modernc's SQLite binds $N to the N-th
//     argument, as PostgreSQL does);
//   - time.Time and *time.Time arguments and scan destinations are
//     converted by the driver (SQLite keeps INTEGER unix milliseconds,
//     PostgreSQL timestamptz); every time goes in and comes out in UTC,
//     truncated to the millisecond;
//   - booleans, integers, text and NULLs (*string, *int64, **time.Time)
//     scan alike through both drivers;
//   - no dialect functions (greatest/max, now(), JSON operators).

// Driver is what a dialect gives the shared transaction scripts.
type Driver interface {
	// Write runs fn in a write transaction and commits when fn returns nil.
	Write(ctx context.Context, fn func(q Querier) error) error
	// Read runs fn in a read-only transaction, so that a page and its
	// total come from one snapshot.
	Read(ctx context.Context, fn func(q Querier) error) error
	// Reader runs single statements outside any transaction.
	Reader() Querier
	// LockWorkspace serialises the writers of one workspace for the rest
	// of the transaction (PostgreSQL locks its row; SQLite has one writer
	// anyway). A workspace that does not exist is ErrNotFound.
	LockWorkspace(ctx context.Context, q Querier, workspaceID int64) error
	// UniqueViolation reports whether err is a unique-constraint failure
	// and, if so, which field of the API it concerns.
	UniqueViolation(err error) (field string, ok bool)
	// ForeignKeyViolation reports whether err is a foreign-key failure.
	ForeignKeyViolation(err error) bool
	// RulesChanged is called inside every transaction that changes what a
	// workspace's compiled rules depend on, after the shared script has
	// bumped the workspace's rules_version: PostgreSQL sends the change
	// feed's notification from inside the transaction, so it goes out
	// exactly when the change commits.
	RulesChanged(ctx context.Context, q Querier, workspaceID int64) error
	// List returns a subquery that yields the elements of vals ([]int64,
	// []string or UUIDs) as one column named value, with its placeholder
	// $n, and the argument to bind there: a whole batch in one statement.
	List(n int, vals any) (subquery string, arg any)
	// SkipLocked is appended to a SELECT whose rows the transaction then
	// takes (PostgreSQL: FOR UPDATE SKIP LOCKED, so that nodes claiming
	// at once take different rows; SQLite's one writer needs nothing).
	SkipLocked() string
	// ForUpdate is appended to a SELECT of a row the transaction then
	// changes from what it read (PostgreSQL: FOR UPDATE).
	ForUpdate() string
	// JoinRunsOfEvent joins the runs (table alias run) of each row of
	// events (alias event) through an index, the events driving the join.
	// SQLite has no index on runs.event_id: a run's id starts with its
	// event's created_at (RunID), so an event's runs are a range of the
	// primary key, and the runs of events from before the decision record
	// have an index of their own.
	JoinRunsOfEvent(run, event string) string
	// LegacyRuns narrows a lookup of runs by event_id (alias run) to the
	// runs of events completed before the decision record, the only ones
	// such a lookup is for: the others are found through their event's
	// record. SQLite indexes event_id for those runs alone.
	LegacyRuns(run string) string
}

// Querier runs SQL written for both dialects (see above).
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a query whose first row is scanned; no row is
	// ErrNotFound.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a result set; Close is idempotent.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is one row of a result; Scan of a missing row is ErrNotFound.
type Row interface {
	Scan(dest ...any) error
}

// MapTimes returns args with every time.Time and *time.Time argument
// replaced by conv's value (a nil *time.Time by nil), copying args only
// when there is something to convert: the drivers' encoding of times.
func MapTimes(args []any, conv func(time.Time) any) []any {
	i := slices.IndexFunc(args, func(a any) bool {
		switch a.(type) {
		case time.Time, *time.Time:
			return true
		}
		return false
	})
	if i < 0 {
		return args
	}
	out := slices.Clone(args)
	for ; i < len(out); i++ {
		switch v := out[i].(type) {
		case time.Time:
			out[i] = conv(v)
		case *time.Time:
			if v == nil {
				out[i] = nil
			} else {
				out[i] = conv(*v)
			}
		}
	}
	return out
}

// EventColumns are the columns of an event row both dialects read, in
// the order their scanners expect.
const EventColumns = `id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash,
	source, channel_source, caused_by, status, attempts, available_at, occurred_at, created_at,
	processed_at, error, order_key, target_rule_id`

// ColumnsOf qualifies a column list by a table alias.
func ColumnsOf(columns, alias string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// UUIDs is a list of ids for Driver.List: PostgreSQL keeps them as uuid.
type UUIDs []string

// SQL implements the parts of Store that both dialects share. Each
// dialect's store embeds it and adds what is its own.
type SQL struct {
	d     Driver
	clock clock.Clock
}

// NewSQL returns the shared transaction scripts over a driver.
func NewSQL(d Driver, clk clock.Clock) *SQL {
	if clk == nil {
		clk = clock.System{}
	}
	return &SQL{d: d, clock: clk}
}

// Now is the clock's time as the store keeps it (UTC, milliseconds).
func (s *SQL) Now() time.Time { return msUTC(s.clock.Now()) }

// rulesChanged records, inside the transaction, that what the
// workspace's compiled rules depend on changed: the version every node's
// cache checks goes up, and the driver tells the other nodes.
func (s *SQL) rulesChanged(ctx context.Context, q Querier, workspaceID int64) error {
	if _, err := q.Exec(ctx, `UPDATE workspaces SET rules_version = rules_version + 1 WHERE id = $1`, workspaceID); err != nil {
		return err
	}
	return s.d.RulesChanged(ctx, q, workspaceID)
}

// RulesVersion returns the workspace's rules version: it moves inside
// every transaction that changes rules, the control record, or a
// directory object rules depend on, so a node that missed a change
// notification still notices the change.
func (s *SQL) RulesVersion(ctx context.Context, workspaceID int64) (int64, error) {
	var v int64
	err := s.d.Reader().QueryRow(ctx, `SELECT rules_version FROM workspaces WHERE id = $1`, workspaceID).Scan(&v)
	return v, wrap("read the rules version", err)
}

// conflict turns a unique violation into ErrConflict naming the field,
// and returns other errors unchanged.
func (s *SQL) conflict(err error) error {
	if field, ok := s.d.UniqueViolation(err); ok {
		return fmt.Errorf("%s is already taken: %w", field, ErrConflict)
	}
	return err
}

// insertErr maps the failures of an insert: a missing parent (workspace,
// member, list) is ErrNotFound, a taken unique value ErrConflict.
func (s *SQL) insertErr(err error) error {
	if s.d.ForeignKeyViolation(err) {
		return ErrNotFound
	}
	return s.conflict(err)
}

// wrap adds the operation to an error, keeping the sentinels matchable.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: unable to %s: %w", op, err)
}

// oneRow turns "no row changed" into ErrNotFound.
func oneRow(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Scanner is a Row or Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Collect scans every row with scan and closes rows.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
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

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return Collect(rows, scan)
}

func scanID(r Scanner) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}

// lower is the case-folded key uniqueness is checked on, computed in Go so
// that both dialects fold the same way whatever the database's collation.
func lower(s string) string { return strings.ToLower(s) }

// pageArgs returns LIMIT and OFFSET values; a Page with Limit <= 0 returns
// every row (both dialects take the largest bigint as "no limit").
func pageArgs(p Page) (limit int64, offset int64) {
	limit = int64(p.Limit)
	if limit <= 0 {
		limit = math.MaxInt64
	}
	return limit, int64(max(p.Offset, 0))
}

// referencedBy runs query (rule ids, sorted) and returns a
// *ReferencedError when it finds any.
func referencedBy(ctx context.Context, q Querier, query string, args ...any) error {
	ids, err := queryAll(ctx, q, scanID, query, args...)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return &ReferencedError{RuleIDs: ids}
	}
	return nil
}

// page reads a total and one page of a list in one snapshot.
func page[T any](ctx context.Context, s *SQL, op string, scan func(Scanner) (T, error),
	countQuery string, countArgs []any, listQuery string, listArgs ...any) ([]T, int, error) {
	var (
		out   []T
		total int
	)
	err := s.d.Read(ctx, func(q Querier) error {
		if err := q.QueryRow(ctx, countQuery, countArgs...).Scan(&total); err != nil {
			return err
		}
		var err error
		out, err = queryAll(ctx, q, scan, listQuery, listArgs...)
		return err
	})
	if err != nil {
		return nil, 0, wrap(op, err)
	}
	return out, total, nil
}
