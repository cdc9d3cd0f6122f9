package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

// TestServeLifecycle runs the binary's commands the way an operator does
// (docs/concepts.md#workspaces-members-tokens-and-roles, docs/operations.md).
func TestServeLifecycle(t *testing.T) {
	t.Parallel()

	t.Run("bootstrap, token create, restart, migrate", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "switchboard.db")

		first := startServer(t, "first start", nil, "--database", db)
		printed := tokenPattern.FindAllString(first.stdout.String(), -1)
		if len(printed) != 1 {
			t.Fatalf("first start on an empty store printed %d tokens on stdout, want 1:\n%s", len(printed), first.stdout.String())
		}
		admin := printed[0]
		// No GET returns the signing secret: the bootstrap shows it, once.
		if n := strings.Count(first.stdout.String(), "whsec_"); n != 1 {
			t.Errorf("first start printed %d webhook signing secrets, want 1:\n%s", n, first.stdout.String())
		}
		first.call(t, "GET", "/v1/automation/rules", admin, nil, http.StatusOK)
		first.call(t, "GET", "/v1/automation/rules", auth.NewToken(), nil, http.StatusUnauthorized)

		// token create works beside a running server on the same file.
		code, stdout, stderr := runCommand(t, nil, "token", "create", "--workspace", "default", "--role", "agent", "--database", db)
		if code != 0 {
			t.Fatalf("token create: exit code %d; stderr:\n%s", code, stderr)
		}
		agent := strings.TrimSpace(stdout)
		if !tokenPattern.MatchString(agent) || len(agent) != len(admin) {
			t.Fatalf("token create printed %q on stdout, want just a token", stdout)
		}
		first.call(t, "GET", "/v1/automation/rules", agent, nil, http.StatusForbidden)
		accepted := decode[struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}](t, first.call(t, "POST", "/v1/automation/events", agent, messageEvent("lifecycle-1", 1), http.StatusAccepted))

		if code, took := first.Term(t); code != 0 || took > termBudget {
			t.Errorf("SIGTERM: exit code %d after %s, want 0 within %s", code, took, termBudget)
		}
		if n := len(tokenPattern.FindAllString(first.stdout.String(), -1)); n != 1 {
			t.Errorf("the admin token was printed %d times by the first process, want once", n)
		}

		second := startServer(t, "second start", nil, "--database", db)
		if out := second.stdout.String(); tokenPattern.MatchString(out) || strings.Contains(out, "Created workspace") || strings.Contains(out, "whsec_") {
			t.Errorf("a start on an existing store printed a token or a bootstrap message:\n%s", out)
		}
		second.call(t, "GET", "/v1/automation/rules", admin, nil, http.StatusOK)
		second.call(t, "GET", "/v1/automation/rules", agent, nil, http.StatusForbidden)
		// The event accepted before the restart is still there.
		second.call(t, "GET", "/v1/automation/events/"+accepted.ID, admin, nil, http.StatusOK)
		if code, took := second.Term(t); code != 0 || took > termBudget {
			t.Errorf("SIGTERM: exit code %d after %s, want 0 within %s", code, took, termBudget)
		}

		if code, stdout, stderr := runCommand(t, nil, "migrate", "--database", db); code != 0 {
			t.Errorf("migrate: exit code %d; stdout: %s; stderr:\n%s", code, stdout, stderr)
		}
	})

	t.Run("SWITCHBOARD_BOOTSTRAP_TOKEN and JSON logs", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "switchboard.db")
		token := auth.NewToken()
		s := startServer(t, "bootstrap token", []string{"SWITCHBOARD_BOOTSTRAP_TOKEN=" + token},
			"--database", db, "--log-format", "json")
		if out := s.stdout.String(); tokenPattern.MatchString(out) {
			t.Errorf("with SWITCHBOARD_BOOTSTRAP_TOKEN set, stdout shows a token:\n%s", out)
		}
		s.call(t, "GET", "/v1/automation/rules", token, nil, http.StatusOK)
		s.call(t, "GET", "/v1/automation/rules", auth.NewToken(), nil, http.StatusUnauthorized)
		s.call(t, "POST", "/v1/automation/events", token, messageEvent("lifecycle-2", 1), http.StatusAccepted)
		if code, took := s.Term(t); code != 0 || took > termBudget {
			t.Errorf("SIGTERM: exit code %d after %s, want 0 within %s", code, took, termBudget)
		}

		lines := 0
		for _, line := range strings.Split(s.stderr.String(), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			lines++
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Errorf("--log-format json: a stderr line is not a JSON object (%v): %s", err, line)
				continue
			}
			if _, ok := obj["msg"]; !ok {
				t.Errorf("--log-format json: a log line has no msg: %s", line)
			}
		}
		if lines == 0 {
			t.Error("--log-format json: nothing was logged")
		}
	})

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runCommand(t, nil, "version")
		if code != 0 || !strings.HasPrefix(stdout, "switchboard ") || len(strings.TrimSpace(stdout)) <= len("switchboard") {
			t.Errorf("version: exit code %d, stdout %q, stderr %q; want 0 and \"switchboard <version>\"", code, stdout, stderr)
		}
	})
}
