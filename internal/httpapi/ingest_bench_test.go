package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// benchEvent is a typical helpdesk event (~1 KiB).
var benchEvent = []byte(`{"event_type":"messages.incoming","conversation_id":"conv-%d","contact_id":"contact-%d","channel_source":"email",
"payload":{"conversation":{"id":"conv-%d","status":"open","subject":"Order #4521 has not arrived","channel":"email","assignee_id":null,"tags":["orders","vip"],"priority":"high"},
"message":{"id":"msg-%d","from_email":"jane.doe@example.com","subject":"Re: Order #4521 has not arrived","body":"<p>Hello,</p><p>I ordered a blue jacket two weeks ago and it still has not arrived. The tracking page says <b>in transit</b> since last Monday. Could you please check what is going on? I need it before the weekend.</p><p>Thanks,<br>Jane</p>","headers":{"Message-ID":"<abc123@mail.example.com>","In-Reply-To":"<xyz@helpdesk.example.com>"},"direction":"incoming"},
"contact":{"id":"contact-%d","email":"jane.doe@example.com","name":"Jane Doe"}}}`)

func benchEventBody(i int) []byte {
	return fmt.Appendf(nil, string(benchEvent), i%200, i%500, i%200, i, i%500)
}

// BenchmarkIngestHTTP compares durable ingestion — strict decoding,
// authentication, the canonical payload hash and a group commit on SQLite
// with synchronous=FULL — with a no-op JSON handler, in the same run and
// over the same HTTP stack. The target: ingest ≥ 70 % of noop.
// Both run with the scheduler setting serve uses on SQLite
// (pipeline.SpareProc).
func BenchmarkIngestHTTP(b *testing.B) {
	b.Run("noop", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var v map[string]any
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &v); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"id":"0192f0c4-0000-7000-8000-000000000000","status":"pending","duplicate":false}`))
		}))
		defer srv.Close()
		runIngest(b, srv.URL, "")
	})
	b.Run("ingest", func(b *testing.B) {
		ctx := context.Background()
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{Synchronous: "full"})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		_, _, token, err := tenancy.CreateWorkspace(ctx, st, "bench", "")
		if err != nil {
			b.Fatal(err)
		}
		in := pipeline.NewIngester(st, pipeline.IngesterOptions{})
		defer in.Close()
		api := httpapi.New(httpapi.Config{}, httpapi.Deps{Store: st, Clock: clock.System{}, Ingester: in})
		srv := httptest.NewServer(api)
		defer srv.Close()
		runIngest(b, srv.URL+"/v1/automation/events", token)
	})
}

func runIngest(b *testing.B, url, token string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	// testing sets GOMAXPROCS for every benchmark it runs, so this is set
	// here, for noop and ingest alike.
	defer pipeline.SpareProc()()
	b.SetParallelism(benchParallelism) // many concurrent clients, as a busy helpdesk has
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(benchEventBody(int(seq.Add(1)))))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// benchParallelism × GOMAXPROCS concurrent clients.
var benchParallelism = 128
