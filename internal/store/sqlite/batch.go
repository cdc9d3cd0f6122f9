package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// A multi-row statement is prepared once per size and reused: parsing a
// statement of hundreds of rows costs more than running it. A batch is cut
// into chunks of the sizes below (largest first), so that a few prepared
// statements per table serve every batch size; the largest keeps the
// widest table (16 columns) far below SQLite's 32,766 bound variables.
var chunkSizes = []int{256, 64, 16, 4, 1}

// multiRow is a statement of the form prefix (?, …), (?, …) suffix.
type multiRow struct {
	prefix string
	width  int // placeholders per row
	suffix string
}

// text is the statement for rows rows.
func (m multiRow) text(rows int) string {
	if m.width == 0 {
		return m.prefix
	}
	group := "(" + strings.Repeat("?, ", m.width-1) + "?)"
	var b strings.Builder
	b.Grow(len(m.prefix) + len(m.suffix) + rows*(len(group)+2))
	b.WriteString(m.prefix)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(group)
	}
	b.WriteString(m.suffix)
	return b.String()
}

// stmtKey names a prepared multi-row statement.
type stmtKey struct {
	m    multiRow
	rows int
}

// statements caches the writer connection's prepared multi-row
// statements. They are prepared outside any transaction (the writer pool
// has one connection, which a transaction holds), by prepare.
type statements struct {
	mu       sync.Mutex
	prepared map[stmtKey]*sql.Stmt
}

// single is a statement that is not multi-row, for the statement cache:
// its text is its prefix.
func single(query string) multiRow { return multiRow{prefix: query} }

// prepare prepares every size of the statements that are not prepared
// yet (a single statement has one size). It is called before a write
// transaction begins; a failure only means the statements are parsed at
// each use. The lock is never held while preparing: that waits for the
// writer connection, which a transaction that wants the lock (stmt) may
// hold.
func (s *Store) prepare(ctx context.Context, ms ...multiRow) {
	for _, m := range ms {
		sizes := chunkSizes
		if m.width == 0 {
			sizes = []int{0}
		}
		for _, n := range sizes {
			k := stmtKey{m, n}
			s.stmts.mu.Lock()
			have := s.stmts.prepared[k] != nil
			s.stmts.mu.Unlock()
			if have {
				continue
			}
			st, err := s.write.PrepareContext(ctx, m.text(n))
			if err != nil {
				return
			}
			s.stmts.mu.Lock()
			if s.stmts.prepared == nil {
				s.stmts.prepared = map[stmtKey]*sql.Stmt{}
			}
			if s.stmts.prepared[k] == nil {
				s.stmts.prepared[k], st = st, nil
			}
			s.stmts.mu.Unlock()
			if st != nil {
				st.Close() // another caller prepared it meanwhile
			}
		}
	}
}

// stmt returns the prepared statement for k inside tx, or nil.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, k stmtKey) *sql.Stmt {
	s.stmts.mu.Lock()
	st := s.stmts.prepared[k]
	s.stmts.mu.Unlock()
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// closeStatements releases the prepared statements.
func (s *Store) closeStatements() error {
	s.stmts.mu.Lock()
	prepared := s.stmts.prepared
	s.stmts.prepared = nil
	s.stmts.mu.Unlock()
	var errs []error
	for _, st := range prepared {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// chunkSize is the size of the next chunk of n remaining rows.
func chunkSize(n int) int {
	for _, size := range chunkSizes {
		if size <= n {
			return size
		}
	}
	return n
}

// eachChunk calls fn for consecutive chunks of the rows (each width
// arguments long, flattened in args) with the statement for that chunk.
func (s *Store) eachChunk(ctx context.Context, tx *sql.Tx, m multiRow, args []any,
	fn func(st *sql.Stmt, query string, args []any) error) error {
	n := len(args) / m.width
	for start := 0; start < n; {
		size := chunkSize(n - start)
		k := stmtKey{m, size}
		st := s.stmt(ctx, tx, k)
		var query string
		if st == nil {
			query = m.text(size)
		}
		if err := fn(st, query, args[start*m.width:(start+size)*m.width]); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// execRows runs a multi-row statement over rows (each m.width arguments
// long, flattened in args), in chunks.
func (s *Store) execRows(ctx context.Context, tx *sql.Tx, m multiRow, args []any) error {
	return s.eachChunk(ctx, tx, m, args, func(st *sql.Stmt, query string, args []any) error {
		var err error
		if st != nil {
			_, err = st.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, query, args...)
		}
		return err
	})
}

// queryRows is execRows for a statement that returns rows, each chunk's
// rows scanned by scan.
func (s *Store) queryRows(ctx context.Context, tx *sql.Tx, m multiRow, args []any, scan func(*sql.Rows) error) error {
	return s.eachChunk(ctx, tx, m, args, func(st *sql.Stmt, query string, args []any) error {
		var (
			rows *sql.Rows
			err  error
		)
		if st != nil {
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = tx.QueryContext(ctx, query, args...)
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// uuidText normalises an id to the canonical form stored, or reports that
// it is not a UUID (and so cannot name a stored row).
func uuidText(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// newID returns a fresh UUIDv7. google/uuid makes them strictly increasing
// within a process, so events ingested together keep their order by id.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// listing is the ORDER BY, keyset condition and paging of a ListQuery.
type listing struct {
	keyset string // " AND (…)" or ""
	args   []any  // the keyset's arguments
	order  string // " ORDER BY …"
	limit  int
	offset int
}

// listOrder translates q for a table aliased alias whose sortable columns
// are sortable. A keyset position (AfterTime) orders by (created_at, id)
// in the requested direction whatever SortBy says, since that is the
// position it names. Ties are broken by id; NULLs (processed_at) sort as
// if after every value.
func listOrder(q store.ListQuery, alias string, sortable ...string) (listing, error) {
	l := listing{limit: q.Limit, offset: max(q.Offset, 0)}
	if l.limit <= 0 {
		l.limit = -1
	}
	dir, cmp, nulls := " ASC", ">", " NULLS LAST"
	if q.Desc {
		dir, cmp, nulls = " DESC", "<", " NULLS FIRST"
	}
	col := q.SortBy
	if col == "" {
		col = "created_at"
	}
	if q.AfterTime != nil {
		if q.AfterID != "" {
			if _, ok := uuidText(q.AfterID); !ok {
				return l, fmt.Errorf("keyset id %q is not a UUID", q.AfterID)
			}
		}
		col, l.offset = "created_at", 0
		l.keyset = fmt.Sprintf(" AND (%[1]s.created_at, %[1]s.id) %s (?, ?)", alias, cmp)
		l.args = []any{ms(*q.AfterTime), strings.ToLower(q.AfterID)}
	}
	known := false
	for _, s := range sortable {
		known = known || s == col
	}
	if !known {
		return l, fmt.Errorf("cannot sort by %q", col)
	}
	switch col {
	case "id":
		l.order = " ORDER BY " + alias + ".id" + dir
	case "processed_at":
		l.order = " ORDER BY " + alias + "." + col + dir + nulls + ", " + alias + ".id" + dir
	default:
		l.order = " ORDER BY " + alias + "." + col + dir + ", " + alias + ".id" + dir
	}
	return l, nil
}

// orNow returns t as stored, or now when t is unset.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC().Truncate(time.Millisecond)
}
