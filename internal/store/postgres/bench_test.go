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
// events, queued for the workers or (settled) stored processed.
func BenchmarkIngest(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			storetest.BenchIngest(b, openBench(b), n, false)
		})
		b.Run(fmt.Sprintf("events=%d/settled", n), func(b *testing.B) {
			storetest.BenchIngest(b, openBench(b), n, true)
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
	// The raw loop, also writing what a worker writes: 10 compact runs per
	// event (generated server-side in one INSERT … SELECT), in the same
	// transaction as the completion. The like-for-like baseline of
	// "store" and of the pipeline's worker cycle.
	b.Run("raw-with-runs", func(b *testing.B) {
		s := openBench(b)
		pool := s.Pool()
		result := `{"reason":"conditions_not_met","trace":[{"path":"conditions[0]","condition":{"field":"message.subject","operator":"contains","value":"urgent"},"actual":"Re: Invoice","result":false}],"actions":[]}`
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
			tx, err := pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			now := time.Now()
			if _, err := tx.Exec(ctx, `
				INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, matched, executed, status, result,
					created_at, settled_at, event_type, event_source)
				SELECT gen_random_uuid(), e.workspace_id, e.id, r, 'rule-' || r, false, false, 'not_matched', $3,
					$1, $1, e.event_type, e.source
				FROM events e CROSS JOIN generate_series(1, 10) AS r
				WHERE e.id = ANY($2::text[]::uuid[])`, now, ids, result); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				UPDATE events SET status = 'processed', processed_at = $1, lease_owner = NULL, lease_expires_at = NULL
				WHERE id = ANY($2::text[]::uuid[])`, now, ids); err != nil {
				return err
			}
			return tx.Commit(ctx)
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
