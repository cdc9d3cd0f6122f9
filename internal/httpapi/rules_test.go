package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fullRule returns a rule body that sets every writable field, with
// conditions written in an unusual key order and number format, so that a
// round trip proves they are kept exactly as submitted.
func fullRule(tag, list, member int64) (map[string]any, string) {
	conditions := fmt.Sprintf(`[
		{"value": "OPENED", "operator": "equals", "field": "conversation.status"},
		{"any": [
			{"field": "message.subject", "operator": "matches", "value": "^(urgent|asap)\\b"},
			{"not": {"field": "conversation.priority", "operator": "in", "value": ["low", 1.50, 12345678901234567890, true]}},
			{"all": [{"type": "from_email", "operator": "domain", "value": "example.com"},
			         {"field": "custom.plan", "operator": "exists"}]}
		]},
		{"type": "contact_list", "list_id": %d, "operator": "not_in"},
		{"type": "subject_contains", "value": "refund"},
		{"field": "event.occurred_at", "operator": "gte", "value": "2026-01-01T00:00:00+01:00"}
	]`, list)
	body := map[string]any{
		"name":         "Route VIP mail",
		"description":  "Tags and routes mail from VIP customers",
		"is_active":    false,
		"trigger_type": "teammate.mentioned",
		"trigger_data": fmt.Sprint(member),
		"conditions":   json.RawMessage(conditions),
		"actions": []any{
			map[string]any{"type": "add_tag", "tag_id": tag},
			map[string]any{"type": "remove_tag", "tag_id": tag},
			map[string]any{"type": "assign_agent", "user_id": member},
			map[string]any{"type": "unassign"},
			map[string]any{"type": "set_status", "status": "snoozed", "snooze_until": "2026-07-01T08:00:00.250Z"},
			map[string]any{"type": "set_priority", "priority": "urgent"},
			map[string]any{"type": "add_note", "body": "VIP: {{contact.name}}"},
			map[string]any{"type": "send_response", "body": "Hello {{contact.name}}", "subject": "Re: {{message.subject}}"},
			map[string]any{"type": "send_webhook", "url": "https://hooks.example.com/vip?x=1", "headers": map[string]any{"X-Secret": "s3cret"}},
		},
		"alert_settings": map[string]any{"enabled": true, "window_minutes": 90, "min_matched_runs": 7,
			"warning_failure_rate_pct": 12.5, "critical_failure_rate_pct": 40, "notify": []any{"email"}, "renotify_minutes": 30},
		"schedule_settings": map[string]any{
			"timezone":      "Europe/Paris",
			"windows":       []any{map[string]any{"days": []any{"mon", "tue"}, "start": "09:00", "end": "17:30"}, map[string]any{"days": []any{"fri"}, "start": "22:00", "end": "06:00"}},
			"exclude_dates": []any{"2026-12-25"},
			"active_from":   "2026-01-01T00:00:00Z",
			"active_until":  "2027-01-01T00:00:00Z",
		},
		"priority":           0,
		"rollout_percentage": 40,
		"stop_on_match":      true,
		"cooldown_secs":      3600,
	}
	return body, conditions
}

// asMap round-trips v through JSON.
func asMap(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func compact(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRuleRoundTrip(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag, list := e.newTag(t, e.A), e.newList(t, e.A)
		e.clock.Advance(123 * time.Millisecond)
		now := e.clock.Now()
		body, conditions := fullRule(tag, list, e.A.Agent.MemberID)

		created := e.do(t, "POST", "/v1/automation/rules", e.A.Supervisor.Token, body).expect(t, 201)
		got := created.object(t)
		var r rule
		created.decode(t, &r)

		// Conditions come back byte for byte (whitespace aside).
		if string(r.Conditions) != compact(t, conditions) {
			t.Errorf("conditions changed:\n got %s\nwant %s", r.Conditions, compact(t, conditions))
		}
		want := asMap(t, body)
		delete(want, "conditions")
		delete(got, "conditions")
		sup := float64(e.A.Supervisor.MemberID)
		for k, v := range map[string]any{
			"id": float64(r.ID), "match_count": 0.0, "applied_count": 0.0, "last_matched_at": nil,
			"last_applied_at": nil, "snoozed_until": nil, "created_at": ts(now), "updated_at": ts(now),
			"created_by": sup, "updated_by": sup, "version": 1.0,
		} {
			want[k] = v
		}
		if diff := cmp.Diff(want, asMap(t, got)); diff != "" {
			t.Errorf("created rule (-sent +returned):\n%s", diff)
		}
		if r.CreatedAt != "2026-06-15T09:00:00.123Z" {
			t.Errorf("created_at = %q, want milliseconds with Z", r.CreatedAt)
		}

		// GET and the list return the same object.
		again := e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d", r.ID), e.A.Admin.Token, nil).expect(t, 200)
		if diff := cmp.Diff(asMap(t, created.object(t)), asMap(t, again.object(t))); diff != "" {
			t.Errorf("GET differs from the create response:\n%s", diff)
		}
		var list1 struct {
			Data []json.RawMessage `json:"data"`
		}
		e.do(t, "GET", "/v1/automation/rules", e.A.Admin.Token, nil).expect(t, 200).decode(t, &list1)
		if len(list1.Data) != 1 {
			t.Fatalf("list has %d rules, want 1", len(list1.Data))
		}
		if diff := cmp.Diff(asMap(t, created.object(t)), asMap(t, list1.Data[0])); diff != "" {
			t.Errorf("list entry differs from the create response:\n%s", diff)
		}

		// Defaults of a minimal rule.
		min := e.newRule(t, e.A, ruleBody())
		if diff := cmp.Diff(rule{
			ID: min.ID, Name: min.Name, IsActive: true, TriggerType: "messages.incoming", Conditions: json.RawMessage("[]"),
			Actions: []map[string]any{{"type": "add_note", "body": "seen by {{contact.name}}"}}, Priority: min.Priority,
			RolloutPercentage: 100, CreatedAt: ts(now), UpdatedAt: ts(now), CreatedBy: ptr(e.A.Admin.MemberID), UpdatedBy: ptr(e.A.Admin.MemberID),
			Version: 1,
		}, min); diff != "" {
			t.Errorf("minimal rule defaults (-want +got):\n%s", diff)
		}
		if min.Priority <= r.Priority {
			t.Errorf("a rule created without priority got %d, not after %d", min.Priority, r.Priority)
		}

		// Delete: 204, then gone.
		e.do(t, "DELETE", fmt.Sprintf("/v1/automation/rules/%d", min.ID), e.A.Admin.Token, nil).expect(t, 204)
		e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d", min.ID), e.A.Admin.Token, nil).problem(t, 404)
		e.do(t, "DELETE", fmt.Sprintf("/v1/automation/rules/%d", min.ID), e.A.Admin.Token, nil).problem(t, 404)
	})
}

func TestRuleListFilters(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		a := e.newRule(t, e.A, ruleBody())
		b := e.newRule(t, e.A, with(ruleBody(), "is_active", false))
		c := e.newRule(t, e.A, with(ruleBody(), "trigger_type", "custom.order_paid"))
		e.newRule(t, e.B, ruleBody())
		ids := func(path string) []int64 {
			var l struct {
				Data []rule `json:"data"`
			}
			e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200).decode(t, &l)
			out := []int64{}
			for _, r := range l.Data {
				out = append(out, r.ID)
			}
			return out
		}
		for path, want := range map[string][]int64{
			"/v1/automation/rules":                                            {a.ID, b.ID, c.ID},
			"/v1/automation/rules?is_active=true":                             {a.ID, c.ID},
			"/v1/automation/rules?is_active=false":                            {b.ID},
			"/v1/automation/rules?trigger_type=custom.order_paid":             {c.ID},
			"/v1/automation/rules?trigger_type=messages.incoming&is_active=0": {b.ID},
			"/v1/automation/rules?trigger_type=status.closed":                 {},
		} {
			if diff := cmp.Diff(want, ids(path)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		}
	})
}

// priorities returns id → priority and the ids in list order.
func priorities(t *testing.T, e *env) (map[int64]int, []int64) {
	t.Helper()
	m := map[int64]int{}
	var order []int64
	for _, r := range e.listRules(t, e.A) {
		m[r.ID] = r.Priority
		order = append(order, r.ID)
	}
	return m, order
}

func TestRulePriorities(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r1 := e.newRule(t, e.A, ruleBody())
		r2 := e.newRule(t, e.A, ruleBody())
		r3 := e.newRule(t, e.A, ruleBody())
		before, order := priorities(t, e)
		if diff := cmp.Diff([]int64{r1.ID, r2.ID, r3.ID}, order); diff != "" {
			t.Fatalf("rules without priority go last (-want +got):\n%s", diff)
		}

		// A taken priority shifts every rule at or after it down by one.
		p := before[r2.ID]
		r4 := e.newRule(t, e.A, with(ruleBody(), "priority", p))
		after, order := priorities(t, e)
		if diff := cmp.Diff([]int64{r1.ID, r4.ID, r2.ID, r3.ID}, order); diff != "" {
			t.Errorf("order after create at a taken priority (-want +got):\n%s", diff)
		}
		want := map[int64]int{r1.ID: before[r1.ID], r4.ID: p, r2.ID: before[r2.ID] + 1, r3.ID: before[r3.ID] + 1}
		if diff := cmp.Diff(want, after); diff != "" {
			t.Errorf("priorities after create at a taken priority (-want +got):\n%s", diff)
		}
		if r4.Priority != p {
			t.Errorf("created rule has priority %d, want %d", r4.Priority, p)
		}

		// A free priority takes it without moving anything.
		r5 := e.newRule(t, e.A, with(ruleBody(), "priority", 1000))
		_, order = priorities(t, e)
		if diff := cmp.Diff([]int64{r1.ID, r4.ID, r2.ID, r3.ID, r5.ID}, order); diff != "" {
			t.Errorf("order after create at a free priority (-want +got):\n%s", diff)
		}

		// PATCH priority moves the rule the same way.
		var moved rule
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%d", r3.ID), e.A.Admin.Token,
			map[string]any{"priority": after[r1.ID]}).expect(t, 200).decode(t, &moved)
		if moved.Priority != after[r1.ID] {
			t.Errorf("moved rule has priority %d, want %d", moved.Priority, after[r1.ID])
		}
		got, order := priorities(t, e)
		if diff := cmp.Diff([]int64{r3.ID, r1.ID, r4.ID, r2.ID, r5.ID}, order); diff != "" {
			t.Errorf("order after PATCH priority (-want +got):\n%s", diff)
		}
		if got[r1.ID] != after[r1.ID]+1 || got[r4.ID] != after[r4.ID]+1 || got[r2.ID] != after[r2.ID]+1 {
			t.Errorf("rules at or after the moved rule's new priority did not shift by one: %v (before %v)", got, after)
		}

		// Moving a rule down keeps the others' relative order.
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%d", r3.ID), e.A.Admin.Token,
			map[string]any{"priority": got[r2.ID]}).expect(t, 200)
		_, order = priorities(t, e)
		if diff := cmp.Diff([]int64{r1.ID, r4.ID, r3.ID, r2.ID, r5.ID}, order); diff != "" {
			t.Errorf("order after moving down (-want +got):\n%s", diff)
		}

		// Reorder: priorities 0, 1, 2, … in the given order; the whole list back.
		ids := []int64{r5.ID, r2.ID, r3.ID, r1.ID, r4.ID}
		var l struct {
			Data []rule `json:"data"`
		}
		e.do(t, "POST", "/v1/automation/rules/reorder", e.A.Supervisor.Token, map[string]any{"ids": ids}).expect(t, 200).decode(t, &l)
		var gotIDs []int64
		for i, r := range l.Data {
			gotIDs = append(gotIDs, r.ID)
			if r.Priority != i {
				t.Errorf("after reorder rule %d has priority %d, want %d", r.ID, r.Priority, i)
			}
		}
		if diff := cmp.Diff(ids, gotIDs); diff != "" {
			t.Errorf("reorder response (-want +got):\n%s", diff)
		}
		final, order := priorities(t, e)
		if diff := cmp.Diff(ids, order); diff != "" {
			t.Errorf("list after reorder (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[int64]int{r5.ID: 0, r2.ID: 1, r3.ID: 2, r1.ID: 3, r4.ID: 4}, final); diff != "" {
			t.Errorf("priorities after reorder (-want +got):\n%s", diff)
		}
		// Workspace B is untouched by A's priorities.
		b1 := e.newRule(t, e.B, with(ruleBody(), "priority", 0))
		if b1.Priority != 0 {
			t.Errorf("B's first rule has priority %d", b1.Priority)
		}
		if after, _ := priorities(t, e); after[r5.ID] != 0 {
			t.Errorf("a rule in B shifted A's rules: %v", after)
		}
	})
}

func TestRulePatchSemantics(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		tag, list := e.newTag(t, e.A), e.newList(t, e.A)
		body, _ := fullRule(tag, list, e.A.Agent.MemberID)
		r := e.newRule(t, e.A, body)
		path := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		e.clock.Advance(time.Second)

		// Absent fields are unchanged.
		var renamed rule
		e.do(t, "PATCH", path, e.A.Supervisor.Token, map[string]any{"name": "Renamed"}).expect(t, 200).decode(t, &renamed)
		want := r
		want.Name = "Renamed"
		want.UpdatedAt = ts(t0.Add(time.Second))
		want.UpdatedBy = ptr(e.A.Supervisor.MemberID)
		want.Version = 2 // a change of the definition
		if diff := cmp.Diff(want, renamed); diff != "" {
			t.Errorf("PATCH name (-want +got):\n%s", diff)
		}
		if renamed.CreatedAt != r.CreatedAt || *renamed.CreatedBy != e.A.Admin.MemberID {
			t.Errorf("PATCH moved created_*: %s by %v", renamed.CreatedAt, renamed.CreatedBy)
		}

		// Nested objects merge.
		var merged rule
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{
			"alert_settings":    map[string]any{"window_minutes": 120},
			"schedule_settings": map[string]any{"timezone": "Asia/Tokyo"},
		}).expect(t, 200).decode(t, &merged)
		wantAlert := asMap(t, body["alert_settings"])
		wantAlert["window_minutes"] = 120.0
		if diff := cmp.Diff(wantAlert, asMap(t, merged.AlertSettings)); diff != "" {
			t.Errorf("alert_settings merge (-want +got):\n%s", diff)
		}
		wantSched := asMap(t, body["schedule_settings"])
		wantSched["timezone"] = "Asia/Tokyo"
		if diff := cmp.Diff(wantSched, asMap(t, merged.ScheduleSettings)); diff != "" {
			t.Errorf("schedule_settings merge (-want +got):\n%s", diff)
		}
		// A null inside a nested object removes that key (merge patch).
		var unbounded rule
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{
			"schedule_settings": map[string]any{"active_until": nil},
		}).expect(t, 200).decode(t, &unbounded)
		delete(wantSched, "active_until")
		if diff := cmp.Diff(wantSched, asMap(t, unbounded.ScheduleSettings)); diff != "" {
			t.Errorf("schedule_settings merge with a null (-want +got):\n%s", diff)
		}

		// null clears nullable fields.
		var cleared rule
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{
			"description": nil, "trigger_type": "messages.incoming", "trigger_data": nil,
			"alert_settings": nil, "schedule_settings": nil, "conditions": nil,
		}).expect(t, 200).decode(t, &cleared)
		if cleared.Description != nil || cleared.TriggerData != nil || cleared.AlertSettings != nil || cleared.ScheduleSettings != nil {
			t.Errorf("null did not clear: %+v", cleared)
		}
		if string(cleared.Conditions) != "[]" {
			t.Errorf("conditions: null → %s, want []", cleared.Conditions)
		}
		got := e.getRule(t, e.A, r.ID)
		if diff := cmp.Diff(cleared, got); diff != "" {
			t.Errorf("GET after clearing (-patch +get):\n%s", diff)
		}

		// New alert settings take the default preset for what they omit.
		var fresh rule
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{"alert_settings": map[string]any{"min_matched_runs": 3}}).
			expect(t, 200).decode(t, &fresh)
		if diff := cmp.Diff(map[string]any{"enabled": true, "window_minutes": 1440.0, "min_matched_runs": 3.0,
			"warning_failure_rate_pct": 20.0, "critical_failure_rate_pct": 50.0, "notify": []any{"webhook", "email"},
			"renotify_minutes": 60.0}, asMap(t, fresh.AlertSettings)); diff != "" {
			t.Errorf("new alert_settings (-want +got):\n%s", diff)
		}

		// GET, change, PUT back: read-only fields are ignored.
		e.do(t, "POST", path+"/snooze", e.A.Admin.Token, map[string]any{"snoozed_until": ts(e.clock.Now().Add(time.Hour))}).expect(t, 200)
		doc := e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200).object(t)
		doc["name"] = "Sent back"
		doc["id"] = json.Number("987654")
		var back rule
		e.do(t, "PUT", path, e.A.Admin.Token, doc).expect(t, 200).decode(t, &back)
		if back.ID != r.ID || back.Name != "Sent back" || back.SnoozedUntil == nil {
			t.Errorf("PUT of a GET body: %+v", back)
		}
		doc["name"] = "Sent back with PATCH"
		e.do(t, "PATCH", path, e.A.Admin.Token, doc).expect(t, 200)
		// And the same with a cleared snooze: snoozed_until is not writable here.
		doc["snoozed_until"] = nil
		e.do(t, "PATCH", path, e.A.Admin.Token, doc).expect(t, 200)
		if got := e.getRule(t, e.A, r.ID); got.SnoozedUntil == nil || got.Name != "Sent back with PATCH" {
			t.Errorf("read-only snoozed_until was written or name lost: %+v", got)
		}
	})
}

func TestRuleSnooze(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		other := e.newRule(t, e.A, with(ruleBody(), "trigger_type", "custom.x"))
		path := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		until := e.clock.Now().Add(90*time.Minute + 250*time.Millisecond)

		// Any offset is accepted; the answer is UTC with milliseconds.
		var s map[string]any
		e.do(t, "POST", path+"/snooze", e.A.Supervisor.Token,
			map[string]any{"snoozed_until": until.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)}).expect(t, 200).decode(t, &s)
		if s["id"] != json.Number(fmt.Sprint(r.ID)) || s["snoozed_until"] != "2026-06-15T10:30:00.250Z" || s["message"] == "" {
			t.Errorf("snooze response: %v", s)
		}
		if got := e.getRule(t, e.A, r.ID); got.SnoozedUntil == nil || *got.SnoozedUntil != "2026-06-15T10:30:00.250Z" {
			t.Errorf("rule after snooze: snoozed_until %v", got.SnoozedUntil)
		}

		type page struct {
			Data       []rule  `json:"data"`
			Total      int     `json:"total"`
			Page       *int    `json:"page"`
			PerPage    int     `json:"per_page"`
			NextCursor *string `json:"next_cursor"`
		}
		var p page
		e.do(t, "GET", "/v1/automation/rules/snoozed", e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
		if p.Total != 1 || len(p.Data) != 1 || p.Data[0].ID != r.ID || p.Page == nil || *p.Page != 1 || p.PerPage != 50 || p.NextCursor != nil {
			t.Errorf("snoozed list: %+v", p)
		}
		e.do(t, "GET", "/v1/automation/rules/snoozed?trigger_type=custom.x", e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
		if p.Total != 0 || len(p.Data) != 0 {
			t.Errorf("snoozed list filtered by another trigger: %+v", p)
		}
		var st map[string]any
		e.do(t, "GET", path+"/effective-state", e.A.Admin.Token, nil).expect(t, 200).decode(t, &st)
		if st["is_snoozed"] != true || st["effective_active"] != false || st["snoozed_until"] != "2026-06-15T10:30:00.250Z" {
			t.Errorf("effective state while snoozed: %v", st)
		}

		// Paging the snoozed list.
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%d/snooze", other.ID), e.A.Admin.Token,
			map[string]any{"snoozed_until": ts(until.Add(time.Hour))}).expect(t, 200)
		e.do(t, "GET", "/v1/automation/rules/snoozed?per_page=1&page=2", e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
		if p.Total != 2 || len(p.Data) != 1 || *p.Page != 2 || p.PerPage != 1 {
			t.Errorf("second page of snoozed rules: %+v", p)
		}

		// Just before the end it is snoozed; at the end it is not.
		e.clock.Set(until.Add(-time.Millisecond))
		if got := e.getRule(t, e.A, r.ID); got.SnoozedUntil == nil {
			t.Errorf("snooze ended early")
		}
		e.clock.Set(until)
		if got := e.getRule(t, e.A, r.ID); got.SnoozedUntil != nil {
			t.Errorf("after the snooze ended snoozed_until = %v, want null", *got.SnoozedUntil)
		}
		e.do(t, "GET", "/v1/automation/rules/snoozed", e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
		if p.Total != 1 || len(p.Data) != 1 || p.Data[0].ID != other.ID {
			t.Errorf("snoozed list after one snooze ended: %+v", p)
		}
		for _, rr := range e.listRules(t, e.A) {
			if rr.ID == r.ID && rr.SnoozedUntil != nil {
				t.Errorf("rules list shows an ended snooze: %v", *rr.SnoozedUntil)
			}
		}

		// Unsnooze is idempotent.
		for range 2 {
			var u map[string]any
			e.do(t, "DELETE", fmt.Sprintf("/v1/automation/rules/%d/snooze", other.ID), e.A.Admin.Token, nil).expect(t, 200).decode(t, &u)
			if u["snoozed_until"] != nil || u["id"] != json.Number(fmt.Sprint(other.ID)) || u["message"] == "" {
				t.Errorf("unsnooze response: %v", u)
			}
		}
		e.do(t, "DELETE", path+"/snooze", e.A.Admin.Token, nil).expect(t, 200)
		e.do(t, "GET", "/v1/automation/rules/snoozed", e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
		if p.Total != 0 || len(p.Data) != 0 {
			t.Errorf("snoozed list after unsnooze: %+v", p)
		}
		if got := e.getRule(t, e.A, other.ID); got.SnoozedUntil != nil {
			t.Errorf("unsnoozed rule reads snoozed_until %v", *got.SnoozedUntil)
		}
	})
}

type effState struct {
	RuleID          int64   `json:"rule_id"`
	IsActive        bool    `json:"is_active"`
	IsSnoozed       bool    `json:"is_snoozed"`
	SnoozedUntil    *string `json:"snoozed_until"`
	GlobalPaused    bool    `json:"global_paused"`
	ScheduleActive  bool    `json:"schedule_active"`
	EffectiveActive bool    `json:"effective_active"`
}

func TestEffectiveState(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		state := func(id int64) effState {
			t.Helper()
			var s effState
			e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d/effective-state", id), e.A.Supervisor.Token, nil).expect(t, 200).decode(t, &s)
			return s
		}
		plain := e.newRule(t, e.A, ruleBody())
		inactive := e.newRule(t, e.A, with(ruleBody(), "is_active", false))
		snoozed := e.newRule(t, e.A, ruleBody())
		until := ts(t0.Add(time.Hour))
		e.do(t, "POST", fmt.Sprintf("/v1/automation/rules/%d/snooze", snoozed.ID), e.A.Admin.Token,
			map[string]any{"snoozed_until": until}).expect(t, 200)
		// t0 is Monday 11:00 in Paris.
		inSchedule := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{"timezone": "Europe/Paris",
			"windows": []any{map[string]any{"days": []any{"mon"}, "start": "10:59", "end": "11:01"}}}))
		// Monday 11:01 to Tuesday 11:00: everything but the minute now.
		outside := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{"timezone": "Europe/Paris",
			"windows": []any{map[string]any{"days": []any{"mon"}, "start": "11:01", "end": "11:00"}}}))
		excluded := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{"timezone": "Europe/Paris",
			"windows": []any{map[string]any{"days": []any{"mon"}, "start": "00:00", "end": "24:00"}}, "exclude_dates": []any{"2026-06-15"}}))
		// The schedule's zone defaults to the workspace's (UTC): 09:00 there.
		wsZone := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{
			"windows": []any{map[string]any{"days": []any{"mon"}, "start": "09:00", "end": "09:01"}}}))

		for _, c := range []struct {
			name string
			id   int64
			want effState
		}{
			{"plain", plain.ID, effState{RuleID: plain.ID, IsActive: true, ScheduleActive: true, EffectiveActive: true}},
			{"inactive", inactive.ID, effState{RuleID: inactive.ID, ScheduleActive: true}},
			{"snoozed", snoozed.ID, effState{RuleID: snoozed.ID, IsActive: true, IsSnoozed: true, SnoozedUntil: &until, ScheduleActive: true}},
			{"in schedule", inSchedule.ID, effState{RuleID: inSchedule.ID, IsActive: true, ScheduleActive: true, EffectiveActive: true}},
			{"outside schedule", outside.ID, effState{RuleID: outside.ID, IsActive: true}},
			{"excluded date", excluded.ID, effState{RuleID: excluded.ID, IsActive: true}},
			{"workspace zone", wsZone.ID, effState{RuleID: wsZone.ID, IsActive: true, ScheduleActive: true, EffectiveActive: true}},
		} {
			if diff := cmp.Diff(c.want, state(c.id)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, diff)
			}
		}

		// The workspace's zone moves a schedule without its own.
		e.do(t, "PATCH", "/v1/workspace", e.A.Admin.Token, map[string]any{"timezone": "America/New_York"}).expect(t, 200)
		if s := state(wsZone.ID); s.ScheduleActive {
			t.Errorf("a schedule without a zone ignored the workspace's zone: %+v", s)
		}

		// Global pause.
		e.do(t, "PUT", "/v1/automation/control", e.A.Admin.Token,
			map[string]any{"is_paused": true, "paused_until": ts(t0.Add(30 * time.Minute))}).expect(t, 200)
		if diff := cmp.Diff(effState{RuleID: plain.ID, IsActive: true, GlobalPaused: true, ScheduleActive: true}, state(plain.ID)); diff != "" {
			t.Errorf("paused (-want +got):\n%s", diff)
		}
		// B is not paused by A.
		b := e.newRule(t, e.B, ruleBody())
		var bs effState
		e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d/effective-state", b.ID), e.B.Admin.Token, nil).expect(t, 200).decode(t, &bs)
		if bs.GlobalPaused || !bs.EffectiveActive {
			t.Errorf("A's pause reached B: %+v", bs)
		}
		// The pause and the snooze end by themselves.
		e.clock.Advance(time.Hour)
		if s := state(plain.ID); s.GlobalPaused || !s.EffectiveActive {
			t.Errorf("after paused_until: %+v", s)
		}
		if s := state(snoozed.ID); s.IsSnoozed || s.SnoozedUntil != nil || !s.EffectiveActive {
			t.Errorf("after snoozed_until: %+v", s)
		}
	})
}

type window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type preview struct {
	RuleID   int64    `json:"rule_id"`
	Timezone string   `json:"timezone"`
	Windows  []window `json:"windows"`
}

func TestSchedulePreview(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		get := func(id int64, query string) preview {
			t.Helper()
			var p preview
			e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d/schedule/preview?%s", id, query), e.A.Admin.Token, nil).expect(t, 200).decode(t, &p)
			return p
		}

		// Europe/Paris leaves summer time on Sunday 2026-10-25: 03:00 CEST
		// (UTC+2) becomes 02:00 CET (UTC+1). Windows 01:00–05:00 local on
		// Saturday, Sunday and Monday, computed by hand:
		//   Sat 24 01:00 CEST = 23:00Z (Fri) … 05:00 CEST = 03:00Z, clipped at the range start 00:00Z;
		//   Sun 25 01:00 CEST = 23:00Z (Sat) … 05:00 CET  = 04:00Z: five real hours;
		//   Mon 26 01:00 CET  = 00:00Z       … 05:00 CET  = 04:00Z.
		dst := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{"timezone": "Europe/Paris",
			"windows": []any{map[string]any{"days": []any{"sat", "sun", "mon"}, "start": "01:00", "end": "05:00"}}}))
		want := preview{RuleID: dst.ID, Timezone: "Europe/Paris", Windows: []window{
			{"2026-10-24T00:00:00Z", "2026-10-24T03:00:00Z"},
			{"2026-10-24T23:00:00Z", "2026-10-25T04:00:00Z"},
			{"2026-10-26T00:00:00Z", "2026-10-26T04:00:00Z"},
		}}
		if diff := cmp.Diff(want, get(dst.ID, "start_at=2026-10-24T00:00:00Z&hours=72")); diff != "" {
			t.Errorf("DST preview (-want +got):\n%s", diff)
		}
		// The same range given with an offset.
		if diff := cmp.Diff(want, get(dst.ID, "start_at=2026-10-24T02:00:00%2B02:00&hours=72")); diff != "" {
			t.Errorf("DST preview, start_at with an offset (-want +got):\n%s", diff)
		}

		// An ambiguous local start (02:30 happens twice that night) means
		// the earlier instant: 02:30 CEST = 00:30Z; 03:30 CET = 02:30Z.
		amb := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{"timezone": "Europe/Paris",
			"windows": []any{map[string]any{"days": []any{"sun"}, "start": "02:30", "end": "03:30"}}}))
		if diff := cmp.Diff([]window{{"2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z"}},
			get(amb.ID, "start_at=2026-10-25T00:00:00Z&hours=24").Windows); diff != "" {
			t.Errorf("ambiguous start (-want +got):\n%s", diff)
		}

		// Touching windows are merged; the range clips them.
		touching := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{"timezone": "UTC",
			"windows": []any{
				map[string]any{"days": []any{"mon"}, "start": "08:00", "end": "12:00"},
				map[string]any{"days": []any{"mon"}, "start": "12:00", "end": "24:00"},
				map[string]any{"days": []any{"tue"}, "start": "00:00", "end": "02:00"},
			}}))
		if diff := cmp.Diff([]window{{"2026-06-15T09:00:00Z", "2026-06-16T02:00:00Z"}},
			get(touching.ID, "hours=48").Windows); diff != "" {
			t.Errorf("touching windows from now (-want +got):\n%s", diff)
		}

		// No schedule: one window over the whole range, default 168 hours
		// from now, in the workspace's zone.
		none := e.newRule(t, e.A, ruleBody())
		if diff := cmp.Diff(preview{RuleID: none.ID, Timezone: "UTC", Windows: []window{{ts(t0), ts(t0.Add(168 * time.Hour))}}},
			get(none.ID, "")); diff != "" {
			t.Errorf("rule without schedule (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]window{{"2026-10-24T00:00:00.500Z", "2026-10-24T01:00:00.500Z"}},
			get(none.ID, "start_at=2026-10-24T00:00:00.5Z&hours=1").Windows); diff != "" {
			t.Errorf("rule without schedule, start with milliseconds (-want +got):\n%s", diff)
		}

		// A schedule that is never active in the range: no windows, a list.
		later := e.newRule(t, e.A, with(ruleBody(), "schedule_settings", map[string]any{
			"active_from": "2027-01-01T00:00:00Z"}))
		p := e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d/schedule/preview?hours=24", later.ID), e.A.Admin.Token, nil).expect(t, 200)
		if m := p.object(t); fmt.Sprint(m["windows"]) != "[]" {
			t.Errorf("empty preview windows = %v, want []", m["windows"])
		}
	})
}

func TestRuleSettingsEndpoints(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		path := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		var got rule

		e.do(t, "PUT", path+"/rollout", e.A.Supervisor.Token, map[string]any{"rollout_percentage": 25}).expect(t, 200).decode(t, &got)
		if got.RolloutPercentage != 25 || got.ID != r.ID || got.Name != r.Name {
			t.Errorf("rollout: %+v", got)
		}
		if g := e.getRule(t, e.A, r.ID); g.RolloutPercentage != 25 {
			t.Errorf("rollout not stored: %d", g.RolloutPercentage)
		}

		presets := map[string]map[string]any{
			"strict":  {"enabled": true, "window_minutes": 60.0, "min_matched_runs": 5.0, "warning_failure_rate_pct": 5.0, "critical_failure_rate_pct": 20.0},
			"relaxed": {"enabled": true, "window_minutes": 1440.0, "min_matched_runs": 50.0, "warning_failure_rate_pct": 40.0, "critical_failure_rate_pct": 80.0},
			"default": {"enabled": true, "window_minutes": 1440.0, "min_matched_runs": 10.0, "warning_failure_rate_pct": 20.0, "critical_failure_rate_pct": 50.0},
			"off":     {"enabled": false},
		}
		put := func(sub string, body any) rule {
			t.Helper()
			var r rule // fresh: decoding into a used map would merge
			e.do(t, "PUT", path+sub, e.A.Admin.Token, body).expect(t, 200).decode(t, &r)
			return r
		}
		for name, want := range presets {
			got := put("/alert-settings", map[string]any{"preset": name})
			want = with(want, "notify", []any{"webhook", "email"}, "renotify_minutes", 60.0)
			if name == "off" {
				// Only enabled is fixed by the contract for "off".
				want = map[string]any{"enabled": false, "notify": want["notify"], "renotify_minutes": 60.0}
				for k := range asMap(t, got.AlertSettings) {
					if _, ok := want[k]; !ok {
						delete(got.AlertSettings, k)
					}
				}
			}
			if diff := cmp.Diff(want, asMap(t, got.AlertSettings)); diff != "" {
				t.Errorf("preset %s (-want +got):\n%s", name, diff)
			}
		}
		got = put("/alert-settings", map[string]any{"alert_settings": map[string]any{"window_minutes": 15, "notify": []any{"webhook"}}})
		if diff := cmp.Diff(map[string]any{"enabled": true, "window_minutes": 15.0, "min_matched_runs": 10.0,
			"warning_failure_rate_pct": 20.0, "critical_failure_rate_pct": 50.0, "notify": []any{"webhook"}, "renotify_minutes": 60.0},
			asMap(t, got.AlertSettings)); diff != "" {
			t.Errorf("explicit alert settings (-want +got):\n%s", diff)
		}
		got = put("/alert-settings", map[string]any{"alert_settings": nil})
		if got.AlertSettings != nil {
			t.Errorf("alert_settings null did not clear: %v", got.AlertSettings)
		}

		sched := map[string]any{"timezone": "Europe/Paris", "windows": []any{map[string]any{"days": []any{"mon"}, "start": "09:00", "end": "17:00"}}}
		got = put("/schedule-settings", map[string]any{"schedule_settings": sched})
		if diff := cmp.Diff(asMap(t, sched), asMap(t, got.ScheduleSettings)); diff != "" {
			t.Errorf("schedule settings (-want +got):\n%s", diff)
		}
		got = put("/schedule-settings", map[string]any{"schedule_settings": nil})
		if got.ScheduleSettings != nil {
			t.Errorf("schedule_settings null did not clear: %v", got.ScheduleSettings)
		}
		if g := e.getRule(t, e.A, r.ID); g.ScheduleSettings != nil || g.AlertSettings != nil || g.RolloutPercentage != 25 {
			t.Errorf("stored rule: %+v", g)
		}
	})
}

type controlDoc struct {
	Singleton   bool    `json:"singleton"`
	IsPaused    bool    `json:"is_paused"`
	PauseReason *string `json:"pause_reason"`
	PausedUntil *string `json:"paused_until"`
	UpdatedAt   string  `json:"updated_at"`
	UpdatedBy   *int64  `json:"updated_by"`
}

func TestGlobalControl(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		get := func(ws *tenant) controlDoc {
			t.Helper()
			var c controlDoc
			e.do(t, "GET", "/v1/automation/control", ws.Admin.Token, nil).expect(t, 200).decode(t, &c)
			return c
		}
		if diff := cmp.Diff(controlDoc{Singleton: true, UpdatedAt: ts(t0)}, get(e.A)); diff != "" {
			t.Errorf("default control (-want +got):\n%s", diff)
		}

		e.clock.Advance(time.Minute)
		until := ts(e.clock.Now().Add(2 * time.Hour))
		var put controlDoc
		e.do(t, "PUT", "/v1/automation/control", e.A.Supervisor.Token,
			map[string]any{"is_paused": true, "pause_reason": "incident 42", "paused_until": until}).expect(t, 200).decode(t, &put)
		want := controlDoc{Singleton: true, IsPaused: true, PauseReason: ptr("incident 42"), PausedUntil: &until,
			UpdatedAt: ts(e.clock.Now()), UpdatedBy: ptr(e.A.Supervisor.MemberID)}
		if diff := cmp.Diff(want, put); diff != "" {
			t.Errorf("PUT control (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, get(e.A)); diff != "" {
			t.Errorf("GET after PUT (-want +got):\n%s", diff)
		}
		if c := get(e.B); c.IsPaused {
			t.Errorf("A's pause shows in B: %+v", c)
		}

		// After paused_until: not paused, paused_until null.
		e.clock.Advance(2 * time.Hour)
		if c := get(e.A); c.IsPaused || c.PausedUntil != nil {
			t.Errorf("after paused_until: %+v", c)
		}

		// PUT replaces the record: fields it omits are cleared.
		e.do(t, "PUT", "/v1/automation/control", e.A.Admin.Token, map[string]any{"is_paused": true}).expect(t, 200)
		c := get(e.A)
		if !c.IsPaused || c.PausedUntil != nil || c.PauseReason != nil || *c.UpdatedBy != e.A.Admin.MemberID {
			t.Errorf("indefinite pause: %+v", c)
		}
		e.clock.Advance(1000 * time.Hour)
		if c := get(e.A); !c.IsPaused {
			t.Errorf("a pause without paused_until ended by itself")
		}
		// Read-only fields sent back are ignored.
		doc := e.do(t, "GET", "/v1/automation/control", e.A.Admin.Token, nil).expect(t, 200).object(t)
		doc["is_paused"] = false
		e.do(t, "PUT", "/v1/automation/control", e.A.Admin.Token, doc).expect(t, 200)
		if c := get(e.A); c.IsPaused {
			t.Errorf("resume: %+v", c)
		}
	})
}

// TestRuleTimesNormalized: times inside a rule are accepted with any offset
// and returned in UTC with millisecond precision, like every other time.
func TestRuleTimesNormalized(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, with(ruleBody(),
			"actions", []any{map[string]any{"type": "set_status", "status": "snoozed", "snooze_until": "2026-07-01T10:00:00.250999+02:00"}},
			"schedule_settings", map[string]any{"active_from": "2026-07-01T02:00:00+02:00", "active_until": "2026-08-01T00:00:00.5-01:00"}))
		for _, got := range []rule{r, e.getRule(t, e.A, r.ID)} {
			if s := got.Actions[0]["snooze_until"]; s != "2026-07-01T08:00:00.250Z" {
				t.Errorf("snooze_until = %v, want 2026-07-01T08:00:00.250Z", s)
			}
			if diff := cmp.Diff(map[string]any{"windows": []any{}, "active_from": "2026-07-01T00:00:00Z", "active_until": "2026-08-01T01:00:00.500Z"},
				got.ScheduleSettings); diff != "" {
				t.Errorf("schedule times (-want +got):\n%s", diff)
			}
		}
	})
}
