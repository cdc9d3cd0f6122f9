package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
	"github.com/switchboard-hq/switchboard/internal/tenancy"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clk clock.Clock) store.Store { return storetest.OpenWithClock(t, "sqlite", clk) })
}

func open(t *testing.T, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReadyNeedsMigrations(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	if err := s.Ready(t.Context()); err == nil {
		t.Fatal("Ready on an unmigrated database succeeded")
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("Ready after Migrate: %v", err)
	}
}

// TestConcurrentMigrate opens one file from several stores, as several
// processes would, and migrates from all of them at once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sb.db")
	stores := []*sqlite.Store{
		open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{}),
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	for _, s := range stores {
		if err := s.Ready(t.Context()); err != nil {
			t.Errorf("Ready: %v", err)
		}
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		synchronous string
		want        int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{"", 2}, {"full", 2}, {"normal", 1}} {
		s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{Synchronous: tc.synchronous})
		got := s.Pragmas(t.Context())
		if got.JournalMode != "wal" || !got.ForeignKeys || got.Synchronous != tc.want || got.BusyTimeoutMS <= 0 ||
			!got.ReaderQueryOnly || got.AutoCheckpoint != sqlite.WALRestartPages {
			t.Errorf("Synchronous %q: pragmas = %+v, want WAL, foreign keys, synchronous %d, a busy timeout, query-only readers, "+
				"the writer checkpointing every %d pages", tc.synchronous, got, tc.want, sqlite.WALRestartPages)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{Synchronous: "off"}); err == nil {
		t.Error("Open accepted synchronous=off")
	}
}

// TestCheckpointerCopiesTheWAL: commits are followed by a checkpoint on
// the checkpointer's connection, which copies every frame while the
// writer is idle.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	ws, _, _, err := tenancy.CreateWorkspace(t.Context(), s, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		g := &store.IngestGroup{Events: []store.NewEvent{{Event: store.Event{WorkspaceID: ws.ID, EventType: "messages.incoming",
			Source: "api", Payload: []byte(`{}`), PayloadHash: fmt.Sprintf("%064x", i)}}}}
		if err := s.IngestEvents(t.Context(), []*store.IngestGroup{g}); err != nil || g.Err != nil {
			t.Fatalf("IngestEvents: %v, %v", err, g.Err)
		}
	}
	// The checkpointer runs at most every 100 ms; it is not on a clock
	// the test could advance, so wait for it, bounded.
	deadline := time.Now().Add(10 * time.Second)
	for {
		frames, copied, ok := s.LastCheckpoint()
		if ok && frames > 0 && copied == frames {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("last checkpoint: %d frames, %d copied (ran: %v); want a checkpoint that copied the whole WAL", frames, copied, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestContactListsContainingUsesTheIndex guards the engine's per-event
// membership lookup against a table scan.
func TestContactListsContainingUsesTheIndex(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	plan, err := s.ContainingPlan(t.Context())
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	if !strings.Contains(plan, "contact_list_members USING COVERING INDEX contact_list_members_email") {
		t.Errorf("plan does not use contact_list_members_email:\n%s", plan)
	}
}

// TestQueueQueriesUseTheirIndexes guards the claim against walking finished
// events: it must scan the partial events_queue index in order and check
// each candidate's order key with seeks in events_unfinished and
// events_one_processing.
func TestQueueQueriesUseTheirIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	plans, err := s.QueuePlans(t.Context())
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	for name, want := range map[string][]string{
		"claim": {
			"SCAN e USING INDEX events_queue",
			"SEARCH p USING INDEX events_unfinished (workspace_id=? AND order_key=? AND created_at<?)",
			"SEARCH p USING COVERING INDEX events_one_processing (workspace_id=? AND order_key=?)",
		},
		"finish":   {"SEARCH events USING INDEX sqlite_autoindex_events_1 (id=?)"},
		"next due": {"events USING INDEX events_queue"},
	} {
		for _, w := range want {
			if !strings.Contains(plans[name], w) {
				t.Errorf("%s plan lacks %q:\n%s", name, w, plans[name])
			}
		}
		if strings.Contains(plans[name], "SCAN events\n") || strings.Contains(plans[name], "SCAN e\n") {
			t.Errorf("%s plan scans the events table:\n%s", name, plans[name])
		}
	}
}

// TestKeyWalksUseTheirIndexes guards the reads that the (workspace_id, id)
// keys of runs and deliveries serve: a listing walks a range of the key
// (or the unordered rows' own index) in order, without sorting, and a
// timeline finds an event's runs by a range of the key or, for runs from
// before the decision record, by runs_legacy_event.
func TestKeyWalksUseTheirIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	plans, err := s.KeyPlans(t.Context())
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	for name, want := range map[string][]string{
		"timeline": {"MULTI-INDEX OR", "SEARCH a USING PRIMARY KEY (workspace_id=? AND id>? AND id<?)",
			"SEARCH a USING INDEX runs_legacy_event (event_id=?)"},
		"runs by key":          {"SEARCH r USING PRIMARY KEY (workspace_id=? AND id<?)"},
		"unordered runs":       {"SEARCH r USING INDEX runs_unordered (workspace_id=?)"},
		"deliveries by key":    {"SEARCH d USING PRIMARY KEY (workspace_id=? AND id>?)"},
		"unordered deliveries": {"SEARCH d USING INDEX deliveries_unordered (workspace_id=?)"},
	} {
		for _, w := range want {
			if !strings.Contains(plans[name], w) {
				t.Errorf("%s plan lacks %q:\n%s", name, w, plans[name])
			}
		}
		if strings.Contains(plans[name], "TEMP B-TREE") {
			t.Errorf("%s plan sorts:\n%s", name, plans[name])
		}
	}
}
