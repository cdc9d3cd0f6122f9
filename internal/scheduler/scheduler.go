// Package scheduler fires time-based triggers: on every tick it enqueues
// one event for each wait that has come due (store/waits.go), for that
// wait's rule only, and marks the wait fired.
//
// Several nodes may tick at once: each event is ingested with an
// idempotency key naming the wait's stretch (workspace, conversation,
// rule, waiting since), so the same due wait yields one event however
// many nodes — or retries after a crash between ingesting and marking —
// enqueue it.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-hq/switchboard/internal/canonical"
	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Store is what the scheduler needs.
type Store interface {
	store.Waits
	IngestEvents(ctx context.Context, groups []*store.IngestGroup) error
}

// Scheduler enqueues the events of due waits.
type Scheduler struct {
	store    Store
	clock    clock.Clock
	interval time.Duration
	log      *slog.Logger
	// Notify is told when events were enqueued (wake the workers); may be
	// nil.
	Notify func()
	// Batch is how many due waits a tick takes at most (default 500); a
	// tick that took a full batch runs again at once.
	Batch int
}

// New returns a scheduler ticking every interval.
func New(s Store, clk clock.Clock, interval time.Duration, log *slog.Logger) *Scheduler {
	if clk == nil {
		clk = clock.System{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{store: s, clock: clk, interval: interval, log: log, Batch: 500}
}

// Tick enqueues the events of the waits due now and returns how many.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := s.clock.Now()
	due, err := s.store.DueWaits(ctx, now, s.Batch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	groups := make([]*store.IngestGroup, 0, len(due))
	for _, w := range due {
		trigger := rules.TriggerUnansweredByTeam
		if w.Kind == store.WaitClient {
			trigger = rules.TriggerUnansweredByClient
		}
		hash, err := canonical.Hash(w.Payload)
		if err != nil {
			return 0, fmt.Errorf("scheduler: wait of rule %d on %s: payload: %w", w.RuleID, w.ConversationID, err)
		}
		conv, rule := w.ConversationID, w.RuleID
		key := fmt.Sprintf("wait:%d:%s:%d:%d", w.WorkspaceID, w.ConversationID, w.RuleID, w.Since.UnixMilli())
		groups = append(groups, &store.IngestGroup{Events: []store.NewEvent{{
			Event: store.Event{WorkspaceID: w.WorkspaceID, EventType: trigger, ConversationID: &conv,
				Payload: w.Payload, PayloadHash: hash, Source: "scheduler", OccurredAt: w.DueAt, TargetRuleID: &rule},
			IdempotencyKey: key, RequestHash: key,
		}}})
	}
	if err := s.store.IngestEvents(ctx, groups); err != nil {
		return 0, fmt.Errorf("scheduler: unable to enqueue %d due waits: %w", len(groups), err)
	}
	fired := due[:0]
	for i, g := range groups {
		if g.Err != nil {
			s.log.Warn("a due wait could not be enqueued", "workspace_id", due[i].WorkspaceID,
				"conversation_id", due[i].ConversationID, "rule_id", due[i].RuleID, "err", g.Err)
			continue
		}
		fired = append(fired, due[i])
	}
	if err := s.store.MarkWaitsFired(ctx, fired); err != nil {
		return 0, err
	}
	if len(fired) > 0 && s.Notify != nil {
		s.Notify()
	}
	return len(fired), nil
}

// Run ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		for {
			n, err := s.Tick(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("scheduler tick failed", "err", err)
			}
			if n < s.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
