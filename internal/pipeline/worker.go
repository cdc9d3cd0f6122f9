package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Processor decides what one event does. It must not write: its outcome is
// committed by the worker together with the event's final status.
type Processor interface {
	Process(ctx context.Context, e store.Event) (store.Outcome, error)
}

// MaxAttempts is how many times an event is processed before it is failed
// for good (docs/concepts.md#events).
const MaxAttempts = 5

// WorkerOptions tune the worker pool.
type WorkerOptions struct {
	Workers int           // concurrent workers on this node (default 4)
	Batch   int           // events claimed at once per worker (default 32)
	Lease   time.Duration // how long a claim is held before another node may take it (default 30s)
	// IdlePoll is how often an idle worker looks for work it was not woken
	// for (events from other nodes, retries coming due). Default 200ms.
	IdlePoll time.Duration
	Owner    string // identifies this node in leases (default: random)
	Clock    clock.Clock
	Logger   *slog.Logger
	// Backoff returns the delay before retry number attempt (1-based);
	// default exponential from 1s with ±20% jitter, capped at 5 minutes.
	Backoff func(attempt int) time.Duration
}

// Workers is a pool of event workers.
type Workers struct {
	store store.Events
	proc  Processor
	opts  WorkerOptions
	wake  chan struct{}

	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
}

// StartWorkers starts a pool.
func StartWorkers(s store.Events, p Processor, opts WorkerOptions) *Workers {
	w := NewWorkers(s, p, opts)
	w.Start()
	return w
}

// NewWorkers configures a pool without starting it: Cycle can then be run
// by hand (benchmarks measure exactly what the workers run).
func NewWorkers(s store.Events, p Processor, opts WorkerOptions) *Workers {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Batch <= 0 {
		opts.Batch = 32
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.IdlePoll <= 0 {
		opts.IdlePoll = 200 * time.Millisecond
	}
	if opts.Owner == "" {
		opts.Owner = fmt.Sprintf("node-%016x", rand.Uint64())
	}
	if opts.Clock == nil {
		opts.Clock = clock.System{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	return &Workers{store: s, proc: p, opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

// Start starts the pool's goroutines.
func (w *Workers) Start() {
	for i := range w.opts.Workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.loop(i)
		}()
	}
}

// DefaultBackoff is exponential from 1 s (1, 2, 4, 8 s …) with ±20 %
// jitter, so retries of many events spread out, capped at 5 minutes.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 9)
	d = min(d, 5*time.Minute)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// Wake tells idle workers that events arrived.
func (w *Workers) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stop stops claiming, lets in-flight batches finish and commit, and waits
// for the workers, at most until ctx ends. Claims still held then are
// released by the workers themselves as they return, or expire.
func (w *Workers) Stop(ctx context.Context) error {
	w.stopped.Do(func() { close(w.stop) })
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pipeline: workers did not stop in time: %w", ctx.Err())
	}
}

func (w *Workers) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func (w *Workers) loop(id int) {
	log := w.opts.Logger.With("worker", id)
	idle := time.NewTimer(0)
	defer idle.Stop()
	for !w.stopping() {
		n, err := w.Cycle(context.Background())
		if err != nil {
			log.Error("worker cycle failed", "err", err)
		}
		if n > 0 && err == nil {
			continue // there may be more: claim again at once
		}
		idle.Reset(w.opts.IdlePoll)
		select {
		case <-w.stop:
			return
		case <-w.wake:
		case <-idle.C:
		}
	}
}

// Cycle claims one batch, processes it and commits it, in the caller's
// goroutine. It returns how many events it claimed.
func (w *Workers) Cycle(ctx context.Context) (int, error) {
	claims, err := w.store.ClaimEvents(ctx, w.opts.Owner, w.opts.Batch, w.opts.Lease)
	if err != nil || len(claims) == 0 {
		return 0, err
	}
	completions := make([]store.Completion, 0, len(claims))
	for i, c := range claims {
		if w.stopping() {
			// Shutting down: hand the rest back at once rather than make
			// another node wait for the leases to expire.
			w.release(ctx, claims[i:])
			break
		}
		out, err := w.proc.Process(ctx, c.Event)
		if err != nil {
			w.fail(ctx, c, err)
			continue
		}
		completions = append(completions, store.Completion{Claim: c, Outcome: out})
	}
	if len(completions) == 0 {
		return len(claims), nil
	}
	errs, err := w.store.CompleteEvents(ctx, completions)
	if err != nil {
		// The whole commit failed: count it as a processing error of each
		// event so a poison batch cannot loop forever.
		for _, c := range completions {
			w.fail(ctx, c.Claim, err)
		}
		return len(claims), fmt.Errorf("pipeline: unable to commit %d outcomes: %w", len(completions), err)
	}
	for i, e := range errs {
		if e != nil && !errors.Is(e, store.ErrLeaseLost) {
			w.fail(ctx, completions[i].Claim, e)
		} else if e != nil {
			w.opts.Logger.Warn("lease lost; another worker owns the event now", "event_id", completions[i].Claim.Event.ID)
		}
	}
	return len(claims), nil
}

// fail records a processing error: retried with backoff, failed for good
// after MaxAttempts.
func (w *Workers) fail(ctx context.Context, c store.Claim, cause error) {
	var retryAt *time.Time
	if c.Event.Attempts < MaxAttempts {
		t := w.opts.Clock.Now().Add(w.opts.Backoff(c.Event.Attempts))
		retryAt = &t
	}
	w.opts.Logger.Warn("event processing failed", "event_id", c.Event.ID, "attempt", c.Event.Attempts,
		"final", retryAt == nil, "err", cause)
	if err := w.store.FailEvent(ctx, c, cause.Error(), retryAt); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		w.opts.Logger.Error("unable to record the failure; the lease will expire and the event be retried",
			"event_id", c.Event.ID, "err", err)
	}
}

func (w *Workers) release(ctx context.Context, claims []store.Claim) {
	for _, c := range claims {
		if err := w.store.ReleaseEvent(ctx, c); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			w.opts.Logger.Warn("unable to release an event; its lease will expire", "event_id", c.Event.ID, "err", err)
		}
	}
}
