package main

// The end-to-end tests in this package run the real binary: the test binary
// re-executes itself as a child process (TestMain below) and the tests talk
// to it over HTTP on 127.0.0.1, kill it, restart it, and read back what it
// stored. This file is the harness; the scenarios are in e2e_*_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

const (
	// envChild makes the test binary behave as the switchboard binary.
	envChild = "SWITCHBOARD_TEST_CHILD"
	// envChildArgs holds the child's command line, JSON-encoded, so that
	// it cannot be confused with the testing package's flags.
	envChildArgs = "SWITCHBOARD_TEST_CHILD_ARGS"
)

// TestMain runs the tests, or, in a child started by startProc, the
// command line in envChildArgs exactly as main would.
func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv(envChildArgs)), &args); err != nil {
			fmt.Fprintf(os.Stderr, "test child: %s: %v\n", envChildArgs, err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, args, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// Time limits of the harness. Every wait is bounded by one of them.
const (
	startTimeout   = 30 * time.Second // until /readyz answers 200
	exitTimeout    = 15 * time.Second // for a process to exit after a signal
	commandTimeout = 60 * time.Second // for migrate, token create, version
	requestTimeout = 30 * time.Second // one HTTP request
	// termBudget is how long SIGTERM may take (docs/operations.md#configuration).
	termBudget = 10 * time.Second
)

// tokenPattern matches an API token (auth.NewToken's format).
var tokenPattern = regexp.MustCompile(`sbt_[A-Za-z0-9_-]{43}`)

// addrPattern finds the listen address in the "switchboard listening" log
// line, in text (addr=127.0.0.1:1234) and JSON ("addr":"127.0.0.1:1234");
// only in that line, because the configuration logged before it holds the
// requested address (127.0.0.1:0).
var addrPattern = regexp.MustCompile(`switchboard listening[^\n]*?\baddr"?[=:]"?(127\.0\.0\.1:[0-9]+)`)

// syncBuffer collects a child's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a child process running the switchboard command line.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{} // closed when the process has exited
	state  *os.ProcessState
}

// childEnv is the test's environment without any SWITCHBOARD_ setting
// (a developer's own configuration must not leak into the children), plus
// extra.
func childEnv(args []string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHBOARD_") {
			env = append(env, kv)
		}
	}
	raw, _ := json.Marshal(args)
	env = append(env, envChild+"=1", envChildArgs+"="+string(raw))
	return append(env, extra...)
}

// startProc starts the test binary as `switchboard args...`. The process
// is killed when the test ends, if it still runs; its output is logged
// when the test failed, and a data race it reported fails the test.
func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = childEnv(args, env)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: start %v: %v", name, args, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done // SIGKILL cannot be ignored; Wait returns promptly
		}
		errs := p.stderr.String()
		if strings.Contains(errs, "WARNING: DATA RACE") {
			t.Errorf("%s: the child reported a data race", name)
		}
		if t.Failed() {
			t.Logf("%s: stdout:\n%s", name, tail(p.stdout.String(), 4<<10))
			t.Logf("%s: stderr (last 32 KiB):\n%s", name, tail(errs, 32<<10))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process (nothing if it has exited).
func (p *proc) signal(sig os.Signal) error {
	if p.exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// waitExit waits at most timeout for the process to exit. It returns the
// exit code (-1 when a signal ended it) and whether it exited at all.
func (p *proc) waitExit(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.state.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// Kill ends the process with SIGKILL and waits for it: a crash.
func (p *proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: SIGKILL: %v", p.name, err)
	}
	if _, ok := p.waitExit(exitTimeout); !ok {
		t.Fatalf("%s: still running %s after SIGKILL", p.name, exitTimeout)
	}
}

// Term sends SIGTERM and returns the exit code and how long the exit took.
func (p *proc) Term(t testing.TB) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	code, ok := p.waitExit(exitTimeout)
	if !ok {
		t.Fatalf("%s: still running %s after SIGTERM", p.name, exitTimeout)
	}
	return code, time.Since(start)
}

// runCommand runs `switchboard args...` to completion and returns its exit
// code and output.
func runCommand(t testing.TB, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startProc(t, strings.Join(args, " "), env, args...)
	code, ok := p.waitExit(commandTimeout)
	if !ok {
		t.Fatalf("switchboard %s: still running after %s", strings.Join(args, " "), commandTimeout)
	}
	return code, p.stdout.String(), p.stderr.String()
}

// server is a running `switchboard serve`.
type server struct {
	*proc
	base string // http://127.0.0.1:port
}

// httpClient is shared by every test: connections are kept alive per
// server, and no request waits longer than requestTimeout.
var httpClient = &http.Client{
	Timeout:   requestTimeout,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
}

// startServer starts `switchboard serve --addr 127.0.0.1:0 args...`, finds
// the port it listens on in its log and waits until /readyz answers 200.
func startServer(t testing.TB, name string, env []string, args ...string) *server {
	t.Helper()
	p := startProc(t, name, env, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	deadline := time.Now().Add(startTimeout)
	var addr string
	for {
		if m := addrPattern.FindStringSubmatch(p.stderr.String()); m != nil {
			addr = m[1]
			break
		}
		if p.exited() {
			t.Fatalf("%s: exited with code %d before listening; stderr:\n%s", name, p.state.ExitCode(), tail(p.stderr.String(), 8<<10))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no listen address logged within %s", name, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := &server{proc: p, base: "http://" + addr}
	for {
		status, _, err := s.do(context.Background(), "GET", "/readyz", "", nil)
		if err == nil && status == http.StatusOK {
			return s
		}
		if p.exited() {
			t.Fatalf("%s: exited with code %d before it was ready", name, p.state.ExitCode())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /readyz not 200 within %s (last: %d, %v)", name, startTimeout, status, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// do sends one request; body, when not nil, is sent as JSON.
func (s *server) do(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// call sends a request from the test goroutine and fails the test unless
// the status is want. It returns the response body.
func (s *server) call(t testing.TB, method, path, token string, body any, want int) []byte {
	t.Helper()
	status, raw, err := s.do(context.Background(), method, path, token, body)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", s.name, method, path, err)
	}
	if status != want {
		t.Fatalf("%s: %s %s: status %d, want %d; body: %s", s.name, method, path, status, want, tail(string(raw), 2<<10))
	}
	return raw
}

// decode unmarshals a response body or fails the test.
func decode[T any](t testing.TB, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T: %v; body: %s", v, err, tail(string(raw), 2<<10))
	}
	return v
}

// ---- the API's objects, as far as these tests read them ----

type eventView struct {
	ID             string     `json:"id"`
	ConversationID *string    `json:"conversation_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	ProcessedAt    *time.Time `json:"processed_at"`
	Error          *string    `json:"error"`
	Payload        struct {
		Seq int `json:"seq"`
	} `json:"payload"`
}

type runView struct {
	ID        string    `json:"id"`
	EventID   string    `json:"event_id"`
	RuleID    int64     `json:"rule_id"`
	Matched   bool      `json:"matched"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

type envelope[T any] struct {
	Data       []T     `json:"data"`
	Total      int     `json:"total"`
	NextCursor *string `json:"next_cursor"`
}

// maxPages bounds a listing: 1,000 pages of 500 rows.
const maxPages = 1000

// listAll reads every row of a paginated listing (docs/concepts.md#conventions), oldest
// first, following next_cursor.
func listAll[T any](t testing.TB, s *server, token, path string) []T {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	base := path + sep + "per_page=500&sort_order=asc"
	var all []T
	next := base
	for range maxPages {
		page := decode[envelope[T]](t, s.call(t, "GET", next, token, nil, http.StatusOK))
		all = append(all, page.Data...)
		if page.NextCursor == nil {
			return all
		}
		if len(page.Data) == 0 {
			t.Fatalf("%s: GET %s: an empty page with a next_cursor", s.name, next)
		}
		next = base + "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatalf("%s: GET %s: more than %d pages", s.name, path, maxPages)
	return nil
}

// countEvents returns how many events have the status.
func countEvents(t testing.TB, s *server, token, status string) int {
	t.Helper()
	raw := s.call(t, "GET", "/v1/automation/events?per_page=1&status="+status, token, nil, http.StatusOK)
	return decode[envelope[eventView]](t, raw).Total
}

// waitQueueEmpty polls until no event is pending or processing, at most
// timeout, and fails the test at once if an event failed.
func waitQueueEmpty(t testing.TB, s *server, token string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		pending := countEvents(t, s, token, "pending")
		processing := countEvents(t, s, token, "processing")
		if failed := countEvents(t, s, token, "failed"); failed > 0 {
			raw := s.call(t, "GET", "/v1/automation/events?per_page=3&status=failed", token, nil, http.StatusOK)
			t.Fatalf("%s: %d events failed; the first: %s", s.name, failed, tail(string(raw), 4<<10))
		}
		if pending == 0 && processing == 0 {
			t.Logf("%s: queue empty after %s", s.name, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after %s, %d events are still pending and %d processing (processed: %d)",
				s.name, timeout, pending, processing, countEvents(t, s, token, "processed"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---- ingestion, safe to call from any goroutine ----

// messageEvent is a messages.incoming event of conversation conv; seq is
// kept in the payload so a test can tell events apart.
func messageEvent(conv string, seq int) map[string]any {
	return map[string]any{
		"event_type":      "messages.incoming",
		"conversation_id": conv,
		"payload": map[string]any{
			"seq":          seq,
			"conversation": map[string]any{"id": conv, "status": "open"},
			"contact":      map[string]any{"email": "customer-" + conv + "@example.com"},
			"message": map[string]any{
				"subject": "Order " + conv, "body": fmt.Sprintf("message %d", seq),
				"from_email": "customer-" + conv + "@example.com", "direction": "incoming",
			},
		},
	}
}

// ingest posts events (one alone, several as a batch) and returns the ids
// that were acknowledged with 202. Any other outcome is an error.
func (s *server) ingest(ctx context.Context, token string, events []map[string]any) ([]string, error) {
	if len(events) == 1 {
		status, raw, err := s.do(ctx, "POST", "/v1/automation/events", token, events[0])
		if err != nil {
			return nil, err
		}
		if status != http.StatusAccepted {
			return nil, fmt.Errorf("POST /v1/automation/events: status %d: %s", status, tail(string(raw), 1<<10))
		}
		var res struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &res); err != nil || res.ID == "" {
			return nil, fmt.Errorf("POST /v1/automation/events: no id in %s", tail(string(raw), 1<<10))
		}
		return []string{res.ID}, nil
	}
	status, raw, err := s.do(ctx, "POST", "/v1/automation/events/batch", token, map[string]any{"events": events})
	if err != nil {
		return nil, err
	}
	if status != http.StatusAccepted {
		return nil, fmt.Errorf("POST /v1/automation/events/batch: status %d: %s", status, tail(string(raw), 1<<10))
	}
	var res struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || len(res.Data) != len(events) {
		return nil, fmt.Errorf("POST /v1/automation/events/batch: want %d ids in %s", len(events), tail(string(raw), 1<<10))
	}
	ids := make([]string, len(res.Data))
	for i, d := range res.Data {
		ids[i] = d.ID
	}
	return ids, nil
}

// ---- fixtures ----

// skipIfShort skips the heavy end-to-end scenarios under go test -short.
func skipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end process test; skipped with -short")
	}
}

// createRules makes the rules the pipeline tests count runs of, both on
// messages.incoming: "tag" always matches and tags the conversation;
// "never" has a condition that never holds. So every event gets exactly
// one run of each: a matched one and a not_matched one.
func createRules(t testing.TB, s *server, token string) (tag, never int64) {
	t.Helper()
	tg := decode[struct {
		ID int64 `json:"id"`
	}](t, s.call(t, "POST", "/v1/tags", token, map[string]any{"name": "e2e"}, http.StatusCreated))
	action := []any{map[string]any{"type": "add_tag", "tag_id": tg.ID}}
	mk := func(body map[string]any) int64 {
		r := decode[struct {
			ID int64 `json:"id"`
		}](t, s.call(t, "POST", "/v1/automation/rules", token, body, http.StatusCreated))
		return r.ID
	}
	tag = mk(map[string]any{"name": "tag every message", "trigger_type": "messages.incoming",
		"conditions": []any{}, "actions": action})
	never = mk(map[string]any{"name": "never matches", "trigger_type": "messages.incoming",
		"conditions": []any{map[string]any{"field": "message.subject", "operator": "equals", "value": "no subject is ever this"}},
		"actions":    action})
	return tag, never
}

// postgresURL is a fresh schema (storetest.PostgresURL; skips without
// SWITCHBOARD_TEST_POSTGRES) with room for a node's workers and requests.
func postgresURL(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}
