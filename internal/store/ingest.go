package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
)

// OrderKeyOf is what serialises an event's processing: its conversation,
// else its contact, else nothing but itself.
func OrderKeyOf(e *Event) string {
	switch {
	case e.ConversationID != nil:
		return *e.ConversationID
	case e.ContactID != nil:
		return *e.ContactID
	default:
		return e.ID
	}
}

// IngestKey names an idempotency key.
type IngestKey struct {
	WorkspaceID int64
	Key         string
}

// IngestHit is a live idempotency key: the request it was first used with and
// the event that request stored.
type IngestHit struct {
	RequestHash string
	Event       Event
}

// IngestPlan is what one IngestEvents commit writes.
type IngestPlan struct {
	Events []Event
	Keys   []IngestKeyRow
	// Settled holds, for each event, the outcome it may be stored finished
	// with (NewEvent.Settled, when Settleable), else nil.
	Settled []*Outcome
	// Set by Claim: each event's fence (0 when it is not claimed), the
	// lease's owner and when it expires.
	Fences         []int64
	Owner          string
	LeaseExpiresAt time.Time
	// results[i] is the Ingested of Events[i], marked when Claim settles it.
	results []*Ingested
}

// IngestKeyRow is an idempotency key to record with its event.
type IngestKeyRow struct {
	IngestKey
	RequestHash, EventID string
}

// PlanIngest decides each group's fate: new events get their ids and
// times; an item whose key is live (in found, or used earlier in this
// commit) is a duplicate of that key's event when the request hashes
// match, and fails its whole group otherwise. A group that fails writes
// nothing; the others are not affected.
func PlanIngest(groups []*IngestGroup, found map[IngestKey]IngestHit, now time.Time) IngestPlan {
	var plan IngestPlan
	live := make(map[IngestKey]IngestHit, len(found))
	for k, v := range found {
		live[k] = v
	}
	for _, g := range groups {
		if g.Err != nil {
			continue
		}
		var (
			results = make([]Ingested, len(g.Events))
			events  []Event
			settled []*Outcome
			at      []int // the result of each of events
			keys    []IngestKeyRow
			mine    map[IngestKey]IngestHit // keys first used by this group
		)
		for i := range g.Events {
			ne := &g.Events[i]
			ev := ne.Event
			ev.ID, ev.Status, ev.Attempts = uuid.Must(uuid.NewV7()).String(), EventPending, 0
			ev.CreatedAt, ev.AvailableAt, ev.ProcessedAt, ev.Error = now, now, nil, nil
			if ev.OccurredAt.IsZero() {
				ev.OccurredAt = now
			} else {
				ev.OccurredAt = msUTC(ev.OccurredAt)
			}
			ev.OrderKey = OrderKeyOf(&ev)
			if ne.IdempotencyKey != "" {
				ref := IngestKey{ev.WorkspaceID, ne.IdempotencyKey}
				hit, ok := mine[ref]
				if !ok {
					hit, ok = live[ref]
				}
				if ok {
					if hit.RequestHash != ne.RequestHash {
						g.Err, g.Index = ErrIdempotencyConflict, i
						break
					}
					results[i] = Ingested{Event: hit.Event, Duplicate: true}
					continue
				}
				if mine == nil {
					mine = map[IngestKey]IngestHit{}
				}
				mine[ref] = IngestHit{RequestHash: ne.RequestHash, Event: ev}
				keys = append(keys, IngestKeyRow{IngestKey: ref, RequestHash: ne.RequestHash, EventID: ev.ID})
			}
			results[i] = Ingested{Event: ev}
			events = append(events, ev)
			var o *Outcome
			if Settleable(ne) {
				o = ne.Settled
			}
			settled, at = append(settled, o), append(at, i)
		}
		if g.Err != nil {
			continue
		}
		for k, v := range mine {
			live[k] = v
		}
		g.Results = results
		plan.Events = append(plan.Events, events...)
		plan.Settled = append(plan.Settled, settled...)
		for _, i := range at {
			plan.results = append(plan.results, &results[i])
		}
		plan.Keys = append(plan.Keys, keys...)
	}
	return plan
}

// CheckGroup refuses a group carrying text the store cannot keep, naming
// the item.
func CheckGroup(g *IngestGroup) {
	for i := range g.Events {
		e := &g.Events[i]
		for _, f := range [...]struct {
			name string
			v    *string
		}{
			{"event_type", &e.EventType}, {"conversation_id", e.ConversationID}, {"contact_id", e.ContactID},
			{"source", &e.Source}, {"channel_source", e.ChannelSource}, {"caused_by", e.CausedBy},
			{"payload_hash", &e.PayloadHash}, {"idempotency key", &e.IdempotencyKey}, {"request hash", &e.RequestHash},
		} {
			if f.v != nil && !ValidText(*f.v) {
				g.Err, g.Index = fmt.Errorf("store: event %d: %s: %w", i, f.name, ErrInvalidText), i
				return
			}
		}
	}
}

// Settleable reports whether the outcome an event carries (Settled) may
// finish it as it is stored: a final status and the state of the event's
// own conversation only. Runs, deliveries, counters, cooldowns, waits and
// chains are left to the workers: their rows name the event (its id and
// time are the store's) or need reads of the queue's state.
func Settleable(e *NewEvent) bool {
	o := e.Settled
	if o == nil || CheckOutcome(o) != nil || len(o.Runs) > 0 || len(o.Deliveries) > 0 || len(o.Counters) > 0 ||
		len(o.Cooldowns) > 0 || o.Waits != nil || o.Hops != 0 || o.CausedByRules != nil {
		return false
	}
	return o.Conversation == nil || (e.ConversationID != nil && o.Conversation.ID == *e.ConversationID)
}

// HandOff asks an ingest commit to claim some of the events it stores for
// the workers of its own node, so that they start on them at once instead
// of claiming them from the store in a transaction of their own: the
// event is written once as processing rather than written pending and
// rewritten by a claim. A claimed event is what ClaimEvents would have
// handed out — the first of its order key in the commit, with no
// unfinished event of that key stored before it (so the order of a
// conversation's events is kept), outside the Exclude workspaces — with
// its first attempt counted and a lease for Owner that expires after
// Lease. If the node dies, the lease expires and any node claims the event
// again, as after any other claim.
type HandOff struct {
	Owner   string
	Limit   int // at most this many claims; 0 claims none
	Lease   time.Duration
	Exclude []int64 // workspaces whose events are not claimed
}

// Candidates returns the positions in p.Events that the commit may settle
// or h may claim, before the store checks for unfinished events of their
// order keys: the first new event of each order key, when it is
// settleable or outside h.Exclude (with a limit), in commit order. A
// later event of the key waits for it in the queue, whatever it becomes.
func (p *IngestPlan) Candidates(h HandOff) []int {
	var (
		out  []int
		seen = map[OrderRef]bool{}
	)
	for i := range p.Events {
		e := &p.Events[i]
		ref := OrderRef{e.WorkspaceID, e.OrderKey}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if p.Settles(i) || (h.Limit > 0 && !slices.Contains(h.Exclude, e.WorkspaceID)) {
			out = append(out, i)
		}
	}
	return out
}

// Settles reports whether the event at i is settleable.
func (p *IngestPlan) Settles(i int) bool { return i < len(p.Settled) && p.Settled[i] != nil }

// OrderRef names an order key of a workspace.
type OrderRef struct {
	WorkspaceID int64
	OrderKey    string
}

// Claim settles and claims the candidates whose order key is not busy
// (has no unfinished event in the store): a settleable one is written
// finished — its outcome's status, one attempt, processed at now — and up
// to h.Limit of the others are claimed: processing, one attempt, a fresh
// fence. It fills p.Fences (0: not claimed), marks the settled events'
// results, and returns the claims in commit order, which is (created_at,
// id) order.
func (p *IngestPlan) Claim(h HandOff, candidates []int, busy map[OrderRef]bool, now time.Time) []Claim {
	p.Fences = make([]int64, len(p.Events))
	p.LeaseExpiresAt = now.Add(h.Lease)
	var claims []Claim
	for _, i := range candidates {
		e := &p.Events[i]
		switch {
		case busy[OrderRef{e.WorkspaceID, e.OrderKey}]:
		case p.Settles(i):
			p.Settle(i, now)
		case len(claims) < h.Limit && !slices.Contains(h.Exclude, e.WorkspaceID):
			p.Fences[i] = rand.Int64N(math.MaxInt64) + 1 // never 0, which means none
			c := ClaimedAtIngest(*e, p.Fences[i])
			*e = c.Event
			claims = append(claims, c)
		}
	}
	p.Owner = h.Owner
	return claims
}

// Settle marks the settleable event at i finished at now: its outcome's
// status, one attempt, and its result Settled. (A store whose claim is
// not Claim calls it for the events it settled.)
func (p *IngestPlan) Settle(i int, now time.Time) {
	at := msUTC(now)
	e := &p.Events[i]
	e.Status, e.Attempts, e.ProcessedAt = p.Settled[i].Status, 1, &at
	if i < len(p.results) {
		p.results[i].Settled = true
	}
}

// SettledPositions are the positions of the events Claim settled.
func (p *IngestPlan) SettledPositions() []int {
	var out []int
	for i := range p.Events {
		if p.Settles(i) && p.Events[i].ProcessedAt != nil {
			out = append(out, i)
		}
	}
	return out
}

// SettleRows is what the settleable events at positions write when they
// are settled: their outcomes, flattened as completions' are (each row in
// its event's workspace, in the key order writers lock rows in).
func (p *IngestPlan) SettleRows(positions []int, now time.Time) OutcomeRows {
	items := make([]Completion, len(positions))
	accepted := make([]bool, len(positions))
	for k, i := range positions {
		items[k], accepted[k] = Completion{Claim: Claim{Event: p.Events[i]}, Outcome: *p.Settled[i]}, true
	}
	return FlattenOutcomes(items, accepted, now)
}

// ClaimedAtIngest is the claim of an event a hand-off claimed as it was
// stored: processing, its first attempt counted.
func ClaimedAtIngest(e Event, fence int64) Claim {
	e.Status, e.Attempts = EventProcessing, 1
	return Claim{Event: e, Fence: fence}
}
