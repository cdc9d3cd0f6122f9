// Package config is the one place where Switchboard's settings are read,
// checked and shown. Every setting of the binary comes from a flag, else
// from its environment variable, else from its default (docs/operations.md#configuration); a
// value that cannot be parsed or is out of range stops the command with an
// error naming both the flag and the variable, never a silent default.
//
// The effective configuration can be listed (Config.Settings) and logged
// (Config implements slog.LogValuer) with its secrets masked, so what an
// operator reads in the log is what the process runs with.
package config

import (
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Command says which settings a command reads: serve reads them all; the
// commands that only open the store (migrate, token create) read the
// subset that concerns the store and the logs, so a setting meant for the
// server cannot make them fail.
type Command int

const (
	// ServeCommand is `switchboard serve`: every setting.
	ServeCommand Command = iota
	// StoreCommand is `switchboard migrate` and `switchboard token
	// create`: the database, SQLite and log settings.
	StoreCommand
)

// Config is the typed configuration of one command. Only Parse makes one,
// so every value in it has been validated.
type Config struct {
	// Command is the command this configuration was parsed for; it decides
	// which settings Settings lists.
	Command Command

	// Addr is the HTTP listen address, host:port.
	Addr string
	// DebugAddr, when set, is a loopback host:port serving the Go runtime's
	// profiles (net/http/pprof) on a listener of its own, for profiling
	// the real server under load; "" (the default) serves none.
	DebugAddr string
	// Database is a SQLite file path or a postgres:// URL. It may hold a
	// password: show it only through Settings or LogValue.
	Database string
	// SchedulerInterval paces the scheduler (time-based triggers, snooze
	// and pause expiry), 1s..30s.
	SchedulerInterval time.Duration
	// AllowPrivateTargets lets webhook deliveries reach loopback and
	// private addresses, which the SSRF guard otherwise refuses.
	AllowPrivateTargets bool
	// MultiWorkspace allows POST /v1/workspaces.
	MultiWorkspace bool
	// Workers is the number of event workers on this node, 1..256; 0
	// (auto) lets serve choose by store (see WorkersFor).
	Workers int
	// Lease is how long a worker's claim on an event holds before another
	// worker (on any node) may take the event, 5s..10m.
	Lease time.Duration
	// LogFormat is "text" or "json".
	LogFormat string
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
	// SQLiteSynchronous is "full" (a 202 survives power loss) or "normal".
	SQLiteSynchronous string
	// BootstrapToken is the admin token to create on an empty store, or ""
	// to generate one. It is a secret: show it only through Settings or
	// LogValue, which mask it.
	BootstrapToken string
}

// Setting is one effective setting, for display: Key is the name used in
// logs, Value its text with secrets masked.
type Setting struct {
	Key   string
	Value string
}

// Settings returns the command's effective settings in a fixed order
// (that of the option table), with the database password and the
// bootstrap token masked.
func (c *Config) Settings() []Setting {
	var out []Setting
	for _, o := range options {
		if !o.appliesTo(c.Command) {
			continue
		}
		out = append(out, Setting{Key: o.key, Value: o.show(c)})
	}
	return out
}

// LogValue makes a logged Config its masked settings, so that passing the
// configuration to a logger can never write a secret.
func (c *Config) LogValue() slog.Value {
	settings := c.Settings()
	attrs := make([]slog.Attr, len(settings))
	for i, s := range settings {
		attrs[i] = slog.String(s.Key, s.Value)
	}
	return slog.GroupValue(attrs...)
}

// String is the masked settings as key=value pairs, so that printing a
// Config by mistake (%v) shows no secret either.
func (c *Config) String() string {
	var b strings.Builder
	for i, s := range c.Settings() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Key)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(s.Value))
	}
	return b.String()
}

// UsesPostgres reports whether Database names a PostgreSQL server rather
// than a SQLite file.
func (c *Config) UsesPostgres() bool { return isPostgres(c.Database) }

// MaskedDatabase is Database with its password masked, for messages.
func (c *Config) MaskedDatabase() string { return maskDatabase(c.Database) }

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// mask replaces a secret in displayed values.
const mask = "xxxxx"

// maskDatabase hides the password of a PostgreSQL URL, in its user
// information and in a password= query parameter. A SQLite path is shown
// as it is.
func maskDatabase(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Cannot tell where a password would be: show only the scheme.
		scheme, _, _ := strings.Cut(dsn, "://")
		return scheme + "://" + mask
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", mask)
		u.RawQuery = q.Encode()
	}
	return u.Redacted() // the user information's password becomes "xxxxx"
}

// maskToken shows whether a token is set, never any part of it.
func maskToken(token string) string {
	if token == "" {
		return ""
	}
	return mask
}

// WorkersFor is the number of event workers and the batch each claims on
// a store of the dialect, for Workers (0: auto). SQLite commits one
// transaction at a time: one worker per workspace (two, so that a second
// workspace is never held up by the first; see pipeline.Workers' cap)
// completing big batches writes each rule's rollup and counter rows once
// per batch and does not interleave its commits with another's, which in
// switchboard bench with 100 rules processes ~25 % more events than 4
// workers of 32. PostgreSQL takes concurrent writers: 4 workers of 32.
func WorkersFor(workers int, dialect string) (n, batch int) {
	if dialect == "sqlite" {
		batch = 128
		if workers == 0 {
			workers = 2
		}
		return workers, batch
	}
	if workers == 0 {
		workers = 4
	}
	return workers, 32
}
