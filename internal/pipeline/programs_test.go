package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/postgres"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// fakeNow is a settable time source for the cache's recheck interval.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func newWorkspaceIn(t *testing.T, s store.Store) store.Workspace {
	t.Helper()
	ws, _, _, err := s.CreateWorkspace(t.Context(), store.NewWorkspace{
		Name: "acme", Secret: "whsec_test", AdminName: "Ann", AdminEmail: "ann@acme.test",
		TokenName: "bootstrap", TokenHash: auth.HashToken(t.Name()), TokenHint: "sbt_"})
	if err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	return ws
}

// TestProgramsNoticeAMissedNotification is issue 7's "rule changes reach
// every node even when a node dies": a change whose notification never
// arrives (nobody calls Invalidate) is used once the entry is older than
// Recheck, because the store moved the workspace's rules version in the
// change's own transaction.
func TestProgramsNoticeAMissedNotification(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, dialect)
			ws := newWorkspaceIn(t, s)
			clk := &fakeNow{t: time.Unix(1_800_000_000, 0)}
			p := NewPrograms(s)
			p.now = clk.now

			c, err := p.Get(t.Context(), ws.ID)
			if err != nil || c.Control.IsPaused {
				t.Fatalf("Get = %+v, %v; want an unpaused compilation", c, err)
			}
			if _, err := s.PutControl(t.Context(), store.Control{WorkspaceID: ws.ID, IsPaused: true}); err != nil {
				t.Fatalf("PutControl: %v", err)
			}
			// Within Recheck the cache is trusted: no read, the old value.
			clk.advance(p.Recheck / 2)
			if c, _ := p.Get(t.Context(), ws.ID); c.Control.IsPaused {
				t.Fatal("the cache re-read the store within Recheck")
			}
			clk.advance(p.Recheck)
			c, err = p.Get(t.Context(), ws.ID)
			if err != nil || !c.Control.IsPaused {
				t.Fatalf("after Recheck: Get = paused %v, %v; want the change seen", c != nil && c.Control.IsPaused, err)
			}
			// Unchanged, a check keeps the same compilation.
			clk.advance(2 * p.Recheck)
			if again, _ := p.Get(t.Context(), ws.ID); again != c {
				t.Fatal("an unchanged rules version recompiled the workspace")
			}
		})
	}
}

// TestTwoNodesWithoutNotifications runs two PostgreSQL stores on one
// database, as two nodes, with no change feed at all: a change made
// through one node is used by the other within the contract's second.
func TestTwoNodesWithoutNotifications(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}
	a, b := open(), open()
	ws := newWorkspaceIn(t, a)
	onB := NewPrograms(b)
	if c, err := onB.Get(ctx, ws.ID); err != nil || c.Control.IsPaused {
		t.Fatalf("node B: Get = %v; want an unpaused compilation", err)
	}
	changed := time.Now()
	if _, err := a.PutControl(ctx, store.Control{WorkspaceID: ws.ID, IsPaused: true}); err != nil {
		t.Fatalf("PutControl on node A: %v", err)
	}
	for {
		c, err := onB.Get(ctx, ws.ID)
		if err != nil {
			t.Fatalf("node B: Get: %v", err)
		}
		if c.Control.IsPaused {
			break
		}
		if time.Since(changed) > time.Second {
			t.Fatal("node B still used the old rules a second after node A's change")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
