package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
)

// queueOutbox is an Outbox for benchmarks: one FIFO per target, so a
// claim costs O(claimed) and the benchmark measures the pool and the
// sender, not the fake store.
type queueOutbox struct {
	mu      sync.Mutex
	queues  map[string][]Job
	order   []string
	settled atomic.Int64
	done    chan struct{}
	want    int64
}

func newQueueOutbox(want int64) *queueOutbox {
	return &queueOutbox{queues: map[string][]Job{}, done: make(chan struct{}), want: want}
}

func (q *queueOutbox) add(j Job) {
	if _, ok := q.queues[j.Target]; !ok {
		q.order = append(q.order, j.Target)
	}
	q.queues[j.Target] = append(q.queues[j.Target], j)
}

func (q *queueOutbox) Claim(_ context.Context, c Claim) ([]Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Job
	for _, t := range q.order {
		n := min(c.Room(t), c.Limit-len(out), len(q.queues[t]))
		for _, j := range q.queues[t][:n] {
			j.Owner = c.Owner
			out = append(out, j)
		}
		q.queues[t] = q.queues[t][n:]
	}
	return out, nil
}

func (q *queueOutbox) count(j Job) error {
	if j.WorkspaceID == 1 && q.settled.Add(1) == q.want {
		close(q.done)
	}
	return nil
}
func (q *queueOutbox) Succeed(_ context.Context, j Job, _ time.Time) error { return q.count(j) }
func (q *queueOutbox) Retry(_ context.Context, j Job, _ time.Time, _ string, _ time.Time) error {
	return q.count(j)
}
func (q *queueOutbox) Fail(_ context.Context, j Job, _ time.Time, _ string) error { return q.count(j) }

// BenchmarkPool measures signed deliveries per second from the pool to a
// local receiver that verifies nothing and answers 204, over 8 targets
// (workspaces). "beside a hanging receiver" adds a workspace whose
// receiver answers only after 10 s, with a backlog ahead of everyone
// else's: the healthy workspaces' rate should barely move.
func BenchmarkPool(b *testing.B) {
	for _, withSlow := range []bool{false, true} {
		name := "healthy"
		if withSlow {
			name = "beside a hanging receiver"
		}
		b.Run(name, func(b *testing.B) {
			fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			}))
			defer fast.Close()
			release := make(chan struct{})
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				case <-r.Context().Done():
				}
			}))
			defer slow.Close()
			defer close(release)

			q := newQueueOutbox(int64(b.N))
			if withSlow {
				for i := range 100 {
					q.add(httpJob(fmt.Sprintf("slow-%d", i), 99, slow.URL+"/actions", "s"))
				}
			}
			for i := range b.N {
				// Workspace 1 on 8 hosts' worth of targets (distinct ports
				// are not needed: the key is what the pool limits on).
				j := httpJob(fmt.Sprintf("d-%d", i), 1, fast.URL+"/actions", "whsec_dGVzdA==")
				j.Target = fmt.Sprintf("1 target-%d", i%8)
				q.add(j)
			}
			pool := newTestPool(b, q, localSender(HTTPConfig{RequestTimeout: 30 * time.Second}), nil,
				PoolConfig{Clock: clock.System{}, Workers: 32, PerTarget: 4, PollInterval: time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			b.ResetTimer()
			start := time.Now()
			go pool.Run(ctx)
			<-q.done
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkSign is the cost of signing one 1 KiB body with two secrets
// (the rotation window, the worst case).
func BenchmarkSign(b *testing.B) {
	body := make([]byte, 1024)
	keys := Keys{Current: "whsec_dGVzdC1zZWNyZXQtb25l", Previous: "whsec_dGVzdC1zZWNyZXQtdHdv", PreviousUntil: testNow.Add(time.Hour)}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		Sign(h, "0190b5f4-7c1e-7000-8000-000000000000", testNow, body, keys)
	}
}
