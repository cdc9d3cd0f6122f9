package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// ingestMany stores events of workspace ws, each of its own conversation,
// in groups of 50, and returns their ids in order.
func ingestMany(t *testing.T, st pipeline.Store, clk clock.Clock, ws int64, n int, payload func(i int) string) []string {
	t.Helper()
	var ids []string
	for start := 0; start < n; start += 50 {
		var groups []*store.IngestGroup
		for i := start; i < min(start+50, n); i++ {
			conv := fmt.Sprintf("ws%d-c%d", ws, i)
			groups = append(groups, &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws,
				EventType: rules.TriggerIncoming, Source: "api", ConversationID: &conv,
				Payload: json.RawMessage(payload(i)), PayloadHash: fmt.Sprintf("%064x", i), OccurredAt: clk.Now()}}}})
		}
		if err := st.IngestEvents(context.Background(), groups); err != nil {
			t.Fatal(err)
		}
		for _, g := range groups {
			if g.Err != nil {
				t.Fatal(g.Err)
			}
			ids = append(ids, g.Results[0].Event.ID)
		}
	}
	return ids
}

// TestLeaseRenewedWhileWorking: a worker whose batch takes longer than a
// lease keeps it, so another worker never takes an event it is working
// on; when the lease was lost anyway, the event is dropped from the batch.
// The clock is fake: the processor moves it, and another worker claims
// between events, exactly.
func TestLeaseRenewedWhileWorking(t *testing.T) {
	t.Parallel()
	const lease = 30 * time.Second
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		t.Run("Kept", func(t *testing.T) {
			ids := ingestMany(t, e.st, e.clock, e.ws.ID, 5, func(int) string { return `{}` })
			var rivals []string
			slow := processorFunc(func(ctx context.Context, ev store.Event) (store.Outcome, error) {
				// Two thirds of a lease per event, five events: the batch
				// takes more than three leases.
				e.clock.Advance(lease * 2 / 3)
				claims, err := e.st.ClaimEvents(ctx, "rival", 10, lease)
				if err != nil {
					return store.Outcome{}, err
				}
				for _, c := range claims {
					rivals = append(rivals, c.Event.ID)
				}
				return store.Outcome{Status: store.EventProcessed}, nil
			})
			w := pipeline.NewWorkers(e.st, slow, pipeline.WorkerOptions{Workers: 1, Batch: 10, Lease: lease, Clock: e.clock})
			if n, err := w.Cycle(ctx); n != 5 || err != nil {
				t.Fatalf("Cycle = %d, %v", n, err)
			}
			if len(rivals) > 0 {
				t.Fatalf("another worker took %v while the batch was being worked on", rivals)
			}
			for _, id := range ids {
				if got, _ := e.st.GetEvent(ctx, e.ws.ID, id); got.Status != store.EventProcessed || got.Attempts != 1 {
					t.Errorf("event %s: %s after %d attempts; want processed at the first", id, got.Status, got.Attempts)
				}
			}
		})
		t.Run("LostIsDropped", func(t *testing.T) {
			ingestMany(t, e.st, e.clock, e.ws.ID, 3, func(int) string { return `{}` })
			var calls atomic.Int64
			var rival []store.Claim
			stalled := processorFunc(func(ctx context.Context, ev store.Event) (store.Outcome, error) {
				calls.Add(1)
				// The first event stalls past the lease before any renewal
				// could run, and another worker takes the whole batch.
				e.clock.Advance(lease + time.Second)
				var err error
				rival, err = e.st.ClaimEvents(ctx, "rival", 10, lease)
				return store.Outcome{Status: store.EventProcessed}, err
			})
			w := pipeline.NewWorkers(e.st, stalled, pipeline.WorkerOptions{Workers: 1, Batch: 10, Lease: lease, Clock: e.clock})
			if n, err := w.Cycle(ctx); n != 3 || err != nil {
				t.Fatalf("Cycle = %d, %v", n, err)
			}
			if calls.Load() != 1 || len(rival) != 3 {
				t.Fatalf("processed %d events, the rival claimed %d; want 1 and 3", calls.Load(), len(rival))
			}
			// Nothing of the lost batch was committed: the rival's claims
			// are all current.
			errs, err := e.st.CompleteEvents(ctx, []store.Completion{
				{Claim: rival[0], Outcome: store.Outcome{Status: store.EventProcessed}},
				{Claim: rival[1], Outcome: store.Outcome{Status: store.EventProcessed}},
				{Claim: rival[2], Outcome: store.Outcome{Status: store.EventProcessed}}})
			if err != nil || errs[0] != nil || errs[1] != nil || errs[2] != nil {
				t.Fatalf("the rival's completions: %v, %v", errs, err)
			}
		})
	})
}

// TestWorkspaceCap: with 4 workers, a workspace's events hold at most 3
// of them; the fourth claims around them and processes another
// workspace's event, though that event comes after all of theirs.
func TestWorkspaceCap(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		other, _, _, err := tenancy.CreateWorkspace(ctx, e.st, "globex", "")
		if err != nil {
			t.Fatal(err)
		}
		ingestMany(t, e.st, e.clock, e.ws.ID, 40, func(int) string { return `{}` })
		theirs := ingestMany(t, e.st, e.clock, other.ID, 1, func(int) string { return `{}` })[0]

		held := make(chan string, 40) // an event of acme's being worked on
		unblock := make(chan struct{})
		var processedOther atomic.Bool
		proc := processorFunc(func(ctx context.Context, ev store.Event) (store.Outcome, error) {
			if ev.WorkspaceID == e.ws.ID {
				held <- ev.ID
				<-unblock
			} else {
				processedOther.Store(true)
			}
			return store.Outcome{Status: store.EventProcessed}, nil
		})
		w := pipeline.NewWorkers(e.st, proc, pipeline.WorkerOptions{Workers: 4, Batch: 4, Clock: e.clock})
		if w.WorkspaceCap() != 3 {
			t.Fatalf("WorkspaceCap = %d, want 3", w.WorkspaceCap())
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if n, err := w.Cycle(ctx); n == 0 || err != nil {
					t.Errorf("a worker on acme's events: Cycle = %d, %v", n, err)
				}
			})
		}
		for range 3 {
			<-held // three workers hold acme's events
		}
		// The fourth worker takes globex's event, past acme's 28 others.
		if n, err := w.Cycle(ctx); n != 1 || err != nil || !processedOther.Load() {
			t.Fatalf("the fourth worker: Cycle = %d, %v, processed globex's event %v", n, err, processedOther.Load())
		}
		if got, _ := e.st.GetEvent(ctx, other.ID, theirs); got.Status != store.EventProcessed {
			t.Fatalf("globex's event is %s", got.Status)
		}
		// And nothing more while acme holds three workers.
		if n, err := w.Cycle(ctx); n != 0 || err != nil {
			t.Fatalf("a fourth worker with only acme's events left: Cycle = %d, %v; want nothing claimed", n, err)
		}
		close(unblock)
		wg.Wait()
		e.drainWith(t, w)
	})
}

// drainWith runs w's Cycle until it claims nothing.
func (e *env) drainWith(t *testing.T, w *pipeline.Workers) {
	t.Helper()
	for {
		n, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// processorFunc is a Processor from a function.
type processorFunc func(ctx context.Context, e store.Event) (store.Outcome, error)

func (f processorFunc) Process(ctx context.Context, e store.Event) (store.Outcome, error) {
	return f(ctx, e)
}

// overlapDetector counts how often each event is processed and whether
// one was ever being processed by two workers at once.
type overlapDetector struct {
	pipeline.Processor
	mu       sync.Mutex
	inFlight map[string]bool
	times    map[string]int
	overlap  atomic.Int64
	most     int
}

// peak is the most events that were processed at once.
func (d *overlapDetector) peak() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.most
}

func (d *overlapDetector) Process(ctx context.Context, e store.Event) (store.Outcome, error) {
	d.mu.Lock()
	if d.inFlight[e.ID] {
		d.overlap.Add(1)
	}
	d.inFlight[e.ID] = true
	d.most = max(d.most, len(d.inFlight))
	d.times[e.ID]++
	d.mu.Unlock()
	out, err := d.Processor.Process(ctx, e)
	d.mu.Lock()
	delete(d.inFlight, e.ID)
	d.mu.Unlock()
	return out, err
}

// TestHostileWorkspaceDoesNotStallOthers is issue 7 item 2 on real
// workers and the real clock: one workspace has hostile rules (the
// costliest matches patterns a rule may have) and a backlog of events with
// subjects they are costliest on, some of 1 MB; another workspace's event,
// queued after all of them, is processed within a second. The lease is
// short (a batch of 64 hostile events takes longer), so without renewal other workers would
// take events still being worked on: none ever is, and none is processed
// twice.
func TestHostileWorkspaceDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		// Ten times slower evaluation of 1 MB payloads makes a backlog of
		// minutes and the bounds meaningless; the renewal and the cap are
		// checked under the race detector by TestLeaseRenewedWhileWorking
		// and TestWorkspaceCap.
		t.Skip("a load test with time bounds; not under the race detector")
	}
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := clock.System{}
			st := storetest.OpenWithClock(t, dialect, clk).(pipeline.Store)
			hostile, _, _, err := tenancy.CreateWorkspace(ctx, st, "hostile", "")
			if err != nil {
				t.Fatal(err)
			}
			victim, _, _, err := tenancy.CreateWorkspace(ctx, st, "victim", "")
			if err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				var conds []string
				for j := range 8 { // 8 × 500 characters: within the 4,096 a rule may have
					p := strings.Repeat("[a-z]", 99) + fmt.Sprintf("%02d%03d", i, j)[:5]
					conds = append(conds, fmt.Sprintf(`{"field":"message.subject","operator":"matches","value":%q}`, p))
				}
				r := rules.Rule{WorkspaceID: hostile.ID, Name: fmt.Sprintf("hostile %d", i), IsActive: true,
					TriggerType: rules.TriggerIncoming, RolloutPercentage: 100, Priority: i,
					// In an any group none matches, so every pattern is tried.
					Conditions: json.RawMessage(`[{"any":[` + strings.Join(conds, ",") + `]}]`),
					Actions:    []rules.Action{{Type: rules.ActionUnassign}}}
				if errs := r.Validate(); len(errs) > 0 {
					t.Fatalf("hostile rule: %v", errs)
				}
				if _, err := st.CreateRule(ctx, r, nil); err != nil {
					t.Fatal(err)
				}
			}
			victimRule, err := st.CreateRule(ctx, rules.Rule{WorkspaceID: victim.ID, Name: "tag", IsActive: true,
				TriggerType: rules.TriggerIncoming, RolloutPercentage: 100,
				Actions: []rules.Action{{Type: rules.ActionUnassign}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			mb := strings.Repeat("x", 1<<20)
			backlog := ingestMany(t, st, clk, hostile.ID, 400, func(i int) string {
				subject := mb[:600] // each pattern affordable: the budget is spent
				if i%20 == 0 {
					subject = mb
				}
				return `{"message":{"subject":"` + subject + `"}}`
			})
			det := &overlapDetector{Processor: pipeline.NewEngine(st, pipeline.NewPrograms(st), clk),
				inFlight: map[string]bool{}, times: map[string]int{}}
			w := pipeline.StartWorkers(st, det, pipeline.WorkerOptions{Workers: 4, Batch: 64, Lease: time.Second,
				IdlePoll: 10 * time.Millisecond, Clock: clk})
			defer w.Stop(ctx)
			// Once the hostile workspace keeps three workers busy, the other
			// workspace's event arrives, behind the whole backlog.
			deadline := time.Now().Add(60 * time.Second)
			for det.peak() < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("the hostile events never kept three workers busy")
				}
				time.Sleep(5 * time.Millisecond) // polling real workers, with a deadline
			}
			start := time.Now()
			cpuStart, cpuOK := processCPU()
			theirs := ingestMany(t, st, clk, victim.ID, 1, func(int) string { return `{"message":{"subject":"hi"}}` })[0]
			w.Wake()
			for {
				got, err := st.GetEvent(ctx, victim.ID, theirs)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status == store.EventProcessed {
					break
				}
				if time.Since(start) > 30*time.Second {
					t.Fatalf("the other workspace's event is still %s after %s", got.Status, time.Since(start))
				}
				time.Sleep(5 * time.Millisecond) // polling real workers, with a deadline
			}
			took := time.Since(start)
			// Within a second on this machine (2 cores): within a second of
			// wall time, or, when other processes starve this one (the
			// machine is shared), within the 2 s of CPU two cores give in a
			// second. Stalled behind the backlog, it would wait for seconds
			// of hostile work either way.
			cpuEnd, _ := processCPU()
			if cpu := cpuEnd - cpuStart; took > time.Second && (!cpuOK || cpu > 2*time.Second) {
				t.Errorf("the other workspace's event took %s (%s of CPU), want under a second", took, cpu)
			}
			runs, _, err := st.ListRuns(ctx, victim.ID, store.RunFilter{EventID: theirs}, store.ListQuery{Limit: 10})
			if err != nil || len(runs) != 1 || runs[0].RuleID != victimRule.ID || !runs[0].Matched {
				t.Fatalf("the other workspace's runs: %+v, %v", runs, err)
			}
			// Let a good part of the backlog go through, then check that no
			// event was worked on twice.
			deadline = time.Now().Add(120 * time.Second)
			for {
				_, n, err := st.ListEvents(ctx, hostile.ID, store.EventFilter{Status: store.EventProcessed}, store.ListQuery{Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				if n >= 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d of %d hostile events processed in two minutes", n, len(backlog))
				}
				time.Sleep(20 * time.Millisecond) // polling real workers, with a deadline
			}
			if err := w.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			det.mu.Lock()
			defer det.mu.Unlock()
			twice := 0
			for _, n := range det.times {
				if n > 1 {
					twice++
				}
			}
			t.Logf("%s: the other workspace's event took %s (%s of CPU); %d hostile events processed", dialect, took, cpuEnd-cpuStart, len(det.times))
			if det.overlap.Load() > 0 || twice > 0 {
				t.Errorf("%d times an event was worked on by two workers at once; %d events processed more than once", det.overlap.Load(), twice)
			}
			var limited int
			hostileRuns, _, err := st.ListRuns(ctx, hostile.ID, store.RunFilter{EventID: backlog[1]}, store.ListQuery{Limit: 20})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range hostileRuns {
				if containsReason(r.Result, "evaluation_limit") {
					limited++
				}
			}
			if limited == 0 {
				t.Errorf("no hostile run reached evaluation_limit: %d runs", len(hostileRuns))
			}
		})
	}
}

// blockedCommits is a store whose CompleteEvents waits for release once
// entered, so a test can act while a batch is being committed.
type blockedCommits struct {
	pipeline.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockedCommits) CompleteEvents(ctx context.Context, items []store.Completion) ([]error, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.CompleteEvents(ctx, items)
}

// TestHoldUntilCommitted: with HoldUntilCommitted, a batch's workspace is
// held (at the cap) until its outcomes are committed, so another worker
// claims none of its events meanwhile, and still takes another
// workspace's; without it, the workspace is let go once its last event is
// processed, and the other worker takes its next events during the
// commit.
func TestHoldUntilCommitted(t *testing.T) {
	t.Parallel()
	for _, hold := range []bool{true, false} {
		t.Run(fmt.Sprintf("hold=%v", hold), func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, e *env) {
				ctx := context.Background()
				other, _, _, err := tenancy.CreateWorkspace(ctx, e.st, "globex", "")
				if err != nil {
					t.Fatal(err)
				}
				ingestMany(t, e.st, e.clock, e.ws.ID, 8, func(int) string { return `{}` })
				ingestMany(t, e.st, e.clock, other.ID, 1, func(int) string { return `{}` })
				st := &blockedCommits{Store: e.st, entered: make(chan struct{}), release: make(chan struct{})}
				var (
					mu        sync.Mutex
					processed []int64 // the workspace of each event processed, in order
				)
				proc := processorFunc(func(ctx context.Context, ev store.Event) (store.Outcome, error) {
					mu.Lock()
					processed = append(processed, ev.WorkspaceID)
					mu.Unlock()
					return store.Outcome{Status: store.EventProcessed}, nil
				})
				w := pipeline.NewWorkers(st, proc, pipeline.WorkerOptions{Workers: 2, Batch: 4, Clock: e.clock,
					HoldUntilCommitted: hold})
				cycles := make(chan error, 2)
				cycle := func() {
					_, err := w.Cycle(ctx)
					cycles <- err
				}
				go cycle() // acme's four oldest events, then blocked in their commit
				<-st.entered
				go cycle() // the second worker, during the first one's commit
				<-st.entered
				mu.Lock()
				second := slices.Clone(processed[4:])
				mu.Unlock()
				close(st.release)
				for range 2 {
					if err := <-cycles; err != nil {
						t.Fatal(err)
					}
				}
				switch {
				case hold && !slices.Equal(second, []int64{other.ID}):
					t.Errorf("held through the commit: the second worker processed events of %v; want globex's alone", second)
				case !hold && !slices.Contains(second, e.ws.ID):
					t.Errorf("let go before the commit: the second worker processed events of %v; want acme's next", second)
				}
			})
		})
	}
}
