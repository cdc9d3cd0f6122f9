package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// BenchmarkCreateRule measures POST /v1/automation/rules through the whole
// router (authentication, strict decoding, validation, the store) on
// SQLite. Priorities are given so the benchmark does not measure the
// shifting of a growing rule list.
func BenchmarkCreateRule(b *testing.B) {
	clk := clock.NewFake(t0)
	st := storetest.OpenWithClock(b, "sqlite", clk)
	api := httpapi.New(httpapi.Config{}, httpapi.Deps{Store: st, Clock: clk})
	_, _, token, err := tenancy.CreateWorkspace(context.Background(), st, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := fullRule(0, 0, 1)
	body["actions"] = []any{map[string]any{"type": "add_note", "body": "VIP: {{contact.name}}"}}
	body["conditions"] = json.RawMessage(`[{"field":"conversation.status","operator":"equals","value":"open"},` +
		`{"any":[{"field":"message.subject","operator":"matches","value":"^(urgent|asap)"},{"type":"from_email","operator":"domain","value":"example.com"}]}]`)
	body["trigger_type"] = "messages.incoming"
	delete(body, "trigger_data")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		body["priority"] = i
		data, _ := json.Marshal(body)
		r := httptest.NewRequest("POST", "/v1/automation/rules", strings.NewReader(string(data)))
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != 201 {
			b.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
}
