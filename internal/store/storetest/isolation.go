package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// testIsolation checks that a workspace cannot reach another's objects
// through any method: each is ErrNotFound, and nothing changes.
func testIsolation(t *testing.T, open Opener) {
	t.Run("AnotherWorkspacesObjectsAreNotFound", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open) // workspace A
		s, ctx := f.s, t.Context()
		bob := f.member(t, "bob@acme.test", auth.Agent, nil)
		tok := f.tokenFor(t, bob, "bob", auth.Agent)
		tag := f.tag(t, "vip")
		list := f.list(t, "vips")
		if _, err := s.ChangeContactListMembers(ctx, f.ws.ID, list.ID, []string{"ann@x.test"}, nil); err != nil {
			t.Fatalf("ChangeContactListMembers: %v", err)
		}
		rule := createRule(t, s, tagRule(f.ws.ID, "a-rule", tag.ID), nil)
		if _, err := s.PutControl(ctx, store.Control{WorkspaceID: f.ws.ID, IsPaused: true}); err != nil {
			t.Fatalf("PutControl: %v", err)
		}
		b, _, _ := createWorkspace(t, s, "globex") // workspace B
		bRule := createRule(t, s, newRule(b.ID, "b-rule"), nil)
		until := time.Now().Add(time.Hour)

		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"GetMember", func() error { _, err := s.GetMember(ctx, b.ID, bob.ID); return err }},
			{"FindMemberByHostID", func() error {
				_, err := s.FindMemberByHostID(ctx, b.ID, strconv.FormatInt(bob.ID, 10))
				return err
			}},
			{"UpdateMember", func() error {
				m := bob
				m.WorkspaceID, m.Role = b.ID, auth.Admin
				_, err := s.UpdateMember(ctx, m)
				return err
			}},
			{"DeleteMember", func() error { return s.DeleteMember(ctx, b.ID, bob.ID) }},
			{"CreateToken", func() error {
				_, err := s.CreateToken(ctx, store.Token{
					WorkspaceID: b.ID, MemberID: bob.ID, Name: "x", Role: auth.Agent, Hash: "x", Hint: "x",
				})
				return err
			}},
			{"GetToken", func() error { _, err := s.GetToken(ctx, b.ID, tok.ID); return err }},
			{"RevokeToken", func() error { return s.RevokeToken(ctx, b.ID, tok.ID, time.Now()) }},
			{"GetTag", func() error { _, err := s.GetTag(ctx, b.ID, tag.ID); return err }},
			{"UpdateTag", func() error {
				_, err := s.UpdateTag(ctx, store.Tag{WorkspaceID: b.ID, ID: tag.ID, Name: "stolen"})
				return err
			}},
			{"DeleteTag", func() error { return s.DeleteTag(ctx, b.ID, tag.ID) }},
			{"GetContactList", func() error { _, err := s.GetContactList(ctx, b.ID, list.ID); return err }},
			{"UpdateContactList", func() error {
				_, err := s.UpdateContactList(ctx, store.ContactList{WorkspaceID: b.ID, ID: list.ID, Name: "stolen"})
				return err
			}},
			{"DeleteContactList", func() error { return s.DeleteContactList(ctx, b.ID, list.ID) }},
			{"ChangeContactListMembers", func() error {
				_, err := s.ChangeContactListMembers(ctx, b.ID, list.ID, []string{"evil@x.test"}, []string{"ann@x.test"})
				return err
			}},
			{"ListContactListMembers", func() error {
				_, _, err := s.ListContactListMembers(ctx, b.ID, list.ID, store.Page{Limit: 50})
				return err
			}},
			{"GetRule", func() error { _, err := s.GetRule(ctx, b.ID, rule.ID); return err }},
			{"UpdateRule", func() error {
				r := rule
				r.WorkspaceID, r.Name, r.Actions = b.ID, "stolen", newRule(b.ID, "").Actions
				_, err := s.UpdateRule(ctx, r)
				return err
			}},
			{"DeleteRule", func() error { return s.DeleteRule(ctx, b.ID, rule.ID) }},
			{"SnoozeRule", func() error { _, err := s.SnoozeRule(ctx, b.ID, rule.ID, &until, nil); return err }},
			{"ReorderRules", func() error {
				_, err := s.ReorderRules(ctx, b.ID, []int64{rule.ID, bRule.ID}, nil)
				return err
			}},
			{"ReorderRuleSubset", func() error {
				_, err := s.ReorderRuleSubset(ctx, b.ID, []int64{bRule.ID, rule.ID}, nil)
				return err
			}},
		} {
			wantErr(t, tc.name+" from another workspace", tc.call(), store.ErrNotFound)
		}

		// B's own listings show nothing of A's.
		members, total, err := s.ListMembers(ctx, b.ID, store.Page{Limit: 50})
		wantErr(t, "ListMembers", err, nil)
		if total != 1 || len(members) != 1 || members[0].WorkspaceID != b.ID {
			t.Errorf("B's members = %+v (total %d), want B's admin only", members, total)
		}
		tokens, total, err := s.ListTokens(ctx, b.ID, bob.ID, store.Page{Limit: 50})
		wantErr(t, "ListTokens", err, nil)
		if total != 0 || len(tokens) != 0 {
			t.Errorf("B's tokens of A's member = %+v (total %d), want none", tokens, total)
		}
		tags, total, err := s.ListTags(ctx, b.ID, store.Page{Limit: 50})
		wantErr(t, "ListTags", err, nil)
		if total != 0 || len(tags) != 0 {
			t.Errorf("B's tags = %+v, want none", tags)
		}
		lists, total, err := s.ListContactLists(ctx, b.ID, store.Page{Limit: 50})
		wantErr(t, "ListContactLists", err, nil)
		if total != 0 || len(lists) != 0 {
			t.Errorf("B's contact lists = %+v, want none", lists)
		}
		containing, err := s.ContactListsContaining(ctx, b.ID, "ann@x.test", []int64{list.ID})
		wantErr(t, "ContactListsContaining", err, nil)
		if len(containing) != 0 {
			t.Errorf("ContactListsContaining from B = %v, want none", containing)
		}
		wantDiff(t, "B's rules", []string{"b-rule:0"}, order(t, s, b.ID))
		if _, err := s.SnoozeRule(ctx, f.ws.ID, rule.ID, &until, nil); err != nil {
			t.Fatalf("SnoozeRule: %v", err)
		}
		snoozed, total, err := s.ListSnoozedRules(ctx, b.ID, time.Now(), store.RuleFilter{}, store.Page{Limit: 50})
		wantErr(t, "ListSnoozedRules", err, nil)
		if total != 0 || len(snoozed) != 0 {
			t.Errorf("B's snoozed rules = %v, want none", ids(snoozed))
		}
		ctl, err := s.GetControl(ctx, b.ID)
		wantErr(t, "GetControl", err, nil)
		if ctl.IsPaused {
			t.Errorf("B reads A's pause")
		}

		// A is untouched.
		gotBob, err := s.GetMember(ctx, f.ws.ID, bob.ID)
		wantErr(t, "A's member", err, nil)
		wantDiff(t, "A's member", bob, gotBob)
		gotTok, err := s.GetToken(ctx, f.ws.ID, tok.ID)
		wantErr(t, "A's token", err, nil)
		wantDiff(t, "A's token", tok, gotTok)
		gotTag, err := s.GetTag(ctx, f.ws.ID, tag.ID)
		wantErr(t, "A's tag", err, nil)
		wantDiff(t, "A's tag", tag, gotTag)
		gotList, err := s.GetContactList(ctx, f.ws.ID, list.ID)
		wantErr(t, "A's list", err, nil)
		wantDiff(t, "A's list", list.Name, gotList.Name)
		if gotList.MemberCount != 1 {
			t.Errorf("A's list has %d members, want 1", gotList.MemberCount)
		}
		in, err := s.ContactListsContaining(ctx, f.ws.ID, "ann@x.test", []int64{list.ID})
		wantErr(t, "A's ContactListsContaining", err, nil)
		wantDiff(t, "A's list still holds ann", []int64{list.ID}, in)
		gotRule, err := s.GetRule(ctx, f.ws.ID, rule.ID)
		wantErr(t, "A's rule", err, nil)
		if gotRule.Name != "a-rule" || gotRule.Priority != 0 {
			t.Errorf("A's rule = %s:%d, want a-rule:0", gotRule.Name, gotRule.Priority)
		}
		wantDiff(t, "A's rule actions", []rules.Action{{Type: rules.ActionAddTag, TagID: ptr(tag.ID)}}, gotRule.Actions)
	})
}
