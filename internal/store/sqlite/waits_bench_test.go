package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// BenchmarkDueWaits measures one scheduler tick's read (DueWaits) with 10
// waits due among many that are not: the cost must not grow with the
// waiting conversations, 10,000 or 1,000,000 (waits_due covers only the
// waits not fired, ordered by due time).
func BenchmarkDueWaits(b *testing.B) {
	for _, waiting := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("waiting=%d", waiting), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "sb.db"), sqlite.Options{Synchronous: "normal"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
			// The waiting conversations, due over the next day, and ten due now.
			if _, err := s.Writer().ExecContext(ctx, `
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO waits (workspace_id, conversation_id, rule_id, kind, since, due_at, payload, fired)
				SELECT 1, 'c' || i, 1, 'team', ?, ? + (i % 86400000) + 60000, '{}', 0 FROM n`,
				waiting, now.UnixMilli(), now.UnixMilli()); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Writer().ExecContext(ctx, `
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
				INSERT INTO waits (workspace_id, conversation_id, rule_id, kind, since, due_at, payload, fired)
				SELECT 1, 'due' || i, 1, 'team', ?, ?, '{}', 0 FROM n`, now.UnixMilli(), now.UnixMilli()-1000); err != nil {
				b.Fatal(err)
			}
			// A steady state: the bulk insert checkpointed, as the server's
			// WAL is after a while.
			if _, err := s.Writer().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				due, err := s.DueWaits(ctx, now, 500)
				if err != nil || len(due) != 10 {
					b.Fatalf("DueWaits = %d, %v; want 10", len(due), err)
				}
			}
		})
	}
}
