package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// epoch is where the event tests' fake clocks start. Its sub-millisecond
// digits check that the store truncates what it stamps.
var epoch = time.Date(2030, 3, 1, 9, 0, 0, 123_456_789, time.UTC)

// epochMS is epoch as stored.
var epochMS = epoch.Truncate(time.Millisecond)

// lease is the lease the event tests claim with.
const lease = 30 * time.Second

// queue is a store on a fake clock with one workspace ("acme"), for the
// event tests.
type queue struct {
	s   store.Store
	clk *clock.Fake
	ws  store.Workspace
}

func setupQueue(t *testing.T, open ClockOpener) *queue {
	t.Helper()
	clk := clock.NewFake(epoch)
	q := &queue{s: open(t, clk), clk: clk}
	q.ws, _, _ = createWorkspace(t, q.s, "acme")
	return q
}

// now is the fake time as the store stores it.
func (q *queue) now() time.Time { return q.clk.Now().Truncate(time.Millisecond) }

// event returns a new event of the workspace; conversation "" means none.
// Its payload and hash are derived from payload.
func (q *queue) event(conversation string, payload int) store.NewEvent {
	return newEvent(q.ws.ID, conversation, payload)
}

func newEvent(wsID int64, conversation string, payload int) store.NewEvent {
	e := store.NewEvent{Event: store.Event{
		WorkspaceID: wsID,
		EventType:   rules.TriggerIncoming,
		Source:      "api",
		Payload:     json.RawMessage(fmt.Sprintf(`{"n": %d,  "z": [2, 1], "a": null}`, payload)),
		PayloadHash: fmt.Sprintf("%064x", payload),
	}}
	if conversation != "" {
		e.ConversationID = &conversation
	}
	return e
}

// keyed gives e an idempotency key and request hash.
func keyed(e store.NewEvent, key, requestHash string) store.NewEvent {
	e.IdempotencyKey, e.RequestHash = key, requestHash
	return e
}

// ingest stores the events as one group, which must succeed, and returns
// them as stored.
func (q *queue) ingest(t *testing.T, events ...store.NewEvent) []store.Event {
	t.Helper()
	g := &store.IngestGroup{Events: events}
	q.ingestGroups(t, g)
	if g.Err != nil {
		t.Fatalf("IngestEvents: group error %v (item %d)", g.Err, g.Index)
	}
	out := make([]store.Event, len(g.Results))
	for i, r := range g.Results {
		out[i] = r.Event
	}
	return out
}

// ingestGroups commits the groups together; the commit must succeed.
func (q *queue) ingestGroups(t *testing.T, groups ...*store.IngestGroup) {
	t.Helper()
	if err := q.s.IngestEvents(t.Context(), groups); err != nil {
		t.Fatalf("IngestEvents: %v", err)
	}
}

// claim leases up to limit events for owner.
func (q *queue) claim(t *testing.T, owner string, limit int) []store.Claim {
	t.Helper()
	claims, err := q.s.ClaimEvents(t.Context(), owner, limit, lease)
	if err != nil {
		t.Fatalf("ClaimEvents: %v", err)
	}
	return claims
}

// claimIDs claims and returns the ids of the claimed events, in order.
func (q *queue) claimIDs(t *testing.T, limit int) []string {
	t.Helper()
	return claimedIDs(q.claim(t, "worker", limit))
}

// complete commits the completions; the commit must succeed. It returns
// the per-item errors.
func (q *queue) complete(t *testing.T, items ...store.Completion) []error {
	t.Helper()
	errs, err := q.s.CompleteEvents(t.Context(), items)
	if err != nil {
		t.Fatalf("CompleteEvents: %v", err)
	}
	if len(errs) != len(items) {
		t.Fatalf("CompleteEvents returned %d errors for %d items", len(errs), len(items))
	}
	return errs
}

// completeOK completes the claims with empty processed outcomes; each
// must be accepted.
func (q *queue) completeOK(t *testing.T, claims ...store.Claim) {
	t.Helper()
	items := make([]store.Completion, len(claims))
	for i, c := range claims {
		items[i] = processed(c)
	}
	for i, err := range q.complete(t, items...) {
		if err != nil {
			t.Fatalf("CompleteEvents item %d (%s): %v", i, claims[i].Event.ID, err)
		}
	}
}

// get reads an event, which must exist.
func (q *queue) get(t *testing.T, id string) store.Event {
	t.Helper()
	e, err := q.s.GetEvent(t.Context(), q.ws.ID, id)
	if err != nil {
		t.Fatalf("GetEvent(%s): %v", id, err)
	}
	return e
}

// rule creates a rule of the workspace.
func (q *queue) rule(t *testing.T, name string) rules.Rule {
	t.Helper()
	return createRule(t, q.s, newRule(q.ws.ID, name), nil)
}

// processed is a completion with an empty processed outcome.
func processed(c store.Claim) store.Completion {
	return store.Completion{Claim: c, Outcome: store.Outcome{Status: store.EventProcessed}}
}

func claimedIDs(claims []store.Claim) []string {
	out := make([]string, len(claims))
	for i, c := range claims {
		out[i] = c.Event.ID
	}
	return out
}

func eventIDs(events []store.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func runIDs(runs []store.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return out
}

// newUUID is a fresh id for rows the test builds (runs, deliveries).
func newUUID() string { return uuid.Must(uuid.NewV7()).String() }

// run builds a run of the event by the rule, as the store reads it back:
// its id is RunID(event, rule) and its created_at the event's; one that
// did not match failed its first condition, which read "x", and settled
// when its event was completed (at).
func run(e store.Event, r rules.Rule, matched bool, at time.Time) store.Run {
	return runAt(e, r, matched, at, 0)
}

// runAt is run for the pos-th rule its event evaluated (a run's id sorts
// an event's runs in the order its rules ran).
func runAt(e store.Event, r rules.Rule, matched bool, at time.Time, pos int) store.Run {
	out := store.Run{
		ID: store.RunID(e.ID, e.CreatedAt, r.ID, pos), WorkspaceID: e.WorkspaceID, EventID: e.ID, RuleID: r.ID,
		RuleName: r.Name, ConversationID: e.ConversationID, ContactID: e.ContactID, Matched: matched,
		Status: store.RunPending, Result: json.RawMessage(`{"reason":null,"trace":[],"actions":[]}`),
		CreatedAt: e.CreatedAt, EventType: e.EventType, EventSource: e.Source, ChannelSource: e.ChannelSource,
	}
	if !matched {
		out.Status, out.SettledAt = store.RunNotMatched, &at
		out.Reason, out.FailedPath, out.FailedActual = "conditions_not_met", "conditions[0]", json.RawMessage(`"x"`)
		out.Result = json.RawMessage(`{"reason":"conditions_not_met","trace":[{"path":"conditions[0]",` +
			`"condition":null,"actual":"x","result":false}],"actions":[]}`)
	}
	return out
}
