package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

const (
	// drainTimeout bounds how long a test waits for the queue to empty.
	drainTimeout = 60 * time.Second
	// testLease is the lease the pipeline tests run the nodes with
	// (SWITCHBOARD_LEASE), so that a killed node's claims expire quickly:
	// the shortest the configuration accepts.
	testLease = "5s"
)

// ackLog records the ids of the events the server acknowledged with 202.
type ackLog struct {
	mu  sync.Mutex
	ids []string
	n   atomic.Int64
}

func (a *ackLog) add(ids []string) int64 {
	a.mu.Lock()
	a.ids = append(a.ids, ids...)
	a.mu.Unlock()
	return a.n.Add(int64(len(ids)))
}

func (a *ackLog) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ids)
}

// errLog collects the errors of ingestion goroutines (which cannot fail
// the test themselves).
type errLog struct {
	mu   sync.Mutex
	errs []error
}

func (e *errLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errLog) report(t testing.TB, what string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) > 0 {
		t.Fatalf("%s: %d requests failed; the first: %v", what, len(e.errs), e.errs[0])
	}
}

// checkProcessedOnce reads every event and every run of the rules back and
// checks that each acknowledged event exists and is processed, and that
// every processed event has exactly one run of each rule (docs/concepts.md#events: no
// (event, rule) ever has two runs). It returns the events by id and the
// runs of the first rule by event id.
func checkProcessedOnce(t testing.TB, s *server, token string, acked []string, ruleIDs ...int64) (map[string]eventView, map[string]runView) {
	t.Helper()
	events := map[string]eventView{}
	for _, e := range listAll[eventView](t, s, token, "/v1/automation/events") {
		if _, dup := events[e.ID]; dup {
			t.Errorf("event %s is listed twice", e.ID)
		}
		events[e.ID] = e
	}
	var missing, notProcessed []string
	for _, id := range acked {
		e, ok := events[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case e.Status != "processed":
			notProcessed = append(notProcessed, fmt.Sprintf("%s (%s)", id, e.Status))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged events are missing, e.g. %v", len(missing), len(acked), missing[:min(5, len(missing))])
	}
	if len(notProcessed) > 0 {
		t.Errorf("%d of %d acknowledged events are not processed, e.g. %v", len(notProcessed), len(acked), notProcessed[:min(5, len(notProcessed))])
	}
	processed := 0
	for _, e := range events {
		if e.Status == "processed" {
			processed++
		}
	}

	var first map[string]runView
	for _, rule := range ruleIDs {
		runs := listAll[runView](t, s, token, fmt.Sprintf("/v1/automation/runs?rule_id=%d", rule))
		byEvent := make(map[string]runView, len(runs))
		var dups, foreign, wrongRule []string
		for _, r := range runs {
			if r.RuleID != rule {
				wrongRule = append(wrongRule, r.ID)
			}
			if _, dup := byEvent[r.EventID]; dup {
				dups = append(dups, r.EventID)
			}
			if _, ok := events[r.EventID]; !ok {
				foreign = append(foreign, r.EventID)
			}
			byEvent[r.EventID] = r
		}
		var without []string
		for id, e := range events {
			if e.Status == "processed" {
				if _, ok := byEvent[id]; !ok {
					without = append(without, id)
				}
			}
		}
		if len(dups) > 0 {
			t.Errorf("rule %d: %d events have two or more runs, e.g. %v", rule, len(dups), dups[:min(5, len(dups))])
		}
		if len(without) > 0 {
			t.Errorf("rule %d: %d of %d processed events have no run, e.g. %v", rule, len(without), processed, without[:min(5, len(without))])
		}
		if len(foreign) > 0 {
			t.Errorf("rule %d: %d runs point at events that are not listed, e.g. %v", rule, len(foreign), foreign[:min(5, len(foreign))])
		}
		if len(wrongRule) > 0 {
			t.Errorf("rule %d: the rule_id filter returned %d runs of other rules", rule, len(wrongRule))
		}
		t.Logf("rule %d: %d runs for %d events (%d processed)", rule, len(runs), len(events), processed)
		if first == nil {
			first = byEvent
		}
	}
	return events, first
}

// TestCrashRecoverySQLite kills the server with SIGKILL in the middle of
// ingestion and processing, restarts it on the same file and checks that
// every event it acknowledged (202) survived and is processed exactly once.
// The kill follows at once the acknowledgement of a batch of 500 events,
// which the workers cannot have processed yet, and the file is read before
// the restart: the test fails unless the crash landed with events
// unprocessed, since otherwise it would prove nothing about recovery.
func TestCrashRecoverySQLite(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	const (
		total      = 2000
		goroutines = 8
		convs      = 50
		killAfter  = total / 2 // acknowledged events
	)
	db := filepath.Join(t.TempDir(), "switchboard.db")
	token := auth.NewToken()
	env := []string{"SWITCHBOARD_BOOTSTRAP_TOKEN=" + token, "SWITCHBOARD_LEASE=" + testLease}
	s := startServer(t, "before the crash", env, "--database", db, "--workers", "4")
	tagRule, neverRule := createRules(t, s, token)

	var (
		acks    ackLog
		errs    errLog
		wg      sync.WaitGroup
		once    sync.Once
		killing = make(chan struct{}) // closed just before SIGKILL is sent
	)
	crashed := func() bool {
		select {
		case <-killing:
			return true
		default:
			return false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	for w := range goroutines {
		wg.Go(func() {
			per := total / goroutines
			for n, i := 0, 0; n < per && !crashed(); i++ {
				size := 1 // every other request is a batch of 2..6
				if i%2 == 1 {
					size = min(2+i%5, per-n)
				}
				batch := make([]map[string]any, size)
				for j := range batch {
					seq := w + goroutines*(n+j)
					batch[j] = messageEvent(fmt.Sprintf("crash-%02d", seq%convs), seq)
				}
				n += size
				ids, err := s.ingest(ctx, token, batch)
				if err != nil {
					if !crashed() { // in flight at the kill: may fail
						errs.add(err)
					}
					return
				}
				if acks.add(ids) >= killAfter {
					once.Do(func() {
						// A last batch of 500, then the kill as soon as it is
						// acknowledged; the other goroutines keep ingesting.
						final := make([]map[string]any, 500)
						for j := range final {
							final[j] = messageEvent(fmt.Sprintf("crash-%02d", j%convs), total+j)
						}
						ids, err := s.ingest(ctx, token, final)
						close(killing)
						_ = s.signal(syscall.SIGKILL)
						if err != nil {
							errs.add(fmt.Errorf("the last batch before the kill: %w", err))
							return
						}
						acks.add(ids)
					})
				}
			}
		})
	}
	wg.Wait()
	errs.report(t, "ingestion before the crash")
	if !crashed() {
		t.Fatalf("the server was never killed: only %d events were acknowledged", acks.n.Load())
	}
	if code, ok := s.waitExit(exitTimeout); !ok || code != -1 {
		t.Fatalf("after SIGKILL: exited %v, code %d; want killed by the signal", ok, code)
	}
	acked := acks.all()
	t.Logf("%d events acknowledged in %s, then the crash", len(acked), time.Since(start).Round(time.Millisecond))
	unfinished := unfinishedInFile(t, db)
	t.Logf("at the crash: %d events not processed", unfinished)
	if unfinished == 0 {
		t.Fatalf("every event was processed before the kill: the crash did not land while events were unprocessed")
	}

	start = time.Now()
	restarted := startServer(t, "after the crash", env, "--database", db, "--workers", "4")
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))
	if out := restarted.stdout.String(); tokenPattern.MatchString(out) {
		t.Errorf("the restart printed a token:\n%s", out)
	}
	processedBefore := countEvents(t, restarted, token, "processed")
	stored := decode[envelope[eventView]](t, restarted.call(t, "GET", "/v1/automation/events?per_page=1", token, nil, http.StatusOK)).Total
	t.Logf("at the restart: %d events stored, %d of them not processed yet", stored, stored-processedBefore)
	waitQueueEmpty(t, restarted, token, drainTimeout)
	events, _ := checkProcessedOnce(t, restarted, token, acked, tagRule, neverRule)
	retried := 0
	for _, e := range events {
		if e.Attempts > 1 {
			retried++
		}
	}
	t.Logf("%d events stored (%d acknowledged), %d were claimed more than once (attempts > 1)", len(events), len(acked), retried)
	if code, took := restarted.Term(t); code != 0 || took > termBudget {
		t.Errorf("SIGTERM after recovery: exit code %d after %s, want 0 within %s", code, took, termBudget)
	}
}

// unfinishedInFile counts, in a SQLite file no server has open, the events
// that are not processed yet: pending or processing.
func unfinishedInFile(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM events WHERE status IN ('pending', 'processing')`).Scan(&n)
	if err != nil {
		t.Fatalf("reading %s after the crash: %v", path, err)
	}
	return n
}

// TestTwoNodesPostgres runs two nodes on one PostgreSQL schema: each event
// is processed by one of them, exactly once; and when one node dies
// holding leases, the other takes its events over once the leases expire.
func TestTwoNodesPostgres(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	dbURL := postgresURL(t)
	token := auth.NewToken()
	env := []string{"SWITCHBOARD_BOOTSTRAP_TOKEN=" + token, "SWITCHBOARD_LEASE=" + testLease}
	a := startServer(t, "node A", env, "--database", dbURL, "--workers", "4")
	b := startServer(t, "node B", env, "--database", dbURL, "--workers", "4")
	tagRule, neverRule := createRules(t, a, token)
	// B learns the rules from the store; check it sees them.
	b.call(t, "GET", fmt.Sprintf("/v1/automation/rules/%d", tagRule), token, nil, http.StatusOK)

	// Phase 1: 5,000 events in batches of 100, split across the nodes.
	const (
		batches   = 50
		batchSize = 100
		convs     = 100
	)
	var (
		acks ackLog
		errs errLog
		wg   sync.WaitGroup
		next atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= batches {
					return
				}
				node := a
				if i%2 == 1 {
					node = b
				}
				batch := make([]map[string]any, batchSize)
				for j := range batch {
					seq := i*batchSize + j
					batch[j] = messageEvent(fmt.Sprintf("pg-%03d", seq%convs), seq)
				}
				ids, err := node.ingest(ctx, token, batch)
				if err != nil {
					errs.add(fmt.Errorf("%s: %w", node.name, err))
					return
				}
				acks.add(ids)
			}
		})
	}
	wg.Wait()
	errs.report(t, "phase 1 ingestion")
	t.Logf("phase 1: %d events acknowledged in %s", acks.n.Load(), time.Since(start).Round(time.Millisecond))
	waitQueueEmpty(t, a, token, drainTimeout)
	events, _ := checkProcessedOnce(t, a, token, acks.all(), tagRule, neverRule)
	if len(events) != batches*batchSize {
		t.Errorf("phase 1: %d events stored, want %d", len(events), batches*batchSize)
	}
	if t.Failed() {
		return
	}

	// Phase 2: node B is frozen (SIGSTOP) so that only node A claims the
	// new events; A is killed while it holds leases; B, thawed, must take
	// A's events over when the leases expire, and process new ones.
	if err := b.signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP node B: %v", err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if err := b.signal(syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT node B: %v", err)
			}
		}
	}
	defer thaw()

	var (
		phase2  ackLog
		killing = make(chan struct{})
		next2   atomic.Int64
	)
	const batches2 = 30
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-killing:
					return
				default:
				}
				i := int(next2.Add(1)) - 1
				if i >= batches2 {
					return
				}
				batch := make([]map[string]any, batchSize)
				for j := range batch {
					seq := 100000 + i*batchSize + j
					batch[j] = messageEvent(fmt.Sprintf("pg-%03d", seq%convs), seq)
				}
				ids, err := a.ingest(ctx, token, batch)
				if err != nil {
					select {
					case <-killing: // in flight at the kill: may fail
					default:
						errs.add(fmt.Errorf("node A: %w", err))
					}
					return
				}
				phase2.add(ids)
			}
		})
	}
	// Kill A once it has taken a good share of the new events and is
	// working on some (it claims continuously while it has a backlog).
	deadline := time.Now().Add(drainTimeout)
	for {
		if phase2.n.Load() >= batches2*batchSize/2 && countEvents(t, a, token, "processing") > 0 {
			break
		}
		if time.Now().After(deadline) || next2.Load() >= batches2 && phase2.n.Load() == batches2*batchSize {
			break // A ran out of backlog; the kill below still happens
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(killing)
	a.Kill(t)
	killedAt := time.Now()
	wg.Wait()
	errs.report(t, "phase 2 ingestion")
	thaw()
	acked2 := phase2.all()
	t.Logf("phase 2: %d events acknowledged by node A before it was killed", len(acked2))

	// New events through B, while A's are still leased by a dead node.
	for i := range 5 {
		batch := make([]map[string]any, batchSize)
		for j := range batch {
			seq := 200000 + i*batchSize + j
			batch[j] = messageEvent(fmt.Sprintf("pg-%03d", seq%convs), seq)
		}
		ids, err := b.ingest(ctx, token, batch)
		if err != nil {
			t.Fatalf("node B after A's death: %v", err)
		}
		phase2.add(ids)
	}
	waitQueueEmpty(t, b, token, drainTimeout)
	t.Logf("phase 2: node B emptied the queue %s after node A was killed", time.Since(killedAt).Round(time.Millisecond))

	all := append(acks.all(), phase2.all()...)
	events, _ = checkProcessedOnce(t, b, token, all, tagRule, neverRule)
	takenOver := 0
	for _, id := range acked2 {
		if events[id].Attempts > 1 {
			takenOver++
		}
	}
	t.Logf("phase 2: %d of node A's events were claimed again after its leases expired", takenOver)
	if takenOver == 0 {
		t.Errorf("no event was claimed again after node A was killed: either A held no lease when it died " +
			"(it had finished its backlog) or attempts are not counted; the lease take-over was not exercised")
	}
}

// TestConversationOrdering checks docs/concepts.md#processing: the events of one conversation
// are processed one at a time, in (created_at, id) order, whatever the
// number of workers and nodes.
//
// Each conversation's events are sent by one goroutine to one node, each
// request waiting for its 202, half of them in batches, so many events of
// each conversation wait in the queue at once while several workers (and,
// on PostgreSQL, two nodes) compete for them.
//
// Invariant asserted, for each conversation with its events e1 < e2 < …
// in (created_at, id) order:
//
//	e[k].processed_at < e[k+1].processed_at
//
// that is, the events were completed in order. (That two are never
// evaluated at once is the claim's guarantee, asserted by the store's
// conformance suite: the API shows no evaluation time, since a run's
// created_at is its event's.) API times have millisecond precision, so
// each run's created_at is checked against its event's processed_at with
// 1 ms of slack. Also: every event is processed with exactly one run, and
// (created_at, id) order is the order the client sent the events in.
func TestConversationOrdering(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	t.Run("sqlite, one node", func(t *testing.T) {
		t.Parallel()
		token := auth.NewToken()
		env := []string{"SWITCHBOARD_BOOTSTRAP_TOKEN=" + token, "SWITCHBOARD_LEASE=" + testLease}
		// synchronous=normal: durability is not what this test is about.
		s := startServer(t, "sqlite node", env, "--database", filepath.Join(t.TempDir(), "switchboard.db"),
			"--workers", "4", "--sqlite-synchronous", "normal")
		checkOrdering(t, token, []*server{s})
	})
	t.Run("postgres, two nodes", func(t *testing.T) {
		t.Parallel()
		dbURL := postgresURL(t)
		token := auth.NewToken()
		env := []string{"SWITCHBOARD_BOOTSTRAP_TOKEN=" + token, "SWITCHBOARD_LEASE=" + testLease}
		a := startServer(t, "node A", env, "--database", dbURL, "--workers", "4")
		b := startServer(t, "node B", env, "--database", dbURL, "--workers", "4")
		checkOrdering(t, token, []*server{a, b})
	})
}

func checkOrdering(t *testing.T, token string, nodes []*server) {
	const (
		convs   = 6
		perConv = 100
		slack   = time.Millisecond
	)
	tagRule, _ := createRules(t, nodes[0], token)

	var (
		acks ackLog
		errs errLog
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	start := time.Now()
	for c := range convs {
		node := nodes[c%len(nodes)]
		conv := fmt.Sprintf("order-%d", c)
		wg.Go(func() {
			for seq, i := 0, 0; seq < perConv; i++ {
				size := 1 // every other request is a batch of 2..9
				if i%2 == 1 {
					size = min(2+i%8, perConv-seq)
				}
				batch := make([]map[string]any, size)
				for j := range batch {
					batch[j] = messageEvent(conv, seq+j)
				}
				seq += size
				ids, err := node.ingest(ctx, token, batch)
				if err != nil {
					errs.add(fmt.Errorf("%s: %s: %w", node.name, conv, err))
					return
				}
				acks.add(ids)
			}
		})
	}
	wg.Wait()
	errs.report(t, "ingestion")
	t.Logf("%d events acknowledged in %s", acks.n.Load(), time.Since(start).Round(time.Millisecond))
	waitQueueEmpty(t, nodes[0], token, drainTimeout)
	events, runs := checkProcessedOnce(t, nodes[0], token, acks.all(), tagRule)
	if len(events) != convs*perConv {
		t.Errorf("%d events stored, want %d", len(events), convs*perConv)
	}
	if t.Failed() {
		return
	}

	byConv := map[string][]eventView{}
	for _, e := range events {
		if e.ConversationID == nil {
			t.Fatalf("event %s has no conversation_id", e.ID)
		}
		byConv[*e.ConversationID] = append(byConv[*e.ConversationID], e)
	}
	for conv, es := range byConv {
		slices.SortFunc(es, func(x, y eventView) int {
			if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(x.ID, y.ID)
		})
		var sendOrder, overlaps []string
		for k, e := range es {
			if e.Payload.Seq != k {
				sendOrder = append(sendOrder, fmt.Sprintf("#%d is seq %d", k, e.Payload.Seq))
			}
			if e.ProcessedAt == nil {
				t.Fatalf("%s: processed event %s has no processed_at", conv, e.ID)
			}
			if run := runs[e.ID]; run.CreatedAt.After(e.ProcessedAt.Add(slack)) {
				t.Errorf("%s: event %s's run was created at %s, after the event was processed at %s",
					conv, e.ID, run.CreatedAt.Format(time.RFC3339Nano), e.ProcessedAt.Format(time.RFC3339Nano))
			}
			if k == 0 {
				continue
			}
			// A run's created_at is its event's (the decision record keeps no
			// evaluation time), so what the API shows of the order is the
			// completions': each event completes after the one before it.
			// That no two run at once is the claim's guarantee, tested with
			// the store (events_one_processing, the conformance suite).
			// processed_at has millisecond precision, and one event's
			// claim, evaluation and commit can take less: the next one
			// may complete in the same millisecond, never in an earlier one.
			if prev := es[k-1]; e.ProcessedAt.Before(*prev.ProcessedAt) {
				overlaps = append(overlaps, fmt.Sprintf("event #%d (%s, seq %d) processed at %s, before #%d (%s, seq %d) at %s",
					k, e.ID, e.Payload.Seq, e.ProcessedAt.Format(time.RFC3339Nano),
					k-1, prev.ID, prev.Payload.Seq, prev.ProcessedAt.Format(time.RFC3339Nano)))
			}
		}
		if len(sendOrder) > 0 {
			t.Errorf("%s: (created_at, id) order differs from the order the events were sent in at %d places, e.g. %v",
				conv, len(sendOrder), sendOrder[:min(5, len(sendOrder))])
		}
		if len(overlaps) > 0 {
			t.Errorf("%s: %d of %d consecutive events were completed out of order, e.g.:\n%s",
				conv, len(overlaps), len(es)-1, strings.Join(overlaps[:min(5, len(overlaps))], "\n"))
		}
	}
}
