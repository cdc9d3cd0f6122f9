package postgres_test

import (
	"flag"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// recordEvents sizes BenchmarkRecordReads' history (issue 8's target
// is the default); a smaller one builds faster while trying it out.
var recordEvents = flag.Int("record-events", storetest.RecordIssueShape.Events,
	"events BenchmarkRecordReads stores before it measures")

// BenchmarkRecordReads measures the reads of issue 8's target on a
// history of 200,000 events × 100 rules (storetest.BenchRecordReads),
// after ANALYZE (as autovacuum would in time). The build takes minutes;
// run it alone:
//
//	go test ./internal/store/postgres -run '^$' -bench BenchmarkRecordReads -benchtime 200x
func BenchmarkRecordReads(b *testing.B) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := postgres.Open(b.Context(), storetest.PostgresURL(b)+"&pool_max_conns=8", postgres.Options{Clock: clk})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	shape := storetest.RecordIssueShape
	shape.Events = *recordEvents
	storetest.BenchRecordReads(b, s, clk, shape, analyze(s))
}
