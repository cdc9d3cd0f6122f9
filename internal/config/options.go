package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

// option is one setting: where it is read from, its default, how its text
// becomes a field of Config (parsing and range checks together, so there
// is one place that decides what is valid) and how it is shown.
type option struct {
	key       string // name in Settings and in logs
	flag      string // flag name without dashes; "" when only the variable sets it
	env       string // environment variable
	def       string // default, as text; parsed by set like any other value
	usage     string // flag help; the variable is appended
	isBool    bool   // a bare --flag means true
	serveOnly bool   // read by serve only, not by the store commands
	// set parses v into c. Its error is the reason, phrased to follow the
	// setting's name ("must be ...").
	set func(c *Config, v string) error
	// show is the effective value for display, masked when secret.
	show func(c *Config) string
	// display, when set, is how a rejected value is quoted in an error
	// (a secret is never echoed).
	display func(v string) string
}

func (o *option) appliesTo(cmd Command) bool { return cmd == ServeCommand || !o.serveOnly }

// Ranges of the settings, also quoted in their error messages.
const (
	minSchedulerInterval = time.Second
	maxSchedulerInterval = 30 * time.Second
	minWorkers           = 1
	maxWorkers           = 256
	minLease             = 5 * time.Second
	maxLease             = 10 * time.Minute
)

// bootstrapTokenLength is the number of base64url characters after the
// prefix in a token: auth.NewToken encodes 32 random bytes without padding.
const bootstrapTokenLength = 43

// options is every setting, in the order Settings lists them.
var options = []*option{
	{
		key: "addr", flag: "addr", env: "SWITCHBOARD_ADDR", def: "127.0.0.1:8080", serveOnly: true,
		usage: "listen address, `host:port`",
		set: func(c *Config, v string) (err error) {
			c.Addr, err = parseAddr(v)
			return err
		},
		show: func(c *Config) string { return c.Addr },
	},
	{
		key: "debug_addr", flag: "debug-addr", env: "SWITCHBOARD_DEBUG_ADDR", def: "", serveOnly: true,
		usage: "loopback `host:port` serving pprof profiles (off when empty)",
		set: func(c *Config, v string) (err error) {
			c.DebugAddr, err = parseDebugAddr(v)
			return err
		},
		show: func(c *Config) string { return c.DebugAddr },
	},
	{
		key: "database", flag: "database", env: "SWITCHBOARD_DATABASE", def: "./switchboard.db",
		usage: "SQLite file `path` or postgres:// URL",
		set: func(c *Config, v string) (err error) {
			c.Database, err = parseDatabase(v)
			return err
		},
		show:    func(c *Config) string { return maskDatabase(c.Database) },
		display: func(v string) string { return strconv.Quote(maskDatabase(v)) },
	},
	{
		key: "scheduler_interval", flag: "scheduler-interval", env: "SWITCHBOARD_SCHEDULER_INTERVAL", def: "10s", serveOnly: true,
		usage: "how often time-based triggers, snoozes and pauses are checked, a `duration` from 1s to 30s",
		set: func(c *Config, v string) (err error) {
			c.SchedulerInterval, err = parseDuration(v, minSchedulerInterval, maxSchedulerInterval)
			return err
		},
		show: func(c *Config) string { return formatDuration(c.SchedulerInterval) },
	},
	{
		key: "allow_private_targets", flag: "allow-private-targets", env: "SWITCHBOARD_ALLOW_PRIVATE_TARGETS", def: "false",
		isBool: true, serveOnly: true,
		usage: "allow webhooks to loopback and private addresses",
		set: func(c *Config, v string) (err error) {
			c.AllowPrivateTargets, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.AllowPrivateTargets) },
	},
	{
		key: "multi_workspace", flag: "multi-workspace", env: "SWITCHBOARD_MULTI_WORKSPACE", def: "false",
		isBool: true, serveOnly: true,
		usage: "allow admins to create more workspaces with POST /v1/workspaces",
		set: func(c *Config, v string) (err error) {
			c.MultiWorkspace, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.MultiWorkspace) },
	},
	{
		key: "workers", flag: "workers", env: "SWITCHBOARD_WORKERS", def: "auto", serveOnly: true,
		usage: "`number` of event workers on this node, 1..256, or auto (2 on SQLite, 4 on PostgreSQL)",
		set: func(c *Config, v string) (err error) {
			if v == "auto" {
				c.Workers = 0
				return nil
			}
			c.Workers, err = parseInt(v, minWorkers, maxWorkers)
			return err
		},
		show: func(c *Config) string {
			if c.Workers == 0 {
				return "auto"
			}
			return strconv.Itoa(c.Workers)
		},
	},
	{
		key: "lease", flag: "lease", env: "SWITCHBOARD_LEASE", def: "30s", serveOnly: true,
		usage: "how long a worker holds an event before another worker may take it, a `duration` from 5s to 10m",
		set: func(c *Config, v string) (err error) {
			c.Lease, err = parseDuration(v, minLease, maxLease)
			return err
		},
		show: func(c *Config) string { return formatDuration(c.Lease) },
	},
	{
		key: "log_format", flag: "log-format", env: "SWITCHBOARD_LOG_FORMAT", def: "text",
		usage: "log `format`: text or json",
		set: func(c *Config, v string) (err error) {
			c.LogFormat, err = parseChoice(v, "text", "json")
			return err
		},
		show: func(c *Config) string { return c.LogFormat },
	},
	{
		key: "log_level", flag: "log-level", env: "SWITCHBOARD_LOG_LEVEL", def: "info",
		usage: "lowest `level` logged: debug, info, warn or error",
		set: func(c *Config, v string) error {
			name, err := parseChoice(v, "debug", "info", "warn", "error")
			if err != nil {
				return err
			}
			return c.LogLevel.UnmarshalText([]byte(name))
		},
		show: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) },
	},
	{
		key: "sqlite_synchronous", flag: "sqlite-synchronous", env: "SWITCHBOARD_SQLITE_SYNCHRONOUS", def: "full",
		usage: "SQLite synchronous `mode`: full (a 202 survives power loss) or normal (faster; a power loss may lose the last commits)",
		set: func(c *Config, v string) (err error) {
			c.SQLiteSynchronous, err = parseChoice(v, "full", "normal")
			return err
		},
		show: func(c *Config) string { return c.SQLiteSynchronous },
	},
	{
		// No flag: a token on the command line is visible to every local
		// user in the process list.
		key: "bootstrap_token", env: "SWITCHBOARD_BOOTSTRAP_TOKEN", serveOnly: true,
		usage: "the admin token to create on an empty store: sbt_ and 43 base64url characters (generated when unset)",
		set: func(c *Config, v string) error {
			if v != "" && !validToken(v) {
				return fmt.Errorf("must be %q followed by exactly %d base64url characters (A-Z, a-z, 0-9, - and _), "+
					"such as %q followed by the output of `head -c 32 /dev/urandom | basenc --base64url | tr -d =`",
					auth.TokenPrefix, bootstrapTokenLength, auth.TokenPrefix)
			}
			c.BootstrapToken = v
			return nil
		},
		show:    func(c *Config) string { return maskToken(c.BootstrapToken) },
		display: func(v string) string { return fmt.Sprintf("(%d characters, not shown)", len(v)) },
	},
}

// validToken reports whether s has the documented token shape
// (docs/operations.md#configuration): the prefix and 43 characters of the base64url alphabet, which
// is what auth.NewToken produces.
func validToken(s string) bool {
	rest, ok := strings.CutPrefix(s, auth.TokenPrefix)
	if !ok || len(rest) != bootstrapTokenLength {
		return false
	}
	for i := 0; i < len(rest); i++ {
		switch ch := rest[i]; {
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
		default:
			return false
		}
	}
	return true
}

func parseAddr(v string) (string, error) {
	const want = "must be host:port, such as 127.0.0.1:8080 or :8080"
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New(want)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", errors.New(want + ", with a port from 0 to 65535")
	}
	return v, nil
}

// parseDebugAddr accepts "" (off) or a loopback host:port: profiles reveal
// memory contents and must not be reachable from the network.
func parseDebugAddr(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	const want = "must be empty or a loopback host:port, such as 127.0.0.1:6060"
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New(want)
	}
	if _, err := parseAddr(v); err != nil {
		return "", errors.New(want)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", errors.New(want)
	}
	return v, nil
}

func parseDatabase(v string) (string, error) {
	if v == "" {
		return "", errors.New("must be a SQLite file path or a postgres:// URL, not empty")
	}
	if isPostgres(v) {
		if _, err := url.Parse(v); err != nil {
			// url.Error repeats the whole URL, password included: keep
			// only the reason.
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return "", fmt.Errorf("must be a valid postgres:// URL: %v", err)
		}
	}
	return v, nil
}

func parseDuration(v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("must be a duration with a unit, such as 10s, between %s and %s", formatDuration(lo), formatDuration(hi))
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("must be between %s and %s", formatDuration(lo), formatDuration(hi))
	}
	return d, nil
}

// formatDuration is d as time.Duration writes it, without the zero units
// it appends to whole minutes and hours ("10m", not "10m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// parseBool accepts what strconv.ParseBool does (1, 0, true, false and
// their t/f/TRUE/False spellings); "yes", "on" and the like are refused
// rather than read as false.
func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false (or 1 or 0)")
	}
	return b, nil
}

// parseChoice accepts one of choices, in any case, and returns it in the
// case given.
func parseChoice(v string, choices ...string) (string, error) {
	for _, c := range choices {
		if strings.EqualFold(v, c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("must be one of: %s", strings.Join(choices, ", "))
}
