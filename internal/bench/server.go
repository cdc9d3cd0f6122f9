package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the bench reads the SQLite file's page counts
)

// Launcher returns the command that runs `switchboard args...` with the
// environment env (complete: it is not added to the caller's). The
// command line re-executes its own binary; a test runs its test binary as
// the switchboard binary.
type Launcher func(args, env []string) *exec.Cmd

// Time limits of the server's life cycle.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
)

// addrPattern finds the listen address in serve's "switchboard listening"
// log line, text (addr=127.0.0.1:1234) or JSON ("addr":"127.0.0.1:1234").
var addrPattern = regexp.MustCompile(`addr"?[=:]"?(127\.0\.0\.1:[0-9]+)`)

// serverProc is a running `switchboard serve`.
type serverProc struct {
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:port
	log   *tailWriter
	done  chan struct{}
	state *os.ProcessState
}

// tailWriter keeps the last bytes of a process's output and reports the
// listen address once it is logged.
type tailWriter struct {
	mu   sync.Mutex
	buf  []byte
	addr chan string
	line []byte
	sent bool
}

const tailBytes = 32 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	if !t.sent {
		// Only whole lines: a port cut in two by a write must not match.
		t.line = append(t.line, p...)
		for !t.sent {
			i := bytes.IndexByte(t.line, '\n')
			if i < 0 {
				break
			}
			ln := t.line[:i]
			if m := addrPattern.FindSubmatch(ln); m != nil && bytes.Contains(ln, []byte("listening")) {
				t.sent = true
				t.addr <- string(m[1])
			}
			t.line = t.line[i+1:]
		}
		if t.sent {
			t.line = nil
		}
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > tailBytes {
		return "…" + string(t.buf[len(t.buf)-tailBytes:])
	}
	return string(t.buf)
}

// serverEnv is the bench's environment for the server: every variable of
// ours except the ones the bench sets itself, so SWITCHBOARD_WORKERS and
// the like still apply (and are reported). It returns the environment and
// the SWITCHBOARD_ settings passed through.
func serverEnv(token string) (env, passed []string) {
	own := map[string]bool{"SWITCHBOARD_ADDR": true, "SWITCHBOARD_DATABASE": true, "SWITCHBOARD_BOOTSTRAP_TOKEN": true}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if own[name] {
			continue
		}
		env = append(env, kv)
		if strings.HasPrefix(name, "SWITCHBOARD_") && !strings.HasPrefix(name, "SWITCHBOARD_TEST") {
			passed = append(passed, kv)
		}
	}
	return append(env, "SWITCHBOARD_BOOTSTRAP_TOKEN="+token), passed
}

// startServer runs `serve` on a free loopback port with database and
// waits until /readyz answers 200.
func startServer(ctx context.Context, launch Launcher, database string, env []string) (*serverProc, error) {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database", database}
	s := &serverProc{cmd: launch(args, env), log: &tailWriter{addr: make(chan string, 1)}, done: make(chan struct{})}
	s.cmd.Stdout = io.Discard
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		s.state = s.cmd.ProcessState
		close(s.done)
	}()
	fail := func(err error) (*serverProc, error) {
		s.kill()
		return nil, fmt.Errorf("%w; server output:\n%s", err, s.log.String())
	}
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	select {
	case addr := <-s.log.addr:
		s.base = "http://" + addr
	case <-s.done:
		return fail(fmt.Errorf("the server exited with code %d before listening", s.state.ExitCode()))
	case <-deadline.C:
		return fail(fmt.Errorf("the server logged no listen address within %s", startTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := c.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return fail(fmt.Errorf("the server exited with code %d before it was ready", s.state.ExitCode()))
		case <-deadline.C:
			return fail(fmt.Errorf("/readyz did not answer 200 within %s", startTimeout))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (s *serverProc) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *serverProc) kill() {
	if !s.exited() {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// stop ends the server as an operator would (SIGTERM, which drains), and
// kills it if it does not exit in time.
func (s *serverProc) stop() error {
	if s.exited() {
		return fmt.Errorf("the server had already exited with code %d; output:\n%s", s.state.ExitCode(), s.log.String())
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM the server: %w", err)
	}
	select {
	case <-s.done:
		if code := s.state.ExitCode(); code != 0 {
			return fmt.Errorf("the server exited with code %d after SIGTERM; output:\n%s", code, s.log.String())
		}
		return nil
	case <-time.After(stopTimeout):
		s.kill()
		return fmt.Errorf("the server did not exit within %s of SIGTERM (killed)", stopTimeout)
	}
}

// peakRSS returns the server process's peak resident set size (VmHWM in
// /proc/<pid>/status), in bytes. Linux only; elsewhere an error.
func (s *serverProc) peakRSS() (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc status")
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100
// on every Linux architecture Go supports.
const userHZ = 100

// cpuTime returns the CPU time (user + system, every thread) the server
// process has used so far. Linux only; elsewhere an error.
func (s *serverProc) cpuTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'. utime and stime are fields 14 and 15.
	rest := string(raw)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU time: short /proc stat %q", raw)
	}
	var ticks int64
	for _, field := range f[11:13] {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("server CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// storeUnderTest is the database the server runs on, fresh for the bench.
type storeUnderTest struct {
	Dialect  string // "sqlite" or "postgres"
	Database string // what serve gets as --database
	// SQLite
	path    string
	tempDir string // removed at the end unless kept
	// PostgreSQL
	baseURL string
	schema  string
}

// isPostgres reports whether a --database value is a PostgreSQL URL.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// prepareStore makes the fresh database: a new SQLite file in a temporary
// directory (database ""), the SQLite file named (which must not exist:
// the bench needs its own bootstrap token to be the admin's), or a new
// schema with a random name in the PostgreSQL database of the URL.
func prepareStore(ctx context.Context, database string) (*storeUnderTest, error) {
	switch {
	case database == "":
		dir, err := os.MkdirTemp("", "switchboard-bench-")
		if err != nil {
			return nil, fmt.Errorf("temporary directory: %w", err)
		}
		p := filepath.Join(dir, "bench.db")
		return &storeUnderTest{Dialect: "sqlite", Database: p, path: p, tempDir: dir}, nil
	case isPostgres(database):
		u, err := url.Parse(database)
		if err != nil {
			return nil, fmt.Errorf("--database: %w", err)
		}
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		schema := "bench_" + hex.EncodeToString(b[:])
		st := &storeUnderTest{Dialect: "postgres", baseURL: database, schema: schema}
		if err := st.pgExec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", schema, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		st.Database = u.String()
		return st, nil
	default:
		if _, err := os.Stat(database); err == nil {
			return nil, fmt.Errorf("--database %s exists; the bench needs a fresh database (omit --database for a temporary file)", database)
		}
		return &storeUnderTest{Dialect: "sqlite", Database: database, path: database}, nil
	}
}

func (st *storeUnderTest) pgExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, st.baseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// sizeMethod says how size measures, for the report.
func (st *storeUnderTest) sizeMethod() string {
	if st.Dialect == "postgres" {
		return "pg_total_relation_size of the schema's tables (heap, TOAST, indexes)"
	}
	return "SQLite pages in use, free pages left out"
}

// size returns the store's bytes on disk (see sizeMethod).
func (st *storeUnderTest) size(ctx context.Context) (int64, error) {
	if st.Dialect == "postgres" {
		conn, err := pgx.Connect(ctx, st.baseURL)
		if err != nil {
			return 0, fmt.Errorf("store size: %w", err)
		}
		defer conn.Close(context.Background())
		var n int64
		err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE ns.nspname = $1 AND c.relkind IN ('r', 'm')`, st.schema).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("store size: %w", err)
		}
		return n, nil
	}
	// The server closed the file cleanly (its WAL checkpointed into it).
	// Pages in use, not the file's size: a migration that drops or
	// rebuilds a table leaves free pages that new rows fill first, so the
	// file of a short run may not grow at all.
	if _, err := os.Stat(st.path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	db, err := sql.Open("sqlite", "file:"+st.path+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("store size: %w", err)
	}
	defer db.Close()
	var pages, free, size int64
	for q, v := range map[string]*int64{"PRAGMA page_count": &pages, "PRAGMA freelist_count": &free, "PRAGMA page_size": &size} {
		if err := db.QueryRowContext(ctx, q).Scan(v); err != nil {
			return 0, fmt.Errorf("store size: %s: %w", q, err)
		}
	}
	return (pages - free) * size, nil
}

// where tells the user where the store is (for --keep).
func (st *storeUnderTest) where() string {
	if st.Dialect == "postgres" {
		return "schema " + st.schema
	}
	return st.path
}

// remove drops what prepareStore made (a temporary directory or a schema;
// never a file the user named).
func (st *storeUnderTest) remove(ctx context.Context) error {
	switch {
	case st.Dialect == "postgres":
		if err := st.pgExec(ctx, "DROP SCHEMA "+pgx.Identifier{st.schema}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", st.schema, err)
		}
	case st.tempDir != "":
		return os.RemoveAll(st.tempDir)
	}
	return nil
}

// apiClient talks to the server under test through its HTTP API.
type apiClient struct {
	base, token string
	c           *http.Client
}

// do sends a request (body as JSON when not nil), fails unless the status
// is want, and decodes the answer into out when not nil.
func (a *apiClient) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.500s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// total returns the total of a paginated listing (read with per_page=1).
func (a *apiClient) total(ctx context.Context, path string) (int64, error) {
	var env struct {
		Total *int64 `json:"total"`
	}
	if err := a.do(ctx, http.MethodGet, path, nil, http.StatusOK, &env); err != nil {
		return 0, err
	}
	if env.Total == nil {
		return 0, fmt.Errorf("GET %s: no total", path)
	}
	return *env.Total, nil
}
