package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// envelope is the paginated list shape.
type envelope[T any] struct {
	Data       []T     `json:"data"`
	Total      int     `json:"total"`
	Page       *int    `json:"page"`
	PerPage    int     `json:"per_page"`
	NextCursor *string `json:"next_cursor"`
}

type tagDoc struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	ExternalID *string `json:"external_id"`
}

func TestTags(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		var tag tagDoc
		e.do(t, "POST", "/v1/tags", e.A.Supervisor.Token, map[string]any{"name": " VIP ", "external_id": "t-1"}).expect(t, 201).decode(t, &tag)
		if diff := cmp.Diff(tagDoc{ID: tag.ID, Name: "VIP", ExternalID: ptr("t-1")}, tag); diff != "" {
			t.Errorf("created tag (-want +got):\n%s", diff)
		}
		path := fmt.Sprintf("/v1/tags/%d", tag.ID)
		var got tagDoc
		e.do(t, "GET", path, e.A.Agent.Token, nil).expect(t, 200).decode(t, &got)
		if diff := cmp.Diff(tag, got); diff != "" {
			t.Errorf("GET (-created +got):\n%s", diff)
		}
		e.do(t, "POST", "/v1/tags", e.A.Admin.Token, map[string]any{"name": "VIP"}).problem(t, 409)
		// Names are per workspace.
		e.do(t, "POST", "/v1/tags", e.B.Admin.Token, map[string]any{"name": "VIP"}).expect(t, 201)

		// PATCH: absent unchanged, null clears, read-only fields ignored.
		var patched tagDoc
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{"name": "Gold", "id": 999}).expect(t, 200).decode(t, &patched)
		if diff := cmp.Diff(tagDoc{ID: tag.ID, Name: "Gold", ExternalID: ptr("t-1")}, patched); diff != "" {
			t.Errorf("PATCH name (-want +got):\n%s", diff)
		}
		patched = tagDoc{}
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{"external_id": nil}).expect(t, 200).decode(t, &patched)
		if patched.ExternalID != nil || patched.Name != "Gold" {
			t.Errorf("PATCH external_id null: %+v", patched)
		}

		for range 3 {
			e.newTag(t, e.A)
		}
		var page envelope[tagDoc]
		e.do(t, "GET", "/v1/tags?per_page=3&page=2", e.A.Agent.Token, nil).expect(t, 200).decode(t, &page)
		if page.Total != 4 || len(page.Data) != 1 || *page.Page != 2 || page.PerPage != 3 || page.NextCursor != nil {
			t.Errorf("second page of tags: %+v", page)
		}

		// A tag a rule uses cannot be deleted: 409 with the rule ids.
		r1 := e.newRule(t, e.A, with(ruleBody(), "actions", []any{map[string]any{"type": "add_tag", "tag_id": tag.ID}}))
		r2 := e.newRule(t, e.A, with(ruleBody(), "actions", []any{note(), map[string]any{"type": "remove_tag", "tag_id": tag.ID}}))
		e.newRule(t, e.A, ruleBody())
		p := e.do(t, "DELETE", path, e.A.Admin.Token, nil).problem(t, 409)
		if diff := cmp.Diff([]int64{r1.ID, r2.ID}, p.RuleIDs); diff != "" {
			t.Errorf("409 rule_ids (-want +got):\n%s", diff)
		}
		e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200)
		// Once no rule uses it, it goes.
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%d", r1.ID), e.A.Admin.Token, map[string]any{"actions": []any{note()}}).expect(t, 200)
		e.do(t, "DELETE", fmt.Sprintf("/v1/automation/rules/%d", r2.ID), e.A.Admin.Token, nil).expect(t, 204)
		e.do(t, "DELETE", path, e.A.Supervisor.Token, nil).expect(t, 204)
		e.do(t, "GET", path, e.A.Admin.Token, nil).problem(t, 404)
		e.do(t, "DELETE", path, e.A.Admin.Token, nil).problem(t, 404)
	})
}

type listDoc struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"member_count"`
}

type entryDoc struct {
	Email   string `json:"email"`
	AddedAt string `json:"added_at"`
}

func TestContactLists(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		var l listDoc
		e.do(t, "POST", "/v1/contact-lists", e.A.Supervisor.Token, map[string]any{"name": "VIPs"}).expect(t, 201).decode(t, &l)
		if diff := cmp.Diff(listDoc{ID: l.ID, Name: "VIPs"}, l); diff != "" {
			t.Errorf("created list (-want +got):\n%s", diff)
		}
		path := fmt.Sprintf("/v1/contact-lists/%d", l.ID)
		e.do(t, "POST", "/v1/contact-lists", e.A.Admin.Token, map[string]any{"name": "VIPs"}).problem(t, 409)

		change := func(body map[string]any) listDoc {
			t.Helper()
			var got listDoc
			e.do(t, "PUT", path+"/members", e.A.Supervisor.Token, body).expect(t, 200).decode(t, &got)
			return got
		}
		members := func() []string {
			t.Helper()
			var page envelope[entryDoc]
			e.do(t, "GET", path+"/members", e.A.Agent.Token, nil).expect(t, 200).decode(t, &page)
			out := []string{}
			for _, m := range page.Data {
				out = append(out, m.Email)
				if m.AddedAt == "" {
					t.Errorf("entry %s has no added_at", m.Email)
				}
			}
			if page.Total != len(out) {
				t.Errorf("members total %d for %d rows", page.Total, len(out))
			}
			return out
		}

		got := change(map[string]any{"add": []any{"Ann@Example.com", "bob@example.com", "ann@EXAMPLE.com"}})
		if got.MemberCount != 2 || got.ID != l.ID || got.Name != "VIPs" {
			t.Errorf("after adding: %+v", got)
		}
		if diff := cmp.Diff([]string{"ann@example.com", "bob@example.com"}, members()); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		// Adding again changes nothing; removal is case-insensitive;
		// removing an absent address is fine.
		e.clock.Advance(time.Minute)
		got = change(map[string]any{"add": []any{"BOB@example.com", "cy@example.com"}, "remove": []any{"ANN@example.COM", "zed@example.com"}})
		if got.MemberCount != 2 {
			t.Errorf("after add+remove: %+v", got)
		}
		if diff := cmp.Diff([]string{"bob@example.com", "cy@example.com"}, members()); diff != "" {
			t.Errorf("members after add+remove (-want +got):\n%s", diff)
		}
		var page envelope[entryDoc]
		e.do(t, "GET", path+"/members?per_page=1", e.A.Agent.Token, nil).expect(t, 200).decode(t, &page)
		if page.Total != 2 || len(page.Data) != 1 || page.PerPage != 1 {
			t.Errorf("paged members: %+v", page)
		}
		var again listDoc
		e.do(t, "GET", path, e.A.Agent.Token, nil).expect(t, 200).decode(t, &again)
		if again.MemberCount != 2 {
			t.Errorf("GET member_count %d", again.MemberCount)
		}
		var lists envelope[listDoc]
		e.do(t, "GET", "/v1/contact-lists", e.A.Agent.Token, nil).expect(t, 200).decode(t, &lists)
		if len(lists.Data) != 1 || lists.Data[0].MemberCount != 2 || lists.Total != 1 {
			t.Errorf("list of lists: %+v", lists)
		}
		// 10,000 addresses in one call are fine.
		many := make([]string, 10000)
		for i := range many {
			many[i] = fmt.Sprintf("c%05d@example.com", i)
		}
		if got := change(map[string]any{"add": many}); got.MemberCount != 10002 {
			t.Errorf("after adding 10,000: %d", got.MemberCount)
		}

		// Rename; member_count sent back is ignored.
		var renamed listDoc
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{"name": "Very VIPs", "member_count": 0, "id": 1}).expect(t, 200).decode(t, &renamed)
		if renamed.Name != "Very VIPs" || renamed.MemberCount != 10002 || renamed.ID != l.ID {
			t.Errorf("rename: %+v", renamed)
		}

		// A list a rule's condition uses (however deep) cannot be deleted.
		r := e.newRule(t, e.A, with(ruleBody(), "conditions", []any{map[string]any{"any": []any{
			cond("conversation.status", "equals", "open"),
			map[string]any{"not": map[string]any{"type": "contact_list", "operator": "in", "list_id": l.ID}},
		}}}))
		p := e.do(t, "DELETE", path, e.A.Admin.Token, nil).problem(t, 409)
		if diff := cmp.Diff([]int64{r.ID}, p.RuleIDs); diff != "" {
			t.Errorf("409 rule_ids (-want +got):\n%s", diff)
		}
		e.do(t, "PATCH", fmt.Sprintf("/v1/automation/rules/%d", r.ID), e.A.Admin.Token, map[string]any{"conditions": []any{}}).expect(t, 200)
		e.do(t, "DELETE", path, e.A.Supervisor.Token, nil).expect(t, 204)
		e.do(t, "GET", path, e.A.Admin.Token, nil).problem(t, 404)
		e.do(t, "GET", path+"/members", e.A.Admin.Token, nil).problem(t, 404)
	})
}

type memberDoc struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	Email      string  `json:"email"`
	Role       string  `json:"role"`
	ExternalID *string `json:"external_id"`
	CreatedAt  string  `json:"created_at"`
}

func TestMembers(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		var m memberDoc
		e.do(t, "POST", "/v1/members", e.A.Admin.Token, map[string]any{
			"name": "Dana", "email": "Dana@Example.com", "role": "supervisor", "external_id": "u-7"}).expect(t, 201).decode(t, &m)
		if diff := cmp.Diff(memberDoc{ID: m.ID, Name: "Dana", Email: "dana@example.com", Role: "supervisor",
			ExternalID: ptr("u-7"), CreatedAt: ts(t0)}, m); diff != "" {
			t.Errorf("created member (-want +got):\n%s", diff)
		}
		path := fmt.Sprintf("/v1/members/%d", m.ID)
		var got memberDoc
		e.do(t, "GET", path, e.A.Agent.Token, nil).expect(t, 200).decode(t, &got)
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("GET (-created +got):\n%s", diff)
		}
		// external_id is unique in the workspace, not across workspaces.
		e.do(t, "POST", "/v1/members", e.A.Admin.Token, map[string]any{
			"name": "X", "email": "x@example.com", "role": "agent", "external_id": "u-7"}).problem(t, 409)
		e.do(t, "POST", "/v1/members", e.B.Admin.Token, map[string]any{
			"name": "X", "email": "x@example.com", "role": "agent", "external_id": "u-7"}).expect(t, 201)

		var page envelope[memberDoc]
		e.do(t, "GET", "/v1/members", e.A.Agent.Token, nil).expect(t, 200).decode(t, &page)
		if page.Total != 4 || len(page.Data) != 4 { // admin, supervisor, agent, Dana
			t.Errorf("members: %+v", page)
		}

		// PATCH: fields sent back from a GET are fine.
		doc := e.do(t, "GET", path, e.A.Admin.Token, nil).expect(t, 200).object(t)
		doc["name"] = "Dana S."
		doc["external_id"] = nil
		got = memberDoc{}
		e.do(t, "PATCH", path, e.A.Admin.Token, doc).expect(t, 200).decode(t, &got)
		if got.Name != "Dana S." || got.ExternalID != nil || got.Role != "supervisor" || got.Email != "dana@example.com" {
			t.Errorf("PATCH: %+v", got)
		}

		// Deleting a member revokes its tokens.
		doomed := e.newMember(t, e.A, "agent")
		_, second := e.newToken(t, e.A, doomed.MemberID, nil)
		e.do(t, "GET", "/v1/members", doomed.Token, nil).expect(t, 200)
		e.do(t, "DELETE", fmt.Sprintf("/v1/members/%d", doomed.MemberID), e.A.Admin.Token, nil).expect(t, 204)
		e.do(t, "GET", "/v1/members", doomed.Token, nil).problem(t, 401)
		e.do(t, "GET", "/v1/members", second, nil).problem(t, 401)
		e.do(t, "GET", fmt.Sprintf("/v1/members/%d", doomed.MemberID), e.A.Admin.Token, nil).problem(t, 404)
		var toks envelope[tokenDoc]
		e.do(t, "GET", "/v1/tokens", e.A.Admin.Token, nil).expect(t, 200).decode(t, &toks)
		for _, tk := range toks.Data {
			if tk.MemberID == doomed.MemberID {
				t.Errorf("a deleted member's token is still listed: %+v", tk)
			}
		}

		// The last admin can be neither demoted nor removed.
		admin := fmt.Sprintf("/v1/members/%d", e.A.Admin.MemberID)
		e.do(t, "PATCH", admin, e.A.Admin.Token, map[string]any{"role": "supervisor"}).problem(t, 409)
		e.do(t, "DELETE", admin, e.A.Admin.Token, nil).problem(t, 409)
		e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).expect(t, 200)
		// With a second admin, the first may step down.
		e.do(t, "PATCH", path, e.A.Admin.Token, map[string]any{"role": "admin"}).expect(t, 200)
		e.do(t, "PATCH", admin, e.A.Admin.Token, map[string]any{"role": "agent"}).expect(t, 200)
		e.do(t, "GET", "/v1/workspace", e.A.Admin.Token, nil).problem(t, 403)
		e.do(t, "DELETE", path, e.A.Admin.Token, nil).problem(t, 403)
	})
}

type tokenDoc struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	MemberID  int64   `json:"member_id"`
	Role      string  `json:"role"`
	Token     string  `json:"token"`
	Hint      string  `json:"token_hint"`
	ExpiresAt *string `json:"expires_at"`
	CreatedAt string  `json:"created_at"`
}

func TestTokens(t *testing.T) {
	withEnv(t, func(t *testing.T, e *env) {
		// Create: the secret is shown once.
		expires := ts(t0.Add(48 * time.Hour))
		r := e.do(t, "POST", "/v1/tokens", e.A.Admin.Token, map[string]any{
			"name": "CI", "member_id": e.A.Supervisor.MemberID, "expires_at": expires}).expect(t, 201)
		var tok tokenDoc
		r.decode(t, &tok)
		if !strings.HasPrefix(tok.Token, "sbt_") || len(tok.Token) < 40 {
			t.Errorf("token secret %q", tok.Token)
		}
		if diff := cmp.Diff(tokenDoc{ID: tok.ID, Name: "CI", MemberID: e.A.Supervisor.MemberID, Role: "supervisor",
			Token: tok.Token, Hint: tok.Hint, ExpiresAt: &expires, CreatedAt: ts(t0)}, tok); diff != "" {
			t.Errorf("created token (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(tok.Token, tok.Hint) || tok.Hint == tok.Token {
			t.Errorf("hint %q of token %q", tok.Hint, tok.Token)
		}
		e.do(t, "GET", "/v1/automation/rules", tok.Token, nil).expect(t, 200)

		// Defaults: the caller, with its role.
		var mine tokenDoc
		e.do(t, "POST", "/v1/tokens", e.A.Admin.Token, map[string]any{"name": "mine"}).expect(t, 201).decode(t, &mine)
		if mine.MemberID != e.A.Admin.MemberID || mine.Role != "admin" || mine.ExpiresAt != nil {
			t.Errorf("token defaults: %+v", mine)
		}

		// Never listed with its secret.
		var all envelope[json.RawMessage]
		e.do(t, "GET", "/v1/tokens", e.A.Admin.Token, nil).expect(t, 200).decode(t, &all)
		for _, raw := range all.Data {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["token"]; ok {
				t.Errorf("a listed token carries its secret: %s", raw)
			}
			for _, v := range m {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "sbt_") && len(s) > 20 {
					t.Errorf("a listed token carries a secret: %s", raw)
				}
			}
		}
		if all.Total < 5 { // admin, supervisor, agent, CI, mine
			t.Errorf("admin lists %d tokens", all.Total)
		}

		// An agent lists only its own with mine=1, and revokes its own.
		_, agent2 := e.newToken(t, e.A, e.A.Agent.MemberID, nil)
		var own envelope[tokenDoc]
		e.do(t, "GET", "/v1/tokens?mine=1", e.A.Agent.Token, nil).expect(t, 200).decode(t, &own)
		if own.Total != 2 || len(own.Data) != 2 {
			t.Fatalf("agent's own tokens: %+v", own)
		}
		for _, tk := range own.Data {
			if tk.MemberID != e.A.Agent.MemberID || tk.Token != "" {
				t.Errorf("agent sees %+v", tk)
			}
		}
		var victim int64
		for _, tk := range own.Data {
			if strings.HasPrefix(agent2, tk.Hint) && tk.Hint != "" {
				victim = tk.ID
			}
		}
		if victim == 0 {
			victim = own.Data[len(own.Data)-1].ID
		}
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", victim), e.A.Agent.Token, nil).expect(t, 204)
		e.do(t, "GET", "/v1/tokens?mine=1", e.A.Agent.Token, nil).expect(t, 200).decode(t, &own)
		if own.Total != 1 {
			t.Errorf("after revoking one, the agent has %d tokens", own.Total)
		}

		// Revoking one's own token in use: the next call is 401.
		var self tokenDoc
		e.do(t, "POST", "/v1/tokens", e.A.Admin.Token, map[string]any{"name": "self", "member_id": e.A.Agent.MemberID}).expect(t, 201).decode(t, &self)
		e.do(t, "DELETE", fmt.Sprintf("/v1/tokens/%d", self.ID), self.Token, nil).expect(t, 204)
		e.do(t, "GET", "/v1/members", self.Token, nil).problem(t, 401)

		// Role cap and expiry.
		e.do(t, "POST", "/v1/tokens", e.A.Admin.Token, map[string]any{"name": "x", "member_id": e.A.Agent.MemberID, "role": "admin"}).
			expectProblem(t, 422, "role")
		e.clock.Advance(48 * time.Hour)
		e.do(t, "GET", "/v1/automation/rules", tok.Token, nil).problem(t, 401)
		// An admin-created token for another workspace's member does not exist.
		e.do(t, "POST", "/v1/tokens", e.A.Admin.Token, map[string]any{"name": "x", "member_id": e.B.Admin.MemberID}).
			expectProblem(t, 422, "member_id")
	})
}
