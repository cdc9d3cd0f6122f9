package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// env is a fake environment: pairs of name and value.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func parse(t *testing.T, cmd Command, args []string, lookup func(string) (string, bool)) (*Config, error) {
	t.Helper()
	return NewParser("test", cmd, io.Discard).Parse(args, lookup)
}

// defaults is the configuration serve runs with when nothing is set.
func defaults() Config {
	return Config{
		Command:           ServeCommand,
		Addr:              "127.0.0.1:8080",
		Database:          "./switchboard.db",
		SchedulerInterval: 10 * time.Second,
		Workers:           0,
		Lease:             30 * time.Second,
		LogFormat:         "text",
		LogLevel:          slog.LevelInfo,
		SQLiteSynchronous: "full",
	}
}

// goodToken is a well-formed bootstrap token (auth.NewToken's shape).
const goodToken = "sbt_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_Q"

func TestDefaults(t *testing.T) {
	t.Parallel()
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, ServeCommand, nil, env())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(defaults(), *c); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
	})
	t.Run("store commands", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, StoreCommand, nil, env())
		if err != nil {
			t.Fatal(err)
		}
		want := Config{Command: StoreCommand, Database: "./switchboard.db", LogFormat: "text",
			LogLevel: slog.LevelInfo, SQLiteSynchronous: "full"}
		if diff := cmp.Diff(want, *c); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
	})
}

func TestValidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  []string
		want func(c *Config) // applied to defaults()
	}{
		{"addr from env", nil, []string{"SWITCHBOARD_ADDR", ":9090"}, func(c *Config) { c.Addr = ":9090" }},
		{"addr from flag", []string{"--addr", "0.0.0.0:80"}, nil, func(c *Config) { c.Addr = "0.0.0.0:80" }},
		{"addr port 0", []string{"--addr", "127.0.0.1:0"}, nil, func(c *Config) { c.Addr = "127.0.0.1:0" }},
		{"addr IPv6", []string{"--addr", "[::1]:8080"}, nil, func(c *Config) { c.Addr = "[::1]:8080" }},
		{"database file", nil, []string{"SWITCHBOARD_DATABASE", "/var/lib/sb.db"}, func(c *Config) { c.Database = "/var/lib/sb.db" }},
		{"database postgres", []string{"--database", "postgres://u:pw@db:5432/sb?sslmode=disable"}, nil,
			func(c *Config) { c.Database = "postgres://u:pw@db:5432/sb?sslmode=disable" }},
		{"database postgresql scheme", nil, []string{"SWITCHBOARD_DATABASE", "postgresql://db/sb"},
			func(c *Config) { c.Database = "postgresql://db/sb" }},
		{"scheduler interval lowest", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "1s"}, func(c *Config) { c.SchedulerInterval = time.Second }},
		{"scheduler interval highest", []string{"--scheduler-interval", "30s"}, nil, func(c *Config) { c.SchedulerInterval = 30 * time.Second }},
		{"scheduler interval mixed units", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "2500ms"},
			func(c *Config) { c.SchedulerInterval = 2500 * time.Millisecond }},
		{"allow private targets 1", nil, []string{"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "1"}, func(c *Config) { c.AllowPrivateTargets = true }},
		{"allow private targets true", nil, []string{"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "true"}, func(c *Config) { c.AllowPrivateTargets = true }},
		{"allow private targets 0", nil, []string{"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "0"}, func(c *Config) {}},
		{"allow private targets bare flag", []string{"--allow-private-targets"}, nil, func(c *Config) { c.AllowPrivateTargets = true }},
		{"multi workspace TRUE", nil, []string{"SWITCHBOARD_MULTI_WORKSPACE", "TRUE"}, func(c *Config) { c.MultiWorkspace = true }},
		{"multi workspace false", nil, []string{"SWITCHBOARD_MULTI_WORKSPACE", "false"}, func(c *Config) {}},
		{"multi workspace bare flag", []string{"-multi-workspace"}, nil, func(c *Config) { c.MultiWorkspace = true }},
		{"multi workspace flag=0", []string{"--multi-workspace=0"}, []string{"SWITCHBOARD_MULTI_WORKSPACE", "1"}, func(c *Config) {}},
		{"workers lowest", nil, []string{"SWITCHBOARD_WORKERS", "1"}, func(c *Config) { c.Workers = 1 }},
		{"workers highest", []string{"--workers", "256"}, nil, func(c *Config) { c.Workers = 256 }},
		{"lease lowest", nil, []string{"SWITCHBOARD_LEASE", "5s"}, func(c *Config) { c.Lease = 5 * time.Second }},
		{"lease highest", []string{"--lease", "10m"}, nil, func(c *Config) { c.Lease = 10 * time.Minute }},
		{"log format json", nil, []string{"SWITCHBOARD_LOG_FORMAT", "json"}, func(c *Config) { c.LogFormat = "json" }},
		{"log format any case", []string{"--log-format", "JSON"}, nil, func(c *Config) { c.LogFormat = "json" }},
		{"log level debug", nil, []string{"SWITCHBOARD_LOG_LEVEL", "debug"}, func(c *Config) { c.LogLevel = slog.LevelDebug }},
		{"log level WARN", []string{"--log-level", "WARN"}, nil, func(c *Config) { c.LogLevel = slog.LevelWarn }},
		{"log level error", nil, []string{"SWITCHBOARD_LOG_LEVEL", "error"}, func(c *Config) { c.LogLevel = slog.LevelError }},
		{"sqlite normal", nil, []string{"SWITCHBOARD_SQLITE_SYNCHRONOUS", "normal"}, func(c *Config) { c.SQLiteSynchronous = "normal" }},
		{"sqlite FULL", []string{"--sqlite-synchronous", "FULL"}, nil, func(c *Config) { c.SQLiteSynchronous = "full" }},
		{"bootstrap token", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken}, func(c *Config) { c.BootstrapToken = goodToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, ServeCommand, tt.args, env(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if diff := cmp.Diff(want, *c); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantEnv  string // the variable the error must name
		wantFlag string // the flag it must name, "" when there is none
		fromFlag bool
		reason   string // a part of the reason
		secret   string // text that must not appear in the message
	}{
		{"addr without port", nil, []string{"SWITCHBOARD_ADDR", "localhost"}, "SWITCHBOARD_ADDR", "addr", false, "host:port", ""},
		{"addr port too big", nil, []string{"SWITCHBOARD_ADDR", "127.0.0.1:65536"}, "SWITCHBOARD_ADDR", "addr", false, "0 to 65535", ""},
		{"addr port by name", []string{"--addr", ":http"}, nil, "SWITCHBOARD_ADDR", "addr", true, "host:port", ""},
		{"debug addr on every interface", []string{"--debug-addr", ":6060"}, nil, "SWITCHBOARD_DEBUG_ADDR", "debug-addr", true, "loopback", ""},
		{"debug addr not loopback", nil, []string{"SWITCHBOARD_DEBUG_ADDR", "10.0.0.1:6060"}, "SWITCHBOARD_DEBUG_ADDR", "debug-addr", false, "loopback", ""},
		{"database empty flag", []string{"--database", ""}, nil, "SWITCHBOARD_DATABASE", "database", true, "not empty", ""},
		{"database bad URL", nil, []string{"SWITCHBOARD_DATABASE", "postgres://u:hunter2@db/sb%zz"},
			"SWITCHBOARD_DATABASE", "database", false, "valid postgres:// URL", "hunter2"},
		{"scheduler interval without unit", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "10"},
			"SWITCHBOARD_SCHEDULER_INTERVAL", "scheduler-interval", false, "with a unit", ""},
		{"scheduler interval not a duration", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "soon"},
			"SWITCHBOARD_SCHEDULER_INTERVAL", "scheduler-interval", false, "between 1s and 30s", ""},
		{"scheduler interval zero", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "0s"},
			"SWITCHBOARD_SCHEDULER_INTERVAL", "scheduler-interval", false, "between 1s and 30s", ""},
		{"scheduler interval too short", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "999ms"},
			"SWITCHBOARD_SCHEDULER_INTERVAL", "scheduler-interval", false, "between 1s and 30s", ""},
		{"scheduler interval too long", []string{"--scheduler-interval", "31s"}, nil,
			"SWITCHBOARD_SCHEDULER_INTERVAL", "scheduler-interval", true, "between 1s and 30s", ""},
		{"scheduler interval negative", nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "-5s"},
			"SWITCHBOARD_SCHEDULER_INTERVAL", "scheduler-interval", false, "between 1s and 30s", ""},
		{"allow private targets yes", nil, []string{"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "yes"},
			"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "allow-private-targets", false, "true or false (or 1 or 0)", ""},
		{"allow private targets 2", nil, []string{"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "2"},
			"SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "allow-private-targets", false, "true or false", ""},
		{"multi workspace yes", nil, []string{"SWITCHBOARD_MULTI_WORKSPACE", "yes"},
			"SWITCHBOARD_MULTI_WORKSPACE", "multi-workspace", false, "true or false (or 1 or 0)", ""},
		{"multi workspace on", nil, []string{"SWITCHBOARD_MULTI_WORKSPACE", "on"},
			"SWITCHBOARD_MULTI_WORKSPACE", "multi-workspace", false, "true or false", ""},
		{"multi workspace flag=yes", []string{"--multi-workspace=yes"}, nil,
			"SWITCHBOARD_MULTI_WORKSPACE", "multi-workspace", true, "true or false", ""},
		{"workers abc", nil, []string{"SWITCHBOARD_WORKERS", "abc"}, "SWITCHBOARD_WORKERS", "workers", false, "whole number from 1 to 256", ""},
		{"workers zero", nil, []string{"SWITCHBOARD_WORKERS", "0"}, "SWITCHBOARD_WORKERS", "workers", false, "from 1 to 256", ""},
		{"workers too many", nil, []string{"SWITCHBOARD_WORKERS", "257"}, "SWITCHBOARD_WORKERS", "workers", false, "from 1 to 256", ""},
		{"workers negative", nil, []string{"SWITCHBOARD_WORKERS", "-1"}, "SWITCHBOARD_WORKERS", "workers", false, "from 1 to 256", ""},
		{"workers fraction", nil, []string{"SWITCHBOARD_WORKERS", "4.5"}, "SWITCHBOARD_WORKERS", "workers", false, "whole number", ""},
		{"workers with space", nil, []string{"SWITCHBOARD_WORKERS", " 4"}, "SWITCHBOARD_WORKERS", "workers", false, "whole number", ""},
		{"workers flag abc", []string{"--workers", "abc"}, nil, "SWITCHBOARD_WORKERS", "workers", true, "whole number", ""},
		{"lease too short", nil, []string{"SWITCHBOARD_LEASE", "4s"}, "SWITCHBOARD_LEASE", "lease", false, "between 5s and 10m", ""},
		{"lease too long", []string{"--lease", "11m"}, nil, "SWITCHBOARD_LEASE", "lease", true, "between 5s and 10m", ""},
		{"lease without unit", nil, []string{"SWITCHBOARD_LEASE", "30"}, "SWITCHBOARD_LEASE", "lease", false, "with a unit", ""},
		{"log format xml", nil, []string{"SWITCHBOARD_LOG_FORMAT", "xml"}, "SWITCHBOARD_LOG_FORMAT", "log-format", false, "one of: text, json", ""},
		{"log level verbose", nil, []string{"SWITCHBOARD_LOG_LEVEL", "verbose"},
			"SWITCHBOARD_LOG_LEVEL", "log-level", false, "one of: debug, info, warn, error", ""},
		{"log level offset", []string{"--log-level", "info+2"}, nil,
			"SWITCHBOARD_LOG_LEVEL", "log-level", true, "one of: debug, info, warn, error", ""},
		{"sqlite off", nil, []string{"SWITCHBOARD_SQLITE_SYNCHRONOUS", "off"},
			"SWITCHBOARD_SQLITE_SYNCHRONOUS", "sqlite-synchronous", false, "one of: full, normal", ""},
		{"token of 43 '!'", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", "sbt_" + strings.Repeat("!", 43)},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, "43 base64url characters", strings.Repeat("!", 10)},
		{"token too short", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken[:len(goodToken)-1]},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, "exactly 43", goodToken[4:20]},
		{"token too long", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken + "A"},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, "exactly 43", goodToken[4:20]},
		{"token with standard base64", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken[:len(goodToken)-2] + "+/"},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, "base64url", goodToken[4:20]},
		{"token with padding", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken[:len(goodToken)-1] + "="},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, "base64url", goodToken[4:20]},
		{"token with another prefix", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", "sbx_" + goodToken[4:]},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, `"sbt_" followed by`, goodToken[4:20]},
		{"token without prefix", nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken[4:]},
			"SWITCHBOARD_BOOTSTRAP_TOKEN", "", false, `"sbt_" followed by`, goodToken[4:20]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, ServeCommand, tt.args, env(tt.env...))
			if err == nil {
				t.Fatalf("accepted, config %v", c)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %q is not a *config.Error", err, err)
			}
			if e.Env != tt.wantEnv || e.Flag != tt.wantFlag || e.FromFlag != tt.fromFlag {
				t.Errorf("error names env %q flag %q fromFlag %v; want %q %q %v", e.Env, e.Flag, e.FromFlag, tt.wantEnv, tt.wantFlag, tt.fromFlag)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantEnv) {
				t.Errorf("message %q does not name %s", msg, tt.wantEnv)
			}
			if tt.wantFlag != "" && !strings.Contains(msg, "--"+tt.wantFlag) {
				t.Errorf("message %q does not name --%s", msg, tt.wantFlag)
			}
			first := tt.wantEnv
			if tt.fromFlag {
				first = "--" + tt.wantFlag
			}
			if !strings.HasPrefix(msg, "invalid "+first+" ") {
				t.Errorf("message %q does not start with where the value came from (%s)", msg, first)
			}
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("message %q does not say %q", msg, tt.reason)
			}
			if tt.secret != "" && strings.Contains(msg, tt.secret) {
				t.Errorf("message %q shows the secret %q", msg, tt.secret)
			}
		})
	}
}

// TestErrorMessages pins the exact text an operator reads for the cases
// the issue names.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{nil, []string{"SWITCHBOARD_WORKERS", "abc"},
			`invalid SWITCHBOARD_WORKERS "abc" (flag --workers): must be a whole number from 1 to 256`},
		{[]string{"--workers", "abc"}, nil,
			`invalid --workers "abc" (variable SWITCHBOARD_WORKERS): must be a whole number from 1 to 256`},
		{nil, []string{"SWITCHBOARD_MULTI_WORKSPACE", "yes"},
			`invalid SWITCHBOARD_MULTI_WORKSPACE "yes" (flag --multi-workspace): must be true or false (or 1 or 0)`},
		{nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "10"},
			`invalid SWITCHBOARD_SCHEDULER_INTERVAL "10" (flag --scheduler-interval): must be a duration with a unit, such as 10s, between 1s and 30s`},
		{nil, []string{"SWITCHBOARD_SCHEDULER_INTERVAL", "1m"},
			`invalid SWITCHBOARD_SCHEDULER_INTERVAL "1m" (flag --scheduler-interval): must be between 1s and 30s`},
		{nil, []string{"SWITCHBOARD_BOOTSTRAP_TOKEN", "sbt_" + strings.Repeat("!", 43)},
			`invalid SWITCHBOARD_BOOTSTRAP_TOKEN (47 characters, not shown): must be "sbt_" followed by exactly 43 base64url characters ` +
				"(A-Z, a-z, 0-9, - and _), such as \"sbt_\" followed by the output of `head -c 32 /dev/urandom | basenc --base64url | tr -d =`"},
		{nil, []string{"SWITCHBOARD_DATABASE", "postgres://u:hunter2@db/sb%zz"},
			`invalid SWITCHBOARD_DATABASE "postgres://xxxxx" (flag --database): must be a valid postgres:// URL: invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, ServeCommand, tt.args, env(tt.env...))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v\nwant        %s", err, tt.want)
			}
		})
	}
}

func TestEveryInvalidSettingIsReported(t *testing.T) {
	t.Parallel()
	_, err := parse(t, ServeCommand, []string{"--lease", "1s"},
		env("SWITCHBOARD_WORKERS", "abc", "SWITCHBOARD_MULTI_WORKSPACE", "yes", "SWITCHBOARD_LOG_FORMAT", "xml"))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"SWITCHBOARD_MULTI_WORKSPACE", "SWITCHBOARD_WORKERS", "--lease", "SWITCHBOARD_LOG_FORMAT"}
	if len(lines) != len(want) {
		t.Fatalf("%d errors, want %d:\n%s", len(lines), len(want), err)
	}
	for i, name := range want {
		if !strings.HasPrefix(lines[i], "invalid "+name+" ") {
			t.Errorf("error %d is %q, want one about %s", i, lines[i], name)
		}
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		args        []string
		env         []string
		wantWorkers int
	}{
		{"default", nil, nil, 0},
		{"auto", nil, []string{"SWITCHBOARD_WORKERS", "auto"}, 0},
		{"environment over default", nil, []string{"SWITCHBOARD_WORKERS", "8"}, 8},
		{"flag over environment", []string{"--workers", "16"}, []string{"SWITCHBOARD_WORKERS", "8"}, 16},
		{"flag equal to the default still wins", []string{"--workers", "auto"}, []string{"SWITCHBOARD_WORKERS", "8"}, 0},
		{"a flag makes a bad variable irrelevant", []string{"--workers", "2"}, []string{"SWITCHBOARD_WORKERS", "abc"}, 2},
		{"empty variable counts as unset", nil, []string{"SWITCHBOARD_WORKERS", ""}, 0},
		{"last flag wins", []string{"--workers", "2", "--workers", "3"}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, ServeCommand, tt.args, env(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			if c.Workers != tt.wantWorkers {
				t.Errorf("workers %d, want %d", c.Workers, tt.wantWorkers)
			}
		})
	}
	t.Run("every setting: flag over environment over default", func(t *testing.T) {
		t.Parallel()
		for _, o := range options {
			if o.flag == "" {
				continue
			}
			var envVal, flagVal string
			switch o.key {
			case "addr":
				envVal, flagVal = ":1", ":2"
			case "database":
				envVal, flagVal = "env.db", "flag.db"
			case "debug_addr":
				envVal, flagVal = "127.0.0.1:6060", "[::1]:6061"
			case "scheduler_interval":
				envVal, flagVal = "2s", "3s"
			case "allow_private_targets", "multi_workspace":
				envVal, flagVal = "true", "false"
			case "workers":
				envVal, flagVal = "2", "3"
			case "lease":
				envVal, flagVal = "6s", "7s"
			case "log_format":
				envVal, flagVal = "json", "text"
			case "log_level":
				envVal, flagVal = "debug", "error"
			case "sqlite_synchronous":
				envVal, flagVal = "normal", "full"
			default:
				t.Fatalf("no precedence case for %s: add one", o.key)
			}
			fromEnv := shown(t, o.key, nil, env(o.env, envVal))
			fromBoth := shown(t, o.key, []string{"--" + o.flag + "=" + flagVal}, env(o.env, envVal))
			if fromEnv == fromBoth {
				t.Errorf("%s: same value %q from the variable and from the flag; the case cannot tell them apart", o.key, fromEnv)
			}
			if want := shown(t, o.key, []string{"--" + o.flag + "=" + flagVal}, env()); fromBoth != want {
				t.Errorf("%s: flag and variable give %q, want the flag's %q", o.key, fromBoth, want)
			}
			if def := shown(t, o.key, nil, env()); def == fromEnv {
				t.Errorf("%s: the variable's value %q equals the default; the case proves nothing", o.key, fromEnv)
			}
		}
	})
}

// shown is one setting's displayed value after parsing args and env.
func shown(t *testing.T, key string, args []string, lookup func(string) (string, bool)) string {
	t.Helper()
	c, err := parse(t, ServeCommand, args, lookup)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	for _, s := range c.Settings() {
		if s.Key == key {
			return s.Value
		}
	}
	t.Fatalf("no setting %s", key)
	return ""
}

func TestStoreCommandReadsOnlyItsSettings(t *testing.T) {
	t.Parallel()
	// A server setting in the environment, even a bad one, does not concern
	// migrate or token create.
	c, err := parse(t, StoreCommand, []string{"--database", "x.db", "--log-level", "debug"},
		env("SWITCHBOARD_WORKERS", "abc", "SWITCHBOARD_BOOTSTRAP_TOKEN", "bad", "SWITCHBOARD_SQLITE_SYNCHRONOUS", "normal"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{{"database", "x.db"}, {"log_format", "text"}, {"log_level", "debug"}, {"sqlite_synchronous", "normal"}}
	if diff := cmp.Diff(want, c.Settings()); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	// Nor are its flags declared.
	if _, err := parse(t, StoreCommand, []string{"--workers", "2"}, env()); !errors.Is(err, ErrUsage) {
		t.Errorf("--workers on a store command: %v, want ErrUsage", err)
	}
	// Its own settings are checked as strictly as serve's.
	_, err = parse(t, StoreCommand, nil, env("SWITCHBOARD_SQLITE_SYNCHRONOUS", "off"))
	var e *Error
	if !errors.As(err, &e) || e.Env != "SWITCHBOARD_SQLITE_SYNCHRONOUS" {
		t.Errorf("bad SWITCHBOARD_SQLITE_SYNCHRONOUS on a store command: %v", err)
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	c, err := parse(t, ServeCommand, []string{"--lease", "10m", "--multi-workspace"}, env(
		"SWITCHBOARD_DATABASE", "postgres://sb:s3cret@db:5432/sb?sslmode=disable",
		"SWITCHBOARD_BOOTSTRAP_TOKEN", goodToken))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{"addr", "127.0.0.1:8080"},
		{"debug_addr", ""},
		{"database", "postgres://sb:xxxxx@db:5432/sb?sslmode=disable"},
		{"scheduler_interval", "10s"},
		{"allow_private_targets", "false"},
		{"multi_workspace", "true"},
		{"workers", "auto"},
		{"lease", "10m"},
		{"log_format", "text"},
		{"log_level", "info"},
		{"sqlite_synchronous", "full"},
		{"bootstrap_token", "xxxxx"},
	}
	if diff := cmp.Diff(want, c.Settings()); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestMasking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		database  string
		token     string
		wantDB    string
		wantToken string
	}{
		{"sqlite path shown", "/data/sb.db", "", "/data/sb.db", ""},
		{"URL without password shown", "postgres://sb@db/sb", "", "postgres://sb@db/sb", ""},
		{"password in user information", "postgres://sb:pa%3Ass@db/sb", goodToken, "postgres://sb:xxxxx@db/sb", "xxxxx"},
		{"password in query", "postgresql://db/sb?user=sb&password=hunter2&sslmode=require", "",
			"postgresql://db/sb?password=xxxxx&sslmode=require&user=sb", ""},
		{"password in both", "postgres://sb:one@db/sb?password=two", "", "postgres://sb:xxxxx@db/sb?password=xxxxx", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, ServeCommand, []string{"--database", tt.database},
				env("SWITCHBOARD_BOOTSTRAP_TOKEN", tt.token))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range c.Settings() {
				got[s.Key] = s.Value
			}
			if got["database"] != tt.wantDB || got["bootstrap_token"] != tt.wantToken {
				t.Errorf("database %q token %q, want %q %q", got["database"], got["bootstrap_token"], tt.wantDB, tt.wantToken)
			}
			// However the configuration is printed or logged, no secret shows.
			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("effective configuration", "config", c)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("effective configuration", "config", c)
			outputs := map[string]string{"%v": fmt.Sprintf("%v", c), "String": c.String(), "text log": text.String(), "JSON log": js.String()}
			for how, out := range outputs {
				for _, secret := range []string{"pa%3Ass", "pa:ss", "hunter2", "one", "two", goodToken[4:]} {
					if strings.Contains(tt.database+tt.token, secret) && strings.Contains(out, secret) {
						t.Errorf("%s shows %q: %s", how, secret, out)
					}
				}
				if strings.Contains(tt.wantDB+tt.wantToken, "xxxxx") && !strings.Contains(out, "xxxxx") {
					t.Errorf("%s does not show the mask: %s", how, out)
				}
			}
		})
	}
	t.Run("log lists every setting", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, ServeCommand, nil, env())
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("effective configuration", "config", c)
		for _, s := range c.Settings() {
			if !strings.Contains(text.String(), " config."+s.Key+"=") {
				t.Errorf("log line lacks %s: %s", s.Key, text.String())
			}
		}
	})
}

func TestHelpAndUsage(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := NewParser("serve", ServeCommand, &out).Parse([]string{"-h"}, env())
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	for _, o := range options {
		if !strings.Contains(out.String(), o.env) {
			t.Errorf("help does not mention %s:\n%s", o.env, out.String())
		}
		if o.flag != "" && !strings.Contains(out.String(), "-"+o.flag) {
			t.Errorf("help does not mention --%s", o.flag)
		}
	}
	if !strings.Contains(out.String(), "(default 10s)") {
		t.Errorf("help does not show the defaults:\n%s", out.String())
	}

	out.Reset()
	if _, err := NewParser("serve", ServeCommand, &out).Parse([]string{"--no-such-flag"}, env()); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown flag: %v, want ErrUsage", err)
	}
	if !strings.Contains(out.String(), "no-such-flag") {
		t.Errorf("the flag package did not report the unknown flag: %s", out.String())
	}
	if _, err := parse(t, ServeCommand, []string{"--workers"}, env()); !errors.Is(err, ErrUsage) {
		t.Errorf("flag without its value: %v, want ErrUsage", err)
	}
	if _, err := parse(t, ServeCommand, []string{"extra"}, env()); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Errorf("positional argument: %v", err)
	}
}

func TestCommandFlags(t *testing.T) {
	t.Parallel()
	p := NewParser("token create", StoreCommand, io.Discard)
	role := p.Flags().String("role", "admin", "token role")
	c, err := p.Parse([]string{"--role", "agent", "--database", "t.db"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if *role != "agent" || c.Database != "t.db" {
		t.Errorf("role %q database %q", *role, c.Database)
	}
}

func TestUsesPostgres(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]bool{
		"postgres://db/sb": true, "postgresql://db/sb": true, "./switchboard.db": false, "/tmp/postgres.db": false,
	} {
		c := Config{Database: dsn}
		if got := c.UsesPostgres(); got != want {
			t.Errorf("UsesPostgres(%q) = %v", dsn, got)
		}
	}
}

func TestWorkersFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		workers        int
		dialect        string
		wantN, wantBat int
	}{
		{0, "sqlite", 2, 128},
		{0, "postgres", 4, 32},
		{6, "sqlite", 6, 128},
		{6, "postgres", 6, 32},
	} {
		if n, b := WorkersFor(tt.workers, tt.dialect); n != tt.wantN || b != tt.wantBat {
			t.Errorf("WorkersFor(%d, %s) = %d, %d; want %d, %d", tt.workers, tt.dialect, n, b, tt.wantN, tt.wantBat)
		}
	}
}
