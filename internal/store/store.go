// Package store is Switchboard's persistence boundary: one interface, two
// implementations (sqlite, postgres) and one conformance suite (storetest)
// that both must pass.
//
// Every method that reads or writes workspace data takes the workspace id
// and scopes its queries by it: an object of another workspace is
// ErrNotFound, never a leak. Times are stored with millisecond precision
// and returned in UTC.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/rules"
)

// Errors callers branch on.
var (
	// ErrNotFound: no such object in this workspace.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique value (a member's external_id, a tag's name, a
	// token hash) is already taken.
	ErrConflict = errors.New("store: conflict")
	// ErrLastAdmin: the change would leave the workspace without an admin.
	ErrLastAdmin = errors.New("store: the workspace's last admin cannot be removed or demoted")
	// ErrMissingReference: a rule refers to a tag or contact list that does
	// not exist (any more) in the workspace.
	ErrMissingReference = errors.New("store: referenced object does not exist")
)

// ReferencedError is returned when deleting an object that rules use.
type ReferencedError struct {
	RuleIDs []int64
}

func (e *ReferencedError) Error() string {
	return fmt.Sprintf("store: object is referenced by rules %v", e.RuleIDs)
}

// Store is everything Switchboard keeps. Both implementations are safe for
// concurrent use.
type Store interface {
	Workspaces
	Members
	Tokens
	Tags
	ContactLists
	Rules
	Controls
	Events
	Outbox
	Waits

	// Dialect names the implementation: "sqlite" or "postgres".
	Dialect() string
	// Migrate applies the embedded migrations that have not run yet. It is
	// safe to call from several processes at once.
	Migrate(ctx context.Context) error
	// Ready reports whether the store is reachable and fully migrated.
	Ready(ctx context.Context) error
	// Close releases connections.
	Close() error
}

// Outbox is the deliveries of decided actions: pushed by the delivery
// workers, or claimed by the host (the pull outbox). See deliveries.go.
type Outbox interface {
	// ClaimPushDeliveries leases due push deliveries (see PushClaim).
	ClaimPushDeliveries(ctx context.Context, c PushClaim) ([]PushDelivery, error)
	// SettleDelivery records the end of an attempt and moves its run.
	SettleDelivery(ctx context.Context, st Settlement) error
	// ClaimOutbox leases due pull deliveries of a workspace to owner.
	ClaimOutbox(ctx context.Context, workspaceID int64, owner string, now time.Time, limit int, lease time.Duration) ([]Delivery, error)
	// AckOutbox marks a pull delivery succeeded (idempotent).
	AckOutbox(ctx context.Context, workspaceID int64, id string, at time.Time) (Delivery, error)
	// FailOutbox records a failed attempt of a pull delivery.
	FailOutbox(ctx context.Context, workspaceID int64, id, msg string, retry bool, at, next time.Time) (Delivery, error)
	GetDelivery(ctx context.Context, workspaceID int64, id string) (Delivery, error)
	ListDeliveries(ctx context.Context, workspaceID int64, f DeliveryFilter, q ListQuery) ([]Delivery, int, error)
}

// Waits are the waiting stretches of time-based triggers (waits.go); the
// completion of an event writes them (Outcome.Waits).
type Waits interface {
	// DueWaits returns up to limit waits due at now that have not fired.
	DueWaits(ctx context.Context, now time.Time, limit int) ([]Wait, error)
	// MarkWaitsFired records that the waits' events were enqueued.
	MarkWaitsFired(ctx context.Context, ws []Wait) error
	// ConversationWaits returns a conversation's waits.
	ConversationWaits(ctx context.Context, workspaceID int64, conversationID string) ([]Wait, error)
}

// Page asks for one page of an offset-paginated list.
type Page struct {
	Limit  int // rows to return; 1..500
	Offset int // rows to skip
}

// Workspace is a tenant with its settings.
type Workspace struct {
	ID              int64
	Name            string
	Timezone        string // IANA name, "UTC" by default
	ActionsURL      *string
	SMTP            *SMTPSettings
	AlertWebhookURL *string
	AlertEmails     []string
	RetentionDays   int
	// Secret signs outbound webhooks. PreviousSecret stays valid (deliveries
	// carry both signatures) until PreviousSecretUntil.
	Secret              string
	PreviousSecret      *string
	PreviousSecretUntil *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// SMTPSettings is how a workspace sends e-mail (auto-replies, alerts).
type SMTPSettings struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username"`
	Password string `json:"password"`
	From     string `json:"from"`
	TLS      string `json:"tls"` // none, starttls or tls
}

// Workspaces manages tenants.
type Workspaces interface {
	// CreateWorkspace creates a workspace together with its first admin
	// member and that member's token (tokenHash is the token's HashToken).
	CreateWorkspace(ctx context.Context, p NewWorkspace) (Workspace, Member, Token, error)
	GetWorkspace(ctx context.Context, id int64) (Workspace, error)
	// ListWorkspacesByName returns the workspaces with that name, by id.
	ListWorkspacesByName(ctx context.Context, name string) ([]Workspace, error)
	// GetWorkspaceByName finds the one workspace with that name (names are
	// display names: several is ErrAmbiguousName).
	GetWorkspaceByName(ctx context.Context, name string) (Workspace, error)
	// CountWorkspaces tells whether the store is empty (bootstrap).
	CountWorkspaces(ctx context.Context) (int, error)
	// UpdateWorkspace writes the settings fields of w (not the secrets).
	UpdateWorkspace(ctx context.Context, w Workspace) (Workspace, error)
	// RotateSecret makes newSecret current and keeps the old one valid until
	// graceUntil.
	RotateSecret(ctx context.Context, workspaceID int64, newSecret string, graceUntil time.Time) (Workspace, error)
	// RulesVersion is a number that moves inside every transaction that
	// changes what the workspace's compiled rules depend on (rules, the
	// control record, members, tags, the timezone), so a cache can be
	// checked with one read.
	RulesVersion(ctx context.Context, workspaceID int64) (int64, error)
}

// NewWorkspace is what CreateWorkspace needs.
type NewWorkspace struct {
	Name       string
	Secret     string
	AdminName  string
	AdminEmail string
	TokenName  string
	TokenHash  string
	TokenHint  string
}

// Member is a person of a workspace.
type Member struct {
	ID          int64
	WorkspaceID int64
	Name        string
	Email       string
	Role        auth.Role
	ExternalID  *string
	CreatedAt   time.Time
}

// Members manages the people of a workspace.
type Members interface {
	CreateMember(ctx context.Context, m Member) (Member, error)
	GetMember(ctx context.Context, workspaceID, id int64) (Member, error)
	// FindMemberByHostID finds the member whose external_id is hostID, else
	// whose id is hostID (for members without an external_id).
	FindMemberByHostID(ctx context.Context, workspaceID int64, hostID string) (Member, error)
	ListMembers(ctx context.Context, workspaceID int64, p Page) ([]Member, int, error)
	// UpdateMember writes name, email, role and external_id. Demoting the
	// last admin is ErrLastAdmin.
	UpdateMember(ctx context.Context, m Member) (Member, error)
	// DeleteMember removes the member and revokes its tokens. Removing the
	// last admin is ErrLastAdmin.
	DeleteMember(ctx context.Context, workspaceID, id int64) error
}

// Token is an API credential. Its secret is never stored, only its hash.
type Token struct {
	ID          int64
	WorkspaceID int64
	MemberID    int64
	Name        string
	Role        auth.Role
	Hash        string
	// Hint is the token's first characters, to tell tokens apart in lists.
	Hint      string
	ExpiresAt *time.Time
	RevokedAt *time.Time
	CreatedAt time.Time
}

// Principal is who a request acts as: a live token and its member.
type Principal struct {
	Token  Token
	Member Member
}

// Role is the principal's effective role: the lower of the token's and the
// member's current role.
func (p Principal) Role() auth.Role { return auth.Lower(p.Token.Role, p.Member.Role) }

// Tokens manages API tokens.
type Tokens interface {
	CreateToken(ctx context.Context, t Token) (Token, error)
	// Authenticate finds the token with that hash, with its member. Revoked
	// tokens are returned too (with RevokedAt set) so the caller can tell
	// them apart; an unknown hash is ErrNotFound.
	Authenticate(ctx context.Context, hash string) (Principal, error)
	GetToken(ctx context.Context, workspaceID, id int64) (Token, error)
	// ListTokens lists the workspace's tokens that are not revoked,
	// those of memberID only when it is non-zero.
	ListTokens(ctx context.Context, workspaceID, memberID int64, p Page) ([]Token, int, error)
	RevokeToken(ctx context.Context, workspaceID, id int64, at time.Time) error
}

// Tag is a workspace-scoped label actions attach to conversations.
type Tag struct {
	ID          int64
	WorkspaceID int64
	Name        string
	ExternalID  *string
	CreatedAt   time.Time
}

// Tags manages tags. DeleteTag fails with *ReferencedError when a rule's
// action uses the tag.
type Tags interface {
	CreateTag(ctx context.Context, t Tag) (Tag, error)
	GetTag(ctx context.Context, workspaceID, id int64) (Tag, error)
	ListTags(ctx context.Context, workspaceID int64, p Page) ([]Tag, int, error)
	UpdateTag(ctx context.Context, t Tag) (Tag, error)
	DeleteTag(ctx context.Context, workspaceID, id int64) error
}

// ContactList is a named set of e-mail addresses rules can test.
type ContactList struct {
	ID          int64
	WorkspaceID int64
	Name        string
	MemberCount int
	CreatedAt   time.Time
}

// ContactListEntry is one address of a list.
type ContactListEntry struct {
	Email   string
	AddedAt time.Time
}

// ContactLists manages contact lists. Addresses are stored lower-cased.
// DeleteContactList fails with *ReferencedError when a rule's condition uses
// the list.
type ContactLists interface {
	CreateContactList(ctx context.Context, l ContactList) (ContactList, error)
	GetContactList(ctx context.Context, workspaceID, id int64) (ContactList, error)
	ListContactLists(ctx context.Context, workspaceID int64, p Page) ([]ContactList, int, error)
	UpdateContactList(ctx context.Context, l ContactList) (ContactList, error)
	DeleteContactList(ctx context.Context, workspaceID, id int64) error
	// ChangeContactListMembers adds and removes addresses (already
	// lower-cased and de-duplicated) in one transaction.
	ChangeContactListMembers(ctx context.Context, workspaceID, listID int64, add, remove []string) (ContactList, error)
	ListContactListMembers(ctx context.Context, workspaceID, listID int64, p Page) ([]ContactListEntry, int, error)
	// ContactListsContaining returns, of listIDs, those that contain email:
	// the engine resolves list membership once per event with it.
	ContactListsContaining(ctx context.Context, workspaceID int64, email string, listIDs []int64) ([]int64, error)
}

// RuleFilter narrows ListRules and ListSnoozedRules.
type RuleFilter struct {
	IsActive    *bool
	TriggerType string
}

// Rules manages automation rules. Writes keep the rule's tag and contact
// list references so that those objects cannot be deleted while in use; a
// reference to a missing object is ErrMissingReference.
type Rules interface {
	// CreateRule inserts r as its version 1. With priority nil the rule
	// goes last; with a priority that is taken, every rule at or after it
	// shifts down by one. Priorities stay within 0..rules.MaxPriority:
	// when a shift would leave the range, gaps are closed instead, never
	// changing the relative order of the rules that are not moved.
	CreateRule(ctx context.Context, r rules.Rule, priority *int) (rules.Rule, error)
	GetRule(ctx context.Context, workspaceID, id int64) (rules.Rule, error)
	// ListRules returns the workspace's rules ordered by priority, then id.
	ListRules(ctx context.Context, workspaceID int64, f RuleFilter) ([]rules.Rule, error)
	// ListSnoozedRules returns the rules snoozed at now (snoozed_until > now).
	ListSnoozedRules(ctx context.Context, workspaceID int64, now time.Time, f RuleFilter, p Page) ([]rules.Rule, int, error)
	// UpdateRule writes every editable field of r (not its counters). When
	// r.Priority differs from the stored one the rule moves as on create.
	// Switching is_active on sets ActivatedAt. A change of the definition
	// makes a new version.
	UpdateRule(ctx context.Context, r rules.Rule) (rules.Rule, error)
	// DeleteRule deletes the rule but not its versions.
	DeleteRule(ctx context.Context, workspaceID, id int64) error
	// ReorderRules gives the rules priorities 0, 1, 2, … in the order of
	// ids, which must name every rule of the workspace exactly once
	// (ErrNotFound otherwise). It returns the whole list. Each rule whose
	// priority changes gets a new version.
	ReorderRules(ctx context.Context, workspaceID int64, ids []int64, by *int64) ([]rules.Rule, error)
	// ReorderRuleSubset gives the listed rules the priority slots they hold
	// now, in the order given; other rules keep theirs.
	ReorderRuleSubset(ctx context.Context, workspaceID int64, ids []int64, by *int64) ([]rules.Rule, error)
	// SnoozeRule sets or (with until nil) clears snoozed_until. A snooze
	// is state: it makes no version.
	SnoozeRule(ctx context.Context, workspaceID, id int64, until *time.Time, by *int64) (rules.Rule, error)

	// ListRuleVersions returns a page of a rule's versions, newest first,
	// and their total; it lists a deleted rule's too. A rule the workspace
	// never had is ErrNotFound.
	ListRuleVersions(ctx context.Context, workspaceID, ruleID int64, p Page) ([]RuleVersion, int, error)
	// GetRuleVersion returns version n of a rule, even of a deleted one.
	GetRuleVersion(ctx context.Context, workspaceID, ruleID int64, n int) (RuleVersion, error)
	// RestoreRuleVersion makes a new version of the rule whose definition
	// (everything but its priority) is version n's; priority, counters and
	// snooze stay. A tag or contact list that version uses and that no
	// longer exists is ErrMissingReference, and nothing changes.
	RestoreRuleVersion(ctx context.Context, workspaceID, ruleID int64, n int, by *int64) (rules.Rule, error)
}

// RuleVersion is one change of a rule's definition, with the whole rule
// as it was right after it.
type RuleVersion struct {
	WorkspaceID int64
	RuleID      int64
	Version     int
	ChangedAt   time.Time
	ChangedBy   *int64 // nil: changed by the system
	// ChangedFields names, as the API does, the definition fields the
	// change set; the first version names them all.
	ChangedFields []string
	Rule          rules.Rule
}

// Control is a workspace's global kill switch.
type Control struct {
	WorkspaceID int64
	IsPaused    bool
	PauseReason *string
	PausedUntil *time.Time
	UpdatedAt   time.Time
	UpdatedBy   *int64
}

// PausedAt reports whether automation is paused at now: a pause with a
// paused_until ends by itself.
func (c Control) PausedAt(now time.Time) bool {
	return c.IsPaused && (c.PausedUntil == nil || now.Before(*c.PausedUntil))
}

// Controls reads and replaces the global control record. A workspace that
// never wrote one reads as not paused, updated at its creation.
type Controls interface {
	GetControl(ctx context.Context, workspaceID int64) (Control, error)
	PutControl(ctx context.Context, c Control) (Control, error)
}
