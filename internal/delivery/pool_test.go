package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
)

// memOutbox is an in-memory Outbox that keeps the interface's contract,
// and records every settle so tests can check what the pool did.
type memOutbox struct {
	mu      sync.Mutex
	rows    map[string]*memRow
	settles []settle
	claims  []Claim
}

type memRow struct {
	job         Job
	status      string // pending, leased, succeeded, failed
	availableAt time.Time
	owner       string
	leasedUntil time.Time
	lastError   string
}

type settle struct {
	id      string
	outcome string // succeeded, retry, failed
	at      time.Time
	next    time.Time
	err     string
}

var errLeaseLost = errors.New("lease lost")

func newMemOutbox() *memOutbox { return &memOutbox{rows: map[string]*memRow{}} }

func (m *memOutbox) add(j Job, availableAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[j.ID] = &memRow{job: j, status: "pending", availableAt: availableAt}
}

func (m *memOutbox) Claim(_ context.Context, c Claim) ([]Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims = append(m.claims, c)
	var due []*memRow
	for _, r := range m.rows {
		if !r.availableAt.After(c.Now) && (r.status == "pending" || r.status == "leased" && !r.leasedUntil.After(c.Now)) {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, k int) bool {
		if !due[i].availableAt.Equal(due[k].availableAt) {
			return due[i].availableAt.Before(due[k].availableAt)
		}
		return due[i].job.ID < due[k].job.ID
	})
	taken := map[string]int{}
	var out []Job
	for _, r := range due {
		if len(out) == c.Limit {
			break
		}
		if taken[r.job.Target] >= c.Room(r.job.Target) {
			continue
		}
		taken[r.job.Target]++
		r.status, r.owner, r.leasedUntil = "leased", c.Owner, c.Now.Add(c.Lease)
		j := r.job
		j.Owner = c.Owner
		out = append(out, j)
	}
	return out, nil
}

func (m *memOutbox) settle(j Job, s settle, status string, availableAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rows[j.ID]
	if r == nil || r.status != "leased" || r.owner != j.Owner {
		return errLeaseLost
	}
	r.status, r.owner, r.lastError = status, "", s.err
	r.job.Attempts++
	if status == "pending" {
		r.availableAt = availableAt
	}
	m.settles = append(m.settles, s)
	return nil
}

func (m *memOutbox) Succeed(_ context.Context, j Job, at time.Time) error {
	return m.settle(j, settle{id: j.ID, outcome: "succeeded", at: at}, "succeeded", time.Time{})
}
func (m *memOutbox) Retry(_ context.Context, j Job, at time.Time, errMsg string, next time.Time) error {
	return m.settle(j, settle{id: j.ID, outcome: "retry", at: at, next: next, err: errMsg}, "pending", next)
}
func (m *memOutbox) Fail(_ context.Context, j Job, at time.Time, errMsg string) error {
	return m.settle(j, settle{id: j.ID, outcome: "failed", at: at, err: errMsg}, "failed", time.Time{})
}

func (m *memOutbox) history(id string) []settle {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []settle
	for _, s := range m.settles {
		if s.id == id {
			out = append(out, s)
		}
	}
	return out
}

func (m *memOutbox) count(status string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.rows {
		if r.status == status {
			n++
		}
	}
	return n
}

func newTestPool(tb testing.TB, o Outbox, h *HTTPSender, s *SMTPSender, cfg PoolConfig) *Pool {
	tb.Helper()
	p, err := NewPool(o, h, s, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestNewPoolRefusesShortLease(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		h     *HTTPSender
		s     *SMTPSender
		lease time.Duration
		ok    bool
	}{
		{"defaults", localSender(HTTPConfig{}), &SMTPSender{}, 0, true},
		{"lease under two HTTP attempts", localSender(HTTPConfig{}), nil, 20 * time.Second, false},
		{"lease under two SMTP attempts", nil, &SMTPSender{Timeout: time.Minute}, 0, false},
		{"long lease", localSender(HTTPConfig{RequestTimeout: time.Minute}), nil, 5 * time.Minute, true},
	} {
		_, err := NewPool(newMemOutbox(), tt.h, tt.s, PoolConfig{Lease: tt.lease})
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

func TestSendRefusesUnsigned(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, "s", nil)
	res := localSender(HTTPConfig{}).Send(context.Background(), Request{ID: "d", URL: rcv.srv.URL, Body: []byte(`{}`)}, testNow)
	if res.Outcome != Permanent || len(rcv.requests()) != 0 {
		t.Errorf("unsigned delivery: %+v, %d requests", res, len(rcv.requests()))
	}
}

func httpJob(id string, ws int64, url string, secret string) Job {
	return Job{ID: id, WorkspaceID: ws, Target: TargetKey(ws, url),
		HTTP: &Request{ID: id, URL: url, Body: []byte(`{"id":"` + id + `"}`), Keys: Keys{Current: secret}}}
}

// TestPoolSettlesEachOutcome drives the pool on a fake clock: one
// delivery per behaviour, each settled as the contract says, with the
// backoff schedule measured on the clock.
func TestPoolSettlesEachOutcome(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(testNow)
	var flaky atomic.Int64
	rcv := newReceiver(t, "whsec_dGVzdC1zZWNyZXQ=", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(204)
		case "/flaky": // fails twice, then takes it
			if flaky.Add(1) <= 2 {
				w.WriteHeader(503)
				return
			}
		case "/gone":
			w.WriteHeader(410)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		case "/busy":
			w.Header().Set("Retry-After", "900")
			w.WriteHeader(429)
		case "/down":
			w.WriteHeader(500)
		}
	})
	rcv.clk = clk
	ob := newMemOutbox()
	for _, p := range []string{"ok", "flaky", "gone", "moved", "busy", "down"} {
		ob.add(httpJob(p, 1, rcv.srv.URL+"/"+p, rcv.secret), testNow)
	}
	pool := newTestPool(t, ob, localSender(HTTPConfig{}), nil, PoolConfig{Clock: clk, Rand: func() float64 { return 0.5 }})

	// Run cycles on the clock until nothing is pending: each step jumps to
	// the earliest due row.
	for range 50 {
		if _, err := pool.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		pool.Wait()
		ob.mu.Lock()
		var next time.Time
		for _, r := range ob.rows {
			if r.status == "pending" && (next.IsZero() || r.availableAt.Before(next)) {
				next = r.availableAt
			}
		}
		ob.mu.Unlock()
		if next.IsZero() {
			break
		}
		clk.Set(next)
	}

	outcomes := func(id string) []string {
		var out []string
		for _, s := range ob.history(id) {
			out = append(out, s.outcome)
		}
		return out
	}
	retries := slices.Repeat([]string{"retry"}, MaxAttempts-1)
	for id, want := range map[string][]string{
		"ok":    {"succeeded"},
		"flaky": {"retry", "retry", "succeeded"},
		"gone":  {"failed"},
		"moved": {"failed"},
		"busy":  append(slices.Clone(retries), "failed"),
		"down":  append(slices.Clone(retries), "failed"),
	} {
		if got := outcomes(id); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
	// The schedule of "down" on the clock: the exact bases (u = 0.5),
	// 8 attempts over more than an hour.
	h := ob.history("down")
	first, last := h[0].at, h[len(h)-1].at
	for i, s := range h[:len(h)-1] {
		if want := s.at.Add(schedule[i]); !s.next.Equal(want) {
			t.Errorf("down retry %d: next %s, want %s", i+1, s.next, want)
		}
	}
	if span := last.Sub(first); span < time.Hour {
		t.Errorf("down: %d attempts over %s, want at least 1 h", len(h), span)
	}
	if got := h[len(h)-1].err; got != "gave up after 8 attempts: HTTP 500" {
		t.Errorf("down: last error %q", got)
	}
	// "busy" asked for 15 minutes: never retried sooner.
	for i, s := range ob.history("busy")[:MaxAttempts-1] {
		if s.next.Sub(s.at) < 15*time.Minute {
			t.Errorf("busy retry %d after %s, before its Retry-After", i+1, s.next.Sub(s.at))
		}
	}
	// Every request carried a signature the receiver verified, and the
	// same webhook-id on every attempt of a delivery.
	ids := map[string]map[string]bool{}
	for _, g := range rcv.requests() {
		if g.verr != nil {
			t.Errorf("signature: %v", g.verr)
		}
		id := g.header.Get("Webhook-Id")
		if ids[id] == nil {
			ids[id] = map[string]bool{}
		}
		ids[id][string(g.body)] = true
	}
	if len(ids) != 6 || len(ids["down"]) != 1 {
		t.Errorf("attempts of one delivery carried different bodies or ids: %v", ids["down"])
	}
}

// TestPoolPerTargetLimit: with PerTarget 2 no receiver ever sees more
// than two requests at once, and every claim respects the room it had.
func TestPoolPerTargetLimit(t *testing.T) {
	t.Parallel()
	var cur, peak atomic.Int64
	rcv := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
	})
	ob := newMemOutbox()
	for i := range 12 {
		ob.add(httpJob(fmt.Sprintf("d%02d", i), 1, rcv.srv.URL, "s"), testNow)
	}
	pool := newTestPool(t, ob, localSender(HTTPConfig{}), nil, PoolConfig{Clock: clock.NewFake(testNow), Workers: 8, PerTarget: 2})
	deadline := time.Now().Add(10 * time.Second)
	for ob.count("succeeded") < 12 && time.Now().Before(deadline) {
		if _, err := pool.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	pool.Wait()
	if got := ob.count("succeeded"); got != 12 {
		t.Fatalf("%d of 12 delivered", got)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("the receiver saw %d requests at once, limit 2", p)
	}
	for _, c := range ob.claims {
		for target, n := range c.InFlight {
			if n > c.PerTarget {
				t.Errorf("claim with %d in flight for %s", n, target)
			}
		}
	}
}

// TestPoolSlowReceiverIsolated: one workspace's receiver answers only
// after 10 s; another workspace's deliveries — and the slow workspace's
// own send_webhook to another host — all arrive while it hangs.
func TestPoolSlowReceiverIsolated(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	fast := newReceiver(t, "s", nil)
	other := newReceiver(t, "s", nil)
	ob := newMemOutbox()
	// The slow workspace's backlog comes first in the queue.
	for i := range 20 {
		ob.add(httpJob(fmt.Sprintf("slow%02d", i), 1, slow.srv.URL+"/actions", "s"), testNow.Add(-time.Minute))
	}
	for i := range 40 {
		ob.add(httpJob(fmt.Sprintf("fast%02d", i), 2, fast.srv.URL+"/actions", "s"), testNow)
	}
	// Same workspace as the slow one, another target (its send_webhook).
	for i := range 10 {
		ob.add(httpJob(fmt.Sprintf("hook%02d", i), 1, other.srv.URL+"/hook", "s"), testNow)
	}
	pool := newTestPool(t, ob, localSender(HTTPConfig{RequestTimeout: 30 * time.Second}), nil,
		PoolConfig{Clock: clock.NewFake(testNow), Workers: 8, PerTarget: 2, PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()

	start := time.Now()
	for ob.count("succeeded") < 50 && time.Since(start) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if got := ob.count("succeeded"); got != 50 {
		t.Errorf("%d of the 50 deliveries to the healthy receivers arrived within %s", got, elapsed)
	}
	if n := len(slow.requests()); n > 2 {
		t.Errorf("the slow receiver holds %d requests, limit 2", n)
	}
	if got := ob.count("leased"); got != 2 {
		t.Errorf("%d slow deliveries leased, want 2 (the per-target limit)", got)
	}
	t.Logf("50 deliveries beside a hanging receiver in %s", elapsed)
	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestPoolDrainInterrupts: on shutdown an attempt that will not finish
// within DrainTimeout is cancelled and put back as retryable right away,
// so another node takes it.
func TestPoolDrainInterrupts(t *testing.T) {
	t.Parallel()
	stuck := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ob := newMemOutbox()
	ob.add(httpJob("d1", 1, stuck.srv.URL, "s"), testNow)
	clk := clock.NewFake(testNow)
	pool := newTestPool(t, ob, localSender(HTTPConfig{}), nil, PoolConfig{Clock: clk, DrainTimeout: 50 * time.Millisecond})
	if n, err := pool.Cycle(context.Background()); n != 1 || err != nil {
		t.Fatalf("Cycle = %d, %v", n, err)
	}
	for len(stuck.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pool.Run(ctx); err == nil {
		t.Error("Run drained an attempt that could not finish")
	}
	h := ob.history("d1")
	if len(h) != 1 || h[0].outcome != "retry" || !h[0].next.Equal(testNow) || h[0].err != "interrupted by shutdown" {
		t.Errorf("settles %+v, want one immediate retry", h)
	}
}

// TestPoolSendsMail: a Mail job goes through the SMTP sender.
func TestPoolSendsMail(t *testing.T) {
	t.Parallel()
	cert, _ := testCert(t)
	ms := &mailServer{}
	startMailServer(t, TLSNone, cert, ms)
	s := SMTPSettings{Host: "127.0.0.1", Port: ms.addr.Port, From: "support@acme.example", TLS: TLSNone}
	ob := newMemOutbox()
	ob.add(Job{ID: "m1", WorkspaceID: 1, Target: SMTPTargetKey(1, s), Mail: &MailJob{SMTP: s, Mail: Mail{To: "ana@c.example", Subject: "Re: hi", Body: "hello"}}}, testNow)
	ob.add(Job{ID: "x1", WorkspaceID: 1, Target: "1 none"}, testNow) // neither kind: a permanent failure
	pool := newTestPool(t, ob, nil, &SMTPSender{}, PoolConfig{Clock: clock.NewFake(testNow)})
	if _, err := pool.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	pool.Wait()
	if h := ob.history("m1"); len(h) != 1 || h[0].outcome != "succeeded" || len(ms.received()) != 1 {
		t.Errorf("mail settles %+v, %d received", h, len(ms.received()))
	}
	if h := ob.history("x1"); len(h) != 1 || h[0].outcome != "failed" {
		t.Errorf("job without a sender: %+v", h)
	}
}

func TestTargetKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ws   int64
		url  string
		want string
	}{
		{1, "https://Hooks.Example.com/a?b", "1 https://hooks.example.com:443"},
		{1, "https://hooks.example.com:443/other", "1 https://hooks.example.com:443"},
		{2, "https://hooks.example.com/a", "2 https://hooks.example.com:443"},
		{1, "http://hooks.example.com/a", "1 http://hooks.example.com:80"},
		{1, "http://[::1]:8080/", "1 http://::1:8080"},
		{1, "::nope", "1 ::nope"},
	} {
		if got := TargetKey(tt.ws, tt.url); got != tt.want {
			t.Errorf("TargetKey(%d, %q) = %q, want %q", tt.ws, tt.url, got, tt.want)
		}
	}
	if got := SMTPTargetKey(3, SMTPSettings{Host: "mail.example", Port: 587}); got != "3 smtp://mail.example:587" {
		t.Errorf("SMTPTargetKey = %q", got)
	}
}
