package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/store/sqlite"
)

// TestMigration0010 writes a matched run, its delivery and its activity
// entry as the schema before 0010 kept them, migrates, and checks that
// everything reads as before: the run's event facts come from the event,
// the delivery keeps its action and shows its run's event and rule, and
// the activity entry (now the run itself) keeps its actions.
// Not parallel: MigrateThrough swaps the package's migrations.
func TestMigration0010(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sb.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.MigrateThrough(ctx, 9); err != nil {
		t.Fatalf("MigrateThrough(9): %v", err)
	}
	const (
		eventID    = "01900000-0000-7000-8000-000000000001"
		runID      = "01900000-0000-7000-8000-000000000002"
		deliveryID = "01900000-0000-7000-8000-000000000003"
		activityID = "01900000-0000-7000-8000-000000000004"
		action     = `{"type":"add_tag","tag_id":1,"tag_name":"vip","tag_external_id":null}`
	)
	db := s.Writer()
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, secret, created_at, updated_at) VALUES (1, 'w', 's', 0, 0)`,
		`INSERT INTO rules (id, workspace_id, name, is_active, trigger_type, conditions, actions, priority,
			rollout_percentage, stop_on_match, cooldown_secs, activated_at, created_at, updated_at)
		 VALUES (7, 1, 'tagger', 1, 'messages.incoming', '[]', '[]', 0, 100, 0, 0, 1000, 1000, 1000)`,
		`INSERT INTO events (id, workspace_id, event_type, conversation_id, contact_id, payload, payload_hash, source,
			channel_source, status, attempts, available_at, occurred_at, created_at, processed_at, order_key,
			decided_rules)
		 VALUES ('` + eventID + `', 1, 'messages.incoming', 'conv-1', 'ann', '{}', 'h', 'api', 'email', 'processed',
			1, 5000, 5000, 5000, 6000, 'conv-1', ',7,')`,
		`INSERT INTO runs (id, workspace_id, event_id, rule_id, rule_name, conversation_id, contact_id, matched,
			executed, status, result, created_at, settled_at, event_type, event_source, channel_source, rule_version)
		 VALUES ('` + runID + `', 1, '` + eventID + `', 7, 'tagger', 'conv-1', 'ann', 1, 0, 'pending',
			'{"reason":null,"trace":[],"actions":[]}', 3605000, NULL, 'messages.incoming', 'api', 'email', 1)`,
		`INSERT INTO run_rollups (workspace_id, rule_id, hour, evaluated, matched, executed, failed)
		 VALUES (1, 7, 1, 1, 1, 0, 0)`,
		`INSERT INTO deliveries (id, workspace_id, run_id, event_id, rule_id, action_index, conversation_id,
			contact_id, action, status, attempts, available_at, created_at)
		 VALUES ('` + deliveryID + `', 1, '` + runID + `', '` + eventID + `', 7, 0, 'conv-1', 'ann', '` + action + `',
			'pending', 0, 6000, 6000)`,
		`INSERT INTO activities (id, workspace_id, conversation_id, kind, rule_id, rule_name, event_id, run_id,
			actions, created_at)
		 VALUES ('` + activityID + `', 1, 'conv-1', 'automation_applied', 7, 'tagger', '` + eventID + `',
			'` + runID + `', '[` + action + `]', 6000)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	r, err := s.GetRun(ctx, 1, runID)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if r.ConversationID == nil || *r.ConversationID != "conv-1" || r.ContactID == nil || *r.ContactID != "ann" ||
		r.EventType != "messages.incoming" || r.EventSource != "api" || r.ChannelSource == nil ||
		*r.ChannelSource != "email" || r.RuleName != "tagger" || !r.Matched || r.Status != store.RunPending {
		t.Errorf("run after 0010 = %+v", r)
	}
	d, err := s.GetDelivery(ctx, 1, deliveryID)
	if err != nil {
		t.Fatalf("GetDelivery: %v", err)
	}
	if string(d.Action) != action || d.EventID != eventID || d.RuleID != 7 || d.RunID != runID ||
		d.ConversationID == nil || *d.ConversationID != "conv-1" || d.Status != store.DeliveryPending {
		t.Errorf("delivery after 0010 = %+v (action %s)", d, d.Action)
	}
	// The run was made after its event's hour ended (0006 counted it in
	// the run's hour): the rule's listing, which walks the hours its
	// rollups name, still finds it.
	byRule, total, err := s.ListRuns(ctx, 1, store.RunFilter{RuleID: 7}, store.ListQuery{Limit: 10})
	if err != nil || total != 1 || len(byRule) != 1 || byRule[0].ID != runID {
		t.Errorf("ListRuns(rule 7) = %+v, %d, %v; want the legacy run", byRule, total, err)
	}
	acts, total, err := s.ListActivities(ctx, 1, "conv-1", store.ListQuery{})
	if err != nil || total != 1 || len(acts) != 1 {
		t.Fatalf("ListActivities = %+v, %d, %v; want the one entry", acts, total, err)
	}
	if a := acts[0]; a.RunID != runID || a.RuleID != 7 || string(a.Actions) != "["+action+"]" || a.EventID != eventID {
		t.Errorf("activity after 0010 = %+v", a)
	}
}
