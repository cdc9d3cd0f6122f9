package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// env is one test's pipeline over a real store.
type env struct {
	st       pipeline.Store
	clock    *clock.Fake
	ws       store.Workspace
	programs *pipeline.Programs
	engine   *pipeline.Engine
	ingester *pipeline.Ingester
}

func setup(t *testing.T, dialect string) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	st := storetest.OpenWithClock(t, dialect, clk).(pipeline.Store)
	ws, _, _, err := tenancy.CreateWorkspace(context.Background(), st, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, clock: clk, ws: ws, programs: pipeline.NewPrograms(st)}
	e.engine = pipeline.NewEngine(st, e.programs, clk)
	e.ingester = pipeline.NewIngester(st, pipeline.IngesterOptions{})
	t.Cleanup(e.ingester.Close)
	return e
}

func forEachDialect(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, d))
		})
	}
}

func (e *env) rule(t *testing.T, r rules.Rule) rules.Rule {
	t.Helper()
	r.WorkspaceID = e.ws.ID
	if r.Name == "" {
		r.Name = "rule"
	}
	if r.RolloutPercentage == 0 {
		r.RolloutPercentage = 100
	}
	r.IsActive = true
	if errs := r.Validate(); len(errs) > 0 {
		t.Fatalf("invalid test rule: %v", errs)
	}
	created, err := e.st.CreateRule(context.Background(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.programs.Invalidate(e.ws.ID)
	return created
}

func (e *env) tag(t *testing.T, name string) store.Tag {
	t.Helper()
	tag, err := e.st.CreateTag(context.Background(), store.Tag{WorkspaceID: e.ws.ID, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func (e *env) ingest(t *testing.T, typ, conv string, payload string) store.Event {
	t.Helper()
	ev := store.NewEvent{Event: store.Event{WorkspaceID: e.ws.ID, EventType: typ, Source: "api",
		Payload: json.RawMessage(payload), PayloadHash: "0000", OccurredAt: e.clock.Now()}}
	if conv != "" {
		ev.ConversationID = &conv
	}
	g := &store.IngestGroup{Events: []store.NewEvent{ev}}
	if err := e.ingester.Ingest(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if g.Err != nil {
		t.Fatal(g.Err)
	}
	return g.Results[0].Event
}

// drain processes every due event with workers concurrent Cycles of one
// pool on the fake clock: no real workers to poll, no sleeps. It returns
// after a round of cycles that claimed nothing, and fails when an event
// is left pending or processing.
func (e *env) drain(t *testing.T, p pipeline.Processor, workers int) {
	t.Helper()
	w := pipeline.NewWorkers(e.st, p, pipeline.WorkerOptions{Workers: workers, Clock: e.clock})
	for {
		var claimed atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					n, err := w.Cycle(context.Background())
					if err != nil {
						t.Errorf("Cycle: %v", err)
						return
					}
					if n == 0 {
						return
					}
					claimed.Add(int64(n))
				}
			})
		}
		wg.Wait()
		if claimed.Load() == 0 {
			break
		}
	}
	for _, status := range []string{store.EventPending, store.EventProcessing} {
		_, n, err := e.st.ListEvents(context.Background(), e.ws.ID, store.EventFilter{Status: status}, store.ListQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Fatalf("after draining, %d events are %s", n, status)
		}
	}
}

func (e *env) runs(t *testing.T, eventID string) []store.Run {
	t.Helper()
	runs, _, err := e.st.ListRuns(context.Background(), e.ws.ID, store.RunFilter{EventID: eventID}, store.ListQuery{Limit: 100, SortBy: "created_at"})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func ptr[T any](v T) *T { return &v }

func TestIngesterGroupCommit(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		counting := &countingStore{Store: e.st}
		in := pipeline.NewIngester(counting, pipeline.IngesterOptions{})
		defer in.Close()
		const n = 200
		var wg sync.WaitGroup
		ids := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: e.ws.ID,
					EventType: rules.TriggerIncoming, Source: "api", Payload: json.RawMessage(`{}`), PayloadHash: "x", OccurredAt: e.clock.Now()}}}}
				if err := in.Ingest(context.Background(), g); err != nil || g.Err != nil {
					t.Errorf("ingest: %v %v", err, g.Err)
					return
				}
				ids[i] = g.Results[0].Event.ID
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, id := range ids {
			if id == "" || seen[id] {
				t.Fatalf("missing or duplicate id %q", id)
			}
			seen[id] = true
			if _, err := e.st.GetEvent(context.Background(), e.ws.ID, id); err != nil {
				t.Fatalf("acknowledged event %s not stored: %v", id, err)
			}
		}
		if c := counting.commits.Load(); c >= n {
			t.Errorf("%d commits for %d concurrent requests: no grouping happened", c, n)
		}
	})
}

type countingStore struct {
	pipeline.Store
	commits atomic.Int64
}

func (c *countingStore) IngestEvents(ctx context.Context, groups []*store.IngestGroup) error {
	c.commits.Add(1)
	return c.Store.IngestEvents(ctx, groups)
}

func TestIngesterClosed(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	in := pipeline.NewIngester(e.st, pipeline.IngesterOptions{})
	in.Close()
	err := in.Ingest(context.Background(), &store.IngestGroup{Events: []store.NewEvent{{}}})
	if !errors.Is(err, pipeline.ErrStopped) {
		t.Fatalf("Ingest after Close = %v, want ErrStopped", err)
	}
}

func TestProcessingWritesRunsDeliveriesAndCounters(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		urgent := e.tag(t, "urgent")
		vip := e.tag(t, "vip")
		matching := e.rule(t, rules.Rule{Name: "tag urgent", TriggerType: rules.TriggerIncoming,
			Conditions: json.RawMessage(`[{"field":"message.subject","operator":"contains","value":"urgent"}]`),
			Actions:    []rules.Action{{Type: rules.ActionAddTag, TagID: ptr(urgent.ID)}}, CooldownSecs: 60})
		// Sees the tag the first rule added (chained effects).
		chained := e.rule(t, rules.Rule{Name: "vip when urgent", TriggerType: rules.TriggerIncoming,
			Conditions: json.RawMessage(`[{"field":"conversation.tags","operator":"contains","value":"URGENT"}]`),
			Actions:    []rules.Action{{Type: rules.ActionAddTag, TagID: ptr(vip.ID)}, {Type: rules.ActionAssignAgent, UserID: ptr(int64(999))}}})
		missing := e.rule(t, rules.Rule{Name: "never", TriggerType: rules.TriggerIncoming,
			Conditions: json.RawMessage(`[{"field":"contact.email","operator":"ends_with","value":"@nowhere.test"}]`),
			Actions:    []rules.Action{{Type: rules.ActionUnassign}}})
		e.rule(t, rules.Rule{Name: "other trigger", TriggerType: rules.TriggerResponse, Actions: []rules.Action{{Type: rules.ActionUnassign}}})

		ev := e.ingest(t, rules.TriggerIncoming, "c1", `{"message":{"subject":"URGENT: help"},"contact":{"email":"a@b.test"},"conversation":{"tags":[]}}`)
		e.drain(t, e.engine, 2)

		got, err := e.st.GetEvent(context.Background(), e.ws.ID, ev.ID)
		if err != nil || got.Status != store.EventProcessed {
			t.Fatalf("event = %+v, %v; want processed", got.Status, err)
		}
		runs := e.runs(t, ev.ID)
		if len(runs) != 3 {
			t.Fatalf("%d runs, want 3 (one per effective rule of the trigger)", len(runs))
		}
		byRule := map[int64]store.Run{}
		for _, r := range runs {
			byRule[r.RuleID] = r
		}
		if r := byRule[matching.ID]; !r.Matched || r.Status != store.RunPending {
			t.Errorf("matching rule run = %+v", r)
		}
		if r := byRule[chained.ID]; !r.Matched {
			t.Errorf("chained rule did not see the tag added by the first rule: %s", r.Result)
		}
		var res struct {
			Reason  *string           `json:"reason"`
			Trace   []json.RawMessage `json:"trace"`
			Actions []struct {
				Status, Reason, DeliveryID string
			} `json:"actions"`
		}
		if err := json.Unmarshal(byRule[chained.ID].Result, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Actions) != 2 || res.Actions[1].Status != "skipped" || res.Actions[1].Reason != "not_a_member" {
			t.Errorf("chained run actions = %+v; want assign_agent skipped as not_a_member", res.Actions)
		}
		r := byRule[missing.ID]
		if r.Matched || r.Status != store.RunNotMatched {
			t.Errorf("non-matching run = %+v", r)
		}
		if err := json.Unmarshal(r.Result, &res); err != nil {
			t.Fatal(err)
		}
		if res.Reason == nil || *res.Reason != "conditions_not_met" || len(res.Trace) != 1 {
			t.Errorf("non-matching result = %s; want the reason and only the failing condition", r.Result)
		}
		rule, err := e.st.GetRule(context.Background(), e.ws.ID, matching.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rule.MatchCount != 1 || rule.LastMatchedAt == nil || rule.AppliedCount != 0 {
			t.Errorf("counters = match %d applied %d last %v", rule.MatchCount, rule.AppliedCount, rule.LastMatchedAt)
		}
		cds, err := e.st.Cooldowns(context.Background(), e.ws.ID, "c1", []int64{matching.ID})
		if err != nil || len(cds) != 1 {
			t.Errorf("cooldowns = %v, %v; want one for the rule with cooldown_secs", cds, err)
		}
		conv, err := e.st.GetConversation(context.Background(), e.ws.ID, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if len(conv.Tags) != 2 || conv.LastCustomerMessageAt == nil {
			t.Errorf("conversation = %+v; want both tags and the customer's message time", conv)
		}

		// Within the cooldown the rule records a run with reason cooldown.
		ev2 := e.ingest(t, rules.TriggerIncoming, "c1", `{"message":{"subject":"urgent again"}}`)
		e.clock.Advance(10 * time.Second)
		e.drain(t, e.engine, 1)
		for _, r := range e.runs(t, ev2.ID) {
			if r.RuleID == matching.ID && (r.Matched || !json.Valid(r.Result) || !containsReason(r.Result, "cooldown")) {
				t.Errorf("second event in cooldown: %+v %s", r, r.Result)
			}
		}
	})
}

func containsReason(result json.RawMessage, reason string) bool {
	var r struct {
		Reason string `json:"reason"`
	}
	return json.Unmarshal(result, &r) == nil && r.Reason == reason
}

func TestGlobalPauseSkipsEvents(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
		if _, err := e.st.PutControl(context.Background(), store.Control{WorkspaceID: e.ws.ID, IsPaused: true}); err != nil {
			t.Fatal(err)
		}
		e.programs.Invalidate(e.ws.ID)
		ev := e.ingest(t, rules.TriggerIncoming, "c1", `{}`)
		e.drain(t, e.engine, 1)
		got, _ := e.st.GetEvent(context.Background(), e.ws.ID, ev.ID)
		if got.Status != store.EventSkipped {
			t.Errorf("status = %s, want skipped", got.Status)
		}
		if runs := e.runs(t, ev.ID); len(runs) != 0 {
			t.Errorf("%d runs while paused, want none", len(runs))
		}
	})
}

// failing fails every event while failing is set.
type failing struct {
	pipeline.Processor
	calls atomic.Int64
}

func (f *failing) Process(ctx context.Context, e store.Event) (store.Outcome, error) {
	f.calls.Add(1)
	return store.Outcome{}, fmt.Errorf("boom %d", e.Attempts)
}

func TestProcessingErrorsRetryThenFail(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		ev := e.ingest(t, rules.TriggerIncoming, "c1", `{}`)
		f := &failing{Processor: e.engine}
		w := pipeline.NewWorkers(e.st, f, pipeline.WorkerOptions{Workers: 1, Clock: e.clock,
			Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute }})
		ctx := context.Background()
		cycle := func(want int) {
			t.Helper()
			if n, err := w.Cycle(ctx); n != want || err != nil {
				t.Fatalf("Cycle = %d, %v; want %d claimed", n, err, want)
			}
		}
		for attempt := 1; attempt <= pipeline.MaxAttempts; attempt++ {
			cycle(1)
			got, err := e.st.GetEvent(ctx, e.ws.ID, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if attempt < pipeline.MaxAttempts {
				retryAt := e.clock.Now().Add(time.Duration(attempt) * time.Minute)
				if got.Status != store.EventPending || got.Attempts != attempt || !got.AvailableAt.Equal(retryAt) {
					t.Fatalf("after attempt %d: %s, attempts %d, available %v; want pending until %v", attempt, got.Status, got.Attempts, got.AvailableAt, retryAt)
				}
				// Not before the backoff: exactly at it.
				e.clock.Advance(time.Duration(attempt)*time.Minute - time.Millisecond)
				cycle(0)
				e.clock.Advance(time.Millisecond)
				continue
			}
			if got.Status != store.EventFailed || got.Attempts != pipeline.MaxAttempts || got.Error == nil || *got.Error != "boom 5" {
				t.Fatalf("after the last attempt: %s, attempts %d, error %v; want failed with boom 5", got.Status, got.Attempts, got.Error)
			}
		}
		e.clock.Advance(time.Hour)
		cycle(0)
		if c := f.calls.Load(); c != pipeline.MaxAttempts {
			t.Errorf("processed %d times, want %d", c, pipeline.MaxAttempts)
		}
		// A failed event can be retried by hand.
		if _, err := e.st.RetryEvent(ctx, e.ws.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
		e.drain(t, e.engine, 1)
		got, _ := e.st.GetEvent(ctx, e.ws.ID, ev.ID)
		if got.Status != store.EventProcessed {
			t.Errorf("after retry status = %s, want processed", got.Status)
		}
	})
}

func TestLoopPrevention(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		r := e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
		first := e.ingest(t, rules.TriggerIncoming, "c1", `{}`)
		e.drain(t, e.engine, 1)
		var res struct {
			Actions []struct {
				DeliveryID string `json:"delivery_id"`
			} `json:"actions"`
		}
		runs := e.runs(t, first.ID)
		if len(runs) != 1 || json.Unmarshal(runs[0].Result, &res) != nil || len(res.Actions) != 1 || res.Actions[0].DeliveryID == "" {
			t.Fatalf("first run = %+v", runs)
		}
		// The host reacts to the delivery with an event caused by it.
		caused := store.NewEvent{Event: store.Event{WorkspaceID: e.ws.ID, EventType: rules.TriggerIncoming, Source: "api",
			Payload: json.RawMessage(`{}`), PayloadHash: "x", OccurredAt: e.clock.Now(), ConversationID: ptr("c1"),
			CausedBy: ptr(res.Actions[0].DeliveryID)}}
		g := &store.IngestGroup{Events: []store.NewEvent{caused}}
		if err := e.ingester.Ingest(context.Background(), g); err != nil || g.Err != nil {
			t.Fatal(err, g.Err)
		}
		e.drain(t, e.engine, 1)
		runs = e.runs(t, g.Results[0].Event.ID)
		if len(runs) != 1 || runs[0].RuleID != r.ID || runs[0].Matched || !containsReason(runs[0].Result, "loop_prevented") {
			t.Errorf("run on an event caused by the rule's own action = %+v", runs)
		}
	})
}

func TestPerConversationOrderWithManyWorkers(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, e *env) {
		e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
		rec := &recorder{Processor: e.engine, active: map[string]bool{}, order: map[string][]string{}}
		want := map[string][]string{}
		for i := range 60 {
			conv := fmt.Sprintf("conv-%d", i%4)
			ev := e.ingest(t, rules.TriggerIncoming, conv, `{}`)
			want[conv] = append(want[conv], ev.ID)
		}
		e.drain(t, rec, 6)
		if rec.overlap.Load() {
			t.Error("two events of one conversation were processed at the same time")
		}
		for conv, ids := range want {
			got := rec.order[conv]
			if fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Errorf("%s processed in order %v, want %v", conv, got, ids)
			}
		}
	})
}

// recorder checks that a conversation never has two events in flight.
type recorder struct {
	pipeline.Processor
	mu      sync.Mutex
	active  map[string]bool
	order   map[string][]string
	overlap atomic.Bool
}

func (r *recorder) Process(ctx context.Context, e store.Event) (store.Outcome, error) {
	r.mu.Lock()
	if r.active[e.OrderKey] {
		r.overlap.Store(true)
	}
	r.active[e.OrderKey] = true
	r.order[e.OrderKey] = append(r.order[e.OrderKey], e.ID)
	r.mu.Unlock()
	out, err := r.Processor.Process(ctx, e)
	r.mu.Lock()
	r.active[e.OrderKey] = false
	r.mu.Unlock()
	return out, err
}

func TestProgramsInvalidate(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite")
	ctx := context.Background()
	c1, err := e.programs.Get(ctx, e.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := e.programs.Get(ctx, e.ws.ID); c2 != c1 {
		t.Error("a second Get recompiled without a change")
	}
	r := e.rule(t, rules.Rule{TriggerType: rules.TriggerIncoming, Actions: []rules.Action{{Type: rules.ActionUnassign}}})
	c3, err := e.programs.Get(ctx, e.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c3 == c1 || c3.Program.Rule(r.ID) == nil {
		t.Error("Invalidate did not make the new rule visible")
	}
	e.programs.InvalidateAll()
	if c4, _ := e.programs.Get(ctx, e.ws.ID); c4 == c3 {
		t.Error("InvalidateAll kept the compiled rules")
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	prev := time.Duration(0)
	for attempt := 1; attempt <= 12; attempt++ {
		base := min(time.Second<<min(attempt-1, 9), 5*time.Minute)
		for range 50 {
			d := pipeline.DefaultBackoff(attempt)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("attempt %d: %v outside ±20%% of %v", attempt, d, base)
			}
		}
		if base < prev {
			t.Fatalf("backoff shrank at attempt %d", attempt)
		}
		prev = base
	}
}
