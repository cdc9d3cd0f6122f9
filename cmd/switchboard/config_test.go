package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

// TestServeRefusesBadConfiguration: a setting that cannot be parsed or is
// out of range stops `serve` before it opens the store, with a message
// naming the variable (docs/operations.md#configuration; issue 7 items 12 and 14). Before, each
// of these started a server on a silent default.
func TestServeRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string // NAME=value
		args []string
		want string // in stderr
	}{
		{"workers abc", "SWITCHBOARD_WORKERS=abc", nil,
			`invalid SWITCHBOARD_WORKERS "abc" (flag --workers): must be a whole number from 1 to 256`},
		{"multi workspace yes", "SWITCHBOARD_MULTI_WORKSPACE=yes", nil,
			`invalid SWITCHBOARD_MULTI_WORKSPACE "yes" (flag --multi-workspace): must be true or false`},
		{"scheduler interval without unit", "SWITCHBOARD_SCHEDULER_INTERVAL=10", nil,
			`invalid SWITCHBOARD_SCHEDULER_INTERVAL "10" (flag --scheduler-interval)`},
		{"lease out of range", "SWITCHBOARD_LEASE=1s", nil,
			`invalid SWITCHBOARD_LEASE "1s" (flag --lease): must be between 5s and 10m`},
		{"bootstrap token of 43 '!'", "SWITCHBOARD_BOOTSTRAP_TOKEN=sbt_" + strings.Repeat("!", 43), nil,
			`invalid SWITCHBOARD_BOOTSTRAP_TOKEN (47 characters, not shown)`},
		{"workers flag", "", []string{"--workers", "0"},
			`invalid --workers "0" (variable SWITCHBOARD_WORKERS)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "switchboard.db")
			var env []string
			if tt.env != "" {
				env = []string{tt.env}
			}
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", db}, tt.args...)
			code, stdout, stderr := runCommand(t, env, args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "switchboard: "+tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stderr, "!!!!!!!!!!") {
				t.Errorf("stderr shows the rejected token:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout: %s", stdout)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("the store was opened before the configuration was checked (stat: %v)", err)
			}
		})
	}
}

// TestStoreCommandsRefuseBadConfiguration: migrate and token create check
// the settings they read as strictly, and ignore the server's.
func TestStoreCommandsRefuseBadConfiguration(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"migrate"}, {"token", "create"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "switchboard.db")
			args := append(append([]string{}, cmd...), "--database", db)
			code, _, stderr := runCommand(t, []string{"SWITCHBOARD_SQLITE_SYNCHRONOUS=off"}, args...)
			if code != 1 || !strings.Contains(stderr, `invalid SWITCHBOARD_SQLITE_SYNCHRONOUS "off" (flag --sqlite-synchronous)`) {
				t.Errorf("exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
	t.Run("server settings are not read", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "switchboard.db")
		if code, _, stderr := runCommand(t, []string{"SWITCHBOARD_WORKERS=abc"}, "migrate", "--database", db); code != 0 {
			t.Errorf("a server setting failed migrate: exit %d, stderr:\n%s", code, stderr)
		}
	})
}

// TestServeLogsEffectiveConfiguration: the configuration a server runs
// with is logged at start, the bootstrap token masked.
func TestServeLogsEffectiveConfiguration(t *testing.T) {
	t.Parallel()
	token := auth.NewToken()
	s := startServer(t, "logged configuration", []string{"SWITCHBOARD_BOOTSTRAP_TOKEN=" + token, "SWITCHBOARD_LEASE=45s"},
		"--database", filepath.Join(t.TempDir(), "switchboard.db"), "--workers", "3")
	if code, _ := s.Term(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	logs := s.stderr.String()
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `msg="effective configuration"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no effective configuration logged:\n%s", logs)
	}
	for _, want := range []string{"config.addr=127.0.0.1:0", "config.workers=3", "config.lease=45s",
		"config.scheduler_interval=10s", "config.bootstrap_token=xxxxx", "config.multi_workspace=false"} {
		if !strings.Contains(line, want) {
			t.Errorf("configuration line lacks %s: %s", want, line)
		}
	}
	if strings.Contains(logs, token[len(auth.TokenPrefix):]) {
		t.Error("the bootstrap token is in the logs")
	}
}
