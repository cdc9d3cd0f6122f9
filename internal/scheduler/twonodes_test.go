package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/scheduler"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// TestTwoNodesFireOnce runs the schedulers of two nodes on one PostgreSQL
// database, ticking at the same time over the same due waits: each due
// wait becomes exactly one event.
func TestTwoNodesFireOnce(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	ws, _, _, err := tenancy.CreateWorkspace(ctx, a, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	wait := "1 minute"
	if _, err := a.CreateRule(ctx, rules.Rule{WorkspaceID: ws.ID, Name: "unanswered", IsActive: true,
		TriggerType: rules.TriggerUnansweredByTeam, TriggerData: &wait, Conditions: json.RawMessage(`[]`),
		RolloutPercentage: 100, Actions: []rules.Action{{Type: rules.ActionAddNote, Body: &wait}}}, nil); err != nil {
		t.Fatal(err)
	}
	const convs = 40
	var groups []*store.IngestGroup
	for i := range convs {
		conv := fmt.Sprintf("c-%d", i)
		groups = append(groups, &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws.ID,
			EventType: rules.TriggerNewConversation, ConversationID: &conv, Source: "api",
			Payload: json.RawMessage(`{}`), PayloadHash: "00"}}}})
	}
	if err := a.IngestEvents(ctx, groups); err != nil {
		t.Fatal(err)
	}
	workers := pipeline.NewWorkers(a, pipeline.NewEngine(a, pipeline.NewPrograms(a), nil), pipeline.WorkerOptions{Batch: 100})
	for {
		n, err := workers.Cycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	later := clock.NewFake(time.Now().Add(2 * time.Minute))
	var wg sync.WaitGroup
	for _, st := range []*postgres.Store{a, b} {
		s := scheduler.New(st, later, time.Second, nil)
		s.Batch = 7 // several ticks, interleaved between the nodes
		wg.Go(func() {
			for {
				n, err := s.Tick(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	evs, total, err := a.ListEvents(ctx, ws.ID, store.EventFilter{Source: "scheduler"}, store.ListQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if total != convs {
		t.Fatalf("%d scheduler events for %d due waits, want one each", total, convs)
	}
	per := map[string]int{}
	for _, e := range evs {
		per[*e.ConversationID]++
	}
	for conv, n := range per {
		if n != 1 {
			t.Errorf("%s: %d events, want 1", conv, n)
		}
	}
}
