package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Opener returns a fresh, migrated store for one test; the store must be
// closed by a t.Cleanup the opener registers.
type Opener = func(t *testing.T) store.Store

// ClockOpener is an Opener whose store stamps times with clk, for the
// tests that move time (leases, retries, idempotency expiry).
type ClockOpener = func(t *testing.T, clk clock.Clock) store.Store

// Run runs the conformance suite: every method of store.Store, its error
// sentinels, workspace isolation, rule priorities, time precision, and the
// event queue with its history. Each test calls open for a store of its
// own and runs in parallel.
func Run(t *testing.T, openWithClock ClockOpener) {
	open := func(t *testing.T) store.Store { return openWithClock(t, clock.System{}) }
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Migrations", testMigrations},
		{"Workspaces", testWorkspaces},
		{"Members", testMembers},
		{"Tokens", testTokens},
		{"Tags", testTags},
		{"ContactLists", testContactLists},
		{"Rules", testRules},
		{"RulePriorities", testRulePriorities},
		{"RulePriorityBounds", testRulePriorityBounds},
		{"RulePriorityModel", testRulePriorityModel},
		{"RuleVersions", testRuleVersions},
		{"RuleSnoozes", testRuleSnoozes},
		{"RuleReferences", testRuleReferences},
		{"Controls", testControls},
		{"Isolation", testIsolation},
		{"Times", testTimes},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, open)
		})
	}
	eventGroups := []struct {
		name string
		run  func(t *testing.T, open ClockOpener)
	}{
		{"EventIngest", testEventIngest},
		{"EventPayloads", testEventPayloads},
		{"EventClaims", testEventClaims},
		{"EventHandOff", testEventHandOff},
		{"EventSettle", testEventSettle},
		{"EventConcurrency", testEventConcurrency},
		{"EventLeases", testEventLeases},
		{"EventLeaseRenewal", testEventLeaseRenewal},
		{"EventCompletion", testEventCompletion},
		{"EventListings", testEventListings},
		{"EventIsolation", testEventIsolation},
		{"Outbox", testOutbox},
		{"OutboxOrder", testOutboxOrder},
		{"ReplyCooldowns", testReplyCooldowns},
		{"EventRecord", testEventRecord},
		{"Activities", testActivities},
		{"CounterShards", testCounterShards},
	}
	for _, g := range eventGroups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, openWithClock)
		})
	}
}

// fixture is a store with one workspace ("acme") and its bootstrap admin.
type fixture struct {
	s     store.Store
	ws    store.Workspace
	admin store.Member
	token store.Token
}

// setup opens a store and creates the workspace most tests need.
func setup(t *testing.T, open Opener) *fixture {
	t.Helper()
	f := &fixture{s: open(t)}
	f.ws, f.admin, f.token = createWorkspace(t, f.s, "acme")
	return f
}

// createWorkspace makes a workspace whose admin is admin@<name>.test and
// whose token hashes "token-<name>".
func createWorkspace(t *testing.T, s store.Store, name string) (store.Workspace, store.Member, store.Token) {
	t.Helper()
	w, m, tok, err := s.CreateWorkspace(t.Context(), newWorkspace(name))
	if err != nil {
		t.Fatalf("CreateWorkspace(%q): %v", name, err)
	}
	return w, m, tok
}

func newWorkspace(name string) store.NewWorkspace {
	return store.NewWorkspace{
		Name:       name,
		Secret:     "whsec_" + name,
		AdminName:  "Admin of " + name,
		AdminEmail: "admin@" + name + ".test",
		TokenName:  "bootstrap",
		TokenHash:  auth.HashToken("token-" + name),
		TokenHint:  "sbt_" + name,
	}
}

func (f *fixture) member(t *testing.T, email string, role auth.Role, externalID *string) store.Member {
	t.Helper()
	return createMember(t, f.s, f.ws.ID, email, role, externalID)
}

func createMember(t *testing.T, s store.Store, wsID int64, email string, role auth.Role, externalID *string) store.Member {
	t.Helper()
	m, err := s.CreateMember(t.Context(), store.Member{
		WorkspaceID: wsID, Name: "Member " + email, Email: email, Role: role, ExternalID: externalID,
	})
	if err != nil {
		t.Fatalf("CreateMember(%q): %v", email, err)
	}
	return m
}

func (f *fixture) tokenFor(t *testing.T, m store.Member, name string, role auth.Role) store.Token {
	t.Helper()
	tok, err := f.s.CreateToken(t.Context(), store.Token{
		WorkspaceID: m.WorkspaceID, MemberID: m.ID, Name: name, Role: role,
		Hash: auth.HashToken(fmt.Sprintf("token-%d-%s", m.ID, name)), Hint: "sbt_" + name,
	})
	if err != nil {
		t.Fatalf("CreateToken(%q): %v", name, err)
	}
	return tok
}

func (f *fixture) tag(t *testing.T, name string) store.Tag {
	t.Helper()
	return createTag(t, f.s, f.ws.ID, name)
}

func createTag(t *testing.T, s store.Store, wsID int64, name string) store.Tag {
	t.Helper()
	tag, err := s.CreateTag(t.Context(), store.Tag{WorkspaceID: wsID, Name: name})
	if err != nil {
		t.Fatalf("CreateTag(%q): %v", name, err)
	}
	return tag
}

func (f *fixture) list(t *testing.T, name string) store.ContactList {
	t.Helper()
	return createList(t, f.s, f.ws.ID, name)
}

func createList(t *testing.T, s store.Store, wsID int64, name string) store.ContactList {
	t.Helper()
	l, err := s.CreateContactList(t.Context(), store.ContactList{WorkspaceID: wsID, Name: name})
	if err != nil {
		t.Fatalf("CreateContactList(%q): %v", name, err)
	}
	return l
}

// newRule returns a valid, minimal rule of the workspace.
func newRule(wsID int64, name string) rules.Rule {
	return rules.Rule{
		WorkspaceID:       wsID,
		Name:              name,
		IsActive:          true,
		TriggerType:       rules.TriggerConversationCreated,
		Conditions:        []byte(`[]`),
		Actions:           []rules.Action{{Type: rules.ActionAddNote, Body: ptr("seen by " + name)}},
		RolloutPercentage: 100,
	}
}

// tagRule returns a rule whose actions use the tags.
func tagRule(wsID int64, name string, tagIDs ...int64) rules.Rule {
	r := newRule(wsID, name)
	r.Actions = nil
	for _, id := range tagIDs {
		r.Actions = append(r.Actions, rules.Action{Type: rules.ActionAddTag, TagID: ptr(id)})
	}
	return r
}

func (f *fixture) rule(t *testing.T, name string, priority *int) rules.Rule {
	t.Helper()
	return createRule(t, f.s, newRule(f.ws.ID, name), priority)
}

func createRule(t *testing.T, s store.Store, r rules.Rule, priority *int) rules.Rule {
	t.Helper()
	out, err := s.CreateRule(t.Context(), r, priority)
	if err != nil {
		t.Fatalf("CreateRule(%q): %v", r.Name, err)
	}
	return out
}

// order returns the workspace's rules as "name:priority" in list order,
// which makes priority expectations readable.
func order(t *testing.T, s store.Store, wsID int64) []string {
	t.Helper()
	list, err := s.ListRules(t.Context(), wsID, store.RuleFilter{})
	if err != nil {
		t.Fatalf("ListRules: %v", err)
	}
	return names(list)
}

func names(list []rules.Rule) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = fmt.Sprintf("%s:%d", r.Name, r.Priority)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// wantErr fails the test unless errors.Is(err, want); want nil means no
// error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}

// wantReferenced fails the test unless err is a *store.ReferencedError
// naming exactly ruleIDs.
func wantReferenced(t *testing.T, what string, err error, ruleIDs ...int64) {
	t.Helper()
	var ref *store.ReferencedError
	if !errors.As(err, &ref) {
		t.Fatalf("%s: error = %v, want *store.ReferencedError", what, err)
	}
	if diff := cmp.Diff(ruleIDs, ref.RuleIDs); diff != "" {
		t.Fatalf("%s: RuleIDs mismatch (-want +got):\n%s", what, diff)
	}
}

func wantDiff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// window brackets a store call on the wall clock, at the millisecond
// precision the store keeps, so that a time it stamped can be checked.
type window struct{ from time.Time }

func openWindow() window { return window{from: time.Now().UTC().Truncate(time.Millisecond)} }

// check fails unless got was stamped between openWindow and now, in UTC
// and at millisecond precision.
func (w window) check(t *testing.T, what string, got time.Time) {
	t.Helper()
	to := time.Now().UTC()
	if got.Before(w.from) || got.After(to) {
		t.Errorf("%s = %v, want within [%v, %v]", what, got, w.from, to)
	}
	checkStored(t, what, got)
}

// checkStored fails unless t is in UTC with whole milliseconds.
func checkStored(t *testing.T, what string, got time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
	if got.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("%s = %v has precision below a millisecond", what, got)
	}
}

// ids returns the ids of rules, in order.
func ids(list []rules.Rule) []int64 {
	out := make([]int64, len(list))
	for i, r := range list {
		out[i] = r.ID
	}
	return out
}

// sorted returns a sorted copy.
func sorted(v []int64) []int64 {
	c := slices.Clone(v)
	slices.Sort(c)
	return c
}
