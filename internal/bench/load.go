package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// phase is one stretch of load: conns clients, each in a closed loop (send,
// wait for the answer, send the next) on kept-alive connections, for dur;
// with rate > 0 the clients share a schedule of rate requests per second
// instead of sending as fast as answers come back.
type phase struct {
	url    string // the ingestion endpoint
	token  string
	conns  int
	dur    time.Duration
	rate   float64
	gen    *eventGen
	sample *reservoir[sentEvent] // accepted events kept for latency
}

// sentEvent is an accepted event and when its request was sent.
type sentEvent struct {
	ID string
	At time.Time
}

// phaseResult is what the clients saw.
type phaseResult struct {
	Accepted   int64     // 202 answers
	Rejected   int64     // any other answer, or a transport error
	FirstError string    // the first rejection, to show the user
	Bytes      int64     // request bodies sent
	Start, End time.Time // first send, last answer (or the end of the schedule)
}

// newClient returns an HTTP client with one kept-alive connection per
// bench client.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// run drives the phase and returns what the clients saw.
func (p *phase) run(ctx context.Context, client *http.Client) phaseResult {
	var (
		accepted, rejected, sent atomic.Int64
		slot                     atomic.Int64
		firstErr                 sync.Once
		res                      phaseResult
		wg                       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(p.dur)
	var interval time.Duration
	if p.rate > 0 {
		interval = time.Duration(float64(time.Second) / p.rate)
	}
	for c := range p.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var idBuf struct {
				ID string `json:"id"`
			}
			for seq := 0; ; seq++ {
				if interval > 0 {
					due := start.Add(time.Duration(slot.Add(1)-1) * interval)
					if !due.Before(deadline) {
						return
					}
					if wait := time.Until(due); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
				}
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					return
				}
				body := p.gen.body(rng, c, seq)
				sent.Add(int64(len(body)))
				sentAt := time.Now()
				status, raw, err := post(ctx, client, p.url, p.token, body)
				if err == nil && status == http.StatusAccepted {
					idBuf.ID = ""
					if jerr := json.Unmarshal(raw, &idBuf); jerr != nil || idBuf.ID == "" {
						err = fmt.Errorf("202 without an id: %.200s", raw)
					}
				} else if err == nil {
					err = fmt.Errorf("status %d: %.300s", status, raw)
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					rejected.Add(1)
					firstErr.Do(func() { res.FirstError = err.Error() })
					// A server in trouble should not be hammered in a hot loop.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				accepted.Add(1)
				if p.sample != nil {
					p.sample.add(sentEvent{ID: idBuf.ID, At: sentAt})
				}
			}
		}()
	}
	wg.Wait()
	res.Accepted, res.Rejected, res.Bytes = accepted.Load(), rejected.Load(), sent.Load()
	// The phase lasts until its last answer: rates are over the time the
	// clients were busy, the schedule's whole length when paced.
	res.Start, res.End = start, time.Now()
	return res
}

// post sends one event and returns the status and body.
func post(ctx context.Context, client *http.Client, url, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, raw, err
}

// noopHandler is the baseline: the least a JSON ingestion endpoint can do
// (read and decode the body, hash it, answer 202 with an id), so the
// figures of the real server read as a fraction of what this machine, this
// HTTP stack and these clients allow.
func noopHandler(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256(raw)
	id, err := uuid.NewV7()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"id":%q,"status":"pending","payload_hash":%q,"duplicate":false}`, id.String(), hex.EncodeToString(sum[:]))
}

// startNoop serves noopHandler on a loopback port and returns its URL and
// a function that stops it.
func startNoop() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("no-op handler: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(noopHandler), ReadHeaderTimeout: 5 * time.Second}
	// Serve returns only when stopped or when the listener fails; then
	// every request of the phase is a rejection, which the report shows.
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/v1/automation/events", func() { _ = srv.Close() }, nil
}

// reservoir keeps a uniform random sample of at most cap items
// (Algorithm R), so latency is read from a bounded number of events
// however many were sent.
type reservoir[T any] struct {
	mu    sync.Mutex
	cap   int
	seen  int
	items []T
	rng   *rand.Rand
}

func newReservoir[T any](capacity int) *reservoir[T] {
	return &reservoir[T]{cap: capacity, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (r *reservoir[T]) add(x T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	if len(r.items) < r.cap {
		r.items = append(r.items, x)
		return
	}
	if k := r.rng.IntN(r.seen); k < r.cap {
		r.items[k] = x
	}
}

func (r *reservoir[T]) sample() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}
