package scheduler_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/scheduler"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

type env struct {
	t        *testing.T
	st       pipeline.Store
	clk      *clock.Fake
	ws       store.Workspace
	programs *pipeline.Programs
	workers  *pipeline.Workers
	sched    *scheduler.Scheduler
}

func setup(t *testing.T, dialect string) *env {
	clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	st := storetest.OpenWithClock(t, dialect, clk).(pipeline.Store)
	ws, _, _, err := tenancy.CreateWorkspace(context.Background(), st, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, clk: clk, ws: ws, programs: pipeline.NewPrograms(st)}
	e.workers = pipeline.NewWorkers(st, pipeline.NewEngine(st, e.programs, clk), pipeline.WorkerOptions{Clock: clk})
	e.sched = scheduler.New(st, clk, 10*time.Second, nil)
	return e
}

// rule creates a time rule waiting d for the team to answer.
func (e *env) rule(name, trigger, wait string) rules.Rule {
	e.t.Helper()
	r, err := e.st.CreateRule(context.Background(), rules.Rule{WorkspaceID: e.ws.ID, Name: name, IsActive: true,
		TriggerType: trigger, TriggerData: &wait, Conditions: json.RawMessage(`[]`), RolloutPercentage: 100,
		Actions: []rules.Action{{Type: rules.ActionAddNote, Body: &name}}}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.programs.Invalidate(e.ws.ID)
	return r
}

// send ingests and processes an event of the conversation.
func (e *env) send(typ, conv string) {
	e.t.Helper()
	g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: e.ws.ID, EventType: typ,
		ConversationID: &conv, Source: "api", PayloadHash: "00",
		Payload: json.RawMessage(`{"conversation": {"id": "` + conv + `"}, "message": {"subject": "help"}}`)}}}}
	if err := e.st.IngestEvents(context.Background(), []*store.IngestGroup{g}); err != nil || g.Err != nil {
		e.t.Fatalf("IngestEvents: %v %v", err, g.Err)
	}
	e.drain()
}

func (e *env) drain() {
	e.t.Helper()
	for {
		n, err := e.workers.Cycle(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// tick advances the clock, runs the scheduler and the workers, and
// returns the rules that ran for scheduler events since the last tick.
func (e *env) tick(d time.Duration) []int64 {
	e.t.Helper()
	e.clk.Advance(d)
	if _, err := e.sched.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	evs, _, err := e.st.ListEvents(context.Background(), e.ws.ID, store.EventFilter{Source: "scheduler"},
		store.ListQuery{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	var fired []int64
	for _, ev := range evs {
		if ev.CreatedAt.Before(e.clk.Now().Add(-d + time.Millisecond)) {
			continue // fired at an earlier tick
		}
		runs, _, err := e.st.ListRuns(context.Background(), e.ws.ID, store.RunFilter{EventID: ev.ID}, store.ListQuery{})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range runs {
			fired = append(fired, r.RuleID)
		}
	}
	return fired
}

func TestUnansweredByTeam(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect)
			twoHours := e.rule("2 hours", rules.TriggerUnansweredByTeam, "2 hours")
			oneDay := e.rule("1 day", rules.TriggerUnansweredByTeam, "1 day")

			e.send(rules.TriggerNewConversation, "c1")
			if got := e.tick(time.Hour); len(got) != 0 {
				t.Fatalf("after 1 hour: fired %v, want nothing (not due)", got)
			}
			e.send(rules.TriggerIncoming, "c1") // a second message does not restart the stretch
			if got := e.tick(time.Hour); len(got) != 1 || got[0] != twoHours.ID {
				t.Fatalf("after 2 hours: fired %v, want only the 2-hour rule", got)
			}
			if got := e.tick(time.Hour); len(got) != 0 {
				t.Fatalf("an hour later: fired %v, want nothing (once per stretch)", got)
			}
			e.send(rules.TriggerIncoming, "c1") // still the same stretch: no new wait
			if got := e.tick(3 * time.Hour); len(got) != 0 {
				t.Fatalf("after another message in the stretch: fired %v, want nothing", got)
			}
			if got := e.tick(18 * time.Hour); len(got) != 1 || got[0] != oneDay.ID {
				t.Fatalf("after a day: fired %v, want only the 1-day rule", got)
			}
			// The team answers: the stretch ends; the next message starts
			// another, which fires again.
			e.send(rules.TriggerResponse, "c1")
			e.send(rules.TriggerIncoming, "c1")
			if got := e.tick(2 * time.Hour); len(got) != 1 || got[0] != twoHours.ID {
				t.Fatalf("second stretch: fired %v, want the 2-hour rule again", got)
			}
		})
	}
}

func TestWaitsAreCancelled(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect)
			e.rule("2 hours", rules.TriggerUnansweredByTeam, "2 hours")
			for conv, end := range map[string]string{"replied": rules.TriggerResponse,
				"closed": rules.TriggerStatusClosed, "snoozed": rules.TriggerStatusSnoozed} {
				e.send(rules.TriggerNewConversation, conv)
				e.send(end, conv)
			}
			e.send(rules.TriggerNewConversation, "waiting")
			got := e.tick(3 * time.Hour)
			if len(got) != 1 {
				t.Fatalf("fired %d runs, want 1 (only the conversation still waiting)", len(got))
			}
			ws, err := e.st.ConversationWaits(context.Background(), e.ws.ID, "replied")
			if err != nil || len(ws) != 0 {
				t.Fatalf("waits of the replied conversation: %+v %v", ws, err)
			}
		})
	}
}

func TestNeverRetroactive(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect)
			e.rule("existing", rules.TriggerUnansweredByClient, "1 day") // makes the workspace track stretches
			e.send(rules.TriggerNewConversation, "old")
			e.clk.Advance(time.Minute)
			late := e.rule("late", rules.TriggerUnansweredByTeam, "1 hour")
			if got := e.tick(2 * time.Hour); len(got) != 0 {
				t.Fatalf("a rule created after the stretch began fired: %v", got)
			}
			e.send(rules.TriggerIncoming, "new")
			if got := e.tick(time.Hour); len(got) != 1 || got[0] != late.ID {
				t.Fatalf("a stretch begun after the rule: fired %v, want the rule", got)
			}
		})
	}
}
