package main

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/config"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// Version is set at build time with -ldflags "-X main.Version=v1.2.3";
// otherwise the module version or VCS revision is used.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// newLogger builds the process's logger from the log settings, which
// internal/config has already checked.
func newLogger(c *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens (but does not migrate) the configured store.
func openStore(ctx context.Context, c *config.Config, clk clock.Clock) (store.Store, error) {
	if c.UsesPostgres() {
		return postgres.Open(ctx, c.Database, postgres.Options{Clock: clk})
	}
	return sqlite.Open(ctx, c.Database, sqlite.Options{Clock: clk, Synchronous: c.SQLiteSynchronous})
}
