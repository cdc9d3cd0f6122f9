package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/delivery"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// The pull outbox (docs/concepts.md#deliveries-and-the-outbox): with no actions_url, a workspace's
// conversation actions wait as deliveries without a target, and the host
// claims them (a lease), then acks or fails each. The store does the
// leasing and moves the run when a delivery ends; these handlers check the
// requests and decide the retry schedule, the same one pushed deliveries
// follow (delivery.Backoff).

// Claim limits (docs/concepts.md#deliveries-and-the-outbox), and the defaults of an omitted field: a small
// batch and a lease long enough to apply it.
const (
	maxClaimLimit     = 500
	defaultClaimLimit = 10
	minLeaseSecs      = 5
	maxLeaseSecs      = 3600
	defaultLeaseSecs  = 60
	maxFailErrorLen   = 2000
)

// outboxRowResponse is an outbox row (docs/concepts.md#deliveries-and-the-outbox).
type outboxRowResponse struct {
	ID             string          `json:"id"`
	EventID        string          `json:"event_id"`
	RuleID         int64           `json:"rule_id"`
	RunID          string          `json:"run_id"`
	ConversationID *string         `json:"conversation_id"`
	Action         json.RawMessage `json:"action"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	LastError      *string         `json:"last_error"`
	CreatedAt      Time            `json:"created_at"`
}

// toOutboxRow shows a delivery as it is at now: an expired lease reads as
// pending, as it is for the next claim.
func toOutboxRow(d store.Delivery, now time.Time) outboxRowResponse {
	return outboxRowResponse{ID: d.ID, EventID: d.EventID, RuleID: d.RuleID, RunID: d.RunID,
		ConversationID: d.ConversationID, Action: d.Action, Status: d.StatusAt(now), Attempts: d.Attempts,
		LastError: d.LastError, CreatedAt: apiTime(d.CreatedAt)}
}

func toOutboxRows(ds []store.Delivery, now time.Time) []outboxRowResponse {
	out := make([]outboxRowResponse, len(ds))
	for i, d := range ds {
		out[i] = toOutboxRow(d, now)
	}
	return out
}

// claimBody is the body of POST /v1/actions/claim.
type claimBody struct {
	Limit     Optional[int] `json:"limit"`
	LeaseSecs Optional[int] `json:"lease_secs"`
}

func (b *claimBody) validate() (limit int, lease time.Duration, errs validation.Errors) {
	limit, secs := defaultClaimLimit, defaultLeaseSecs
	switch {
	case b.Limit.Null:
		errs.Add("limit", "must be an integer from 1 to %d, or omitted", maxClaimLimit)
	case b.Limit.Set && (b.Limit.Value < 1 || b.Limit.Value > maxClaimLimit):
		errs.Add("limit", "must be from 1 to %d, not %d", maxClaimLimit, b.Limit.Value)
	case b.Limit.Set:
		limit = b.Limit.Value
	}
	switch {
	case b.LeaseSecs.Null:
		errs.Add("lease_secs", "must be an integer from %d to %d, or omitted", minLeaseSecs, maxLeaseSecs)
	case b.LeaseSecs.Set && (b.LeaseSecs.Value < minLeaseSecs || b.LeaseSecs.Value > maxLeaseSecs):
		errs.Add("lease_secs", "must be from %d to %d seconds, not %d", minLeaseSecs, maxLeaseSecs, b.LeaseSecs.Value)
	case b.LeaseSecs.Set:
		secs = b.LeaseSecs.Value
	}
	return limit, time.Duration(secs) * time.Second, errs
}

// claimOwner names the claimant of a lease: the token, so that what one
// credential holds shows in the store, and two hosts with different
// tokens are told apart.
func claimOwner(p store.Principal) string { return "token:" + strconv.FormatInt(p.Token.ID, 10) }

func (a *API) claimActions(w http.ResponseWriter, r *http.Request) error {
	// An empty body takes the defaults, so `curl -X POST` claims.
	data, err := readBody(w, r, maxBody)
	if err != nil {
		return err
	}
	var body claimBody
	if len(bytes.TrimSpace(data)) > 0 {
		if err := decodeJSON(data, &body); err != nil {
			return err
		}
	}
	limit, lease, errs := body.validate()
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	p := principalFrom(r.Context())
	now := a.clock.Now()
	ds, err := a.store.ClaimOutbox(r.Context(), p.Token.WorkspaceID, claimOwner(p), now, limit, lease)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wholeList[outboxRowResponse]{Data: toOutboxRows(ds, now)})
}

// loadPullAction reads the delivery the path names, as long as it is the
// host's to settle: a pushed one (with a target) is this service's own
// business, so it is not found here.
func (a *API) loadPullAction(r *http.Request) (store.Delivery, error) {
	d, err := a.loadAction(r)
	if err == nil && d.Target != nil {
		return d, errNotFound("action")
	}
	return d, err
}

func (a *API) loadAction(r *http.Request) (store.Delivery, error) {
	id, err := uuidPath(r, "id", "action")
	if err != nil {
		return store.Delivery{}, err
	}
	d, err := a.store.GetDelivery(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return d, errNotFound("action")
	}
	return d, err
}

// settleErr maps what the store says about settling a pull delivery;
// status is the delivery's as loaded, to say why it cannot be settled.
func settleErr(err error, status string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("action")
	case errors.Is(err, store.ErrConflict):
		return errConflict(fmt.Sprintf("the action has already ended (%s); only a pending or leased action can be acked or failed", status))
	}
	return err
}

func (a *API) ackAction(w http.ResponseWriter, r *http.Request) error {
	d, err := a.loadPullAction(r)
	if err != nil {
		return err
	}
	now := a.clock.Now()
	got, err := a.store.AckOutbox(r.Context(), d.WorkspaceID, d.ID, now)
	if err != nil {
		return settleErr(err, d.Status)
	}
	d = got
	return writeJSON(w, http.StatusOK, toOutboxRow(d, now))
}

// failBody is the body of POST /v1/actions/{id}/fail.
type failBody struct {
	Error Optional[string] `json:"error"`
	Retry Optional[bool]   `json:"retry"`
}

func (b *failBody) validate() validation.Errors {
	var errs validation.Errors
	switch {
	case !b.Error.Present() || strings.TrimSpace(b.Error.Value) == "":
		errs.Add("error", "is required: what went wrong, 1 to %d characters", maxFailErrorLen)
	case utf8.RuneCountInString(b.Error.Value) > maxFailErrorLen:
		errs.Add("error", "must be at most %d characters", maxFailErrorLen)
	case !printableText(b.Error.Value):
		errs.Add("error", "may not contain control characters other than tab and newline")
	}
	if b.Retry.Null {
		errs.Add("retry", "must be true or false, or omitted (false)")
	}
	return errs
}

// printableText reports whether s holds no NUL or other control character
// except tab and newline (docs/concepts.md#conventions).
func printableText(s string) bool {
	for _, c := range s {
		if (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
			return false
		}
	}
	return true
}

func (a *API) failAction(w http.ResponseWriter, r *http.Request) error {
	var (
		body failBody
		d    store.Delivery
	)
	err := decodeAndLoad(w, r, &body, func() error {
		var err error
		d, err = a.loadPullAction(r)
		return err
	})
	if err != nil {
		return err
	}
	if errs := body.validate(); len(errs) > 0 {
		return errInvalid(errs)
	}
	now := a.clock.Now()
	msg, retry, next := body.Error.Value, body.Retry.Value, now
	if retry {
		// This failure is attempt d.Attempts+1; past the last one the
		// action fails for good, as a pushed one would.
		wait, ok := delivery.Backoff(d.Attempts+1, 0, rand.Float64())
		if ok {
			next = now.Add(wait)
		} else {
			retry = false
			msg = fmt.Sprintf("gave up after %d attempts: %s", d.Attempts+1, msg)
		}
	}
	got, err := a.store.FailOutbox(r.Context(), d.WorkspaceID, d.ID, msg, retry, now, next)
	if err != nil {
		return settleErr(err, d.Status)
	}
	d = got
	return writeJSON(w, http.StatusOK, toOutboxRow(d, now))
}

func (a *API) getAction(w http.ResponseWriter, r *http.Request) error {
	d, err := a.loadAction(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toOutboxRow(d, a.clock.Now()))
}

var actionStatuses = []string{store.DeliveryPending, store.DeliveryLeased, store.DeliverySucceeded,
	store.DeliveryFailed, store.DeliverySkipped}

func (a *API) listActions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq, pq, err := parseListQuery(q, []string{"created_at"})
	if err != nil {
		return err
	}
	now := a.clock.Now()
	f := store.DeliveryFilter{Now: now}
	if s := q.Get("status"); s != "" || q.Has("status") {
		if !oneOf(s, actionStatuses) {
			return errBadField("status", "must be one of %s", strings.Join(actionStatuses, ", "))
		}
		f.Status = s
	}
	if v := q.Get("run_id"); v != "" || q.Has("run_id") {
		id, err := uuid.Parse(v)
		if err != nil {
			return errBadField("run_id", "must be a run id (UUID)")
		}
		f.RunID = id.String()
	}
	if v := q.Get("rule_id"); v != "" || q.Has("rule_id") {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return errBadField("rule_id", "must be a rule id")
		}
		f.RuleID = id
	}
	ds, total, err := a.store.ListDeliveries(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, f, lq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keysetEnvelope(pq, lq, toOutboxRows(ds, now), total, func(d outboxRowResponse) Cursor {
		return Cursor{CreatedAt: time.Time(d.CreatedAt), ID: d.ID}
	}))
}
