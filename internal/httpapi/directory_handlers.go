package httpapi

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Limits for directory objects. The contract is silent; these keep rows
// small and are published in the OpenAPI document.
const (
	maxDirectoryName    = 200
	maxExternalID       = 200
	maxListChangeEmails = 10000
)

// ---- members ----

type memberResponse struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	Role       auth.Role `json:"role"`
	ExternalID *string   `json:"external_id"`
	CreatedAt  Time      `json:"created_at"`
}

func toMember(m store.Member) memberResponse {
	return memberResponse{ID: m.ID, Name: m.Name, Email: m.Email, Role: m.Role, ExternalID: m.ExternalID, CreatedAt: apiTime(m.CreatedAt)}
}

type memberWrite struct {
	Name       Optional[string]    `json:"name"`
	Email      Optional[string]    `json:"email"`
	Role       Optional[auth.Role] `json:"role"`
	ExternalID Optional[string]    `json:"external_id"`
	readOnly
}

// readOnly lists the fields clients may send back unchanged from a GET;
// they are ignored (docs/concepts.md#conventions).
type readOnly struct {
	ID        any `json:"id,omitempty"`
	CreatedAt any `json:"created_at,omitempty"`
	UpdatedAt any `json:"updated_at,omitempty"`
}

// checkName checks a display name field: required when creating, never
// null, and a name by validation.Name's rules.
func checkName(errs *validation.Errors, field string, o Optional[string], required bool, max int) {
	switch {
	case !o.Set && required, o.Null:
		errs.Add(field, "is required and may not be empty")
	case o.Set:
		errs.Name(field, o.Value, max)
	}
}

func checkExternalID(errs *validation.Errors, o Optional[string]) {
	if !o.Present() {
		return
	}
	if o.Value == "" || utf8.RuneCountInString(o.Value) > maxExternalID {
		errs.Add("external_id", "must be 1 to %d characters, or null", maxExternalID)
		return
	}
	errs.Text("external_id", o.Value)
}

// normalizeEmail checks an address and returns it lower-cased. An address
// is a text field too: no control characters (docs/concepts.md#conventions).
func normalizeEmail(s string) (string, bool) {
	if validation.TextProblem(s) != "" {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != strings.TrimSpace(s) || a.Name != "" {
		return "", false
	}
	return strings.ToLower(a.Address), true
}

func (mw *memberWrite) validate(create bool) validation.Errors {
	var errs validation.Errors
	checkName(&errs, "name", mw.Name, create, maxDirectoryName)
	switch {
	case !mw.Email.Set && create, mw.Email.Null:
		errs.Add("email", "is required")
	case mw.Email.Set:
		if _, ok := normalizeEmail(mw.Email.Value); !ok {
			errs.Add("email", "must be an e-mail address")
		}
	}
	switch {
	case !mw.Role.Set && create, mw.Role.Null:
		errs.Add("role", "is required: admin, supervisor or agent")
	case mw.Role.Set && !mw.Role.Value.Valid():
		errs.Add("role", "must be admin, supervisor or agent")
	}
	checkExternalID(&errs, mw.ExternalID)
	return errs
}

func (mw *memberWrite) apply(m *store.Member) {
	if mw.Name.Set {
		m.Name = strings.TrimSpace(mw.Name.Value)
	}
	if mw.Email.Set {
		m.Email, _ = normalizeEmail(mw.Email.Value)
	}
	if mw.Role.Set {
		m.Role = mw.Role.Value
	}
	if mw.ExternalID.Set {
		m.ExternalID = nil
		if !mw.ExternalID.Null {
			v := mw.ExternalID.Value
			m.ExternalID = &v
		}
	}
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	pq, err := parsePage(r.URL.Query(), false)
	if err != nil {
		return err
	}
	ws := principalFrom(r.Context()).Token.WorkspaceID
	ms, total, err := a.store.ListMembers(r.Context(), ws, pq.storePage())
	if err != nil {
		return err
	}
	out := make([]memberResponse, len(ms))
	for i, m := range ms {
		out[i] = toMember(m)
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, out, total))
}

func (a *API) createMember(w http.ResponseWriter, r *http.Request) error {
	var body memberWrite
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	if errs := body.validate(true); len(errs) > 0 {
		return errInvalid(errs)
	}
	m := store.Member{WorkspaceID: principalFrom(r.Context()).Token.WorkspaceID}
	body.apply(&m)
	m, err := a.store.CreateMember(r.Context(), m)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("a member with this email or external_id already exists")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toMember(m))
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadMember(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toMember(m))
}

func (a *API) loadMember(r *http.Request) (store.Member, error) {
	id, err := pathID(r, "id", "member")
	if err != nil {
		return store.Member{}, err
	}
	m, err := a.store.GetMember(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, errNotFound("member")
	}
	return m, err
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	var body memberWrite
	var m store.Member
	if err := decodeAndLoad(w, r, &body, func() (err error) { m, err = a.loadMember(r); return err }); err != nil {
		return err
	}
	if errs := body.validate(false); len(errs) > 0 {
		return errInvalid(errs)
	}
	body.apply(&m)
	m, err := a.store.UpdateMember(r.Context(), m)
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		return errConflict("the workspace's last admin cannot be demoted")
	case errors.Is(err, store.ErrConflict):
		return errConflict("a member with this email or external_id already exists")
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("member")
	case err != nil:
		return err
	}
	a.changed(m.WorkspaceID) // assign_agent and trigger_data resolve members
	return writeJSON(w, http.StatusOK, toMember(m))
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadMember(r)
	if err != nil {
		return err
	}
	err = a.store.DeleteMember(r.Context(), m.WorkspaceID, m.ID)
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		return errConflict("the workspace's last admin cannot be removed")
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("member")
	case err != nil:
		return err
	}
	a.changed(m.WorkspaceID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- tokens ----

type tokenResponse struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	MemberID  int64     `json:"member_id"`
	Role      auth.Role `json:"role"`
	Token     string    `json:"token,omitempty"`
	Hint      string    `json:"token_hint"`
	ExpiresAt *Time     `json:"expires_at"`
	CreatedAt Time      `json:"created_at"`
}

func toToken(t store.Token) tokenResponse {
	return tokenResponse{ID: t.ID, Name: t.Name, MemberID: t.MemberID, Role: t.Role, Hint: t.Hint,
		ExpiresAt: apiTimePtr(t.ExpiresAt), CreatedAt: apiTime(t.CreatedAt)}
}

type tokenCreate struct {
	Name      Optional[string]    `json:"name"`
	MemberID  Optional[int64]     `json:"member_id"`
	Role      Optional[auth.Role] `json:"role"`
	ExpiresAt Optional[time.Time] `json:"expires_at"`
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	mine, err := queryBool(q, "mine")
	if err != nil {
		return err
	}
	pq, err := parsePage(q, false)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	var member int64
	if mine != nil && *mine {
		member = p.Member.ID
	} else if !p.Role().AtLeast(auth.Admin) {
		return errForbidden("only an admin may list every token; use ?mine=1 for your own")
	}
	ts, total, err := a.store.ListTokens(r.Context(), p.Token.WorkspaceID, member, pq.storePage())
	if err != nil {
		return err
	}
	out := make([]tokenResponse, len(ts))
	for i, t := range ts {
		out[i] = toToken(t)
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, out, total))
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var body tokenCreate
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	var errs validation.Errors
	checkName(&errs, "name", body.Name, true, maxDirectoryName)
	member := p.Member
	if body.MemberID.Present() && body.MemberID.Value != p.Member.ID {
		m, err := a.store.GetMember(r.Context(), p.Token.WorkspaceID, body.MemberID.Value)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs.Add("member_id", "no member %d in this workspace", body.MemberID.Value)
		case err != nil:
			return err
		default:
			member = m
		}
	}
	role := member.Role
	switch {
	case body.Role.Null:
		errs.Add("role", "may be omitted but not null")
	case body.Role.Set && !body.Role.Value.Valid():
		errs.Add("role", "must be admin, supervisor or agent")
	case body.Role.Set && !member.Role.AtLeast(body.Role.Value):
		errs.Add("role", "may not exceed the member's role (%s)", member.Role)
	case body.Role.Set:
		role = body.Role.Value
	}
	var expires *time.Time
	if body.ExpiresAt.Present() {
		e := body.ExpiresAt.Value.UTC()
		switch {
		case !validation.TimeInRange(e):
			errs.Add("expires_at", "%s", validation.TimeRangeMessage)
		case !e.After(a.clock.Now()):
			errs.Add("expires_at", "must be in the future")
		}
		expires = &e
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	secret := auth.NewToken()
	t, err := a.store.CreateToken(r.Context(), store.Token{
		WorkspaceID: p.Token.WorkspaceID, MemberID: member.ID, Name: strings.TrimSpace(body.Name.Value),
		Role: role, Hash: auth.HashToken(secret), Hint: secret[:len(auth.TokenPrefix)+4], ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	out := toToken(t)
	out.Token = secret
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "token")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	t, err := a.store.GetToken(r.Context(), p.Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.RevokedAt != nil) {
		return errNotFound("token")
	}
	if err != nil {
		return err
	}
	if t.MemberID != p.Member.ID && !p.Role().AtLeast(auth.Admin) {
		return errForbidden("only an admin may revoke another member's token")
	}
	if err := a.store.RevokeToken(r.Context(), p.Token.WorkspaceID, id, a.clock.Now()); err != nil {
		return err
	}
	a.changed(p.Token.WorkspaceID) // every node forgets the token now
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- tags ----

type tagResponse struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	ExternalID *string `json:"external_id"`
}

func toTag(t store.Tag) tagResponse {
	return tagResponse{ID: t.ID, Name: t.Name, ExternalID: t.ExternalID}
}

type tagWrite struct {
	Name       Optional[string] `json:"name"`
	ExternalID Optional[string] `json:"external_id"`
	readOnly
}

func (tw *tagWrite) validate(create bool) validation.Errors {
	var errs validation.Errors
	checkName(&errs, "name", tw.Name, create, maxDirectoryName)
	checkExternalID(&errs, tw.ExternalID)
	return errs
}

func (tw *tagWrite) apply(t *store.Tag) {
	if tw.Name.Set {
		t.Name = strings.TrimSpace(tw.Name.Value)
	}
	if tw.ExternalID.Set {
		t.ExternalID = nil
		if !tw.ExternalID.Null {
			v := tw.ExternalID.Value
			t.ExternalID = &v
		}
	}
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request) error {
	pq, err := parsePage(r.URL.Query(), false)
	if err != nil {
		return err
	}
	ts, total, err := a.store.ListTags(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, pq.storePage())
	if err != nil {
		return err
	}
	out := make([]tagResponse, len(ts))
	for i, t := range ts {
		out[i] = toTag(t)
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, out, total))
}

func (a *API) createTag(w http.ResponseWriter, r *http.Request) error {
	var body tagWrite
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	if errs := body.validate(true); len(errs) > 0 {
		return errInvalid(errs)
	}
	t := store.Tag{WorkspaceID: principalFrom(r.Context()).Token.WorkspaceID}
	body.apply(&t)
	t, err := a.store.CreateTag(r.Context(), t)
	if errors.Is(err, store.ErrConflict) {
		return errConflict("a tag with this name or external_id already exists")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toTag(t))
}

func (a *API) loadTag(r *http.Request) (store.Tag, error) {
	id, err := pathID(r, "id", "tag")
	if err != nil {
		return store.Tag{}, err
	}
	t, err := a.store.GetTag(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, errNotFound("tag")
	}
	return t, err
}

func (a *API) getTag(w http.ResponseWriter, r *http.Request) error {
	t, err := a.loadTag(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toTag(t))
}

func (a *API) updateTag(w http.ResponseWriter, r *http.Request) error {
	var body tagWrite
	var t store.Tag
	if err := decodeAndLoad(w, r, &body, func() (err error) { t, err = a.loadTag(r); return err }); err != nil {
		return err
	}
	if errs := body.validate(false); len(errs) > 0 {
		return errInvalid(errs)
	}
	body.apply(&t)
	t, err := a.store.UpdateTag(r.Context(), t)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errConflict("a tag with this name or external_id already exists")
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("tag")
	case err != nil:
		return err
	}
	a.changed(t.WorkspaceID)
	return writeJSON(w, http.StatusOK, toTag(t))
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	t, err := a.loadTag(r)
	if err != nil {
		return err
	}
	if err := referencedConflict(a.store.DeleteTag(r.Context(), t.WorkspaceID, t.ID), "tag"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// referencedConflict maps a store delete error: referenced → 409 with
// rule_ids.
func referencedConflict(err error, what string) error {
	var ref *store.ReferencedError
	switch {
	case errors.As(err, &ref):
		p := errConflict("the " + what + " is used by rules; remove it from them first")
		p.RuleIDs = ref.RuleIDs
		return p
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	}
	return err
}

// ---- contact lists ----

type contactListResponse struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"member_count"`
}

func toContactList(l store.ContactList) contactListResponse {
	return contactListResponse{ID: l.ID, Name: l.Name, MemberCount: l.MemberCount}
}

type contactListWrite struct {
	Name        Optional[string] `json:"name"`
	MemberCount any              `json:"member_count,omitempty"` // read-only, ignored
	readOnly
}

type contactListMembersChange struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

type contactListEntryResponse struct {
	Email   string `json:"email"`
	AddedAt Time   `json:"added_at"`
}

func (a *API) listContactLists(w http.ResponseWriter, r *http.Request) error {
	pq, err := parsePage(r.URL.Query(), false)
	if err != nil {
		return err
	}
	ls, total, err := a.store.ListContactLists(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, pq.storePage())
	if err != nil {
		return err
	}
	out := make([]contactListResponse, len(ls))
	for i, l := range ls {
		out[i] = toContactList(l)
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, out, total))
}

func (a *API) createContactList(w http.ResponseWriter, r *http.Request) error {
	var body contactListWrite
	if err := decodeBody(w, r, &body, maxBody); err != nil {
		return err
	}
	var errs validation.Errors
	checkName(&errs, "name", body.Name, true, maxDirectoryName)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	l, err := a.store.CreateContactList(r.Context(), store.ContactList{
		WorkspaceID: principalFrom(r.Context()).Token.WorkspaceID, Name: strings.TrimSpace(body.Name.Value)})
	if errors.Is(err, store.ErrConflict) {
		return errConflict("a contact list with this name already exists")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toContactList(l))
}

func (a *API) loadContactList(r *http.Request) (store.ContactList, error) {
	id, err := pathID(r, "id", "contact list")
	if err != nil {
		return store.ContactList{}, err
	}
	l, err := a.store.GetContactList(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return l, errNotFound("contact list")
	}
	return l, err
}

func (a *API) getContactList(w http.ResponseWriter, r *http.Request) error {
	l, err := a.loadContactList(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toContactList(l))
}

func (a *API) updateContactList(w http.ResponseWriter, r *http.Request) error {
	var body contactListWrite
	var l store.ContactList
	if err := decodeAndLoad(w, r, &body, func() (err error) { l, err = a.loadContactList(r); return err }); err != nil {
		return err
	}
	var errs validation.Errors
	checkName(&errs, "name", body.Name, false, maxDirectoryName)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if body.Name.Set {
		l.Name = strings.TrimSpace(body.Name.Value)
	}
	l, err := a.store.UpdateContactList(r.Context(), l)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errConflict("a contact list with this name already exists")
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("contact list")
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, toContactList(l))
}

func (a *API) deleteContactList(w http.ResponseWriter, r *http.Request) error {
	l, err := a.loadContactList(r)
	if err != nil {
		return err
	}
	if err := referencedConflict(a.store.DeleteContactList(r.Context(), l.WorkspaceID, l.ID), "contact list"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) changeContactListMembers(w http.ResponseWriter, r *http.Request) error {
	var body contactListMembersChange
	var l store.ContactList
	if err := decodeAndLoad(w, r, &body, func() (err error) { l, err = a.loadContactList(r); return err }); err != nil {
		return err
	}
	var errs validation.Errors
	if len(body.Add)+len(body.Remove) > maxListChangeEmails {
		errs.Add("add", "add and remove may list at most %d addresses together", maxListChangeEmails)
		return errInvalid(errs)
	}
	normalize := func(field string, in []string) []string {
		seen := map[string]bool{}
		out := make([]string, 0, len(in))
		for i, e := range in {
			n, ok := normalizeEmail(e)
			if !ok {
				errs.Add(validation.Index(field, i), "must be an e-mail address")
				continue
			}
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
		return out
	}
	add, remove := normalize("add", body.Add), normalize("remove", body.Remove)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	l, err := a.store.ChangeContactListMembers(r.Context(), l.WorkspaceID, l.ID, add, remove)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("contact list")
	}
	if err != nil {
		return err
	}
	a.changed(l.WorkspaceID)
	return writeJSON(w, http.StatusOK, toContactList(l))
}

func (a *API) listContactListMembers(w http.ResponseWriter, r *http.Request) error {
	pq, err := parsePage(r.URL.Query(), false)
	if err != nil {
		return err
	}
	l, err := a.loadContactList(r)
	if err != nil {
		return err
	}
	es, total, err := a.store.ListContactListMembers(r.Context(), l.WorkspaceID, l.ID, pq.storePage())
	if err != nil {
		return err
	}
	out := make([]contactListEntryResponse, len(es))
	for i, e := range es {
		out[i] = contactListEntryResponse{Email: e.Email, AddedAt: apiTime(e.AddedAt)}
	}
	return writeJSON(w, http.StatusOK, offsetEnvelope(pq, out, total))
}
