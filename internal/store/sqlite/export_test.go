package sqlite

import "context"

// Pragmas is what the connections were configured with, for tests.
type Pragmas struct {
	JournalMode     string
	ForeignKeys     bool
	Synchronous     int
	BusyTimeoutMS   int
	ReaderQueryOnly bool
}

// Pragmas reads the writer's settings and whether readers are query-only.
func (s *Store) Pragmas(ctx context.Context) Pragmas {
	var p Pragmas
	_ = s.write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&p.JournalMode)
	_ = s.write.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&p.ForeignKeys)
	_ = s.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&p.Synchronous)
	_ = s.write.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&p.BusyTimeoutMS)
	_ = s.read.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&p.ReaderQueryOnly)
	return p
}

// ContainingPlan returns SQLite's plan for ContactListsContaining's query.
func (s *Store) ContainingPlan(ctx context.Context) (string, error) {
	rows, err := s.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+containingQuery, 1, "a@b.test", "[1,2,3]")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var (
			id, parent, unused int
			detail             string
		)
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan += detail + "\n"
	}
	return plan, rows.Err()
}
