package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// TestMigration0012 leaves events in the inbox, as ingestion before 0012
// did until the next claim, and checks that the migration moves them into
// events as they were: readable, and claimed in their order.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0012(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 11); err != nil {
		t.Fatalf("MigrateThrough(11): %v", err)
	}
	db := s.Writer()
	const ids = "018f0000-0000-7000-8000-00000000000"
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, secret, created_at, updated_at) VALUES (1, 'w', 's', 0, 0)`,
		// Arrival order (seq) is the ids' order; the second shares the
		// first's conversation, the third has none.
		`INSERT INTO event_inbox (seq, id, workspace_id, event_type, conversation_id, contact_id, payload,
			payload_hash, source, status, available_at, occurred_at, created_at, order_key)
		VALUES (1, '` + ids + `1', 1, 'messages.incoming', 'c1', NULL, '{"a": 1}', 'h1', 'api', 'pending', 5, 4, 5, 'c1'),
		       (2, '` + ids + `2', 1, 'messages.incoming', 'c1', NULL, '{"a": 2}', 'h2', 'api', 'pending', 5, 4, 5, 'c1'),
		       (3, '` + ids + `3', 1, 'status.closed', NULL, 'k9', '{}', 'h3', 'api', 'pending', 6, 6, 6, 'k9')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	e, err := s.GetEvent(ctx, 1, ids+"3")
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	if e.Status != store.EventPending || e.ContactID == nil || *e.ContactID != "k9" || string(e.Payload) != "{}" ||
		e.CreatedAt.UnixMilli() != 6 || e.OrderKey != "k9" {
		t.Errorf("moved event = %+v", e)
	}
	claims, err := s.ClaimEvents(ctx, "w", 10, 0)
	if err != nil {
		t.Fatalf("ClaimEvents: %v", err)
	}
	var got []string
	for _, c := range claims {
		got = append(got, c.Event.ID)
	}
	// The second waits for the first, its conversation's head.
	if want := []string{ids + "1", ids + "3"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("claimed %v, want %v", got, want)
	}
	if _, err := db.ExecContext(ctx, `SELECT 1 FROM event_inbox`); err == nil {
		t.Error("event_inbox still exists")
	}
}
