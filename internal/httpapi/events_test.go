package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/canonical"
)

// The events and runs API (docs/concepts.md#events) through the router, on both
// dialects: ingestion, idempotency, reading and listing, and what the
// pipeline's workers leave behind (runs, counters).

// event is an event object as the API returns it.
type event struct {
	ID             string          `json:"id"`
	EventType      string          `json:"event_type"`
	ConversationID *string         `json:"conversation_id"`
	ContactID      *string         `json:"contact_id"`
	Payload        json.RawMessage `json:"payload"`
	PayloadHash    string          `json:"payload_hash"`
	Source         string          `json:"source"`
	ChannelSource  *string         `json:"channel_source"`
	CausedBy       *string         `json:"caused_by"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	AvailableAt    string          `json:"available_at"`
	OccurredAt     string          `json:"occurred_at"`
	CreatedAt      string          `json:"created_at"`
	ProcessedAt    *string         `json:"processed_at"`
	Error          *string         `json:"error"`
}

// eventFields and runFields are the objects' fields in contract order.
var (
	eventFields = []string{"id", "event_type", "conversation_id", "contact_id", "payload", "payload_hash", "source",
		"channel_source", "caused_by", "status", "attempts", "available_at", "occurred_at", "created_at", "processed_at", "error"}
	runFields = []string{"id", "event_id", "rule_id", "conversation_id", "matched", "executed", "status", "result",
		"created_at", "settled_at", "rule_name", "event_type", "event_source", "event_status", "contact_id", "channel_source",
		"rule_version"}
)

// run is a run object as the API returns it.
type run struct {
	ID             string    `json:"id"`
	EventID        string    `json:"event_id"`
	RuleID         int64     `json:"rule_id"`
	ConversationID *string   `json:"conversation_id"`
	Matched        bool      `json:"matched"`
	Executed       bool      `json:"executed"`
	Status         string    `json:"status"`
	Result         runResult `json:"result"`
	CreatedAt      string    `json:"created_at"`
	SettledAt      *string   `json:"settled_at"`
	RuleName       string    `json:"rule_name"`
	EventType      string    `json:"event_type"`
	EventSource    string    `json:"event_source"`
	EventStatus    string    `json:"event_status"`
	ContactID      *string   `json:"contact_id"`
	ChannelSource  *string   `json:"channel_source"`
	RuleVersion    int       `json:"rule_version"`
}

type runResult struct {
	Reason  *string      `json:"reason"`
	Trace   []traceEntry `json:"trace"`
	Actions []runAction  `json:"actions"`
}

type traceEntry struct {
	Path      string          `json:"path"`
	Condition json.RawMessage `json:"condition"`
	Actual    json.RawMessage `json:"actual"`
	Result    bool            `json:"result"`
}

type runAction struct {
	Index      int     `json:"index"`
	Type       string  `json:"type"`
	Status     string  `json:"status"`
	Reason     *string `json:"reason"`
	Attempts   int     `json:"attempts"`
	Error      *string `json:"error"`
	DeliveryID *string `json:"delivery_id"`
}

// page is the paginated envelope.
type page[T any] struct {
	Data       []T     `json:"data"`
	Total      int     `json:"total"`
	Page       *int    `json:"page"`
	PerPage    int     `json:"per_page"`
	NextCursor *string `json:"next_cursor"`
}

// keys returns the keys of a JSON object, sorted.
func keys(t testing.TB, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func (e *env) getEvent(t testing.TB, id string) event {
	t.Helper()
	var ev event
	e.do(t, "GET", "/v1/automation/events/"+id, e.A.Admin.Token, nil).expect(t, 200).decode(t, &ev)
	return ev
}

func (e *env) listEvents(t testing.TB, query string) page[event] {
	t.Helper()
	var p page[event]
	e.do(t, "GET", "/v1/automation/events?"+query, e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
	return p
}

func (e *env) listRuns(t testing.TB, query string) page[run] {
	t.Helper()
	var p page[run]
	e.do(t, "GET", "/v1/automation/runs?"+query, e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
	return p
}

// ingestKeyed posts body to /events as ws's admin with an Idempotency-Key.
func (e *env) ingestKeyed(t testing.TB, ws *tenant, key string, body any) *resp {
	t.Helper()
	r := newRequest(t, "POST", "/v1/automation/events", body)
	r.Header.Set("Authorization", "Bearer "+ws.Admin.Token)
	r.Header.Set("Idempotency-Key", key)
	return e.send(t, r)
}

func eventIDs(events []event) []string {
	out := []string{}
	for _, ev := range events {
		out = append(out, ev.ID)
	}
	return out
}

func runRuleIDs(runs []run) []int64 {
	out := []int64{}
	for _, r := range runs {
		out = append(out, r.RuleID)
	}
	return out
}

func hashOf(t testing.TB, payload string) string {
	t.Helper()
	h, err := canonical.Hash([]byte(payload))
	if err != nil {
		t.Fatalf("canonical.Hash(%s): %v", payload, err)
	}
	return h
}

// ---- ingestion ----

func TestIngestEvent(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		payload := `{"message": {"subject": "Refund", "id": "12345678901234567890"}, "conversation": {"id": "c-1", "status": "open"}, "n": 1.50}`
		body := `{"event_type": "messages.incoming", "conversation_id": "c-1", "payload": ` + payload + `}`
		r := e.do(t, "POST", "/v1/automation/events", e.A.Agent.Token, body).expect(t, 202)
		if diff := cmp.Diff([]string{"duplicate", "id", "payload_hash", "status"}, keys(t, r.Body)); diff != "" {
			t.Errorf("202 body fields (-want +got):\n%s", diff)
		}
		var in ingested
		r.decode(t, &in)
		if id, err := uuid.Parse(in.ID); err != nil || id.Version() != 7 || id.String() != in.ID {
			t.Errorf("id %q is not a UUIDv7 in canonical form", in.ID)
		}
		want := hashOf(t, payload)
		if in.Status != "pending" || in.Duplicate || in.PayloadHash != want {
			t.Errorf("ingested = %+v, want pending, not duplicate, payload_hash %s", in, want)
		}
		// The hash is of the canonical form: key order, whitespace and
		// number spelling do not change it, a value does.
		variant := `{ "n":15e-1,"conversation":{"status":"open","id":"c-1"},
			"message":{"id":"12345678901234567890","subject":"Ref\u0075nd"} }`
		if h := hashOf(t, variant); h != want {
			t.Fatalf("canonical.Hash differs for an equivalent payload: %s vs %s", h, want)
		}
		again := e.newEvent(t, e.A, `{"event_type": "messages.incoming", "payload": `+variant+`}`)
		if again.PayloadHash != want || again.ID == in.ID || again.Duplicate {
			t.Errorf("equivalent payload: %+v, want a new event with hash %s", again, want)
		}
		other := e.newEvent(t, e.A, map[string]any{"event_type": "messages.incoming", "payload": map[string]any{"n": 2}})
		if other.PayloadHash == want || other.PayloadHash != hashOf(t, `{"n":2}`) {
			t.Errorf("payload {\"n\":2} hashed as %s", other.PayloadHash)
		}
		// Every role may ingest (hosts use agent tokens); only supervisors
		// and admins may read.
		for _, tok := range []string{e.A.Admin.Token, e.A.Supervisor.Token, e.A.Agent.Token} {
			e.do(t, "POST", "/v1/automation/events", tok, eventBody()).expect(t, 202)
		}
		e.do(t, "GET", "/v1/automation/events/"+in.ID, e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "GET", "/v1/automation/events", e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "GET", "/v1/automation/events/"+in.ID, e.A.Supervisor.Token, nil).expect(t, 200)
		if p := e.listEvents(t, ""); p.Total != 6 {
			t.Errorf("%d events stored, want 6", p.Total)
		}
	})
}

func TestIngestValidation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		ev := func(kv ...any) map[string]any { return with(eventBody(), kv...) }
		rows := []vcase{
			{name: "minimal", body: eventBody(), status: 202},
			{name: "custom event type", body: ev("event_type", "custom.order_paid"), status: 202},
			{name: "custom with dots and dashes", body: ev("event_type", "custom.shop.order-paid_2"), status: 202},
			{name: "every field", body: ev("contact_id", "k-1", "source", "email-gateway", "channel_source", "email",
				"occurred_at", "2026-06-14T10:00:00+02:00", "caused_by", uuid.NewString()), status: 202},
			{name: "empty payload object", body: ev("payload", map[string]any{}), status: 202},
			{name: "missing event_type", body: ev("event_type", absent), status: 422, fields: []string{"event_type"}},
			{name: "empty event_type", body: ev("event_type", ""), status: 422, fields: []string{"event_type"}},
			{name: "null event_type", body: ev("event_type", nil), status: 422, fields: []string{"event_type"}},
			{name: "unknown event_type", body: ev("event_type", "messages.unknown"), status: 422, fields: []string{"event_type"}},
			{name: "bad custom event_type", body: ev("event_type", "custom.Order Paid"), status: 422, fields: []string{"event_type"}},
			{name: "time.unanswered_by_team", body: ev("event_type", "time.unanswered_by_team"), status: 422, fields: []string{"event_type"}},
			{name: "time.unanswered_by_client", body: ev("event_type", "time.unanswered_by_client"), status: 422, fields: []string{"event_type"}},
			{name: "event_type not a string", body: ev("event_type", 5), status: 422, fields: []string{"event_type"}},
			{name: "source scheduler", body: ev("source", "scheduler"), status: 422, fields: []string{"source"}},
			{name: "source with spaces", body: ev("source", "my source"), status: 422, fields: []string{"source"}},
			{name: "missing payload", body: ev("payload", absent), status: 422, fields: []string{"payload"}},
			{name: "null payload", body: ev("payload", nil), status: 422, fields: []string{"payload"}},
			{name: "payload an array", body: ev("payload", []any{1}), status: 422, fields: []string{"payload"}},
			{name: "payload a string", body: ev("payload", "{}"), status: 422, fields: []string{"payload"}},
			{name: "payload a number", body: ev("payload", 1), status: 422, fields: []string{"payload"}},
			{name: "occurred_at not a time", body: ev("occurred_at", "yesterday"), status: 422, fields: []string{"occurred_at"}},
			{name: "occurred_at a number", body: ev("occurred_at", 1718438400), status: 422, fields: []string{"occurred_at"}},
			{name: "caused_by not a UUID", body: ev("caused_by", "delivery-7"), status: 422, fields: []string{"caused_by"}},
			{name: "empty conversation_id", body: ev("conversation_id", ""), status: 422, fields: []string{"conversation_id"}},
			{name: "conversation_id a number", body: ev("conversation_id", 42), status: 422, fields: []string{"conversation_id"}},
			{name: "conversation_id with NUL", body: ev("conversation_id", "a\u0000b"), status: 422, fields: []string{"conversation_id"}},
			{name: "contact_id with NUL", body: ev("contact_id", "\u0000"), status: 422, fields: []string{"contact_id"}},
			{name: "every error at once", body: map[string]any{"source": "scheduler", "caused_by": "x"}, status: 422,
				fields: []string{"event_type", "source", "caused_by", "payload"}},
			{name: "unknown field", body: ev("priority", 1), status: 400, fields: []string{"priority"}},
			{name: "unknown field in another case", body: ev("Payload", map[string]any{}), status: 400},
			{name: "malformed JSON", body: `{"event_type": "messages.incoming",`, status: 400},
			{name: "trailing data", body: `{"event_type": "messages.incoming", "payload": {}} {}`, status: 400},
			{name: "body a list", body: `[]`, status: 422},
			{name: "empty body", body: ``, status: 400},
		}
		for i := range rows {
			rows[i].method, rows[i].path = "POST", "/v1/automation/events"
		}
		runCases(t, e, rows, nil)
	})
}

func TestIngestBodyLimits(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		big := func(n int) map[string]any {
			return with(eventBody(), "payload", map[string]any{"blob": strings.Repeat("x", n)})
		}
		// A single event: 1 MiB at most.
		e.do(t, "POST", "/v1/automation/events", e.A.Agent.Token, padTo(big(1000), 1<<20)).expect(t, 202)
		e.do(t, "POST", "/v1/automation/events", e.A.Agent.Token, padTo(big(1000), 1<<20+1)).problem(t, 413)
		e.do(t, "POST", "/v1/automation/events", e.A.Agent.Token, big(1<<20)).problem(t, 413)
		// Without a Content-Length the limit holds as well.
		r := newRequest(t, "POST", "/v1/automation/events", padTo(big(1000), 1<<20+1))
		r.ContentLength = -1
		r.Header.Set("Authorization", "Bearer "+e.A.Agent.Token)
		e.send(t, r).problem(t, 413)

		// A batch: 16 MiB. Three events of 700 KB pass (more than one
		// event may carry), one byte over 16 MiB does not.
		batch := map[string]any{"events": []any{big(700_000), big(700_000), big(700_000)}}
		var out struct {
			Data []ingested `json:"data"`
		}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, batch).expect(t, 202).decode(t, &out)
		if len(out.Data) != 3 {
			t.Errorf("batch stored %d events, want 3", len(out.Data))
		}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, padTo(batch, 16<<20+1)).problem(t, 413)
		if p := e.listEvents(t, "per_page=1"); p.Total != 4 {
			t.Errorf("%d events stored, want 4", p.Total)
		}
	})
}

func TestIngestBatch(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		types := []string{"messages.incoming", "custom.a", "status.closed", "custom.b", "conversation_created"}
		items := make([]any, len(types))
		for i, typ := range types {
			items[i] = map[string]any{"event_type": typ, "payload": map[string]any{"i": i}}
		}
		r := e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": items}).expect(t, 202)
		if diff := cmp.Diff([]string{"data"}, keys(t, r.Body)); diff != "" {
			t.Errorf("batch body fields (-want +got):\n%s", diff)
		}
		var out struct {
			Data []ingested `json:"data"`
		}
		r.decode(t, &out)
		if len(out.Data) != len(types) {
			t.Fatalf("batch answered %d items, want %d", len(out.Data), len(types))
		}
		for i, in := range out.Data {
			if in.Status != "pending" || in.Duplicate || in.PayloadHash != hashOf(t, fmt.Sprintf(`{"i":%d}`, i)) {
				t.Errorf("item %d: %+v", i, in)
			}
			// In order: item i is the event of type i.
			if got := e.getEvent(t, in.ID); got.EventType != types[i] {
				t.Errorf("item %d is a %s event, want %s", i, got.EventType, types[i])
			}
		}

		// All or nothing, and the error names the item.
		bad := slices.Clone(items)
		bad[3] = map[string]any{"payload": map[string]any{}}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": bad}).
			expectProblem(t, 422, "events[3].event_type")
		bad[3] = map[string]any{"event_type": "custom.x", "payload": []any{}}
		bad[1] = map[string]any{"event_type": "time.unanswered_by_team", "payload": map[string]any{}}
		p := e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": bad}).
			expectProblem(t, 422, "events[1].event_type", "events[3].payload")
		if len(p.Errors) != 2 {
			t.Errorf("errors %v, want exactly the two bad items", p.fields())
		}
		bad = slices.Clone(items)
		bad[4] = map[string]any{"event_type": "custom.x", "payload": map[string]any{}, "occurred_at": "soon"}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": bad}).
			expectProblem(t, 422, "events[4].occurred_at")
		bad[4] = map[string]any{"event_type": "custom.x", "payload": map[string]any{}, "idempotency_key": "k\n"}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": bad}).
			expectProblem(t, 422, "events[4].idempotency_key")
		bad[4] = map[string]any{"event_type": "custom.x", "payload": map[string]any{}, "extra": 1}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": bad}).problem(t, 400)

		// 1..500 events.
		many := func(n int) map[string]any {
			l := make([]any, n)
			for i := range l {
				l[i] = map[string]any{"event_type": "custom.bulk", "payload": map[string]any{}}
			}
			return map[string]any{"events": l}
		}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, many(0)).expectProblem(t, 422, "events")
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, many(501)).expectProblem(t, 422, "events")
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{}).expectProblem(t, 422, "events")
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": nil}).expectProblem(t, 422, "events")
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": map[string]any{}}).expectProblem(t, 422, "events")
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": items, "more": 1}).problem(t, 400)

		// Nothing of the refused batches was stored.
		if p := e.listEvents(t, ""); p.Total != len(types) {
			t.Fatalf("%d events stored, want the first batch's %d only", p.Total, len(types))
		}
		var full struct {
			Data []ingested `json:"data"`
		}
		e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, many(500)).expect(t, 202).decode(t, &full)
		if len(full.Data) != 500 {
			t.Errorf("a batch of 500 answered %d items", len(full.Data))
		}
		if p := e.listEvents(t, "event_type=custom.bulk&per_page=1"); p.Total != 500 {
			t.Errorf("%d bulk events stored, want 500", p.Total)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		body := `{"event_type": "messages.incoming", "conversation_id": "c-1", "payload": {"a": 1, "b": [1, 2]}}`
		first := e.ingestKeyed(t, e.A, "order-1", body).expect(t, 202)
		var in ingested
		first.decode(t, &in)
		if in.Duplicate {
			t.Fatalf("first use of a key answered duplicate: %+v", in)
		}

		// A retry, even reformatted, is the first event: 200, duplicate.
		for _, retry := range []string{body,
			`{"payload":{"b":[1,2],"a":1},"conversation_id":"c-1","event_type":"messages.incoming"}`} {
			var dup ingested
			e.ingestKeyed(t, e.A, "order-1", retry).expect(t, 200).decode(t, &dup)
			if want := (ingested{ID: in.ID, Status: "pending", PayloadHash: in.PayloadHash, Duplicate: true}); dup != want {
				t.Errorf("retry answered %+v, want %+v", dup, want)
			}
		}
		// The same key with another body: 422 naming the header.
		for _, other := range []string{
			`{"event_type": "messages.incoming", "conversation_id": "c-1", "payload": {"a": 2, "b": [1, 2]}}`,
			`{"event_type": "messages.incoming", "conversation_id": "c-2", "payload": {"a": 1, "b": [1, 2]}}`,
			`{"event_type": "messages.incoming", "payload": {"a": 1, "b": [1, 2]}}`,
		} {
			e.ingestKeyed(t, e.A, "order-1", other).expectProblem(t, 422, "Idempotency-Key")
		}
		// Keys are per workspace: B may use A's.
		var inB ingested
		e.ingestKeyed(t, e.B, "order-1", body).expect(t, 202).decode(t, &inB)
		if inB.ID == in.ID || inB.Duplicate {
			t.Errorf("workspace B's first use of the key: %+v", inB)
		}
		// Another key, or none, is another event.
		var k2 ingested
		e.ingestKeyed(t, e.A, "order-2", body).expect(t, 202).decode(t, &k2)
		if k2.ID == in.ID {
			t.Errorf("another key returned the first event")
		}
		if again := e.newEvent(t, e.A, body); again.ID == in.ID {
			t.Errorf("no key returned the first event")
		}
		// A bad key is refused before anything is stored.
		e.ingestKeyed(t, e.A, strings.Repeat("k", 256), body).expectProblem(t, 422, "Idempotency-Key")
		e.ingestKeyed(t, e.A, "clé", body).expectProblem(t, 422, "Idempotency-Key")
		if p := e.listEvents(t, ""); p.Total != 3 {
			t.Errorf("%d events in A, want 3", p.Total)
		}

		// Kept 24 hours: still a duplicate just before, a new event after.
		e.clock.Advance(24*time.Hour - time.Second)
		var late ingested
		e.ingestKeyed(t, e.A, "order-1", body).expect(t, 200).decode(t, &late)
		if late.ID != in.ID {
			t.Errorf("a retry within 24 h made event %s", late.ID)
		}
		e.clock.Advance(2 * time.Second)
		var fresh ingested
		e.ingestKeyed(t, e.A, "order-1", body).expect(t, 202).decode(t, &fresh)
		if fresh.ID == in.ID || fresh.Duplicate {
			t.Errorf("after 24 h the key still returned the first event: %+v", fresh)
		}
		// From then on the key names the new event, whatever its body.
		var dup ingested
		e.ingestKeyed(t, e.A, "order-1", body).expect(t, 200).decode(t, &dup)
		if dup.ID != fresh.ID {
			t.Errorf("the renewed key returned %s, want %s", dup.ID, fresh.ID)
		}
	})
}

func TestBatchIdempotencyKeys(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		item := func(key string, n int) map[string]any {
			m := map[string]any{"event_type": "custom.sync", "payload": map[string]any{"n": n}}
			if key != "" {
				m["idempotency_key"] = key
			}
			return m
		}
		post := func(items ...any) *resp {
			return e.do(t, "POST", "/v1/automation/events/batch", e.A.Agent.Token, map[string]any{"events": items})
		}
		var first struct {
			Data []ingested `json:"data"`
		}
		post(item("k1", 1), item("k2", 2), item("", 3)).expect(t, 202).decode(t, &first)

		// The batch retried: keyed items are duplicates, the other is new.
		var retry struct {
			Data []ingested `json:"data"`
		}
		post(item("k1", 1), item("k2", 2), item("", 3)).expect(t, 202).decode(t, &retry)
		if len(retry.Data) != 3 {
			t.Fatalf("retry answered %d items", len(retry.Data))
		}
		for i := range 2 {
			if !retry.Data[i].Duplicate || retry.Data[i].ID != first.Data[i].ID {
				t.Errorf("keyed item %d on retry: %+v, want duplicate of %s", i, retry.Data[i], first.Data[i].ID)
			}
		}
		if retry.Data[2].Duplicate || retry.Data[2].ID == first.Data[2].ID {
			t.Errorf("unkeyed item on retry: %+v, want a new event", retry.Data[2])
		}
		// A key reused with another event fails the whole batch, naming
		// the item, and stores nothing.
		post(item("k3", 3), item("k1", 99)).expectProblem(t, 422, "events[1].idempotency_key")
		// The same key twice in one batch with different events, too.
		post(item("k4", 1), item("k4", 2)).expectProblem(t, 422, "events[1].idempotency_key")
		if p := e.listEvents(t, ""); p.Total != 4 {
			t.Errorf("%d events stored, want 4", p.Total)
		}
		// The same key twice with the same event is one event.
		var twice struct {
			Data []ingested `json:"data"`
		}
		post(item("k5", 5), item("k5", 5)).expect(t, 202).decode(t, &twice)
		if twice.Data[0].ID != twice.Data[1].ID || !twice.Data[1].Duplicate {
			t.Errorf("a key repeated in one batch: %+v", twice.Data)
		}
		e.ingestKeyed(t, e.A, "k9", item("", 9)).expect(t, 202)
		if p := e.listEvents(t, ""); p.Total != 6 {
			t.Errorf("%d events stored, want 6", p.Total)
		}
	})
}

// ---- reading ----

func TestGetEvent(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		e.clock.Advance(1234 * time.Millisecond)
		now := e.clock.Now()
		payload := `{"zeta": 1, "alpha": {"big": 12345678901234567890, "s": "<b>&</b>"}, "list": [3, 1]}`
		caused := strings.ToUpper(uuid.NewString())
		body := `{"event_type": "messages.incoming", "conversation_id": "c-1", "contact_id": "k-1",
			"source": "email-gateway", "channel_source": "email", "occurred_at": "2026-06-15T10:30:00.5+02:00",
			"caused_by": "` + caused + `", "payload": ` + payload + `}`
		in := e.newEvent(t, e.A, body)

		r := e.do(t, "GET", "/v1/automation/events/"+in.ID, e.A.Admin.Token, nil).expect(t, 200)
		if diff := cmp.Diff(sorted(eventFields), keys(t, r.Body)); diff != "" {
			t.Errorf("event fields (-contract +got):\n%s", diff)
		}
		var got event
		r.decode(t, &got)
		want := event{
			ID: in.ID, EventType: "messages.incoming", ConversationID: ptr("c-1"), ContactID: ptr("k-1"),
			Payload: json.RawMessage(compact(t, payload)), PayloadHash: hashOf(t, payload), Source: "email-gateway",
			ChannelSource: ptr("email"), CausedBy: ptr(strings.ToLower(caused)), Status: "pending", Attempts: 0,
			AvailableAt: ts(now), OccurredAt: "2026-06-15T08:30:00.500Z", CreatedAt: ts(now),
		}
		// The payload is the host's, key order and number literals kept.
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		if in.PayloadHash != got.PayloadHash {
			t.Errorf("ingestion answered hash %s, the event has %s", in.PayloadHash, got.PayloadHash)
		}

		// Defaults: source api, occurred_at = arrival, nulls.
		bare := e.newEvent(t, e.A, `{"event_type": "custom.ping", "payload": {}}`)
		gotBare := e.getEvent(t, bare.ID)
		if diff := cmp.Diff(event{ID: bare.ID, EventType: "custom.ping", Payload: json.RawMessage(`{}`), PayloadHash: hashOf(t, `{}`),
			Source: "api", Status: "pending", AvailableAt: ts(now), OccurredAt: ts(now), CreatedAt: ts(now)}, gotBare); diff != "" {
			t.Errorf("minimal event (-want +got):\n%s", diff)
		}

		// Upper-case ids are the same id; unknown and malformed ids, and
		// other workspaces' events, are 404.
		e.do(t, "GET", "/v1/automation/events/"+strings.ToUpper(in.ID), e.A.Admin.Token, nil).expect(t, 200)
		for _, id := range []string{uuid.Must(uuid.NewV7()).String(), "nope", "1", in.ID + "0", strings.ReplaceAll(in.ID, "-", "_")} {
			e.do(t, "GET", "/v1/automation/events/"+id, e.A.Admin.Token, nil).problem(t, 404)
		}
		e.do(t, "GET", "/v1/automation/events/"+in.ID, e.B.Admin.Token, nil).problem(t, 404)
	})
}

func TestListEventFilters(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		a := e.newEvent(t, e.A, `{"event_type": "messages.incoming", "source": "mail", "payload": {"x": 1}}`)
		b := e.newEvent(t, e.A, `{"event_type": "status.closed", "source": "mail", "payload": {"x": 2}}`)
		c := e.newEvent(t, e.A, `{"event_type": "messages.incoming", "payload": {"x": 1}}`)
		e.newEvent(t, e.B, `{"event_type": "messages.incoming", "payload": {"x": 1}}`)
		// One of them processed (no rules: processed with no run).
		e.process(t)
		d := e.newEvent(t, e.A, `{"event_type": "custom.later", "payload": {"x": 3}}`)

		ids := func(query string) []string {
			t.Helper()
			p := e.listEvents(t, query+"&sort_order=asc")
			if p.Total != len(p.Data) {
				t.Errorf("%s: total %d for %d rows", query, p.Total, len(p.Data))
			}
			return eventIDs(p.Data)
		}
		for query, want := range map[string][]string{
			"":                              {a.ID, b.ID, c.ID, d.ID},
			"status=processed":              {a.ID, b.ID, c.ID},
			"status=pending":                {d.ID},
			"status=failed":                 {},
			"event_type=messages.incoming":  {a.ID, c.ID},
			"event_type=custom.later":       {d.ID},
			"event_type=custom.none":        {},
			"source=mail":                   {a.ID, b.ID},
			"source=api":                    {c.ID, d.ID},
			"payload_hash=" + a.PayloadHash: {a.ID, c.ID},
			"payload_hash=" + strings.ToUpper(a.PayloadHash):           {a.ID, c.ID},
			"payload_hash=" + b.PayloadHash + "&status=processed":      {b.ID},
			"payload_hash=" + a.PayloadHash + "&source=mail":           {a.ID},
			"event_type=messages.incoming&source=api&status=processed": {c.ID},
			"payload_hash=" + strings.Repeat("0", 64):                  {},
			"event_type=messages.incoming&status=pending":              {},
		} {
			if diff := cmp.Diff(want, ids(query)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", query, diff)
			}
		}
		for _, c := range []struct{ query, field string }{
			{"status=done", "status"},
			{"status=PENDING", "status"},
			{"payload_hash=abc", "payload_hash"},
			{"payload_hash=" + strings.Repeat("g", 64), "payload_hash"},
			{"payload_hash=" + strings.Repeat("a", 65), "payload_hash"},
			{"sort_by=name", "sort_by"},
			{"sort_order=up", "sort_order"},
			{"per_page=0", "per_page"},
			{"per_page=501", "per_page"},
			{"page=0", "page"},
		} {
			e.do(t, "GET", "/v1/automation/events?"+c.query, e.A.Admin.Token, nil).expectProblem(t, 400, c.field)
		}
	})
}

func TestListEventSorting(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// e0 and e1 share a millisecond: ties are broken by id.
		var order []string
		for i := range 4 {
			order = append(order, e.newEvent(t, e.A, with(eventBody(), "payload", map[string]any{"i": i})).ID)
			if i > 0 {
				e.clock.Advance(time.Millisecond)
			}
		}
		e.process(t) // all four processed, one attempt each
		e.clock.Advance(time.Second)
		order = append(order, e.newEvent(t, e.A, eventBody()).ID) // pending, 0 attempts
		reversed := slices.Clone(order)
		slices.Reverse(reversed)

		for query, want := range map[string][]string{
			"":                                   reversed,
			"sort_order=desc":                    reversed,
			"sort_order=asc":                     order,
			"sort_by=created_at&sort_order=asc":  order,
			"sort_by=id":                         reversed,
			"sort_by=id&sort_order=asc":          order,
			"sort_by=attempts&sort_order=asc":    append([]string{order[4]}, order[:4]...),
			"sort_by=attempts&sort_order=desc":   append(slices.Clone(reversed[1:]), order[4]),
			"sort_by=attempts&per_page=2&page=2": {reversed[3], reversed[4]},
		} {
			p := e.listEvents(t, query)
			if diff := cmp.Diff(want, eventIDs(p.Data)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", query, diff)
			}
		}
		// processed_at sorts (offset mode); every row is there.
		for _, q := range []string{"sort_by=processed_at", "sort_by=processed_at&sort_order=asc"} {
			p := e.listEvents(t, q)
			got := eventIDs(p.Data)
			slices.Sort(got)
			want := slices.Clone(order)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" || p.Total != 5 {
				t.Errorf("%q: total %d (-want +got):\n%s", q, p.Total, diff)
			}
		}
		// Runs sort by created_at and id only.
		for _, q := range []string{"sort_by=processed_at", "sort_by=attempts", "sort_by=priority"} {
			e.do(t, "GET", "/v1/automation/runs?"+q, e.A.Admin.Token, nil).expectProblem(t, 400, "sort_by")
		}
		e.do(t, "GET", "/v1/automation/runs?sort_order=random", e.A.Admin.Token, nil).expectProblem(t, 400, "sort_order")
	})
}

func TestListEventPages(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		var asc []string
		for i := range 5 {
			asc = append(asc, e.newEvent(t, e.A, eventBody()).ID)
			if i%2 == 1 {
				e.clock.Advance(time.Millisecond)
			}
		}
		desc := slices.Clone(asc)
		slices.Reverse(desc)

		// Offset pages: total counts every row; next_cursor is set while
		// more rows follow (these lists take cursors in either mode).
		p1 := e.listEvents(t, "per_page=2")
		if diff := cmp.Diff(desc[:2], eventIDs(p1.Data)); diff != "" || p1.Total != 5 || p1.Page == nil || *p1.Page != 1 ||
			p1.PerPage != 2 || p1.NextCursor == nil {
			t.Errorf("page 1: %+v (-want +got ids):\n%s", p1, diff)
		}
		p3 := e.listEvents(t, "per_page=2&page=3")
		if diff := cmp.Diff(desc[4:], eventIDs(p3.Data)); diff != "" || p3.Total != 5 || *p3.Page != 3 || p3.NextCursor != nil {
			t.Errorf("page 3: %+v (-want +got ids):\n%s", p3, diff)
		}
		p9 := e.listEvents(t, "per_page=2&page=9")
		if len(p9.Data) != 0 || p9.Total != 5 || p9.NextCursor != nil {
			t.Errorf("page 9: %+v", p9)
		}
		if p := e.listEvents(t, ""); p.PerPage != 50 || *p.Page != 1 || p.NextCursor != nil || len(p.Data) != 5 {
			t.Errorf("default page: %+v", p)
		}
		// An exact fit: no next page, no cursor.
		if p := e.listEvents(t, "per_page=5"); p.NextCursor != nil || len(p.Data) != 5 {
			t.Errorf("per_page=5: %+v", p)
		}

		// Cursor pages walk the same order, page null, total kept.
		walk := func(order string, want []string) {
			t.Helper()
			var got []string
			query := "per_page=2&sort_order=" + order
			for i := 0; ; i++ {
				p := e.listEvents(t, query)
				if p.Total != 5 {
					t.Errorf("%s: total %d", query, p.Total)
				}
				if i > 0 && p.Page != nil {
					t.Errorf("%s: page %d in cursor mode, want null", query, *p.Page)
				}
				got = append(got, eventIDs(p.Data)...)
				if p.NextCursor == nil {
					break
				}
				if i > 5 {
					t.Fatalf("%s: cursors do not end", query)
				}
				last := p.Data[len(p.Data)-1]
				if want := last.CreatedAt + "|" + last.ID; *p.NextCursor != want {
					t.Errorf("next_cursor %q, want created_at|id of the last row %q", *p.NextCursor, want)
				}
				query = "per_page=2&sort_order=" + order + "&cursor=" + url.QueryEscape(*p.NextCursor)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walk %s (-want +got):\n%s", order, diff)
			}
		}
		walk("desc", desc)
		walk("asc", asc)

		// Keyset pages are stable while events arrive: page 2 continues
		// where page 1 ended, where an offset would shift.
		first := e.listEvents(t, "per_page=2")
		e.newEvent(t, e.A, eventBody()) // same millisecond as the last
		e.clock.Advance(time.Second)
		e.newEvent(t, e.A, eventBody())
		second := e.listEvents(t, "per_page=2&cursor="+url.QueryEscape(*first.NextCursor))
		if diff := cmp.Diff(desc[2:4], eventIDs(second.Data)); diff != "" {
			t.Errorf("page 2 after new arrivals (-want +got):\n%s", diff)
		}
		if second.Total != 7 {
			t.Errorf("total %d, want 7 with the arrivals", second.Total)
		}
		firstAsc := e.listEvents(t, "per_page=2&sort_order=asc")
		e.newEvent(t, e.A, eventBody())
		secondAsc := e.listEvents(t, "per_page=2&sort_order=asc&cursor="+url.QueryEscape(*firstAsc.NextCursor))
		if diff := cmp.Diff(asc[2:4], eventIDs(secondAsc.Data)); diff != "" {
			t.Errorf("ascending page 2 after new arrivals (-want +got):\n%s", diff)
		}
		// A cursor with filters keeps to them.
		e.newEvent(t, e.A, with(eventBody(), "event_type", "custom.other"))
		cur := url.QueryEscape(*first.NextCursor)
		if p := e.listEvents(t, "event_type=custom.other&cursor="+cur); len(p.Data) != 0 || p.Total != 1 {
			t.Errorf("filtered cursor page: %+v", p)
		}

		ts0 := url.QueryEscape(ts(t0) + "|" + asc[0])
		for _, c := range []struct{ query, field string }{
			{"page=1&cursor=" + cur, "cursor"},
			{"page=2&cursor=", "cursor"},
			{"cursor=abc", "cursor"},
			{"cursor=", "cursor"},
			{"cursor=" + url.QueryEscape(ts(t0)+"|not-a-uuid"), "cursor"},
			{"cursor=" + url.QueryEscape("yesterday|"+asc[0]), "cursor"},
			{"cursor=" + url.QueryEscape(asc[0]), "cursor"},
			{"cursor=" + ts0 + "&sort_by=attempts", "cursor"},
			{"cursor=" + ts0 + "&sort_by=processed_at", "cursor"},
			{"cursor=" + ts0 + "&sort_by=id", "cursor"},
			{"cursor=" + ts0 + "&per_page=0", "per_page"},
		} {
			e.do(t, "GET", "/v1/automation/events?"+c.query, e.A.Admin.Token, nil).expectProblem(t, 400, c.field)
		}
		e.listEvents(t, "cursor="+ts0+"&sort_by=created_at")
	})
}

// ---- processing ----

func TestProcessingRuns(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag := e.newTag(t, e.A)
		tagger := e.newRule(t, e.A, with(ruleBody(), "name", "tagger",
			"conditions", []any{map[string]any{"field": "conversation.status", "operator": "equals", "value": "OPEN"}},
			"actions", []any{map[string]any{"type": "add_tag", "tag_id": tag},
				map[string]any{"type": "add_note", "body": "Hi {{contact.name}}"}}))
		ghost := e.newRule(t, e.A, with(ruleBody(), "name", "assign a ghost",
			"actions", []any{map[string]any{"type": "assign_agent", "user_id": 987654}}))
		failing := `{"field": "contact.email", "operator": "ends_with", "value": "@vip.example"}`
		vip := e.newRule(t, e.A, with(ruleBody(), "name", "vip only",
			"conditions", json.RawMessage(`[{"field": "conversation.status", "operator": "exists"}, `+failing+`]`)))
		other := e.newRule(t, e.A, with(ruleBody(), "trigger_type", "status.closed"))
		created := e.clock.Now()

		e.clock.Advance(90 * time.Second)
		in := e.newEvent(t, e.A, `{"event_type": "messages.incoming", "conversation_id": "c-1", "contact_id": "k-1",
			"channel_source": "email", "payload": {"conversation": {"id": "c-1", "status": "open"},
			"contact": {"email": "ann@example.com", "name": "Ann"}, "message": {"subject": "Help"}}}`)
		e.clock.Advance(5 * time.Second)
		e.process(t)
		now := e.clock.Now()

		ev := e.getEvent(t, in.ID)
		if ev.Status != "processed" || ev.Attempts != 1 || ev.ProcessedAt == nil || *ev.ProcessedAt != ts(now) || ev.Error != nil {
			t.Errorf("processed event: %+v", ev)
		}

		all := e.listRuns(t, "event_id="+in.ID+"&sort_order=asc")
		if diff := cmp.Diff([]int64{tagger.ID, ghost.ID, vip.ID}, runRuleIDs(all.Data)); diff != "" || all.Total != 3 {
			t.Fatalf("runs of the event, in priority order (-want +got):\n%s", diff)
		}
		byRule := map[int64]run{}
		for _, r := range all.Data {
			byRule[r.RuleID] = r
		}

		// Every field of a run, through GET /runs/{id}.
		for _, r := range all.Data {
			resp := e.do(t, "GET", "/v1/automation/runs/"+r.ID, e.A.Admin.Token, nil).expect(t, 200)
			if diff := cmp.Diff(sorted(runFields), keys(t, resp.Body)); diff != "" {
				t.Errorf("run fields (-contract +got):\n%s", diff)
			}
			var got run
			resp.decode(t, &got)
			if diff := cmp.Diff(r, got); diff != "" {
				t.Errorf("GET /runs/%s differs from the list (-list +get):\n%s", r.ID, diff)
			}
		}
		common := func(r run) run {
			r.EventID, r.ConversationID, r.ContactID, r.ChannelSource = in.ID, ptr("c-1"), ptr("k-1"), ptr("email")
			// A run's created_at is its event's (the decision record keeps
			// an event's runs together, in the order its rules ran).
			r.EventType, r.EventSource, r.EventStatus, r.CreatedAt = "messages.incoming", "api", "processed", ev.CreatedAt
			r.RuleVersion = 1
			return r
		}
		// Matched, with deliveries waiting in the outbox: pending.
		got := byRule[tagger.ID]
		for i, a := range got.Result.Actions {
			if a.DeliveryID == nil || uuid.Validate(*a.DeliveryID) != nil {
				t.Errorf("tagger's action %d has no delivery id: %+v", i, a)
			}
		}
		if len(got.Result.Actions) == 2 && got.Result.Actions[0].DeliveryID != nil && got.Result.Actions[1].DeliveryID != nil &&
			*got.Result.Actions[0].DeliveryID == *got.Result.Actions[1].DeliveryID {
			t.Errorf("two actions share a delivery id")
		}
		want := common(run{ID: got.ID, RuleID: tagger.ID, RuleName: "tagger", Matched: true, Status: "pending",
			Result: runResult{Trace: []traceEntry{}, Actions: []runAction{
				{Index: 0, Type: "add_tag", Status: "pending"}, {Index: 1, Type: "add_note", Status: "pending"}}}})
		for i := range got.Result.Actions {
			if i < len(want.Result.Actions) {
				want.Result.Actions[i].DeliveryID = got.Result.Actions[i].DeliveryID
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tagger's run (-want +got):\n%s", diff)
		}
		// Matched, every action skipped: executed and settled.
		got = byRule[ghost.ID]
		want = common(run{ID: got.ID, RuleID: ghost.ID, RuleName: "assign a ghost", Matched: true, Executed: true,
			Status: "executed", SettledAt: ptr(ts(now)), Result: runResult{Trace: []traceEntry{}, Actions: []runAction{
				{Index: 0, Type: "assign_agent", Status: "skipped", Reason: ptr("not_a_member")}}}})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ghost's run (-want +got):\n%s", diff)
		}
		// Not matched: the failing condition, exactly, with what it read.
		got = byRule[vip.ID]
		want = common(run{ID: got.ID, RuleID: vip.ID, RuleName: "vip only", Status: "not_matched", SettledAt: ptr(ts(now)),
			Result: runResult{Reason: ptr("conditions_not_met"), Actions: []runAction{}, Trace: []traceEntry{{
				Path: "conditions[1]", Condition: json.RawMessage(compact(t, failing)), Actual: json.RawMessage(`"ann@example.com"`)}}}})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("vip's run (-want +got):\n%s", diff)
		}

		// Filters.
		runIDs := func(query string) []int64 {
			t.Helper()
			p := e.listRuns(t, query+"&sort_order=asc")
			if p.Total != len(p.Data) {
				t.Errorf("%s: total %d for %d rows", query, p.Total, len(p.Data))
			}
			return runRuleIDs(p.Data)
		}
		for query, want := range map[string][]int64{
			"":                                   {tagger.ID, ghost.ID, vip.ID},
			fmt.Sprintf("rule_id=%d", tagger.ID): {tagger.ID},
			fmt.Sprintf("rule_id=%d", other.ID):  {},
			"event_id=" + strings.ToUpper(in.ID): {tagger.ID, ghost.ID, vip.ID},
			"event_id=" + uuid.Must(uuid.NewV7()).String(): {},
			"matched=true":       {tagger.ID, ghost.ID},
			"matched=false":      {vip.ID},
			"executed=true":      {ghost.ID},
			"executed=0":         {tagger.ID, vip.ID},
			"status=pending":     {tagger.ID},
			"status=executed":    {ghost.ID},
			"status=not_matched": {vip.ID},
			"status=failed":      {},
			fmt.Sprintf("rule_id=%d&matched=false", tagger.ID): {},
			"matched=1&executed=false":                         {tagger.ID},
		} {
			if diff := cmp.Diff(want, runIDs(query)); diff != "" {
				t.Errorf("runs?%s (-want +got):\n%s", query, diff)
			}
		}
		for _, c := range []struct{ query, field string }{
			{"rule_id=abc", "rule_id"}, {"rule_id=0", "rule_id"}, {"rule_id=-3", "rule_id"},
			{"event_id=nope", "event_id"}, {"matched=maybe", "matched"}, {"matched=", "matched"},
			{"executed=2", "executed"}, {"status=done", "status"}, {"status=matched", "status"},
			{"page=1&cursor=x", "cursor"}, {"cursor=x", "cursor"},
		} {
			e.do(t, "GET", "/v1/automation/runs?"+c.query, e.A.Admin.Token, nil).expectProblem(t, 400, c.field)
		}
		// Runs are read by supervisors and admins, in their workspace.
		e.do(t, "GET", "/v1/automation/runs", e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "GET", "/v1/automation/runs/"+byRule[vip.ID].ID, e.A.Supervisor.Token, nil).expect(t, 200)
		e.do(t, "GET", "/v1/automation/runs/"+byRule[vip.ID].ID, e.B.Admin.Token, nil).problem(t, 404)
		e.do(t, "GET", "/v1/automation/runs/"+in.ID, e.A.Admin.Token, nil).problem(t, 404)
		e.do(t, "GET", "/v1/automation/runs/run-1", e.A.Admin.Token, nil).problem(t, 404)
		var bRuns page[run]
		e.do(t, "GET", "/v1/automation/runs", e.B.Admin.Token, nil).expect(t, 200).decode(t, &bRuns)
		if bRuns.Total != 0 {
			t.Errorf("workspace B sees %d runs", bRuns.Total)
		}

		// Counters moved; updated_at did not.
		for _, c := range []struct {
			rule             rule
			matched, applied int64
			lastMatched      *string
			lastApplied      *string
		}{
			{tagger, 1, 0, ptr(ts(now)), nil},
			{ghost, 1, 1, ptr(ts(now)), ptr(ts(now))},
			{vip, 0, 0, nil, nil},
			{other, 0, 0, nil, nil},
		} {
			r := e.getRule(t, e.A, c.rule.ID)
			if r.MatchCount != c.matched || r.AppliedCount != c.applied || !cmp.Equal(r.LastMatchedAt, c.lastMatched) ||
				!cmp.Equal(r.LastAppliedAt, c.lastApplied) {
				t.Errorf("rule %q counters: match %d applied %d last_matched %v last_applied %v, want %d %d %v %v", r.Name,
					r.MatchCount, r.AppliedCount, r.LastMatchedAt, r.LastAppliedAt, c.matched, c.applied, c.lastMatched, c.lastApplied)
			}
			if r.UpdatedAt != ts(created) || r.UpdatedAt != c.rule.UpdatedAt {
				t.Errorf("rule %q updated_at moved to %s (created %s)", r.Name, r.UpdatedAt, ts(created))
			}
		}
	})
}

func TestGlobalPauseSkipsEvents(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		e.do(t, "PUT", "/v1/automation/control", e.A.Supervisor.Token, map[string]any{"is_paused": true}).expect(t, 200)
		paused := e.newEvent(t, e.A, eventBody()) // still accepted
		if paused.Status != "pending" {
			t.Errorf("an event ingested while paused: %+v", paused)
		}
		e.process(t)
		if ev := e.getEvent(t, paused.ID); ev.Status != "skipped" || ev.ProcessedAt == nil {
			t.Errorf("event processed while paused: %+v, want skipped", ev)
		}
		if p := e.listRuns(t, ""); p.Total != 0 {
			t.Errorf("%d runs while paused, want none", p.Total)
		}
		if got := e.getRule(t, e.A, r.ID); got.MatchCount != 0 || got.LastMatchedAt != nil {
			t.Errorf("counters moved while paused: %+v", got)
		}

		// Resumed: new events run; the skipped one is not replayed.
		e.do(t, "PUT", "/v1/automation/control", e.A.Supervisor.Token, map[string]any{"is_paused": false}).expect(t, 200)
		resumed := e.newEvent(t, e.A, eventBody())
		e.process(t)
		if ev := e.getEvent(t, paused.ID); ev.Status != "skipped" {
			t.Errorf("the skipped event became %s", ev.Status)
		}
		runs := e.listRuns(t, "")
		if runs.Total != 1 || runs.Data[0].EventID != resumed.ID || !runs.Data[0].Matched {
			t.Errorf("runs after resuming: %+v", runs.Data)
		}
		if p := e.listEvents(t, "status=skipped"); p.Total != 1 || p.Data[0].ID != paused.ID {
			t.Errorf("skipped events: %+v", p.Data)
		}
		// A pause of A does not pause B.
		e.do(t, "PUT", "/v1/automation/control", e.A.Supervisor.Token, map[string]any{"is_paused": true}).expect(t, 200)
		e.newRule(t, e.B, ruleBody())
		inB := e.newEvent(t, e.B, eventBody())
		e.process(t)
		var evB event
		e.do(t, "GET", "/v1/automation/events/"+inB.ID, e.B.Admin.Token, nil).expect(t, 200).decode(t, &evB)
		if evB.Status != "processed" {
			t.Errorf("B's event while A is paused: %s", evB.Status)
		}
	})
}

func TestStopOnMatchAndPriority(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		const trigger = "custom.order_paid"
		base := with(ruleBody(), "trigger_type", trigger)
		stopper := e.newRule(t, e.A, with(base, "name", "stopper", "stop_on_match", true)) // priority 0
		// Created later but put first; stops too, but only on big orders.
		big := e.newRule(t, e.A, with(base, "name", "big", "priority", 0, "stop_on_match", true,
			"conditions", []any{map[string]any{"field": "custom.total", "operator": "gt", "value": 100}}))
		last := e.newRule(t, e.A, with(base, "name", "last"))
		if got := e.getRule(t, e.A, stopper.ID); got.Priority != 1 {
			t.Fatalf("stopper's priority is %d after the insert, want 1", got.Priority)
		}
		small := e.newEvent(t, e.A, `{"event_type": "custom.order_paid", "payload": {"custom": {"total": 50}}}`)
		large := e.newEvent(t, e.A, `{"event_type": "custom.order_paid", "payload": {"custom": {"total": 500}}}`)
		e.process(t)

		type brief struct {
			Rule    int64
			Matched bool
		}
		briefs := func(eventID string) []brief {
			out := []brief{}
			for _, r := range e.listRuns(t, "sort_order=asc&event_id="+eventID).Data {
				out = append(out, brief{r.RuleID, r.Matched})
			}
			return out
		}
		// Small order: big (priority 0) does not match, stopper matches
		// and stops: last has no run.
		if diff := cmp.Diff([]brief{{big.ID, false}, {stopper.ID, true}}, briefs(small.ID)); diff != "" {
			t.Errorf("small order's runs (-want +got):\n%s", diff)
		}
		// Large order: big matches first and stops.
		if diff := cmp.Diff([]brief{{big.ID, true}}, briefs(large.ID)); diff != "" {
			t.Errorf("large order's runs (-want +got):\n%s", diff)
		}
		if r := e.getRule(t, e.A, last.ID); r.MatchCount != 0 {
			t.Errorf("a rule after a stop matched %d times", r.MatchCount)
		}
		// Reordered, last runs first and does not stop.
		e.do(t, "POST", "/v1/automation/rules/reorder", e.A.Admin.Token,
			map[string]any{"ids": []int64{last.ID, big.ID, stopper.ID}}).expect(t, 200)
		again := e.newEvent(t, e.A, `{"event_type": "custom.order_paid", "payload": {"custom": {"total": 500}}}`)
		e.process(t)
		if diff := cmp.Diff([]brief{{last.ID, true}, {big.ID, true}}, briefs(again.ID)); diff != "" {
			t.Errorf("runs after the reorder (-want +got):\n%s", diff)
		}
	})
}

func TestRetryEvent(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		done := e.newEvent(t, e.A, eventBody())
		e.process(t)
		// Only a failed event can be retried.
		e.do(t, "POST", "/v1/automation/events/"+done.ID+"/retry", e.A.Supervisor.Token, nil).problem(t, 409)
		pending := e.newEvent(t, e.A, eventBody())
		e.do(t, "POST", "/v1/automation/events/"+pending.ID+"/retry", e.A.Supervisor.Token, nil).problem(t, 409)
		for _, id := range []string{uuid.Must(uuid.NewV7()).String(), "nope"} {
			e.do(t, "POST", "/v1/automation/events/"+id+"/retry", e.A.Supervisor.Token, nil).problem(t, 404)
		}
		e.do(t, "POST", "/v1/automation/events/"+pending.ID+"/retry", e.A.Agent.Token, nil).problem(t, 403)
		e.do(t, "POST", "/v1/automation/events/"+pending.ID+"/retry", e.B.Admin.Token, nil).problem(t, 404)

		// Fail the pending event for good, as a worker would after its
		// last attempt.
		ctx := context.Background()
		claims, err := e.store.ClaimEvents(ctx, "test-worker", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(claims) != 1 || claims[0].Event.ID != pending.ID {
			t.Fatalf("claimed %d events, want only %s", len(claims), pending.ID)
		}
		if err := e.store.FailEvent(ctx, claims[0], "boom", nil); err != nil {
			t.Fatal(err)
		}
		failed := e.getEvent(t, pending.ID)
		if failed.Status != "failed" || failed.Error == nil || *failed.Error != "boom" || failed.Attempts != 1 {
			t.Fatalf("failed event: %+v", failed)
		}
		if p := e.listEvents(t, "status=failed"); p.Total != 1 {
			t.Errorf("%d failed events listed", p.Total)
		}

		e.clock.Advance(time.Minute)
		resp := e.do(t, "POST", "/v1/automation/events/"+pending.ID+"/retry", e.A.Supervisor.Token, nil).expect(t, 202)
		if diff := cmp.Diff(sorted(eventFields), keys(t, resp.Body)); diff != "" {
			t.Errorf("retry body fields (-contract +got):\n%s", diff)
		}
		var requeued event
		resp.decode(t, &requeued)
		if requeued.ID != pending.ID || requeued.Status != "pending" || requeued.Attempts != 0 || requeued.Error != nil ||
			requeued.ProcessedAt != nil || requeued.AvailableAt != ts(e.clock.Now()) {
			t.Errorf("re-queued event: %+v", requeued)
		}
		// Once re-queued it is not failed any more: a second retry is 409.
		e.do(t, "POST", "/v1/automation/events/"+pending.ID+"/retry", e.A.Supervisor.Token, nil).problem(t, 409)
		e.process(t)
		if ev := e.getEvent(t, pending.ID); ev.Status != "processed" || ev.Attempts != 1 {
			t.Errorf("retried event: %+v", ev)
		}
		if runs := e.listRuns(t, "event_id="+pending.ID); runs.Total != 1 || runs.Data[0].RuleID != r.ID {
			t.Errorf("runs of the retried event: %+v", runs.Data)
		}
		e.do(t, "POST", "/v1/automation/events/"+pending.ID+"/retry", e.A.Supervisor.Token, nil).problem(t, 409)
	})
}
