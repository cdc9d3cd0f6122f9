// Package httpapi is Switchboard's HTTP interface: one route table (routes.go)
// from which the mux, the role policies and the OpenAPI document are all
// built, handlers as methods on API, and problem+json errors everywhere.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-hq/switchboard/internal/clock"
	"github.com/switchboard-hq/switchboard/internal/pipeline"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// Config is what the API needs to know about how the server runs.
type Config struct {
	// MultiWorkspace allows POST /v1/workspaces.
	MultiWorkspace bool
	// Version is reported by /healthz.
	Version string
}

// Deps are the API's collaborators.
type Deps struct {
	Store    store.Store
	Clock    clock.Clock
	Logger   *slog.Logger
	Registry *prometheus.Registry // /metrics serves it; nil → a fresh one
	// Programs is the compiled-rules cache dry-runs evaluate with.
	Programs *pipeline.Programs
	// Ingester stores events durably (group commit).
	Ingester Ingester
	// Wake tells the workers events are waiting (after a retry). May be nil.
	Wake func()
	// RulesChanged is told when a workspace's rules, control record, or a
	// directory object rules depend on changed, so compiled rule sets can
	// be dropped. May be nil.
	RulesChanged func(workspaceID int64)
}

// Ingester stores events durably (group commit); see pipeline.Ingester.
type Ingester interface {
	Ingest(ctx context.Context, g *store.IngestGroup) error
}

// API serves the HTTP contract.
type API struct {
	store        store.Store
	clock        clock.Clock
	log          *slog.Logger
	cfg          Config
	registry     *prometheus.Registry
	metrics      *httpMetrics
	rulesChanged func(int64)
	programs     *pipeline.Programs
	ingester     Ingester
	wake         func()
	routes       []Route
	handler      http.Handler

	creds *credentialCache

	openAPIOnce sync.Once
	openAPIDoc  []byte
}

// New builds the API and its router.
func New(cfg Config, d Deps) *API {
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	a := &API{
		store:        d.Store,
		clock:        d.Clock,
		log:          d.Logger,
		cfg:          cfg,
		registry:     d.Registry,
		metrics:      newHTTPMetrics(d.Registry),
		rulesChanged: d.RulesChanged,
		programs:     d.Programs,
		ingester:     d.Ingester,
		wake:         d.Wake,
		creds:        newCredentialCache(),
	}
	if a.programs == nil {
		a.programs = pipeline.NewPrograms(d.Store)
	}
	a.routes = a.routeTable()
	a.handler = a.buildMux(a.routes)
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Routes returns the route table (tests enumerate it).
func (a *API) Routes() []Route { return a.routes }

// Invalidate drops what this node caches about a workspace: its compiled
// rules and the credentials it trusts. The PostgreSQL change feed calls it
// for changes made through other nodes.
func (a *API) Invalidate(workspaceID int64) {
	if workspaceID == 0 {
		a.programs.InvalidateAll()
	} else {
		a.programs.Invalidate(workspaceID)
	}
	a.creds.clear()
}

// changed is called after a write that compiled rules or credentials
// depend on: it invalidates this node's caches and tells the other nodes.
func (a *API) changed(workspaceID int64) {
	a.Invalidate(workspaceID)
	if a.rulesChanged != nil {
		a.rulesChanged(workspaceID)
	}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Conditions and templates come back as submitted, "<" and "&"
	// included, not as \u003c escapes.
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Time is how every time leaves the API: RFC 3339 in UTC with "Z", with
// exactly three fractional digits when it is not a whole second.
type Time time.Time

// MarshalJSON formats per docs/concepts.md#conventions.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + formatTime(time.Time(t)) + `"`), nil
}

func formatTime(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

func apiTime(t time.Time) Time { return Time(t) }

func apiTimePtr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	v := Time(*t)
	return &v
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

func (a *API) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
