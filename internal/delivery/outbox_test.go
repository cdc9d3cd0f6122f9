package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/delivery"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// received is what the test receiver saw of one request.
type received struct {
	id, signature, timestamp string
	body                     []byte
}

// TestActionsReachTheHost goes the whole way on a real store: an event
// matches a rule, the worker commits the outcome, the delivery pool
// claims the delivery and POSTs it, signed, to the workspace's
// actions_url; the run then reads executed and the rule applied.
func TestActionsReachTheHost(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var (
				mu   sync.Mutex
				got  []received
				fail = 1 // the first attempt answers 503
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				got = append(got, received{r.Header.Get("webhook-id"), r.Header.Get("webhook-signature"),
					r.Header.Get("webhook-timestamp"), body})
				if fail > 0 {
					fail--
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()

			clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
			st := storetest.OpenWithClock(t, dialect, clk)
			ws, _, _, err := tenancy.CreateWorkspace(ctx, st, "acme", "")
			if err != nil {
				t.Fatal(err)
			}
			ws.ActionsURL = &srv.URL
			if ws, err = st.UpdateWorkspace(ctx, ws); err != nil {
				t.Fatal(err)
			}
			tag, err := st.CreateTag(ctx, store.Tag{WorkspaceID: ws.ID, Name: "urgent"})
			if err != nil {
				t.Fatal(err)
			}
			rule, err := st.CreateRule(ctx, rules.Rule{WorkspaceID: ws.ID, Name: "tag urgent", IsActive: true,
				TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(`[]`), RolloutPercentage: 100,
				Actions: []rules.Action{{Type: rules.ActionAddTag, TagID: &tag.ID}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws.ID,
				EventType: rules.TriggerIncoming, ConversationID: ptr("c-1"), Source: "api",
				Payload: json.RawMessage(`{"message":{"subject":"hi"}}`), PayloadHash: strings.Repeat("0", 64)}}}}
			if err := st.IngestEvents(ctx, []*store.IngestGroup{g}); err != nil || g.Err != nil {
				t.Fatalf("IngestEvents: %v %v", err, g.Err)
			}
			programs := pipeline.NewPrograms(st)
			workers := pipeline.NewWorkers(st, pipeline.NewEngine(st, programs, clk), pipeline.WorkerOptions{Clock: clk})
			if n, err := workers.Cycle(ctx); n != 1 || err != nil {
				t.Fatalf("worker Cycle = %d, %v", n, err)
			}

			guard := &delivery.Guard{AllowPrivate: true} // the receiver is on loopback
			pool, err := delivery.NewPool(delivery.StoreOutbox{Store: st}, delivery.NewHTTPSender(delivery.HTTPConfig{Guard: guard}),
				nil, delivery.PoolConfig{Clock: clk, Rand: func() float64 { return 0.5 }})
			if err != nil {
				t.Fatal(err)
			}
			cycle := func() {
				t.Helper()
				if _, err := pool.Cycle(ctx); err != nil {
					t.Fatalf("pool Cycle: %v", err)
				}
				pool.Wait()
			}
			cycle() // 503: retried later
			cycle() // not due yet: nothing sent
			clk.Advance(2 * time.Minute)
			cycle() // 204

			mu.Lock()
			defer mu.Unlock()
			if len(got) != 2 {
				t.Fatalf("the receiver got %d requests, want 2 (a 503, then the retry)", len(got))
			}
			if got[0].id != got[1].id || got[0].id == "" {
				t.Errorf("webhook-id %q then %q: want the same id on every attempt", got[0].id, got[1].id)
			}
			for _, r := range got {
				key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ws.Secret, "whsec_"))
				mac := hmac.New(sha256.New, key)
				fmt.Fprintf(mac, "%s.%s.%s", r.id, r.timestamp, r.body)
				if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.signature != want {
					t.Errorf("signature %q, want %q", r.signature, want)
				}
			}
			var body struct {
				ID          string `json:"id"`
				Type        string `json:"type"`
				RunID       string `json:"run_id"`
				WorkspaceID int64  `json:"workspace_id"`
				RuleID      int64  `json:"rule_id"`
				Action      struct {
					Type    string `json:"type"`
					TagID   int64  `json:"tag_id"`
					TagName string `json:"tag_name"`
				}
			}
			if err := json.Unmarshal(got[1].body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Type != "automation.action" || body.ID != got[1].id || body.RuleID != rule.ID ||
				body.Action.Type != "add_tag" || body.Action.TagName != "urgent" || body.WorkspaceID != ws.ID {
				t.Errorf("push body = %s", got[1].body)
			}
			run, err := st.GetRun(ctx, ws.ID, body.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != store.RunExecuted || !run.Executed || run.SettledAt == nil {
				t.Errorf("run after delivery: %s executed=%v settled=%v", run.Status, run.Executed, run.SettledAt)
			}
			r, err := st.GetRule(ctx, ws.ID, rule.ID)
			if err != nil || r.AppliedCount != 1 {
				t.Errorf("rule applied_count = %d (%v), want 1", r.AppliedCount, err)
			}
			d, err := st.GetDelivery(ctx, ws.ID, body.ID)
			if err != nil || d.Status != store.DeliverySucceeded || d.Attempts != 2 {
				t.Errorf("delivery = %+v (%v), want succeeded after 2 attempts", d, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestSendWebhookCarriesTheEventObject: a send_webhook POSTs, signed, the
// event as the API shows it (every field of GET /v1/automation/events/{id}),
// the rule and the run.
func TestSendWebhookCarriesTheEventObject(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var (
				mu   sync.Mutex
				body []byte
				sig  string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				body, sig = b, r.Header.Get("webhook-signature")
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
			st := storetest.OpenWithClock(t, dialect, clk)
			ws, _, _, err := tenancy.CreateWorkspace(ctx, st, "acme", "")
			if err != nil {
				t.Fatal(err)
			}
			rule, err := st.CreateRule(ctx, rules.Rule{WorkspaceID: ws.ID, Name: "notify", IsActive: true,
				TriggerType: rules.TriggerIncoming, Conditions: json.RawMessage(`[]`), RolloutPercentage: 100,
				Actions: []rules.Action{{Type: rules.ActionSendWebhook, URL: &srv.URL}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws.ID,
				EventType: rules.TriggerIncoming, ConversationID: ptr("c-1"), Source: "api",
				Payload: json.RawMessage(`{"message":{"subject":"hi"}}`), PayloadHash: strings.Repeat("0", 64)}}}}
			if err := st.IngestEvents(ctx, []*store.IngestGroup{g}); err != nil || g.Err != nil {
				t.Fatalf("IngestEvents: %v %v", err, g.Err)
			}
			workers := pipeline.NewWorkers(st, pipeline.NewEngine(st, pipeline.NewPrograms(st), clk), pipeline.WorkerOptions{Clock: clk})
			if _, err := workers.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			pool, err := delivery.NewPool(delivery.StoreOutbox{Store: st, EventJSON: httpapi.EventJSON},
				delivery.NewHTTPSender(delivery.HTTPConfig{Guard: &delivery.Guard{AllowPrivate: true}}), nil,
				delivery.PoolConfig{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Cycle(ctx); err != nil {
				t.Fatal(err)
			}
			pool.Wait()
			mu.Lock()
			defer mu.Unlock()
			if sig == "" {
				t.Fatal("no signed webhook arrived")
			}
			var got struct {
				Event map[string]json.RawMessage `json:"event"`
				Rule  struct {
					ID   int64  `json:"id"`
					Name string `json:"name"`
				} `json:"rule"`
				RunID string `json:"run_id"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"id", "event_type", "conversation_id", "contact_id", "payload", "payload_hash",
				"source", "channel_source", "caused_by", "status", "attempts", "available_at", "occurred_at",
				"created_at", "processed_at", "error"} {
				if _, ok := got.Event[k]; !ok {
					t.Errorf("the webhook's event lacks %q: %s", k, body)
				}
			}
			if got.Rule.ID != rule.ID || got.Rule.Name != "notify" || got.RunID == "" {
				t.Errorf("webhook body = %s", body)
			}
		})
	}
}
