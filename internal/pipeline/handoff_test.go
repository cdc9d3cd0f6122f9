package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// claimCounter counts the claims a pool makes of the store.
type claimCounter struct {
	pipeline.Store
	claims atomic.Int64
}

func (c *claimCounter) ClaimEvents(ctx context.Context, owner string, limit int, lease time.Duration, exclude ...int64) ([]store.Claim, error) {
	c.claims.Add(1)
	return c.Store.ClaimEvents(ctx, owner, limit, lease, exclude...)
}

// TestHandOff: an ingest commit hands its events to the pool, whose next
// Cycle processes them without claiming anything; with no room for
// another batch a commit hands nothing off and its events wait in the
// queue; a pool that stops hands back what no worker took.
func TestHandOff(t *testing.T) {
	t.Parallel()
	forEachDialect(t, testHandOff)
}

func testHandOff(t *testing.T, e *env) {
	ctx := context.Background()
	st := &claimCounter{Store: e.st}
	ok := processorFunc(func(context.Context, store.Event) (store.Outcome, error) {
		return store.Outcome{Status: store.EventProcessed}, nil
	})
	w := pipeline.NewWorkers(st, ok, pipeline.WorkerOptions{Workers: 1, Batch: 10, Clock: e.clock})
	in := pipeline.NewIngester(st, pipeline.IngesterOptions{HandOff: w.HandOff})
	t.Cleanup(in.Close)
	ingest := func(conv string) store.Event {
		t.Helper()
		g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: e.ws.ID,
			EventType: rules.TriggerIncoming, Source: "api", ConversationID: &conv, Payload: json.RawMessage(`{}`),
			PayloadHash: "0000"}}}}
		if err := in.Ingest(ctx, g); err != nil || g.Err != nil {
			t.Fatalf("Ingest: %v, %v", err, g.Err)
		}
		return g.Results[0].Event
	}
	status := func(id string) (string, int) {
		t.Helper()
		ev, err := e.st.GetEvent(ctx, e.ws.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Status, ev.Attempts
	}

	first := ingest("a")
	if s, n := status(first.ID); s != store.EventProcessing || n != 1 {
		t.Fatalf("handed-off event is %s at attempt %d, want processing at 1", s, n)
	}
	// The one slot is taken: the next commit hands nothing off.
	second := ingest("b")
	if s, _ := status(second.ID); s != store.EventPending {
		t.Fatalf("event committed without room is %s, want pending", s)
	}
	if n, err := w.Cycle(ctx); n != 1 || err != nil {
		t.Fatalf("Cycle = %d, %v; want the hand-off's 1 event", n, err)
	}
	if got := st.claims.Load(); got != 0 {
		t.Errorf("the pool claimed from the store %d times for a hand-off", got)
	}
	if s, _ := status(first.ID); s != store.EventProcessed {
		t.Errorf("handed-off event is %s after the Cycle, want processed", s)
	}
	if n, err := w.Cycle(ctx); n != 1 || err != nil {
		t.Fatalf("Cycle = %d, %v; want the queued event", n, err)
	}
	if s, _ := status(second.ID); s != store.EventProcessed || st.claims.Load() != 1 {
		t.Errorf("queued event is %s after %d claims, want processed after 1", s, st.claims.Load())
	}

	// Stopping with a hand-off no worker took releases it.
	third := ingest("c")
	if err := w.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s, n := status(third.ID); s != store.EventPending || n != 0 {
		t.Errorf("hand-off left at Stop is %s at attempt %d, want pending at 0", s, n)
	}
	// A stopped pool hands nothing off.
	if s, _ := status(ingest("d").ID); s != store.EventPending {
		t.Errorf("event committed after Stop is %s, want pending", s)
	}
}

// TestHandOffKeepsConversationOrder runs real workers fed by hand-offs
// and by the queue at once: the events of a conversation are processed
// one at a time, in the order they were ingested.
func TestHandOffKeepsConversationOrder(t *testing.T) {
	t.Parallel()
	forEachDialect(t, testHandOffOrder)
}

func testHandOffOrder(t *testing.T, e *env) {
	e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
	rec := &recorder{Processor: e.engine, active: map[string]bool{}, order: map[string][]string{}}
	w := pipeline.StartWorkers(e.st, rec, pipeline.WorkerOptions{Workers: 4, Batch: 4, Clock: e.clock,
		IdlePoll: 10 * time.Millisecond})
	in := pipeline.NewIngester(e.st, pipeline.IngesterOptions{HandOff: w.HandOff, Notify: w.WakeFor})
	want := map[string][]string{}
	for i := range 120 {
		conv := fmt.Sprintf("conv-%d", i%5)
		g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: e.ws.ID,
			EventType: rules.TriggerIncoming, Source: "api", ConversationID: &conv, Payload: json.RawMessage(`{}`),
			PayloadHash: "0000"}}}}
		if err := in.Ingest(context.Background(), g); err != nil || g.Err != nil {
			t.Fatalf("Ingest: %v, %v", err, g.Err)
		}
		want[conv] = append(want[conv], g.Results[0].Event.ID)
	}
	in.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, n, err := e.st.ListEvents(context.Background(), e.ws.ID, store.EventFilter{Status: store.EventProcessed},
			store.ListQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if n == 120 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 120 events processed after 30 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.overlap.Load() {
		t.Error("two events of one conversation were processed at the same time")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for conv, ids := range want {
		if got := rec.order[conv]; fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("%s processed in order %v, want %v", conv, got, ids)
		}
	}
}
