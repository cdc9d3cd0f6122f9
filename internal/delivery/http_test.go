package delivery

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// receiver is an httptest server that records what it was sent and
// verifies signatures with the independent verifier.
type receiver struct {
	srv    *httptest.Server
	secret string
	clk    clock.Clock // verifies against this time; nil is testNow
	mu     sync.Mutex
	got    []received
}

type received struct {
	header http.Header
	body   []byte
	verr   error
}

func newReceiver(t *testing.T, secret string, answer http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		now := testNow
		if r.clk != nil {
			now = r.clk.Now()
		}
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body, verifyStandardWebhook(req.Header, body, secret, now, 5*time.Minute)})
		r.mu.Unlock()
		if answer != nil {
			answer(w, req)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func localSender(cfg HTTPConfig) *HTTPSender {
	cfg.Guard = &Guard{AllowPrivate: true}
	return NewHTTPSender(cfg)
}

func TestSendSignedPost(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=", nil)
	s := localSender(HTTPConfig{})
	body := []byte(`{"id":"d-1","type":"automation.action"}`)
	req := Request{ID: "d-1", URL: rcv.srv.URL + "/hooks", Body: body, Keys: Keys{Current: rcv.secret},
		Headers: map[string]string{"X-Team": "blue", "Webhook-Id": "forged", "Content-Type": "text/plain", "Host": "evil"}}
	for i := range 2 {
		res := s.Send(context.Background(), req, testNow.Add(time.Duration(i)*time.Second))
		if res.Outcome != Succeeded || res.Status != 200 || res.Err != "" {
			t.Fatalf("attempt %d: %+v", i, res)
		}
	}
	got := rcv.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests received", len(got))
	}
	for i, g := range got {
		if g.verr != nil {
			t.Errorf("request %d: signature: %v", i, g.verr)
		}
		if string(g.body) != string(body) {
			t.Errorf("request %d: body %s", i, g.body)
		}
		if g.header.Get("Webhook-Id") != "d-1" {
			t.Errorf("request %d: webhook-id %q, want the delivery id on every attempt", i, g.header.Get("Webhook-Id"))
		}
		if ct := g.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: content-type %q", i, ct)
		}
		if g.header.Get("X-Team") != "blue" {
			t.Errorf("request %d: the rule's header is missing", i)
		}
	}
	if a, b := got[0].header.Get("Webhook-Timestamp"), got[1].header.Get("Webhook-Timestamp"); a == b {
		t.Errorf("both attempts carry timestamp %s; each attempt is signed at its own time", a)
	}
}

func TestSendClassifiesStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   Outcome
	}{
		{200, Succeeded}, {201, Succeeded}, {202, Succeeded}, {204, Succeeded}, {299, Succeeded},
		{301, Permanent}, {302, Permanent}, {303, Permanent}, {307, Permanent}, {308, Permanent},
		{400, Permanent}, {401, Permanent}, {403, Permanent}, {404, Permanent}, {409, Permanent},
		{410, Permanent}, {413, Permanent}, {422, Permanent},
		{408, Retryable}, {429, Retryable},
		{500, Retryable}, {502, Retryable}, {503, Retryable}, {504, Retryable}, {599, Retryable},
	}
	rcv := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Path[1:])
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
		io.WriteString(w, "nope")
	})
	s := localSender(HTTPConfig{})
	for _, tt := range tests {
		res := s.Send(context.Background(), Request{ID: "d", URL: rcv.srv.URL + "/" + strconv.Itoa(tt.status), Body: []byte(`{}`), Keys: Keys{Current: "s"}}, testNow)
		if res.Outcome != tt.want || res.Status != tt.status {
			t.Errorf("HTTP %d: %v (status %d), want %v", tt.status, res.Outcome, res.Status, tt.want)
		}
		if tt.want != Succeeded && !strings.HasPrefix(res.Err, "HTTP "+strconv.Itoa(tt.status)) {
			t.Errorf("HTTP %d: error %q", tt.status, res.Err)
		}
		if tt.status >= 300 && tt.status < 400 && !strings.Contains(res.Err, "not followed") {
			t.Errorf("HTTP %d: error %q does not say the redirect was not followed", tt.status, res.Err)
		}
	}
	// Redirects are not followed: only the requests above arrived.
	if n := len(rcv.requests()); n != len(tests) {
		t.Errorf("%d requests for %d sends: a redirect was followed", n, len(tests))
	}
}

func TestSendRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{testNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{testNow.Add(-time.Hour).Format(http.TimeFormat), 0}, // in the past
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"99999999999", MaxRetryAfter},
		{"", 0},
	}
	for _, tt := range tests {
		rcv := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
			if tt.header != "" {
				w.Header().Set("Retry-After", tt.header)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		res := localSender(HTTPConfig{}).Send(context.Background(), Request{ID: "d", URL: rcv.srv.URL, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, testNow)
		if res.Outcome != Retryable || res.RetryAfter != tt.want {
			t.Errorf("Retry-After %q: %v after %s, want retryable after %s", tt.header, res.Outcome, res.RetryAfter, tt.want)
		}
	}
}

func TestSendTimeoutsAndNetworkErrors(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	trickle := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s := localSender(HTTPConfig{RequestTimeout: 150 * time.Millisecond})
	for _, url := range []string{slow.srv.URL, trickle.srv.URL} {
		start := time.Now()
		res := s.Send(context.Background(), Request{ID: "d", URL: url, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, testNow)
		if res.Outcome != Retryable || !strings.Contains(res.Err, "within 150ms") {
			t.Errorf("%s: %+v, want a retryable timeout", url, res)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: the attempt took %s", url, d)
		}
	}

	// A closed port is a network error: retryable.
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	res := s.Send(context.Background(), Request{ID: "d", URL: url, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, testNow)
	if res.Outcome != Retryable || res.Status != 0 || res.Err == "" {
		t.Errorf("closed port: %+v, want a retryable network error", res)
	}
	// A malformed URL can never work.
	res = s.Send(context.Background(), Request{ID: "d", URL: "http://[::1", Body: []byte(`{}`)}, testNow)
	if res.Outcome != Permanent {
		t.Errorf("bad URL: %+v", res)
	}
}

// TestSendReadsAtMost64KiB: a receiver that answers with an endless body
// costs us 64 KiB and a clipped last_error, not memory or time.
func TestSendReadsAtMost64KiB(t *testing.T) {
	t.Parallel()
	written := make(chan int64, 1)
	rcv := newReceiver(t, "s", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		chunk := []byte(strings.Repeat("x", 64<<10))
		var n int64
		defer func() { written <- n }()
		for n < 1<<30 { // 1 GiB on offer
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				return
			}
		}
	})
	res := localSender(HTTPConfig{}).Send(context.Background(), Request{ID: "d", URL: rcv.srv.URL, Body: []byte(`{}`), Keys: Keys{Current: "s"}}, testNow)
	if res.Outcome != Retryable || len(res.Err) > maxErrorText+len("…") {
		t.Errorf("got %v with a %d-byte error", res.Outcome, len(res.Err))
	}
	// The connection is dropped after 64 KiB; what the receiver managed to
	// write beyond that sat in socket buffers, a few MiB at most.
	if n := <-written; n > 32<<20 {
		t.Errorf("the receiver wrote %d bytes: the sender read the whole body", n)
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("é", maxErrorText) // 2 bytes each
	got := clip(s)
	if !strings.HasSuffix(got, "…") || len(got) > maxErrorText+len("…") || !strings.HasPrefix(s, strings.TrimSuffix(got, "…")) {
		t.Errorf("clip split a character or kept too much: %d bytes", len(got))
	}
	if clip("short") != "short" {
		t.Error("clip changed a short text")
	}
}

// TestHTTPDefaults: the contract's limits are what a zero config gets.
func TestHTTPDefaults(t *testing.T) {
	t.Parallel()
	s := NewHTTPSender(HTTPConfig{})
	if s.cfg.ConnectTimeout != 5*time.Second || s.cfg.RequestTimeout != 15*time.Second || s.cfg.MaxResponseBody != 64<<10 {
		t.Errorf("defaults %+v", s.cfg)
	}
	if s.cfg.Guard == nil || s.cfg.Guard.AllowPrivate {
		t.Error("the default sender does not guard")
	}
	tr := s.client.Transport.(*http.Transport)
	if tr.Proxy != nil || tr.TLSHandshakeTimeout != 5*time.Second {
		t.Errorf("transport proxy %v, TLS handshake timeout %s", tr.Proxy != nil, tr.TLSHandshakeTimeout)
	}
	if d := s.cfg.Guard.Dialer(s.cfg.ConnectTimeout); d.Timeout != 5*time.Second || d.Control == nil {
		t.Errorf("dialer timeout %s, control set %v", d.Timeout, d.Control != nil)
	}
}
