package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/internal/store/packed"
)

// Event statuses (docs/concepts.md#events).
const (
	EventPending    = "pending"
	EventProcessing = "processing"
	EventProcessed  = "processed"
	EventSkipped    = "skipped"
	EventFailed     = "failed"
)

// Run statuses (docs/concepts.md#events).
const (
	RunNotMatched = "not_matched"
	RunPending    = "pending"
	RunExecuted   = "executed"
	RunFailed     = "failed"
)

// Delivery statuses (docs/concepts.md#deliveries-and-the-outbox).
const (
	DeliveryPending   = "pending"
	DeliveryLeased    = "leased"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
	DeliverySkipped   = "skipped"
)

// ErrLeaseLost is returned when a worker completes, fails or releases an
// event whose lease it no longer holds (it expired and another worker took
// the event): the late worker's work is refused, so nothing is written
// twice.
var ErrLeaseLost = errors.New("store: the event's lease was lost")

// ErrIdempotencyConflict: an Idempotency-Key was reused with another body.
var ErrIdempotencyConflict = errors.New("store: idempotency key reused with a different request")

// Event is an event on the queue.
type Event struct {
	ID             string // UUIDv7
	WorkspaceID    int64
	EventType      string
	ConversationID *string
	ContactID      *string
	Payload        json.RawMessage // as the host sent it
	PayloadHash    string
	Source         string
	ChannelSource  *string
	CausedBy       *string // the delivery whose action made the host send this
	Status         string
	Attempts       int
	AvailableAt    time.Time
	OccurredAt     time.Time
	CreatedAt      time.Time
	ProcessedAt    *time.Time
	Error          *string
	// OrderKey serialises processing: conversation_id, else contact_id,
	// else the event's own id (no ordering constraint).
	OrderKey string
	// TargetRuleID is set on scheduler events: only that rule evaluates it.
	TargetRuleID *int64
}

// NewEvent is an event to ingest. The store assigns CreatedAt, AvailableAt
// (= CreatedAt) and the status pending.
type NewEvent struct {
	Event
	// IdempotencyKey, when set, makes a retry within 24 hours return the
	// first event; RequestHash tells a retry from a different request.
	IdempotencyKey string
	RequestHash    string
	// Settled, when set, is the event's outcome decided before it is
	// stored, because nothing in its workspace evaluates it
	// (pipeline.Engine.Settle): a final status and what the event tells
	// of its own conversation, nothing that needs the event's id (Settleable).
	// The commit that stores the event writes it finished with that
	// outcome when the event may be processed at once — no unfinished
	// event of its order key before it, as for a claim — and otherwise
	// queues it for the workers, who decide afresh.
	Settled *Outcome
}

// Ingested is the outcome for one NewEvent.
type Ingested struct {
	Event     Event
	Duplicate bool // the idempotency key matched an earlier event
	// Settled: stored finished with its NewEvent.Settled outcome; no
	// worker has anything to do for it. Event keeps the status it was
	// accepted with (pending), as for an event claimed at ingestion.
	Settled bool
}

// IngestGroup is the events of one request: stored all together or not
// at all. A group whose idempotency key was reused with a different body
// fails alone (Err = ErrIdempotencyConflict, Index = the item), without
// failing the other groups of the same commit.
type IngestGroup struct {
	Events  []NewEvent
	Results []Ingested // filled by IngestEvents, in order
	Err     error
	Index   int
}

// Claim is a worker's hold on an event. Fence is the lease's fencing token:
// completing with a stale fence fails with ErrLeaseLost.
type Claim struct {
	Event Event
	Fence int64
}

// Run is the record of one rule evaluated for one event. Its id is
// RunID(event, rule) and its CreatedAt the event's created_at (see
// decisions.go): the store sets both.
type Run struct {
	ID             string // UUIDv7
	WorkspaceID    int64
	EventID        string
	RuleID         int64
	RuleName       string
	RuleVersion    int
	ConversationID *string
	ContactID      *string
	Matched        bool
	Executed       bool
	Status         string
	Result         json.RawMessage // {"reason", "trace", "actions": [...]}
	// ActionStates, for a matched run being written, may stand in for
	// Result: the per-action status, in action order, of a result with no
	// reason and no trace (the runs table keeps it compact, result.go).
	ActionStates []ActionState
	// Actions are a matched run's actions as decided, rendered (a JSON
	// array of the push bodies' "action" objects): its conversation's
	// activity entry, and its deliveries' bodies by action index.
	Actions   json.RawMessage
	CreatedAt time.Time
	SettledAt *time.Time
	// ConversationID, ContactID, EventType, EventSource, EventStatus and
	// ChannelSource are the event's, read with the run (not stored twice).
	EventType     string
	EventSource   string
	EventStatus   string
	ChannelSource *string

	// Reason, FailedPath and FailedActual are what a run that did not
	// match records (its Result is built from them when it is read):
	// the reason, and for conditions_not_met the failing condition's path
	// and the value it read.
	Reason       string
	FailedPath   string
	FailedActual json.RawMessage
}

// Delivery is one action waiting to reach the host (the outbox).
type Delivery struct {
	ID          string // UUIDv7, also the webhook-id
	WorkspaceID int64
	RunID       string
	ActionIndex int
	// EventID, RuleID, ConversationID and ContactID are the run's and its
	// event's, read with the delivery (not stored twice).
	EventID        string
	RuleID         int64
	ConversationID *string
	ContactID      *string
	// Action is the push body's "action". The store keeps it once, in the
	// run's Actions, when it is the entry at ActionIndex there; written
	// nil, it is that entry.
	Action json.RawMessage
	// Target is where the delivery goes (see delivery.TargetKey): a
	// receiver or an SMTP server; nil keeps it in the pull outbox.
	Target      *string
	Status      string
	Attempts    int
	LastError   *string
	AvailableAt time.Time
	CreatedAt   time.Time
}

// Activity is an entry of a conversation's timeline: a matched run of one
// of its events, read from the run (ID, RunID and CreatedAt are the
// run's).
type Activity struct {
	ID             string // UUIDv7
	WorkspaceID    int64
	ConversationID string
	Kind           string // "automation_applied"
	RuleID         int64
	RuleName       string
	EventID        string
	RunID          string
	Actions        json.RawMessage
	CreatedAt      time.Time
}

// Conversation is what the engine has learned about a conversation. On
// upsert, an empty Status or Priority, and a nil AssigneeID, Tags or time
// keep the stored value: an event tells only part of the story.
type Conversation struct {
	WorkspaceID           int64
	ID                    string
	Status                string // open, closed, snoozed
	AssigneeID            *string
	Tags                  []string
	Priority              *string
	LastCustomerMessageAt *time.Time
	LastTeamResponseAt    *time.Time
	UpdatedAt             time.Time
}

// CounterDelta moves a rule's counters (match_count, last_matched_at,
// applied_count, last_applied_at). Counters never move updated_at.
type CounterDelta struct {
	RuleID    int64
	Matched   int64
	Applied   int64
	MatchedAt *time.Time
	AppliedAt *time.Time
}

// Cooldown records when a rule last matched a rollout key.
type Cooldown struct {
	RuleID    int64
	Key       string
	MatchedAt time.Time
}

// Outcome is everything processing one event decided, committed in ONE
// transaction together with the event's final status (DESIGN.md).
type Outcome struct {
	Status       string // processed or skipped
	Runs         []Run
	Deliveries   []Delivery
	Counters     []CounterDelta
	Cooldowns    []Cooldown
	Conversation *Conversation // upserted when set
	// Hops is the event's automation hop count (0 for a host's own event,
	// origin's hops + 1 for one caused by a delivery), kept for loop
	// prevention of the events it causes in turn.
	Hops int
	// CausedByRules is the rule chain that led to the event (see
	// DeliveryOrigin), kept with it for the events it causes in turn.
	CausedByRules []int64
	// Waits changes the event's conversation's waiting stretches (time-based
	// triggers, waits.go); nil leaves them.
	Waits *WaitChange
}

// Completion is one claimed event's outcome.
type Completion struct {
	Claim   Claim
	Outcome Outcome
}

// EventFilter narrows event listings.
type EventFilter struct {
	Status, EventType, Source, PayloadHash string
	ConversationID                         string
	RuleID                                 int64 // events for which that rule has a run
}

// RunFilter narrows run listings.
type RunFilter struct {
	RuleID   int64
	EventID  string
	Matched  *bool
	Executed *bool
	Status   string
}

// ListQuery is a page of a keyset- or offset-paginated list sorted by a
// column. With After set, rows strictly after (or, descending, before)
// that (created_at, id) position are returned and Offset is ignored.
type ListQuery struct {
	Limit     int
	Offset    int
	SortBy    string // created_at (default), id; events also processed_at, attempts
	Desc      bool
	AfterTime *time.Time
	AfterID   string
}

// Events is the durable queue and its history.
type Events interface {
	// IngestEvents stores the groups in ONE transaction (group commit: many
	// requests share one fsync). It returns an error only when nothing
	// could be committed; per-group outcomes are in the groups.
	IngestEvents(ctx context.Context, groups []*IngestGroup) error
	// IngestAndClaim is IngestEvents that also stores some of the new
	// events already claimed, as HandOff asks, and returns those claims in
	// (created_at, id) order. A store may claim fewer than asked, or none.
	IngestAndClaim(ctx context.Context, groups []*IngestGroup, h HandOff) ([]Claim, error)
	GetEvent(ctx context.Context, workspaceID int64, id string) (Event, error)
	ListEvents(ctx context.Context, workspaceID int64, f EventFilter, q ListQuery) ([]Event, int, error)

	// ClaimEvents leases up to limit events that are due (pending with
	// available_at <= now, or processing with an expired lease), across
	// workspaces, oldest first, such that no two events with the same
	// (workspace, OrderKey) are ever processing at once and an event is
	// only claimed when every earlier event of its OrderKey is finished.
	// Each claim increments Attempts. On PostgreSQL it uses SKIP LOCKED.
	// Events of the workspaces in exclude are passed over (as if they were
	// not due): a node whose workers are all but one busy with a
	// workspace's events claims the others' (docs/concepts.md#conditions "Bounded cost").
	ClaimEvents(ctx context.Context, owner string, limit int, lease time.Duration, exclude ...int64) ([]Claim, error)
	// CompleteEvents commits the outcomes of a claimed batch in ONE
	// transaction: each event's runs, deliveries, activity, counters,
	// cooldowns and conversation state, and its final status. An item
	// whose claim's fence is no longer current is refused alone
	// (ErrLeaseLost in its slot of the returned errors) and writes
	// nothing; the error return is for failures of the whole commit.
	CompleteEvents(ctx context.Context, items []Completion) ([]error, error)
	// FailEvent records a processing error: the event returns to pending
	// at retryAt, or becomes failed when retryAt is nil.
	FailEvent(ctx context.Context, c Claim, msg string, retryAt *time.Time) error
	// ReleaseEvent returns a claimed event to pending without counting the
	// attempt (graceful shutdown).
	ReleaseEvent(ctx context.Context, c Claim) error
	// ExtendLeases renews the leases of claims to now + lease, so a worker
	// keeps the events it is still working on however long that takes.
	// held[i] is true when claims[i] is still current (its event is
	// processing under its fence, its lease expired or not, as long as no
	// one took it) and was extended; false when it is not: another worker
	// took the event, or it was settled. The error return is for failures
	// of the whole call.
	ExtendLeases(ctx context.Context, claims []Claim, lease time.Duration) (held []bool, err error)
	// RetryEvent re-queues a failed event (ErrConflict for other statuses).
	RetryEvent(ctx context.Context, workspaceID int64, id string) (Event, error)
	// NextEventDue is the earliest available_at of a pending event, so
	// idle workers can sleep until then; ok is false when none is pending.
	NextEventDue(ctx context.Context) (t time.Time, ok bool, err error)

	// RunRuleIDs returns the ids of the rules that already have a run for
	// the event (re-processing skips them).
	RunRuleIDs(ctx context.Context, workspaceID int64, eventID string) ([]int64, error)
	GetRun(ctx context.Context, workspaceID int64, id string) (Run, error)
	ListRuns(ctx context.Context, workspaceID int64, f RunFilter, q ListQuery) ([]Run, int, error)

	// Cooldowns returns when each of ruleIDs last matched key.
	Cooldowns(ctx context.Context, workspaceID int64, key string, ruleIDs []int64) ([]Cooldown, error)
	// DeliveryOrigin describes an event caused by the delivery: chain is
	// the rules of the causing event's chain plus the delivery's rule, and
	// hops is the causing event's hop count plus one (loop prevention).
	// An unknown delivery is ErrNotFound.
	DeliveryOrigin(ctx context.Context, workspaceID int64, deliveryID string) (chain []int64, hops int, err error)
	GetConversation(ctx context.Context, workspaceID int64, id string) (Conversation, error)
	// ClaimReplyCooldown decides whether an event may send an automated
	// reply to an address (see ReplyCooldown); a yes is recorded at once.
	ClaimReplyCooldown(ctx context.Context, workspaceID int64, address, eventID string, at time.Time) (bool, error)
	// ListActivities pages a conversation's timeline by (created_at, id).
	ListActivities(ctx context.Context, workspaceID int64, conversationID string, q ListQuery) ([]Activity, int, error)
}

// ChangeFeed is implemented by stores that several nodes share
// (PostgreSQL, with LISTEN/NOTIFY): a rule change made through one node
// reaches every node's compiled-rules cache within a second.
type ChangeFeed interface {
	// PublishRulesChanged tells every node that a workspace's rules (or
	// what they depend on: control, members, tags, lists) changed.
	PublishRulesChanged(ctx context.Context, workspaceID int64) error
	// SubscribeRulesChanged calls fn for each change published by any node
	// (this one included) until ctx ends. It reconnects by itself; after a
	// reconnect it calls fn with workspaceID 0, meaning "anything may have
	// changed".
	SubscribeRulesChanged(ctx context.Context, fn func(workspaceID int64)) error
}

// PackedPayload is what a completion writes back as the event's payload:
// the payload packed (package packed), or nil — leave the column as it is
// — when packing would not make it smaller. An event is stored as sent
// at ingestion, where a request waits on the one commit that stores it
// and packing would be on its path; it is packed when a worker completes
// it, in the worker's goroutine, and the completion rewrites the row
// anyway. An event settled at ingestion keeps its payload as sent.
func PackedPayload(p json.RawMessage) []byte {
	if b := packed.Pack(p); packed.IsPacked(b) {
		return b
	}
	return nil
}

// StoredPayload is the payload of event id read from its column, packed
// or as sent.
func StoredPayload(id string, stored []byte) (json.RawMessage, error) {
	raw, err := packed.Unpack(stored)
	if err != nil {
		return nil, fmt.Errorf("event %s: payload: %w", id, err)
	}
	return raw, nil
}
