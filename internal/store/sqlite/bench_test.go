package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// openBench opens a migrated store with the product's settings
// (synchronous=FULL): what a benchmark measures includes the fsync of
// every commit.
func openBench(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
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

// claimBatch is the worker's default batch (pipeline.WorkerOptions).
const claimBatch = 32

// BenchmarkClaimComplete compares the store's queue (ClaimEvents, then
// CompleteEvents with 10 runs per event) with the fastest hand-written
// loop on the same schema: claim a batch in one UPDATE … RETURNING, mark
// it processed in one UPDATE.
func BenchmarkClaimComplete(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		s := openBench(b)
		db := s.Writer()
		claim := func(ctx context.Context, n int) ([]string, error) {
			now := time.Now().UnixMilli()
			rows, err := db.QueryContext(ctx, `
				UPDATE events SET status = 'processing', attempts = attempts + 1, lease_owner = 'raw',
					lease_expires_at = ?
				WHERE id IN (
					SELECT id FROM events
					WHERE status IN ('pending', 'processing') AND status = 'pending' AND available_at <= ?
					ORDER BY created_at, id LIMIT ?)
				RETURNING id`, now+60_000, now, n)
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
			list, err := json.Marshal(ids)
			if err != nil {
				return err
			}
			_, err = db.ExecContext(ctx, `
				UPDATE events SET status = 'processed', processed_at = ?, lease_owner = NULL, lease_expires_at = NULL
				WHERE id IN (SELECT value FROM json_each(?))`, time.Now().UnixMilli(), string(list))
			return err
		}
		storetest.BenchRawClaimComplete(b, s, claimBatch, nil, claim, finish)
	})
	b.Run("store", func(b *testing.B) {
		storetest.BenchClaimComplete(b, openBench(b), claimBatch, 10, nil)
	})
	// The queue alone, without outcome rows: what the store adds to raw
	// besides the runs themselves.
	b.Run("store-no-runs", func(b *testing.B) {
		storetest.BenchClaimComplete(b, openBench(b), claimBatch, 0, nil)
	})
}
