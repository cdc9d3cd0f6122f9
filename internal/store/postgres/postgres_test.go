package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clk clock.Clock) store.Store { return storetest.OpenWithClock(t, "postgres", clk) })
}

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReadyNeedsMigrations(t *testing.T) {
	t.Parallel()
	s := open(t, storetest.PostgresURL(t))
	if err := s.Ready(t.Context()); err == nil {
		t.Fatal("Ready on an unmigrated schema succeeded")
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("Ready after Migrate: %v", err)
	}
	if s.Pool() == nil {
		t.Fatal("Pool() = nil")
	}
}

// TestConcurrentMigrate starts several nodes on one empty schema at once:
// the advisory lock must let every Migrate succeed, each step applied once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	stores := []*postgres.Store{open(t, url), open(t, url), open(t, url), open(t, url)}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	var applied int
	if err := stores[0].Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	for _, s := range stores {
		if err := s.Ready(t.Context()); err != nil {
			t.Errorf("Ready: %v", err)
		}
	}
	if applied == 0 {
		t.Fatal("no migration recorded")
	}
}
