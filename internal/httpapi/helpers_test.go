package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/httpapi"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

// t0 is where every test's fake clock starts: Monday 2026-06-15 09:00 UTC
// (11:00 in Paris).
var t0 = time.Date(2026, 6, 15, 9, 0, 0, 0, time.UTC)

// env is one test's world: a fresh store, the real router on top of it
// with the group-commit ingester, a fake clock shared by all of them, and
// two workspaces. Events stay pending until the test calls process.
type env struct {
	dialect string
	api     *httpapi.API
	store   store.Store
	clock   *clock.Fake
	// programs is the compiled-rules cache the API invalidates on every
	// rule change and process's engine evaluates with.
	programs *pipeline.Programs
	// A has an admin, a supervisor and an agent; B only an admin. Tests act
	// in A and use B to prove isolation.
	A, B *tenant
}

// tenant is a workspace and credentials in it.
type tenant struct {
	ID                       int64
	Admin, Supervisor, Agent cred
}

// cred is a member and one of its tokens (in clear).
type cred struct {
	MemberID int64
	Token    string
}

// forEachDialect runs f as a parallel subtest per store dialect.
func forEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	t.Helper()
	t.Parallel()
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// withEnv runs f with a fresh env per dialect.
func withEnv(t *testing.T, f func(t *testing.T, e *env)) {
	t.Helper()
	forEachDialect(t, func(t *testing.T, d string) { f(t, setup(t, d)) })
}

func setup(t *testing.T, dialect string) *env {
	t.Helper()
	return setupWith(t, dialect, httpapi.Config{Version: "test"})
}

func setupWith(t *testing.T, dialect string, cfg httpapi.Config) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	st := storetest.OpenWithClock(t, dialect, clk)
	programs := pipeline.NewPrograms(st)
	ingester := pipeline.NewIngester(st, pipeline.IngesterOptions{})
	// Registered after the store's cleanup, so it runs before it.
	t.Cleanup(ingester.Close)
	e := &env{dialect: dialect, store: st, clock: clk, programs: programs,
		api: httpapi.New(cfg, httpapi.Deps{Store: st, Clock: clk, Programs: programs, Ingester: ingester})}
	ctx := context.Background()

	wsA, adminA, tokA, err := tenancy.CreateWorkspace(ctx, st, "acme", "")
	if err != nil {
		t.Fatalf("create workspace A: %v", err)
	}
	e.A = &tenant{ID: wsA.ID, Admin: cred{MemberID: adminA.ID, Token: tokA}}
	e.A.Supervisor = e.newMember(t, e.A, "supervisor")
	e.A.Agent = e.newMember(t, e.A, "agent")

	wsB, adminB, tokB, err := tenancy.CreateWorkspace(ctx, st, "globex", "")
	if err != nil {
		t.Fatalf("create workspace B: %v", err)
	}
	e.B = &tenant{ID: wsB.ID, Admin: cred{MemberID: adminB.ID, Token: tokB}}
	return e
}

// processTimeout bounds process: far more than a test's few events need,
// so that only a stuck queue reaches it.
const (
	processTimeout = 20 * time.Second
	stopTimeout    = 5 * time.Second
)

// process runs the pipeline's workers (the real engine, on the fake clock)
// until no event of either workspace is pending or processing, then stops
// them. Events made due in the future (a retry's backoff) must be brought
// due by advancing the clock first.
func (e *env) process(t testing.TB) {
	t.Helper()
	w := pipeline.StartWorkers(e.store, pipeline.NewEngine(e.store, e.programs, e.clock),
		pipeline.WorkerOptions{Workers: 2, Clock: e.clock, IdlePoll: 2 * time.Millisecond})
	// Stopping is bounded too: a worker stuck in the store must fail the
	// test, not hang the package until go test's own timeout.
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		return w.Stop(ctx)
	}
	deadline := time.Now().Add(processTimeout)
	for n := e.unfinished(t); n > 0; n = e.unfinished(t) {
		if time.Now().After(deadline) {
			err := stop()
			t.Fatalf("process: %d events still pending or processing after %s (stop: %v)", n, processTimeout, err)
		}
		time.Sleep(2 * time.Millisecond) // polling real workers, bounded by the deadline
	}
	if err := stop(); err != nil {
		t.Fatalf("process: %v", err)
	}
}

// unfinished counts the events of both workspaces that are pending or
// processing.
func (e *env) unfinished(t testing.TB) int {
	t.Helper()
	n := 0
	for _, ws := range []int64{e.A.ID, e.B.ID} {
		for _, status := range []string{store.EventPending, store.EventProcessing} {
			_, total, err := e.store.ListEvents(context.Background(), ws, store.EventFilter{Status: status},
				store.ListQuery{Limit: 1, SortBy: "created_at"})
			if err != nil {
				t.Fatalf("process: list %s events: %v", status, err)
			}
			n += total
		}
	}
	return n
}

var seq atomic.Int64

// unique returns a name no other call returns.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// ---- requests ----

// resp is a recorded response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
	req    string // "METHOD /path", for messages
}

// do calls the router with a Bearer token ("" for none). body is sent as
// is when it is a string or []byte, JSON-encoded otherwise, and omitted
// when nil.
func (e *env) do(t testing.TB, method, path, token string, body any) *resp {
	t.Helper()
	r := newRequest(t, method, path, body)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, r)
}

func newRequest(t testing.TB, method, path string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	r := httptest.NewRequest(method, path, rd)
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// send serves r through the router.
func (e *env) send(t testing.TB, r *http.Request) *resp {
	t.Helper()
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return &resp{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes(), req: r.Method + " " + r.URL.RequestURI()}
}

func (r *resp) String() string {
	body := string(r.Body)
	if len(body) > 2000 {
		body = body[:2000] + "…"
	}
	return fmt.Sprintf("%s → %d %s", r.req, r.Status, body)
}

// expect fails the test unless the status is want.
func (r *resp) expect(t testing.TB, want int) *resp {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: want status %d", r, want)
	}
	return r
}

// decode decodes a JSON success body into v, strictly.
func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if ct := mediaType(r.Header); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want application/json", r, ct)
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: decode: %v", r, err)
	}
}

// object decodes a JSON object body.
func (r *resp) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

func mediaType(h http.Header) string {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt
}

// problem is an RFC 9457 body as the API writes it.
type problem struct {
	Type    string       `json:"type"`
	Title   string       `json:"title"`
	Status  int          `json:"status"`
	Detail  string       `json:"detail"`
	Errors  []fieldError `json:"errors"`
	RuleIDs []int64      `json:"rule_ids"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p problem) fields() []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

// problem checks that r is a problem+json with status want and decodes it.
func (r *resp) problem(t testing.TB, want int) problem {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: want status %d", r, want)
	}
	return r.mustProblem(t)
}

// mustProblem decodes a problem+json body whatever its status.
func (r *resp) mustProblem(t testing.TB) problem {
	t.Helper()
	if ct := mediaType(r.Header); ct != "application/problem+json" {
		t.Fatalf("%s: Content-Type %q, want application/problem+json", r, ct)
	}
	var p problem
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: decode problem: %v", r, err)
	}
	if p.Status != r.Status {
		t.Errorf("%s: problem status %d differs from the HTTP status", r, p.Status)
	}
	if p.Type == "" || p.Title == "" {
		t.Errorf("%s: problem without type or title", r)
	}
	for _, fe := range p.Errors {
		if fe.Message == "" {
			t.Errorf("%s: error for field %q has no message", r, fe.Field)
		}
	}
	return p
}

// expectProblem checks status and content type and that every field in
// fields is named by the problem's errors.
func (r *resp) expectProblem(t testing.TB, status int, fields ...string) problem {
	t.Helper()
	p := r.problem(t, status)
	for _, f := range fields {
		if !slices.Contains(p.fields(), f) {
			t.Errorf("%s: errors name %q, want %q among them", r, p.fields(), f)
		}
	}
	return p
}

// ---- objects ----

// newMember creates a member of role in ws and a token for it, through the
// API as the workspace's admin.
func (e *env) newMember(t testing.TB, ws *tenant, role string) cred {
	t.Helper()
	name := unique(role)
	var m struct {
		ID int64 `json:"id"`
	}
	e.do(t, "POST", "/v1/members", ws.Admin.Token,
		map[string]any{"name": name, "email": name + "@example.com", "role": role}).expect(t, 201).decode(t, &m)
	_, tok := e.newToken(t, ws, m.ID, nil)
	return cred{MemberID: m.ID, Token: tok}
}

// newToken creates a token for member (with extra body fields) as ws's
// admin and returns its id and secret.
func (e *env) newToken(t testing.TB, ws *tenant, member int64, extra map[string]any) (int64, string) {
	t.Helper()
	body := map[string]any{"name": unique("token"), "member_id": member}
	for k, v := range extra {
		body[k] = v
	}
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	e.do(t, "POST", "/v1/tokens", ws.Admin.Token, body).expect(t, 201).decode(t, &tok)
	if tok.Token == "" {
		t.Fatalf("token create returned no token")
	}
	return tok.ID, tok.Token
}

// newTag creates a tag in ws.
func (e *env) newTag(t testing.TB, ws *tenant) int64 {
	t.Helper()
	var tag struct {
		ID int64 `json:"id"`
	}
	e.do(t, "POST", "/v1/tags", ws.Admin.Token, map[string]any{"name": unique("tag")}).expect(t, 201).decode(t, &tag)
	return tag.ID
}

// newList creates a contact list in ws.
func (e *env) newList(t testing.TB, ws *tenant) int64 {
	t.Helper()
	var l struct {
		ID int64 `json:"id"`
	}
	e.do(t, "POST", "/v1/contact-lists", ws.Admin.Token, map[string]any{"name": unique("list")}).expect(t, 201).decode(t, &l)
	return l.ID
}

// ruleBody is a minimal valid rule.
func ruleBody() map[string]any {
	return map[string]any{
		"name":         unique("rule"),
		"trigger_type": "messages.incoming",
		"actions":      []any{map[string]any{"type": "add_note", "body": "seen by {{contact.name}}"}},
	}
}

// with returns a copy of m with the given key/value pairs set (a value of
// `absent` deletes the key).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == absent {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

type absentKey struct{}

// absent deletes a key in with.
var absent = absentKey{}

// rule is a rule as the API returns it.
type rule struct {
	ID                int64            `json:"id"`
	Name              string           `json:"name"`
	Description       *string          `json:"description"`
	IsActive          bool             `json:"is_active"`
	TriggerType       string           `json:"trigger_type"`
	TriggerData       *string          `json:"trigger_data"`
	Conditions        json.RawMessage  `json:"conditions"`
	Actions           []map[string]any `json:"actions"`
	AlertSettings     map[string]any   `json:"alert_settings"`
	ScheduleSettings  map[string]any   `json:"schedule_settings"`
	Priority          int              `json:"priority"`
	RolloutPercentage int              `json:"rollout_percentage"`
	StopOnMatch       bool             `json:"stop_on_match"`
	CooldownSecs      int              `json:"cooldown_secs"`
	MatchCount        int64            `json:"match_count"`
	AppliedCount      int64            `json:"applied_count"`
	LastMatchedAt     *string          `json:"last_matched_at"`
	LastAppliedAt     *string          `json:"last_applied_at"`
	SnoozedUntil      *string          `json:"snoozed_until"`
	CreatedAt         string           `json:"created_at"`
	UpdatedAt         string           `json:"updated_at"`
	CreatedBy         *int64           `json:"created_by"`
	UpdatedBy         *int64           `json:"updated_by"`
	Version           int              `json:"version"`
}

// newRule creates a rule in ws (as its admin) from body.
func (e *env) newRule(t testing.TB, ws *tenant, body map[string]any) rule {
	t.Helper()
	var r rule
	e.do(t, "POST", "/v1/automation/rules", ws.Admin.Token, body).expect(t, 201).decode(t, &r)
	return r
}

func (e *env) getRule(t testing.TB, ws *tenant, id int64) rule {
	t.Helper()
	var r rule
	e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d", id), ws.Admin.Token, nil).expect(t, 200).decode(t, &r)
	return r
}

func (e *env) listRules(t testing.TB, ws *tenant) []rule {
	t.Helper()
	var l struct {
		Data []rule `json:"data"`
	}
	e.do(t, "GET", "/v1/automation/rules", ws.Admin.Token, nil).expect(t, 200).decode(t, &l)
	return l.Data
}

// eventBody is a minimal valid event, of its own conversation.
func eventBody() map[string]any {
	return map[string]any{
		"event_type":      "messages.incoming",
		"conversation_id": unique("conv"),
		"payload":         map[string]any{"message": map[string]any{"subject": "Hello"}},
	}
}

// ingested is the answer to an ingestion (one item of a batch's).
type ingested struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	PayloadHash string `json:"payload_hash"`
	Duplicate   bool   `json:"duplicate"`
}

// newEvent ingests body in ws as its admin (202).
func (e *env) newEvent(t testing.TB, ws *tenant, body any) ingested {
	t.Helper()
	var in ingested
	e.do(t, "POST", "/v1/automation/events", ws.Admin.Token, body).expect(t, 202).decode(t, &in)
	return in
}

// newRun makes a run in ws and returns its id: a rule of a trigger of its
// own, so that no other rule runs, and an event of that trigger,
// processed.
func (e *env) newRun(t testing.TB, ws *tenant) string {
	t.Helper()
	trigger := "custom." + unique("fixture")
	e.newRule(t, ws, with(ruleBody(), "trigger_type", trigger))
	ev := e.newEvent(t, ws, with(eventBody(), "event_type", trigger))
	e.process(t)
	var runs struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	e.do(t, "GET", "/v1/automation/runs?event_id="+ev.ID, ws.Admin.Token, nil).expect(t, 200).decode(t, &runs)
	if len(runs.Data) != 1 {
		t.Fatalf("event %s has %d runs, want 1", ev.ID, len(runs.Data))
	}
	return runs.Data[0].ID
}

// ts formats a time as the API does.
func ts(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

func ptr[T any](v T) *T { return &v }
