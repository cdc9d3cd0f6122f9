package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// openBench opens a migrated store in a schema of its own (see
// storetest.PostgresURL), with a pool as large as a node's default.
func openBench(b *testing.B) *postgres.Store {
	b.Helper()
	s, err := postgres.Open(b.Context(), storetest.PostgresURL(b)+"&pool_max_conns=8", postgres.Options{})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	return s
}

// BenchmarkIngest measures group commit: one transaction of 1, 10 or 100
// events.
func BenchmarkIngest(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			storetest.BenchIngest(b, openBench(b), n)
		})
	}
}

// analyze refreshes the statistics after the queue is loaded, as
// autovacuum would in time: without it the raw claim's plan sorts the
// whole backlog (the store pins its plan; see claimPlan).
func analyze(s *postgres.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.Pool().Exec(ctx, "ANALYZE")
		return err
	}
}

// claimBatch is the worker's default batch (pipeline.WorkerOptions).
const claimBatch = 32

// BenchmarkClaimComplete compares the store's queue (ClaimEvents, then
// CompleteEvents with 10 runs per event) with the fastest hand-written
// loop on the same schema: claim a batch in one UPDATE … RETURNING with
// SKIP LOCKED, mark it processed in one UPDATE. The target: store
// at 80 % of raw or better.
func BenchmarkClaimComplete(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		s := openBench(b)
		pool := s.Pool()
		claim := func(ctx context.Context, n int) ([]string, error) {
			now := time.Now()
			rows, err := pool.Query(ctx, `
				UPDATE events SET status = 'processing', attempts = attempts + 1, lease_owner = 'raw',
					lease_expires_at = $1
				WHERE id IN (
					SELECT id FROM events
					WHERE status = 'pending' AND available_at <= $2
					ORDER BY created_at, id LIMIT $3
					FOR UPDATE SKIP LOCKED)
				RETURNING id`, now.Add(time.Minute), now, n)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var ids []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return nil, err
				}
				ids = append(ids, id)
			}
			return ids, rows.Err()
		}
		finish := func(ctx context.Context, ids []string) error {
			_, err := pool.Exec(ctx, `
				UPDATE events SET status = 'processed', processed_at = $1, lease_owner = NULL, lease_expires_at = NULL
				WHERE id = ANY($2::text[]::uuid[])`, time.Now(), ids)
			return err
		}
		storetest.BenchRawClaimComplete(b, s, claimBatch, analyze(s), claim, finish)
	})
	b.Run("store", func(b *testing.B) {
		s := openBench(b)
		storetest.BenchClaimComplete(b, s, claimBatch, 10, analyze(s))
	})
	// The queue alone, without outcome rows: what the store adds to raw
	// besides the runs themselves.
	b.Run("store-no-runs", func(b *testing.B) {
		s := openBench(b)
		storetest.BenchClaimComplete(b, s, claimBatch, 0, analyze(s))
	})
}
