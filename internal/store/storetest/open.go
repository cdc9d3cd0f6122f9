// Package storetest holds the conformance suite every store.Store
// implementation must pass (Run), opens fresh, migrated stores for the
// tests of other packages (Open, OpenWithClock), and holds the workloads
// the dialects' benchmarks share (Bench*).
//
// SQLite stores live in a file under t.TempDir(). PostgreSQL stores need
// the environment variable SWITCHBOARD_TEST_POSTGRES (a postgres:// URL);
// each store gets a schema of its own, with a random name, that is dropped
// when the test ends, so tests run in parallel against one database.
// Without the variable, PostgreSQL tests are skipped.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// EnvPostgres names the environment variable holding the URL of the
// PostgreSQL database tests may create schemas in.
const EnvPostgres = "SWITCHBOARD_TEST_POSTGRES"

// Dialects lists the store implementations, for tests that run once per
// dialect: for _, d := range storetest.Dialects { t.Run(d, ...) }.
var Dialects = []string{"sqlite", "postgres"}

// Open returns a fresh, migrated store of the dialect ("sqlite" or
// "postgres") on the system clock, closed when the test ends.
func Open(t testing.TB, dialect string) store.Store {
	t.Helper()
	return OpenWithClock(t, dialect, clock.System{})
}

// OpenWithClock is Open with the clock the store stamps times with, so a
// test can use clock.NewFake.
func OpenWithClock(t testing.TB, dialect string, clk clock.Clock) store.Store {
	t.Helper()
	ctx := context.Background()
	var (
		s   store.Store
		err error
	)
	switch dialect {
	case "sqlite":
		// synchronous=NORMAL: a test's database is thrown away, so fsync on
		// every commit would only slow the suite down.
		s, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "switchboard.db"),
			sqlite.Options{Clock: clk, Synchronous: "normal"})
	case "postgres":
		s, err = postgres.Open(ctx, PostgresURL(t), postgres.Options{Clock: clk})
	default:
		t.Fatalf("storetest: unknown dialect %q", dialect)
	}
	if err != nil {
		t.Fatalf("storetest: open %s store: %v", dialect, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close %s store: %v", dialect, err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate %s store: %v", dialect, err)
	}
	return s
}

// PostgresURL creates an empty schema with a random name in the database
// named by SWITCHBOARD_TEST_POSTGRES and returns a URL whose connections use
// it (search_path), for tests that need an unmigrated database. The schema
// is dropped when the test ends. Without the variable the test is skipped.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set; skipping PostgreSQL tests")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s is not a URL: %v", EnvPostgres, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("storetest: random schema name: %v", err)
	}
	schema := "storetest_" + hex.EncodeToString(b[:])

	exec := func(sql string) error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	quoted := pgx.Identifier{schema}.Sanitize()
	if err := exec("CREATE SCHEMA " + quoted); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	// Registered before the store is opened, so it runs after the store's
	// Close (cleanups run last-in, first-out).
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + quoted + " CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	if !q.Has("pool_max_conns") {
		// Tests run in parallel against one server; a few connections per
		// store keep them under max_connections.
		q.Set("pool_max_conns", fmt.Sprint(4))
	}
	u.RawQuery = q.Encode()
	return u.String()
}
