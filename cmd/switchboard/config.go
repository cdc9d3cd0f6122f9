package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
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

// errUsage means the flag package already printed what was wrong.
var errUsage = errors.New("usage")

// config is every setting of the binary, from flags, then environment
// variables, then defaults (docs/operations.md#configuration).
type config struct {
	Addr                string
	Database            string
	SchedulerInterval   time.Duration
	AllowPrivateTargets bool
	MultiWorkspace      bool
	BootstrapToken      string
	LogFormat           string
	LogLevel            string
	SQLiteSynchronous   string
	Workers             int
}

// newFlagSet declares the flags shared by the commands that open the store,
// each with its environment variable as the default.
func newFlagSet(name string, stderr io.Writer, c *config) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Database, "database", env("SWITCHBOARD_DATABASE", "./switchboard.db"),
		"SQLite file path or postgres:// URL (SWITCHBOARD_DATABASE)")
	fs.StringVar(&c.LogFormat, "log-format", env("SWITCHBOARD_LOG_FORMAT", "text"), "log format: text or json (SWITCHBOARD_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("SWITCHBOARD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (SWITCHBOARD_LOG_LEVEL)")
	fs.StringVar(&c.SQLiteSynchronous, "sqlite-synchronous", env("SWITCHBOARD_SQLITE_SYNCHRONOUS", "full"),
		"SQLite synchronous mode: full (a 202 survives power loss) or normal (faster; a power loss may lose the last commits) (SWITCHBOARD_SQLITE_SYNCHRONOUS)")
	return fs
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(env(name, "false"))
	return v
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := env(name, ""); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envInt(name string, def int) int {
	if v := env(name, ""); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func (c *config) validate() error {
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	if c.SQLiteSynchronous != "full" && c.SQLiteSynchronous != "normal" {
		return fmt.Errorf("--sqlite-synchronous must be full or normal, not %q", c.SQLiteSynchronous)
	}
	if c.SchedulerInterval != 0 && (c.SchedulerInterval < time.Second || c.SchedulerInterval > 30*time.Second) {
		return fmt.Errorf("--scheduler-interval must be between 1s and 30s, not %s", c.SchedulerInterval)
	}
	return nil
}

func (c *config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// isPostgres reports whether the database setting is a PostgreSQL URL.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openStore opens (but does not migrate) the configured store.
func openStore(ctx context.Context, c *config, clk clock.Clock) (store.Store, error) {
	if isPostgres(c.Database) {
		return postgres.Open(ctx, c.Database, postgres.Options{Clock: clk})
	}
	return sqlite.Open(ctx, c.Database, sqlite.Options{Clock: clk, Synchronous: c.SQLiteSynchronous})
}

// redactDSN hides a password in a database URL for logs.
func redactDSN(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	scheme, rest, _ := strings.Cut(dsn, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
			return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
		}
	}
	return dsn
}
