package httpapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ruleVersion is a version as the API returns it.
type ruleVersion struct {
	Version       int      `json:"version"`
	ChangedAt     string   `json:"changed_at"`
	ChangedBy     *int64   `json:"changed_by"`
	ChangedFields []string `json:"changed_fields"`
	Rule          rule     `json:"rule"`
}

type versionPage struct {
	Data       []ruleVersion `json:"data"`
	Total      int           `json:"total"`
	Page       int           `json:"page"`
	PerPage    int           `json:"per_page"`
	TotalPages int           `json:"total_pages"`
}

func (e *env) ruleVersions(t *testing.T, ws *tenant, id int64, query string) versionPage {
	t.Helper()
	var p versionPage
	e.do(t, "GET", fmt.Sprintf("/v1/automation/rules/%d/versions%s", id, query), ws.Supervisor.Token, nil).
		expect(t, 200).decode(t, &p)
	return p
}

var allFields = []string{"name", "description", "is_active", "trigger_type", "trigger_data", "conditions", "actions",
	"alert_settings", "schedule_settings", "priority", "rollout_percentage", "stop_on_match", "cooldown_secs"}

// TestRuleVersionsThroughEveryAPI changes a rule through each API that
// can (docs/concepts.md#rule-history) and checks the version each one makes: its
// number on the rule, who, when, which fields, and the whole rule.
func TestRuleVersionsThroughEveryAPI(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		sup := e.A.Supervisor
		var r rule
		e.do(t, "POST", "/v1/automation/rules", sup.Token, ruleBody()).expect(t, 201).decode(t, &r)
		if r.Version != 1 {
			t.Fatalf("a new rule answers version %d, want 1", r.Version)
		}
		other := e.newRule(t, e.A, ruleBody())
		path := fmt.Sprintf("/v1/automation/rules/%d", r.ID)

		// latest checks the newest version against the rule as a GET
		// answers it now.
		latest := func(t *testing.T, what string, want int, fields []string) {
			t.Helper()
			got := e.getRule(t, e.A, r.ID)
			if got.Version != want {
				t.Fatalf("%s: rule at version %d, want %d", what, got.Version, want)
			}
			p := e.ruleVersions(t, e.A, r.ID, "")
			if p.Total != want || len(p.Data) != want {
				t.Fatalf("%s: %d versions (total %d), want %d", what, len(p.Data), p.Total, want)
			}
			v := p.Data[0]
			if v.Version != want || v.ChangedBy == nil || *v.ChangedBy != sup.MemberID || v.ChangedAt != got.UpdatedAt {
				t.Errorf("%s: version %d by %v at %s, want %d by %d at the rule's updated_at %s",
					what, v.Version, v.ChangedBy, v.ChangedAt, want, sup.MemberID, got.UpdatedAt)
			}
			if diff := cmp.Diff(fields, v.ChangedFields); diff != "" {
				t.Errorf("%s: changed_fields (-want +got):\n%s", what, diff)
			}
			if diff := cmp.Diff(got, v.Rule); diff != "" {
				t.Errorf("%s: the version's rule is not the rule as it is (-want +got):\n%s", what, diff)
			}
			var one ruleVersion
			e.do(t, "GET", fmt.Sprintf("%s/versions/%d", path, want), sup.Token, nil).expect(t, 200).decode(t, &one)
			if diff := cmp.Diff(v, one); diff != "" {
				t.Errorf("%s: GET versions/%d differs from the list (-list +get):\n%s", what, want, diff)
			}
		}
		latest(t, "create", 1, allFields)

		steps := []struct {
			name, method, path string
			body               any
			fields             []string // nil: no new version
		}{
			{"PATCH", "PATCH", path, map[string]any{"name": "renamed", "cooldown_secs": 60}, []string{"name", "cooldown_secs"}},
			{"PUT", "PUT", path, map[string]any{"description": "described", "conditions": []any{
				map[string]any{"field": "message.subject", "operator": "contains", "value": "refund"}}},
				[]string{"description", "conditions"}},
			{"PATCH of nothing new", "PATCH", path, map[string]any{"name": "renamed"}, nil},
			{"alert-settings", "PUT", path + "/alert-settings", map[string]any{"preset": "strict"}, []string{"alert_settings"}},
			{"schedule-settings", "PUT", path + "/schedule-settings", map[string]any{"schedule_settings": map[string]any{
				"timezone": "Europe/Paris", "windows": []any{map[string]any{"days": []any{"mon"}, "start": "09:00", "end": "17:00"}}}},
				[]string{"schedule_settings"}},
			{"rollout", "PUT", path + "/rollout", map[string]any{"rollout_percentage": 25}, []string{"rollout_percentage"}},
			{"snooze", "POST", path + "/snooze", map[string]any{"snoozed_until": ts(e.clock.Now().Add(time.Hour))}, nil},
			{"unsnooze", "DELETE", path + "/snooze", nil, nil},
			{"reorder", "POST", "/v1/automation/rules/reorder", map[string]any{"ids": []int64{other.ID, r.ID}}, []string{"priority"}},
			{"PATCH priority", "PATCH", path, map[string]any{"priority": 0}, []string{"priority"}},
			{"switch off", "PATCH", path, map[string]any{"is_active": false}, []string{"is_active"}},
		}
		version := 1
		for _, s := range steps {
			e.do(t, s.method, s.path, sup.Token, s.body).expect(t, 200)
			if s.fields == nil {
				// No new version: the rule and its history stay at the
				// previous step's.
				if got, p := e.getRule(t, e.A, r.ID), e.ruleVersions(t, e.A, r.ID, ""); got.Version != version || p.Total != version {
					t.Errorf("%s: rule at version %d with %d versions, want %d: not a change of the definition",
						s.name, got.Version, p.Total, version)
				}
				continue
			}
			version++
			latest(t, s.name, version, s.fields)
		}
		// The reorder versioned the other rule too (it moved to 0), and the
		// PATCH of priority that shifted it back did not.
		p := e.ruleVersions(t, e.A, other.ID, "")
		if p.Total != 2 || !cmp.Equal(p.Data[0].ChangedFields, []string{"priority"}) {
			t.Errorf("the other rule has %d versions, newest changing %v; want 2, the reorder's [priority]", p.Total, p.Data[0].ChangedFields)
		}

		// Pages, newest first.
		p = e.ruleVersions(t, e.A, r.ID, "?per_page=3&page=2")
		if p.Total != version || len(p.Data) != 3 || p.Data[0].Version != version-3 || p.Data[2].Version != version-5 {
			t.Errorf("page 2 of 3: total %d, versions %v; want %d and %d..%d", p.Total, versionNumbers(p.Data), version, version-3, version-5)
		}
		for _, bad := range []string{"versions/0", "versions/99", "versions/x", "versions/4294967296"} {
			e.do(t, "GET", path+"/"+bad, sup.Token, nil).problem(t, 404)
		}
		// Agents may not read history.
		e.do(t, "GET", path+"/versions", e.A.Agent.Token, nil).problem(t, 403)
	})
}

func versionNumbers(vs []ruleVersion) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out
}

// TestRuleVersionRestore restores an old definition, keeps the priority,
// and refuses (changing nothing) a version whose tag was deleted.
func TestRuleVersionRestore(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		sup := e.A.Supervisor
		tag := e.newTag(t, e.A)
		first := e.newRule(t, e.A, with(ruleBody(), "name", "tagging", "cooldown_secs", 30, "actions",
			[]any{map[string]any{"type": "add_tag", "tag_id": tag}}))
		path := fmt.Sprintf("/v1/automation/rules/%d", first.ID)
		var v2 rule
		e.do(t, "PATCH", path, sup.Token, map[string]any{"name": "noting", "priority": 5, "is_active": false,
			"actions": []any{map[string]any{"type": "add_note", "body": "no tag"}}}).expect(t, 200).decode(t, &v2)

		// The tag is no longer used: delete it. Version 1 cannot come back.
		e.do(t, "DELETE", fmt.Sprintf("/v1/tags/%d", tag), sup.Token, nil).expect(t, 204)
		e.do(t, "POST", path+"/versions/1/restore", sup.Token, nil).expectProblem(t, 422, "actions[0].tag_id")
		if got := e.getRule(t, e.A, first.ID); !cmp.Equal(got, v2) {
			t.Errorf("a refused restore changed the rule (-before +after):\n%s", cmp.Diff(v2, got))
		}
		if p := e.ruleVersions(t, e.A, first.ID, ""); p.Total != 2 {
			t.Errorf("%d versions after a refused restore, want 2", p.Total)
		}

		// A version whose references exist comes back, at the current
		// priority, as a new version.
		e.do(t, "PATCH", path, sup.Token, map[string]any{"name": "third", "cooldown_secs": 90}).expect(t, 200)
		var restored rule
		e.do(t, "POST", path+"/versions/2/restore", sup.Token, nil).expect(t, 200).decode(t, &restored)
		want := v2
		want.Version, want.UpdatedAt, want.UpdatedBy = 4, restored.UpdatedAt, &sup.MemberID
		if diff := cmp.Diff(want, restored); diff != "" {
			t.Errorf("restored rule (-want +got):\n%s", diff)
		}
		p := e.ruleVersions(t, e.A, first.ID, "")
		if p.Total != 4 || !cmp.Equal(p.Data[0].ChangedFields, []string{"name", "cooldown_secs"}) {
			t.Errorf("after the restore: %d versions, newest changing %v; want 4, [name cooldown_secs]", p.Total, p.Data[0].ChangedFields)
		}
		e.do(t, "POST", path+"/versions/9/restore", sup.Token, nil).problem(t, 404)
		e.do(t, "POST", path+"/versions/1/restore", e.A.Agent.Token, nil).problem(t, 403)

		// After a DELETE the history stays readable; nothing can be restored.
		e.do(t, "DELETE", path, sup.Token, nil).expect(t, 204)
		var kept ruleVersion
		e.do(t, "GET", path+"/versions/4", sup.Token, nil).expect(t, 200).decode(t, &kept)
		if kept.Rule.Name != "noting" || kept.Rule.ID != first.ID {
			t.Errorf("the deleted rule's version 4 is %q (id %d), want noting (%d)", kept.Rule.Name, kept.Rule.ID, first.ID)
		}
		if p := e.ruleVersions(t, e.A, first.ID, ""); p.Total != 4 {
			t.Errorf("%d versions of the deleted rule, want 4", p.Total)
		}
		e.do(t, "POST", path+"/versions/2/restore", sup.Token, nil).problem(t, 404)
	})
}

// TestRuleResponsesCarryVersion checks that every response that returns
// a rule includes its version.
func TestRuleResponsesCarryVersion(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		r := e.newRule(t, e.A, ruleBody())
		path := fmt.Sprintf("/v1/automation/rules/%d", r.ID)
		e.do(t, "POST", path+"/snooze", e.A.Admin.Token, map[string]any{"snoozed_until": ts(e.clock.Now().Add(time.Hour))}).expect(t, 200)
		for _, get := range []string{path, "/v1/automation/rules", "/v1/automation/rules/snoozed"} {
			body := e.do(t, "GET", get, e.A.Admin.Token, nil).expect(t, 200).object(t)
			obj := body
			if data, ok := body["data"].([]any); ok {
				if len(data) != 1 {
					t.Fatalf("GET %s: %d rules, want 1", get, len(data))
				}
				obj = data[0].(map[string]any)
			}
			if v := fmt.Sprint(obj["version"]); v != "1" {
				t.Errorf("GET %s: version %s, want 1", get, v)
			}
		}
	})
}
