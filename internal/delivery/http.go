package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Outcome is how one attempt ended.
type Outcome int

const (
	// Succeeded: the receiver answered 2xx (or the mail was accepted).
	Succeeded Outcome = iota
	// Retryable: 408, 429, 5xx, a timeout or a network error; try again
	// later per Backoff.
	Retryable
	// Permanent: any other 4xx, a redirect, a refused target, a bad URL;
	// trying again would end the same way.
	Permanent
)

func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result is the outcome of one attempt.
type Result struct {
	Outcome Outcome
	// Status is the HTTP status, 0 when there was no response.
	Status int
	// RetryAfter is the receiver's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
	// Err says what went wrong, for the outbox row's last_error; "" on
	// success.
	Err string
}

// HTTPConfig tunes the HTTP sender. Zero fields take the contract's values.
type HTTPConfig struct {
	ConnectTimeout  time.Duration // default 5 s: dial and TLS handshake
	RequestTimeout  time.Duration // default 15 s: the whole attempt, body included
	MaxResponseBody int64         // default 64 KiB read of a response
	// Guard checks every target; nil is a Guard that refuses private
	// targets.
	Guard *Guard
	// UserAgent is sent with every request.
	UserAgent string
}

// Defaults of HTTPConfig (docs/concepts.md#deliveries-and-the-outbox).
const (
	DefaultConnectTimeout  = 5 * time.Second
	DefaultRequestTimeout  = 15 * time.Second
	DefaultMaxResponseBody = 64 << 10
)

// maxErrorText bounds what one attempt writes into last_error.
const maxErrorText = 512

// HTTPSender POSTs signed deliveries. It is safe for concurrent use and
// keeps connections alive between deliveries to the same receiver.
type HTTPSender struct {
	cfg    HTTPConfig
	client *http.Client
}

// NewHTTPSender returns a sender with cfg's limits.
func NewHTTPSender(cfg HTTPConfig) *HTTPSender {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxResponseBody <= 0 {
		cfg.MaxResponseBody = DefaultMaxResponseBody
	}
	if cfg.Guard == nil {
		cfg.Guard = &Guard{}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Switchboard-Webhooks/1"
	}
	return &HTTPSender{cfg: cfg, client: &http.Client{
		Transport: cfg.Guard.Transport(cfg.ConnectTimeout),
		// Redirects are not followed (§5): the Location could point
		// anywhere, including where the guard's first check did not look,
		// and a receiver that moved should be reconfigured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Request is one signed POST.
type Request struct {
	ID      string // the delivery id: webhook-id
	URL     string
	Body    []byte
	Keys    Keys
	Headers map[string]string // send_webhook's own headers; never override the signed ones
}

// reservedHeader reports the headers a rule may not set (§5), checked
// again here so that a row written by an older version cannot forge a
// signature header.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "webhook-") || n == "content-type" || n == "host" || n == "content-length"
}

// Send makes one attempt at now (the clock's time: the signature's
// timestamp and the reference for a Retry-After date).
func (s *HTTPSender) Send(ctx context.Context, r Request, now time.Time) Result {
	u, err := url.Parse(r.URL)
	if err != nil {
		return Result{Outcome: Permanent, Err: fmt.Sprintf("invalid URL: %v", err)}
	}
	if err := s.cfg.Guard.CheckURL(u); err != nil {
		return Result{Outcome: Permanent, Err: err.Error()}
	}
	if r.Keys.Current == "" {
		// An unsigned delivery would be accepted by no careful receiver
		// and trusted by a careless one.
		return Result{Outcome: Permanent, Err: "no signing secret"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return Result{Outcome: Permanent, Err: fmt.Sprintf("invalid request: %v", err)}
	}
	for k, v := range r.Headers {
		if !reservedHeader(k) {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	Sign(req.Header, r.ID, now, r.Body, r.Keys)

	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			var re *RefusedError
			errors.As(err, &re)
			return Result{Outcome: Permanent, Err: re.Error()}
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return Result{Outcome: Retryable, Err: fmt.Sprintf("no answer within %s", s.cfg.RequestTimeout)}
		}
		return Result{Outcome: Retryable, Err: clip(err.Error())}
	}
	defer resp.Body.Close()
	snippet, readErr := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxResponseBody))
	res := Classify(resp.StatusCode)
	res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	switch {
	case res.Outcome == Succeeded:
		// The receiver's body is not needed; a 2xx with a broken body is
		// still a success, since the receiver took the delivery.
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Err = fmt.Sprintf("HTTP %d: redirect to %q not followed; point the URL at the final address", resp.StatusCode, resp.Header.Get("Location"))
	default:
		res.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
		if text := strings.TrimSpace(string(snippet)); text != "" {
			res.Err = clip(res.Err + ": " + text)
		}
	}
	if res.Outcome == Succeeded && readErr != nil && ctx.Err() != nil {
		// The whole-request deadline ran out while the body trickled in.
		return Result{Outcome: Retryable, Status: resp.StatusCode, Err: fmt.Sprintf("response not complete within %s", s.cfg.RequestTimeout)}
	}
	return res
}

// Classify maps an HTTP status to an outcome (§5): 2xx succeeds; 408,
// 429 and 5xx are worth retrying; a redirect, which is not followed, and
// every other status fail at once, because trying the same request again
// would get the same answer.
func Classify(status int) Result {
	switch {
	case status >= 200 && status < 300:
		return Result{Outcome: Succeeded, Status: status}
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500 && status < 600:
		return Result{Outcome: Retryable, Status: status}
	}
	return Result{Outcome: Permanent, Status: status}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110 §10.2.3), relative to now. Anything else, or a date
// in the past, is no wish at all.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// clip bounds an error text for last_error without splitting a UTF-8
// character.
func clip(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
