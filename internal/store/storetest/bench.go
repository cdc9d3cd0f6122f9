package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// The workloads the dialects' benchmarks share, so that their numbers
// compare.

// benchPayload is a typical host payload (~400 bytes).
const benchPayload = `{"conversation":{"id":"%[1]d","status":"open","channel":"email","assignee_id":null,` +
	`"tags":["billing","vip"],"priority":"high","subject":"Invoice %[1]d"},"message":{"id":"m-%[1]d",` +
	`"from_email":"ann@example.com","subject":"Re: Invoice %[1]d","body":"<p>Hello, my invoice is wrong.</p>",` +
	`"headers":{"Message-ID":"<%[1]d@example.com>"},"direction":"incoming"},"contact":{"id":"ann","email":"ann@example.com"}}`

// BenchEvents returns n events of the workspace, numbered from first, each
// in a conversation of its own (so that a claim may take any of them).
func BenchEvents(workspaceID int64, first, n int) []store.NewEvent {
	out := make([]store.NewEvent, n)
	for i := range out {
		id := first + i
		conv := fmt.Sprintf("conv-%d", id)
		out[i] = store.NewEvent{Event: store.Event{
			WorkspaceID: workspaceID, EventType: rules.TriggerIncoming, ConversationID: &conv, Source: "api",
			Payload: json.RawMessage(fmt.Sprintf(benchPayload, id)), PayloadHash: fmt.Sprintf("%064x", id),
		}}
	}
	return out
}

// LoadQueue ingests n pending events (BenchEvents) in commits of 1,000.
func LoadQueue(tb testing.TB, s store.Events, workspaceID int64, n int) {
	tb.Helper()
	for start := 0; start < n; start += 1000 {
		g := &store.IngestGroup{Events: BenchEvents(workspaceID, start, min(1000, n-start))}
		if err := s.IngestEvents(context.Background(), []*store.IngestGroup{g}); err != nil {
			tb.Fatalf("IngestEvents: %v", err)
		}
	}
}

// BenchWorkspace creates the workspace benchmarks use and the rules
// their runs name.
func BenchWorkspace(tb testing.TB, s store.Store, rulesCount int) (store.Workspace, []rules.Rule) {
	tb.Helper()
	ws, _, _, err := s.CreateWorkspace(context.Background(), newWorkspace("bench"))
	if err != nil {
		tb.Fatalf("CreateWorkspace: %v", err)
	}
	rs := make([]rules.Rule, rulesCount)
	for i := range rs {
		if rs[i], err = s.CreateRule(context.Background(), newRule(ws.ID, fmt.Sprintf("rule-%d", i)), nil); err != nil {
			tb.Fatalf("CreateRule: %v", err)
		}
	}
	return ws, rs
}

// BenchIngest commits b.N groups of n events each and reports events/s.
// With settled, each event carries the outcome of a workspace without
// rules (store.NewEvent.Settled: processed, its conversation learned), so
// the commits store them finished.
func BenchIngest(b *testing.B, s store.Store, n int, settled bool) {
	ws, _ := BenchWorkspace(b, s, 0)
	events := BenchEvents(ws.ID, 0, n)
	if settled {
		at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		for i := range events {
			e := &events[i]
			e.OccurredAt = at
			e.Settled = &store.Outcome{Status: store.EventProcessed, Conversation: &store.Conversation{
				WorkspaceID: ws.ID, ID: *e.ConversationID, Status: "open", LastCustomerMessageAt: &at, UpdatedAt: at}}
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		g := &store.IngestGroup{Events: events}
		if err := s.IngestEvents(ctx, []*store.IngestGroup{g}); err != nil {
			b.Fatalf("IngestEvents: %v", err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchClaimComplete claims batch events and completes them, each with
// runsPerEvent runs (not matched, so no deliveries), b.N times, and
// reports events/s. The queue is loaded, then settle runs (when not nil:
// say, to refresh the planner's statistics), before the timer starts.
func BenchClaimComplete(b *testing.B, s store.Store, batch, runsPerEvent int, settle func(context.Context) error) {
	ws, rs := BenchWorkspace(b, s, runsPerEvent)
	LoadQueue(b, s, ws.ID, batch*b.N)
	ctx := context.Background()
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatalf("settle: %v", err)
		}
	}
	result := json.RawMessage(`{"reason":"conditions_not_met","trace":[{"path":"conditions[0]",` +
		`"condition":{"field":"message.subject","operator":"contains","value":"urgent"},"actual":"Re: Invoice","result":false}],"actions":[]}`)
	items := make([]store.Completion, 0, batch)
	b.ResetTimer()
	for range b.N {
		claims, err := s.ClaimEvents(ctx, "bench", batch, time.Minute)
		if err != nil {
			b.Fatalf("ClaimEvents: %v", err)
		}
		if len(claims) != batch {
			b.Fatalf("ClaimEvents returned %d events, want %d", len(claims), batch)
		}
		items = items[:0]
		for _, c := range claims {
			o := store.Outcome{Status: store.EventProcessed, Runs: make([]store.Run, runsPerEvent)}
			now := time.Now()
			for i, r := range rs {
				o.Runs[i] = store.Run{ID: newUUID(), RuleID: r.ID, RuleName: r.Name, Status: store.RunNotMatched,
					Result: result, CreatedAt: now, SettledAt: &now, Reason: "conditions_not_met",
					FailedPath: "conditions[0]", FailedActual: json.RawMessage(`"hello"`)}
			}
			items = append(items, store.Completion{Claim: c, Outcome: o})
		}
		errs, err := s.CompleteEvents(ctx, items)
		if err != nil {
			b.Fatalf("CompleteEvents: %v", err)
		}
		for _, err := range errs {
			if err != nil {
				b.Fatalf("CompleteEvents item: %v", err)
			}
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchRawClaimComplete is BenchClaimComplete's baseline, on the same
// schema and data: claim leases up to n due events with a dialect's
// hand-written statement and returns their ids; finish marks them
// processed in one statement. No fence, no order key, no runs.
func BenchRawClaimComplete(b *testing.B, s store.Store, batch int, settle func(context.Context) error,
	claim func(ctx context.Context, n int) ([]string, error), finish func(ctx context.Context, ids []string) error) {
	ws, _ := BenchWorkspace(b, s, 0)
	LoadQueue(b, s, ws.ID, batch*b.N)
	ctx := context.Background()
	if settle != nil {
		if err := settle(ctx); err != nil {
			b.Fatalf("settle: %v", err)
		}
	}
	b.ResetTimer()
	for range b.N {
		ids, err := claim(ctx, batch)
		if err != nil {
			b.Fatalf("claim: %v", err)
		}
		if len(ids) != batch {
			b.Fatalf("claim returned %d events, want %d", len(ids), batch)
		}
		if err := finish(ctx, ids); err != nil {
			b.Fatalf("finish: %v", err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "events/s")
}
