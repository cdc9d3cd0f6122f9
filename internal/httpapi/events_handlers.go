package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/canonical"
	"github.com/switchboard-hq/switchboard/internal/rules"
	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Event ingestion limits (docs/concepts.md#events). The contract fixes the batch size;
// the string limits keep rows small.
const (
	maxBatchEvents    = 500
	maxIDLen          = 255
	maxIdempotencyKey = 255
	sourceScheduler   = "scheduler"
)

var sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,49}$`)

// eventIn is one event as a host sends it.
type eventIn struct {
	EventType      Optional[string]          `json:"event_type"`
	ConversationID Optional[string]          `json:"conversation_id"`
	ContactID      Optional[string]          `json:"contact_id"`
	Source         Optional[string]          `json:"source"`
	ChannelSource  Optional[string]          `json:"channel_source"`
	OccurredAt     Optional[time.Time]       `json:"occurred_at"`
	CausedBy       Optional[string]          `json:"caused_by"`
	Payload        Optional[json.RawMessage] `json:"payload"`
}

// batchIn is the body of /events/batch.
type batchIn struct {
	Events []batchItem `json:"events"`
}

type batchItem struct {
	eventIn
	IdempotencyKey Optional[string] `json:"idempotency_key"`
}

type ingestedResponse struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	PayloadHash string `json:"payload_hash"`
	Duplicate   bool   `json:"duplicate"`
}

// toNewEvent validates one event and builds what the store ingests.
// The payload's hash comes with e when the fast path computed it.
func (a *API) toNewEvent(e *scannedEvent, ws int64, now time.Time) (store.NewEvent, validation.Errors) {
	var errs validation.Errors
	ne := store.NewEvent{Event: store.Event{WorkspaceID: ws, Source: "api", OccurredAt: now}}
	switch {
	case !e.EventType.Present() || e.EventType.Value == "":
		errs.Add("event_type", "is required")
	case rules.IsTimeTrigger(e.EventType.Value):
		errs.Add("event_type", "%s events are produced by Switchboard's scheduler; hosts cannot send them", e.EventType.Value)
	case !rules.ValidTrigger(e.EventType.Value):
		errs.Add("event_type", "unknown event type %q", e.EventType.Value)
	default:
		ne.EventType = e.EventType.Value
	}
	optionalID := func(field string, o Optional[string]) *string {
		if !o.Present() {
			return nil
		}
		if o.Value == "" || utf8.RuneCountInString(o.Value) > maxIDLen {
			errs.Add(field, "must be 1 to %d characters", maxIDLen)
			return nil
		}
		if !errs.Text(field, o.Value) {
			return nil
		}
		v := o.Value
		return &v
	}
	ne.ConversationID = optionalID("conversation_id", e.ConversationID)
	ne.ContactID = optionalID("contact_id", e.ContactID)
	ne.ChannelSource = optionalID("channel_source", e.ChannelSource)
	if e.Source.Present() {
		switch {
		case e.Source.Value == sourceScheduler:
			errs.Add("source", "\"scheduler\" is reserved for Switchboard's own events")
		case !sourcePattern.MatchString(e.Source.Value):
			errs.Add("source", "must be 1 to 50 lower-case letters, digits, '_', '.' or '-'")
		default:
			ne.Source = e.Source.Value
		}
	}
	if e.OccurredAt.Present() {
		ne.OccurredAt = e.OccurredAt.Value.UTC().Truncate(time.Millisecond)
	}
	if e.CausedBy.Present() {
		if _, err := uuid.Parse(e.CausedBy.Value); err != nil {
			errs.Add("caused_by", "must be the id of the delivery that caused this event")
		} else {
			v := strings.ToLower(e.CausedBy.Value)
			ne.CausedBy = &v
		}
	}
	switch {
	case !e.Payload.Present():
		errs.Add("payload", "is required: a JSON object")
	case len(e.Payload.Value) == 0 || e.Payload.Value[0] != '{':
		errs.Add("payload", "must be a JSON object")
	default:
		hash := e.payloadHash
		if hash == "" {
			var err error
			if hash, err = canonical.Hash(e.Payload.Value); err != nil {
				errs.Add("payload", "cannot be canonicalised: %v", err)
			}
		}
		ne.Payload = e.Payload.Value
		ne.PayloadHash = hash
	}
	return ne, errs
}

func idempotencyKey(field, key string) (string, error) {
	if key == "" {
		return "", nil
	}
	if len(key) > maxIdempotencyKey {
		return "", errInvalidField(field, "must be at most %d characters", maxIdempotencyKey)
	}
	for _, r := range key {
		if r < 0x20 || r > 0x7e {
			return "", errInvalidField(field, "must be printable ASCII")
		}
	}
	return key, nil
}

// requestHash identifies a request's content for idempotency: the
// canonical form, so whitespace and key order do not make a retry differ.
func requestHash(raw []byte) string {
	h, err := canonical.Hash(raw)
	if err != nil {
		return ""
	}
	return h
}

func (a *API) ingestEvent(w http.ResponseWriter, r *http.Request) error {
	g, err := a.readSingle(w, r)
	if err != nil {
		return err
	}
	if err := a.ingester.Ingest(r.Context(), g); err != nil {
		return err
	}
	if errors.Is(g.Err, store.ErrIdempotencyConflict) {
		return errInvalidField("Idempotency-Key", "was already used with a different request body")
	}
	if g.Err != nil {
		return g.Err
	}
	res := g.Results[0]
	status := http.StatusAccepted
	if res.Duplicate {
		status = http.StatusOK
	}
	return writeIngested(w, status, ingestedResponse{ID: res.Event.ID, Status: res.Event.Status, PayloadHash: res.Event.PayloadHash, Duplicate: res.Duplicate})
}

// writeIngested is writeJSON for the answer to one ingested event, without
// reflection (the ingestion hot path). Its strings are a UUID, a status
// word and a hex digest, which JSON never escapes; anything else takes
// writeJSON.
func writeIngested(w http.ResponseWriter, status int, r ingestedResponse) error {
	if !plainJSON(r.ID) || !plainJSON(r.Status) || !plainJSON(r.PayloadHash) {
		return writeJSON(w, status, r)
	}
	buf := make([]byte, 0, 64+len(r.ID)+len(r.Status)+len(r.PayloadHash))
	buf = append(append(append(buf, `{"id":"`...), r.ID...), `","status":"`...)
	buf = append(append(append(buf, r.Status...), `","payload_hash":"`...), r.PayloadHash...)
	buf = strconv.AppendBool(append(buf, `","duplicate":`...), r.Duplicate)
	buf = append(buf, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(buf)
	return err
}

// plainJSON reports whether s is JSON string content as it stands.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// readSingle reads and checks the body of POST /events.
func (a *API) readSingle(w http.ResponseWriter, r *http.Request) (*store.IngestGroup, error) {
	body, err := readBody(w, r, maxBody)
	if err != nil {
		return nil, err
	}
	in, err := decodeEvent(body)
	if err != nil {
		return nil, err
	}
	p := principalFrom(r.Context())
	ne, errs := a.toNewEvent(&in, p.Token.WorkspaceID, a.clock.Now())
	if len(errs) > 0 {
		return nil, errInvalid(errs)
	}
	key, err := idempotencyKey("Idempotency-Key", r.Header.Get("Idempotency-Key"))
	if err != nil {
		return nil, err
	}
	if key != "" {
		ne.IdempotencyKey, ne.RequestHash = key, requestHash(body)
	}
	return &store.IngestGroup{Events: []store.NewEvent{ne}}, nil
}

func (a *API) ingestBatch(w http.ResponseWriter, r *http.Request) error {
	g, err := a.readBatch(w, r)
	if err != nil {
		return err
	}
	if err := a.ingester.Ingest(r.Context(), g); err != nil {
		return err
	}
	if errors.Is(g.Err, store.ErrIdempotencyConflict) {
		return errInvalidField(validation.Index("events", g.Index)+".idempotency_key", "was already used with a different event")
	}
	if g.Err != nil {
		return g.Err
	}
	out := make([]ingestedResponse, len(g.Results))
	for i, res := range g.Results {
		out[i] = ingestedResponse{ID: res.Event.ID, Status: res.Event.Status, PayloadHash: res.Event.PayloadHash, Duplicate: res.Duplicate}
	}
	return writeJSON(w, http.StatusAccepted, wholeList[ingestedResponse]{Data: out})
}

// readBatch reads and checks the body of POST /events/batch.
func (a *API) readBatch(w http.ResponseWriter, r *http.Request) (*store.IngestGroup, error) {
	body, err := readBody(w, r, maxBatchBody)
	if err != nil {
		return nil, err
	}
	events, err := decodeBatch(body)
	if err != nil {
		return nil, err
	}
	switch {
	case events == nil:
		return nil, errInvalidField("events", "is required: a list of 1 to %d events", maxBatchEvents)
	case len(events) == 0 || len(events) > maxBatchEvents:
		return nil, errInvalidField("events", "must hold 1 to %d events, not %d", maxBatchEvents, len(events))
	}
	p := principalFrom(r.Context())
	now := a.clock.Now()
	g := &store.IngestGroup{Events: make([]store.NewEvent, len(events))}
	var errs validation.Errors
	for i := range events {
		item := &events[i]
		ne, ierrs := a.toNewEvent(item, p.Token.WorkspaceID, now)
		prefix := validation.Index("events", i)
		errs.Merge(prefix, ierrs)
		if item.IdempotencyKey.Present() {
			key, err := idempotencyKey(prefix+".idempotency_key", item.IdempotencyKey.Value)
			if err != nil {
				return nil, err
			}
			ne.IdempotencyKey = key
			ne.RequestHash = requestHash(item.raw)
		}
		g.Events[i] = ne
	}
	if len(errs) > 0 {
		return nil, errInvalid(errs)
	}
	return g, nil
}

// batchItemsRaw returns the raw JSON of each batch item, to hash items
// that carry an idempotency key.
func batchItemsRaw(body []byte) []json.RawMessage {
	var raw struct {
		Events []json.RawMessage `json:"events"`
	}
	_ = json.Unmarshal(body, &raw)
	return raw.Events
}

// ---- reading events ----

type eventResponse struct {
	ID             string          `json:"id"`
	EventType      string          `json:"event_type"`
	ConversationID *string         `json:"conversation_id"`
	ContactID      *string         `json:"contact_id"`
	Payload        json.RawMessage `json:"payload"`
	PayloadHash    string          `json:"payload_hash"`
	Source         string          `json:"source"`
	ChannelSource  *string         `json:"channel_source"`
	CausedBy       *string         `json:"caused_by"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	AvailableAt    Time            `json:"available_at"`
	OccurredAt     Time            `json:"occurred_at"`
	CreatedAt      Time            `json:"created_at"`
	ProcessedAt    *Time           `json:"processed_at"`
	Error          *string         `json:"error"`
}

func toEvent(e store.Event) eventResponse {
	return eventResponse{ID: e.ID, EventType: e.EventType, ConversationID: e.ConversationID, ContactID: e.ContactID,
		Payload: e.Payload, PayloadHash: e.PayloadHash, Source: e.Source, ChannelSource: e.ChannelSource,
		CausedBy: e.CausedBy, Status: e.Status, Attempts: e.Attempts, AvailableAt: apiTime(e.AvailableAt),
		OccurredAt: apiTime(e.OccurredAt), CreatedAt: apiTime(e.CreatedAt), ProcessedAt: apiTimePtr(e.ProcessedAt), Error: e.Error}
}

// EventJSON renders an event as the API's event object, for the bodies
// that carry one (send_webhook): one rendering, so the two cannot differ.
func EventJSON(e store.Event) (json.RawMessage, error) { return json.Marshal(toEvent(e)) }

// uuidPath parses a UUID id from the path; anything else is 404.
func uuidPath(r *http.Request, name, what string) (string, error) {
	id, err := uuid.Parse(r.PathValue(name))
	if err != nil {
		return "", errNotFound(what)
	}
	return id.String(), nil
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := a.loadEvent(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toEvent(e))
}

func (a *API) loadEvent(r *http.Request) (store.Event, error) {
	id, err := uuidPath(r, "id", "event")
	if err != nil {
		return store.Event{}, err
	}
	e, err := a.store.GetEvent(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, errNotFound("event")
	}
	return e, err
}

var eventStatuses = []string{store.EventPending, store.EventProcessing, store.EventProcessed, store.EventSkipped, store.EventFailed}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq, pq, err := parseListQuery(q, []string{"created_at", "id", "processed_at", "attempts"})
	if err != nil {
		return err
	}
	f := store.EventFilter{EventType: q.Get("event_type"), Source: q.Get("source")}
	if s := q.Get("status"); s != "" {
		if !oneOf(s, eventStatuses) {
			return errBadField("status", "must be one of %s", strings.Join(eventStatuses, ", "))
		}
		f.Status = s
	}
	if h := q.Get("payload_hash"); h != "" {
		if !isHexHash(h) {
			return errBadField("payload_hash", "must be 64 hexadecimal characters")
		}
		f.PayloadHash = strings.ToLower(h)
	}
	es, total, err := a.store.ListEvents(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, f, lq)
	if err != nil {
		return err
	}
	out := make([]eventResponse, len(es))
	for i, e := range es {
		out[i] = toEvent(e)
	}
	return writeJSON(w, http.StatusOK, keysetEnvelope(pq, lq, out, total, func(e eventResponse) Cursor {
		return Cursor{CreatedAt: time.Time(e.CreatedAt), ID: e.ID}
	}))
}

func (a *API) retryEvent(w http.ResponseWriter, r *http.Request) error {
	id, err := uuidPath(r, "id", "event")
	if err != nil {
		return err
	}
	e, err := a.store.RetryEvent(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("event")
	case errors.Is(err, store.ErrConflict):
		return errConflict(fmt.Sprintf("only a failed event can be retried; this one is %s", e.Status))
	case err != nil:
		return err
	}
	if a.wake != nil {
		a.wake()
	}
	return writeJSON(w, http.StatusAccepted, toEvent(e))
}

// ---- runs ----

type runResponse struct {
	ID             string          `json:"id"`
	EventID        string          `json:"event_id"`
	RuleID         int64           `json:"rule_id"`
	ConversationID *string         `json:"conversation_id"`
	Matched        bool            `json:"matched"`
	Executed       bool            `json:"executed"`
	Status         string          `json:"status"`
	Result         json.RawMessage `json:"result"`
	CreatedAt      Time            `json:"created_at"`
	SettledAt      *Time           `json:"settled_at"`
	RuleName       string          `json:"rule_name"`
	EventType      string          `json:"event_type"`
	EventSource    string          `json:"event_source"`
	EventStatus    string          `json:"event_status"`
	ContactID      *string         `json:"contact_id"`
	ChannelSource  *string         `json:"channel_source"`
	// RuleVersion is the version of the rule that made the run (0 for runs
	// made before rule history existed); RuleName is that version's name.
	RuleVersion int `json:"rule_version"`
}

func toRun(r store.Run) runResponse {
	return runResponse{ID: r.ID, EventID: r.EventID, RuleID: r.RuleID, ConversationID: r.ConversationID,
		Matched: r.Matched, Executed: r.Executed, Status: r.Status, Result: r.Result, CreatedAt: apiTime(r.CreatedAt),
		SettledAt: apiTimePtr(r.SettledAt), RuleName: r.RuleName, EventType: r.EventType, EventSource: r.EventSource,
		EventStatus: r.EventStatus, ContactID: r.ContactID, ChannelSource: r.ChannelSource, RuleVersion: r.RuleVersion}
}

var runStatuses = []string{store.RunNotMatched, store.RunPending, store.RunExecuted, store.RunFailed}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) error {
	id, err := uuidPath(r, "id", "run")
	if err != nil {
		return err
	}
	run, err := a.store.GetRun(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound("run")
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toRun(run))
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq, pq, err := parseListQuery(q, []string{"created_at", "id"})
	if err != nil {
		return err
	}
	var f store.RunFilter
	if v := q.Get("rule_id"); v != "" {
		var id int64
		if _, err := fmt.Sscan(v, &id); err != nil || id <= 0 {
			return errBadField("rule_id", "must be a rule id")
		}
		f.RuleID = id
	}
	if v := q.Get("event_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return errBadField("event_id", "must be an event id (UUID)")
		}
		f.EventID = id.String()
	}
	if f.Matched, err = queryBool(q, "matched"); err != nil {
		return err
	}
	if f.Executed, err = queryBool(q, "executed"); err != nil {
		return err
	}
	if s := q.Get("status"); s != "" {
		if !oneOf(s, runStatuses) {
			return errBadField("status", "must be one of %s", strings.Join(runStatuses, ", "))
		}
		f.Status = s
	}
	runs, total, err := a.store.ListRuns(r.Context(), principalFrom(r.Context()).Token.WorkspaceID, f, lq)
	if err != nil {
		return err
	}
	out := make([]runResponse, len(runs))
	for i, run := range runs {
		out[i] = toRun(run)
	}
	return writeJSON(w, http.StatusOK, keysetEnvelope(pq, lq, out, total, func(r runResponse) Cursor {
		return Cursor{CreatedAt: time.Time(r.CreatedAt), ID: r.ID}
	}))
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
