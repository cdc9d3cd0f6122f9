package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
	// HoldUntilCommitted keeps a batch's workspaces held until its
	// outcomes are committed, rather than until its last event of each
	// is processed. On a store with one writer (SQLite) another worker's
	// claim of the same workspace during the commit only waits for the
	// writer, and cuts the batches short: with 2 workers on one busy
	// workspace they averaged 15 events (and as many empty claims as
	// batches) against 45 when held, and switchboard bench with 100 rules
	// processed ~10 % fewer events. Where commits run side by side
	// (PostgreSQL), letting go early lets another worker start the
	// workspace's next batch meanwhile.
	HoldUntilCommitted bool
}

// Workers is a pool of event workers.
//
// Two guarantees keep one workspace from stalling the others (docs/concepts.md#conditions
// "Bounded cost"):
//
//   - A worker keeps its lease while it works: it renews the leases of the
//     batch it holds every Lease/3, between events (on the pool's clock)
//     and from a timer while an event is being processed, so no other
//     worker's claim ever finds them expired. A claim whose lease could
//     not be renewed (it expired and another worker took it) is dropped
//     from the batch: not processed, or not committed.
//   - One workspace's events never occupy every worker of the node: a
//     workspace may be held by at most Workers-1 of them (at least 1). A
//     worker "holds" a workspace from the claim of its batch until it has
//     processed the batch's last event of it. When a worker claims, it
//     asks the store to pass over the workspaces that are at the cap, so
//     the claim digs past their backlog to the other workspaces' events.
//     The pool claims one batch at a time, so no two claims race past the
//     cap. Claiming and then handing back (ReleaseEvent) the events of a
//     workspace at the cap would not do: the claim takes the oldest events
//     first, and would take the same ones every time.
type Workers struct {
	store store.Events
	proc  Processor
	opts  WorkerOptions
	wake  chan struct{}

	// claimMu makes the pool's claims one at a time (see claim), hand-offs
	// included.
	claimMu sync.Mutex
	// handoffs are batches that ingest commits claimed for the pool
	// (HandOff), waiting for a worker; slots bounds them, one per batch
	// from before its commit until its Cycle ends.
	handoffs chan *batch
	slots    chan struct{}
	mu       sync.Mutex
	// holders counts, per workspace, the workers holding a batch with
	// unprocessed events of it.
	holders map[int64]int
	// inflight counts the hand-off commits under way: each may yet add a
	// holder to any workspace, so capped counts them against every one.
	inflight int
	// missed is set when WakeFor woke nobody because every workspace it
	// named was at the cap: the next worker to let one go wakes the pool.
	missed bool
	// started is set by Start; idle counts the started workers waiting
	// for work (see HandOff).
	started atomic.Bool
	idle    atomic.Int64

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
	return &Workers{store: s, proc: p, opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		holders: map[int64]int{}, handoffs: make(chan *batch, opts.Workers), slots: make(chan struct{}, opts.Workers)}
}

// Start starts the pool's goroutines.
func (w *Workers) Start() {
	w.started.Store(true)
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

// WakeFor wakes an idle worker for new events of the workspaces, unless
// every one of them is held at the cap: an idle worker's claim would pass
// over their events and find nothing, at the cost of a write transaction
// (with one workspace busy, one per ingest commit). Their holders claim
// again when their batches end; a holder whose batch was a hand-off does
// not, so the first worker to let a workspace go wakes the pool then.
func (w *Workers) WakeFor(workspaces []int64) {
	w.mu.Lock()
	held := len(workspaces) > 0
	for _, ws := range workspaces {
		if w.holders[ws]+w.inflight < w.WorkspaceCap() {
			held = false
			break
		}
	}
	if held {
		w.missed = true
	}
	w.mu.Unlock()
	if !held {
		w.Wake()
	}
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
		w.releaseHandOffs(ctx)
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
		n, handed, err := w.cycle(context.Background())
		if err != nil {
			log.Error("worker cycle failed", "err", err)
		}
		if n > 0 && err == nil && !handed {
			continue // there may be more: claim again at once
		}
		// After a hand-off, the commit that made it woke the pool if it
		// left events to claim: claiming again at once would mostly find
		// nothing, at the cost of a write transaction.
		idle.Reset(w.opts.IdlePoll)
		w.idle.Add(1)
		select {
		case <-w.stop:
			w.idle.Add(-1)
			return
		case <-w.wake:
		case <-idle.C:
		}
		w.idle.Add(-1)
	}
}

// WorkspaceCap is how many of the pool's workers may hold one
// workspace's events at once: all but one, at least one.
func (w *Workers) WorkspaceCap() int { return max(w.opts.Workers-1, 1) }

// Cycle claims one batch, processes it and commits it, in the caller's
// goroutine. It returns how many events it claimed. Several Cycles may
// run at once: each is one worker.
func (w *Workers) Cycle(ctx context.Context) (int, error) {
	n, _, err := w.cycle(ctx)
	return n, err
}

// cycle is Cycle, also telling whether the batch was a hand-off.
func (w *Workers) cycle(ctx context.Context) (int, bool, error) {
	var b *batch
	select {
	case b = <-w.handoffs:
	default:
		var err error
		if b, err = w.claim(ctx); err != nil || b == nil {
			return 0, false, err
		}
	}
	n, err := w.process(ctx, b)
	return n, b.slot, err
}

// process processes a batch and commits its outcomes.
func (w *Workers) process(ctx context.Context, b *batch) (int, error) {
	defer b.close()
	n := len(b.claims)
	completions := make([]store.Completion, 0, len(b.claims))
	done := make([]int, 0, len(b.claims)) // the index in b.claims of each completion
	for i, c := range b.claims {
		if w.stopping() {
			// Shutting down: hand the rest back at once rather than make
			// another node wait for the leases to expire.
			w.release(ctx, b.unsettled(i))
			break
		}
		b.renewIfDue(ctx)
		if b.isLost(i) {
			b.finished(i)
			continue
		}
		out, err := w.proc.Process(ctx, c.Event)
		if err != nil {
			b.settle(i)
			w.fail(ctx, c, err)
		} else {
			completions = append(completions, store.Completion{Claim: c, Outcome: out})
			done = append(done, i)
		}
		b.finished(i)
	}
	b.renewIfDue(ctx)
	kept := completions[:0]
	for k, c := range completions {
		if !b.isLost(done[k]) {
			kept = append(kept, c)
		}
	}
	completions = kept
	if len(completions) == 0 {
		return n, nil
	}
	errs, err := w.store.CompleteEvents(ctx, completions)
	if err != nil {
		// The whole commit failed: count it as a processing error of each
		// event so a poison batch cannot loop forever.
		for _, c := range completions {
			w.fail(ctx, c.Claim, err)
		}
		return n, fmt.Errorf("pipeline: unable to commit %d outcomes: %w", len(completions), err)
	}
	for i, e := range errs {
		if e != nil && !errors.Is(e, store.ErrLeaseLost) {
			w.fail(ctx, completions[i].Claim, e)
		} else if e != nil {
			w.opts.Logger.Warn("lease lost; another worker owns the event now", "event_id", completions[i].Claim.Event.ID)
		}
	}
	return n, nil
}

// capped lists the workspaces that are held by WorkspaceCap workers,
// counting the hand-offs under way as holders of each.
func (w *Workers) capped() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []int64
	for ws, n := range w.holders {
		if n+w.inflight >= w.WorkspaceCap() {
			ids = append(ids, ws)
		}
	}
	return ids
}

// claim claims a batch around the workspaces at the cap, registers its
// workspaces as held by this worker and starts renewing its leases; nil
// when there was nothing to claim. The pool's claims are made one at a
// time, so what one claim holds is known to the next: otherwise two
// workers could both take a workspace at the cap minus one.
func (w *Workers) claim(ctx context.Context) (*batch, error) {
	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	claimedAt := w.opts.Clock.Now()
	claims, err := w.store.ClaimEvents(ctx, w.opts.Owner, w.opts.Batch, w.opts.Lease, w.capped()...)
	if err != nil || len(claims) == 0 {
		return nil, err
	}
	return w.hold(ctx, claims, claimedAt, false), nil
}

// HandOff runs one ingest commit, offering it a hand-off of up to a batch
// of the events it stores (store.HandOff) when a worker waits for work;
// the claims the commit returns wait for the next free worker, which
// processes them without claiming anything from the store. Without a
// waiting worker, or once the pool is stopping, the commit hands nothing
// off and the workers claim its events as usual.
func (w *Workers) HandOff(commit func(store.HandOff) ([]store.Claim, error)) error {
	select {
	case w.slots <- struct{}{}:
	default:
		_, err := commit(store.HandOff{})
		return err
	}
	// Without a hand-off after all: the slot goes back.
	plain := func() error {
		<-w.slots
		_, err := commit(store.HandOff{})
		return err
	}
	// Only for a worker that waits for work: one that is busy would make
	// the events wait all the same, and under load a claim of the
	// queue's backlog makes bigger batches, whose completion costs less
	// per event (one rollup and counter row per rule and batch) than a
	// hand-off of what one commit carried. A pool run by hand (Cycle,
	// never started) counts as waiting.
	if w.started.Load() && int(w.idle.Load()) < len(w.slots) {
		return plain()
	}
	// The commit runs outside claimMu (several ingest committers may hand
	// off at once on PostgreSQL); counted in inflight meanwhile, it keeps
	// every claim, and every other hand-off, within the workspace cap.
	w.claimMu.Lock()
	if w.stopping() {
		w.claimMu.Unlock()
		return plain()
	}
	h := store.HandOff{Owner: w.opts.Owner, Limit: w.opts.Batch, Lease: w.opts.Lease, Exclude: w.capped()}
	w.mu.Lock()
	w.inflight++
	w.mu.Unlock()
	w.claimMu.Unlock()

	claimedAt := w.opts.Clock.Now()
	claims, err := commit(h)

	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	var b *batch
	if err == nil && len(claims) > 0 {
		b = w.hold(context.Background(), claims, claimedAt, true)
	}
	w.mu.Lock()
	w.inflight--
	w.mu.Unlock()
	if b == nil {
		<-w.slots
		return err
	}
	if w.stopping() {
		// Stop may have released the hand-offs already: hand this one
		// back too.
		w.release(context.Background(), b.unsettled(0))
		b.close()
		return nil
	}
	// Never blocks: the slot taken above is this batch's.
	w.handoffs <- b
	w.Wake()
	return nil
}

// releaseHandOffs hands back the batches no worker took before the pool
// stopped, so that another node need not wait for their leases.
func (w *Workers) releaseHandOffs(ctx context.Context) {
	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	for {
		select {
		case b := <-w.handoffs:
			w.release(ctx, b.unsettled(0))
			b.close()
		default:
			return
		}
	}
}

// hold registers the claims' workspaces as held by a batch and starts
// renewing its leases; slot says the batch holds a hand-off slot.
func (w *Workers) hold(ctx context.Context, claims []store.Claim, claimedAt time.Time, slot bool) *batch {
	left := map[int64]int{}
	for _, c := range claims {
		left[c.Event.WorkspaceID]++
	}
	w.mu.Lock()
	for ws := range left {
		w.holders[ws]++
	}
	w.mu.Unlock()
	b := &batch{w: w, ctx: ctx, claims: claims, left: left, renewed: claimedAt, slot: slot,
		lost: make([]bool, len(claims)), settled: make([]bool, len(claims)), stop: make(chan struct{})}
	b.wg.Add(1)
	go b.renewLoop()
	return b
}

// batch is the claims one Cycle holds.
type batch struct {
	w      *Workers
	ctx    context.Context
	claims []store.Claim
	stop   chan struct{}
	wg     sync.WaitGroup
	slot   bool // a hand-off's: holds one of the pool's slots until closed

	// left counts the unprocessed events of each held workspace; only
	// the Cycle's goroutine uses it.
	left map[int64]int

	mu sync.Mutex // serialises renewals; guards what follows
	// renewed is when the leases were last renewed (or claimed), on the
	// pool's clock.
	renewed time.Time
	// lost marks the claims whose lease could not be renewed: another
	// worker took them.
	lost []bool
	// settled marks the claims already failed or released: no longer
	// ours to renew.
	settled []bool
}

// renewLoop renews the leases every Lease/3 of wall time while the batch
// is held, for an event whose processing takes long.
func (b *batch) renewLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.w.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.renew(b.ctx)
		}
	}
}

// renewIfDue renews the leases when Lease/3 has passed on the pool's
// clock since the last renewal.
func (b *batch) renewIfDue(ctx context.Context) {
	b.mu.Lock()
	due := b.w.opts.Clock.Now().Sub(b.renewed) >= b.w.opts.Lease/3
	b.mu.Unlock()
	if due {
		b.renew(ctx)
	}
}

// renew extends the leases of the claims still ours, and marks those
// another worker took as lost.
func (b *batch) renew(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var (
		claims []store.Claim
		index  []int
	)
	for i, c := range b.claims {
		if !b.lost[i] && !b.settled[i] {
			claims = append(claims, c)
			index = append(index, i)
		}
	}
	if len(claims) == 0 {
		return
	}
	now := b.w.opts.Clock.Now()
	held, err := b.w.store.ExtendLeases(ctx, claims, b.w.opts.Lease)
	if err != nil {
		// Tried again at the next tick; the lease has two more thirds.
		b.w.opts.Logger.Warn("unable to renew the leases of a batch", "events", len(claims), "err", err)
		return
	}
	b.renewed = now
	for k, ok := range held {
		if !ok {
			b.lost[index[k]] = true
			b.w.opts.Logger.Warn("lease lost; the event is dropped from the batch", "event_id", claims[k].Event.ID)
		}
	}
}

func (b *batch) isLost(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lost[i]
}

// settle marks claim i as settled (failed or released).
func (b *batch) settle(i int) {
	b.mu.Lock()
	b.settled[i] = true
	b.mu.Unlock()
}

// unsettled marks the claims from i on as settled and returns them, for
// release.
func (b *batch) unsettled(from int) []store.Claim {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []store.Claim
	for i := from; i < len(b.claims); i++ {
		if !b.lost[i] {
			b.settled[i] = true
			out = append(out, b.claims[i])
		}
	}
	return out
}

// finished lets go of claim i's workspace when it was the batch's last
// event of it.
func (b *batch) finished(i int) {
	ws := b.claims[i].Event.WorkspaceID
	if b.left[ws]--; b.left[ws] == 0 && !b.w.opts.HoldUntilCommitted {
		delete(b.left, ws)
		b.w.letGo(ws)
	}
}

// close stops the renewals and lets go of every workspace still held
// (with HoldUntilCommitted, every workspace of the batch).
func (b *batch) close() {
	close(b.stop)
	b.wg.Wait()
	for ws := range b.left {
		b.w.letGo(ws)
	}
	if b.slot {
		<-b.w.slots
	}
}

func (w *Workers) letGo(ws int64) {
	w.mu.Lock()
	if w.holders[ws]--; w.holders[ws] <= 0 {
		delete(w.holders, ws)
	}
	missed := w.missed
	w.missed = false
	w.mu.Unlock()
	if missed {
		w.Wake()
	}
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
