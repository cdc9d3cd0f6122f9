package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/delivery"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// TestTwoNodesDeliverOnce runs the delivery workers of two nodes on one
// PostgreSQL database: every delivery reaches the receiver exactly once
// (it answers 2xx), whichever node claimed it.
func TestTwoNodesDeliverOnce(t *testing.T) {
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

	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	ws, _, _, err := tenancy.CreateWorkspace(ctx, a, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	ws.ActionsURL = &srv.URL
	if _, err := a.UpdateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	tag, err := a.CreateTag(ctx, store.Tag{WorkspaceID: ws.ID, Name: "urgent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateRule(ctx, rules.Rule{WorkspaceID: ws.ID, Name: "tag", IsActive: true,
		TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(`[]`), RolloutPercentage: 100,
		Actions: []rules.Action{{Type: rules.ActionAddTag, TagID: &tag.ID}}}, nil); err != nil {
		t.Fatal(err)
	}
	const events = 60
	var groups []*store.IngestGroup
	for i := range events {
		conv := fmt.Sprintf("c-%d", i)
		groups = append(groups, &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws.ID,
			EventType: rules.TriggerIncoming, ConversationID: &conv, Source: "api",
			Payload: json.RawMessage(`{}`), PayloadHash: strings.Repeat("0", 64)}}}})
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

	// Both nodes drain the outbox at once.
	var wg sync.WaitGroup
	for _, st := range []*postgres.Store{a, b} {
		pool, err := delivery.NewPool(delivery.StoreOutbox{Store: st},
			delivery.NewHTTPSender(delivery.HTTPConfig{Guard: &delivery.Guard{AllowPrivate: true}}), nil,
			delivery.PoolConfig{PerTarget: 8})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range 200 {
				n, err := pool.Cycle(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				pool.Wait()
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _, err := a.ListDeliveries(ctx, ws.ID, store.DeliveryFilter{Status: store.DeliverySucceeded, Now: time.Now()},
			store.ListQuery{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries succeeded", len(list), events)
		}
		time.Sleep(20 * time.Millisecond) // real workers, with a deadline
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != events {
		t.Fatalf("the receiver saw %d deliveries, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s reached the receiver %d times, want once", id, n)
		}
	}
}
