// Package pipeline moves events from the HTTP edge to decisions: the
// group-commit ingester stores them durably, workers claim them from the
// queue, evaluate them with the engine and commit each outcome in one
// transaction.
package pipeline

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// Store is what the pipeline needs of the store.
type Store interface {
	store.Store
	store.Events
}

// ErrStopped is returned by Ingest after Close.
var ErrStopped = errors.New("pipeline: ingester stopped")

// Ingester stores events with group commit: requests that arrive while a
// commit is in flight wait together and go into the next transaction, so
// many requests share one fsync and throughput is not capped by the disk's
// commit rate. There is no timer: a lone request commits at once, and the
// batch grows only as much as the load does (see commitLoop).
type Ingester struct {
	store     store.Events
	maxEvents int
	queue     chan *pending
	notify    func(workspaces []int64)
	handOff   func(commit func(store.HandOff) ([]store.Claim, error)) error
	settle    func(ctx context.Context, e *store.NewEvent)

	mu      sync.RWMutex
	stopped bool
	done    chan struct{}
}

type pending struct {
	group *store.IngestGroup
	err   chan error
}

// IngesterOptions tune the ingester.
type IngesterOptions struct {
	// MaxEvents caps the events in one commit (default 2,000): a bigger
	// transaction holds the writer longer than it saves.
	MaxEvents int
	// Committers is how many commits may be in flight at once (default 1,
	// right for SQLite's single writer; PostgreSQL benefits from a few).
	Committers int
	// Notify is called after each commit that left events to claim, with
	// the workspaces of the events it stored, to wake idle workers
	// (Workers.WakeFor).
	Notify func(workspaces []int64)
	// HandOff, when set, runs each commit (Workers.HandOff), so that the
	// commit can hand some of its events to the workers already claimed.
	HandOff func(commit func(store.HandOff) ([]store.Claim, error)) error
	// Settle, when set, is offered each event before it is queued for a
	// commit, in the request's goroutine (Engine.Settle): an event it
	// gives a settled outcome (store.NewEvent.Settled) may be stored
	// finished, with no worker involved.
	Settle func(ctx context.Context, e *store.NewEvent)
}

// NewIngester starts the committer goroutines.
func NewIngester(s store.Events, opts IngesterOptions) *Ingester {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 2000
	}
	if opts.Committers <= 0 {
		opts.Committers = 1
	}
	in := &Ingester{store: s, maxEvents: opts.MaxEvents, queue: make(chan *pending, 4096),
		notify: opts.Notify, handOff: opts.HandOff, settle: opts.Settle, done: make(chan struct{})}
	var wg sync.WaitGroup
	for range opts.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.commitLoop()
		}()
	}
	go func() {
		wg.Wait()
		close(in.done)
	}()
	return in
}

// Ingest stores one request's events (all or none) and returns once they
// are durably committed — the caller may answer 202 only then. The
// group's per-event results and its idempotency outcome are filled in.
func (in *Ingester) Ingest(ctx context.Context, g *store.IngestGroup) error {
	if in.settle != nil {
		// Here rather than in the commit: requests decide side by side,
		// the committer is one goroutine.
		for i := range g.Events {
			in.settle(ctx, &g.Events[i])
		}
	}
	p := &pending{group: g, err: make(chan error, 1)}
	in.mu.RLock()
	if in.stopped {
		in.mu.RUnlock()
		return ErrStopped
	}
	select {
	case in.queue <- p:
	case <-ctx.Done():
		in.mu.RUnlock()
		return ctx.Err()
	}
	in.mu.RUnlock()
	// Once queued, the commit happens whatever the client does: waiting on
	// ctx here could answer an error for events that are then stored.
	return <-p.err
}

// Close stops accepting events, commits what is queued and waits.
func (in *Ingester) Close() {
	in.mu.Lock()
	if !in.stopped {
		in.stopped = true
		close(in.queue)
	}
	in.mu.Unlock()
	<-in.done
}

func (in *Ingester) commitLoop() {
	batch := make([]*pending, 0, 64)
	groups := make([]*store.IngestGroup, 0, 64)
	for first := range in.queue {
		batch = append(batch[:0], first)
		n := len(first.group.Events)
		// Yield once first: handlers that are already runnable — bodies
		// being decoded — then queue their events for this commit rather
		// than the next. Under load that makes batches several times
		// larger (≈8 → ≈55 events in BenchmarkIngestHTTP) and saves an
		// fsync's worth of CPU each time; with nothing else runnable it
		// returns at once, so a lone request still commits without delay.
		runtime.Gosched()
		// Take whatever else is already waiting, without waiting for more.
	drain:
		for n < in.maxEvents {
			select {
			case p, ok := <-in.queue:
				if !ok {
					break drain
				}
				batch = append(batch, p)
				n += len(p.group.Events)
			default:
				break drain
			}
		}
		groups = groups[:0]
		for _, p := range batch {
			groups = append(groups, p.group)
		}
		// The commit is not tied to any one request's context: it must
		// finish for everyone in the batch.
		handed, err := in.commit(context.Background(), groups)
		for _, p := range batch {
			p.err <- err
		}
		// Wake the workers for the events left to claim; those handed off
		// are on their way already, those settled finished.
		if err == nil && in.notify != nil && stored(groups) > handed {
			in.notify(storedWorkspaces(groups))
		}
	}
}

// commit stores the groups, through the hand-off when there is one, and
// returns how many of the events it stored were handed off.
func (in *Ingester) commit(ctx context.Context, groups []*store.IngestGroup) (int, error) {
	if in.handOff == nil {
		return 0, in.store.IngestEvents(ctx, groups)
	}
	handed := 0
	err := in.handOff(func(h store.HandOff) ([]store.Claim, error) {
		claims, err := in.store.IngestAndClaim(ctx, groups, h)
		handed = len(claims)
		return claims, err
	})
	return handed, err
}

// storedWorkspaces lists the workspaces of the events a commit stored for
// the workers.
func storedWorkspaces(groups []*store.IngestGroup) []int64 {
	var out []int64
	for _, g := range groups {
		if g.Err != nil {
			continue
		}
		for i, r := range g.Results {
			if ws := g.Events[i].WorkspaceID; queued(r) && !slices.Contains(out, ws) {
				out = append(out, ws)
			}
		}
	}
	return out
}

// stored counts the events a commit stored for the workers: not in a
// failed group, not duplicates, not settled.
func stored(groups []*store.IngestGroup) int {
	n := 0
	for _, g := range groups {
		if g.Err != nil {
			continue
		}
		for _, r := range g.Results {
			if queued(r) {
				n++
			}
		}
	}
	return n
}

func queued(r store.Ingested) bool { return !r.Duplicate && !r.Settled }
