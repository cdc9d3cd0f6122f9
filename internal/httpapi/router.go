package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
	"github.com/switchboard-hq/switchboard/internal/store"
)

// handlerFunc is a handler that returns its failure instead of writing it,
// so every error leaves the server as problem+json.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Policy says who may call a route. Every route must have one: the role
// test enumerates routes and fails on a route without a policy.
type Policy struct {
	// Public routes need no credentials (health, metrics, OpenAPI).
	Public bool
	// MinRole is the least role allowed. Handlers may narrow further (for
	// example, an agent may revoke only their own token).
	MinRole auth.Role
	// WorkspacePath marks routes with {workspace_id} in the path: a token
	// of another workspace gets 404 before the role is checked.
	WorkspacePath bool
}

// Policies used by the route table.
var (
	public          = Policy{Public: true}
	anyRole         = Policy{MinRole: auth.Agent}
	supervisorOrUp  = Policy{MinRole: auth.Supervisor}
	adminOnly       = Policy{MinRole: auth.Admin}
	workspaceMember = Policy{MinRole: auth.Agent, WorkspacePath: true}
	workspaceAdmin  = Policy{MinRole: auth.Admin, WorkspacePath: true}
)

// Route is one endpoint: how it is served, who may call it, and how the
// OpenAPI document describes it.
type Route struct {
	Method  string
	Path    string // net/http pattern syntax, e.g. /v1/automation/rules/{id}
	Policy  *Policy
	Handler handlerFunc
	Doc     Doc
}

// Doc describes a route for the OpenAPI document.
type Doc struct {
	Summary  string
	Tag      string
	Request  any     // a value of the request body type, or nil
	Response any     // a value of the success body type, or nil (204)
	Status   int     // success status; 200 when zero
	Query    []Param // query parameters
	Errors   []int   // error statuses beyond the ones every route has
	Raw      string  // non-JSON success content type (text/plain, text/csv)
	// StringPath marks path ids that are strings (UUIDv7), not integers.
	StringPath bool
	Notes      []string // extra description lines
}

// Param is a documented query parameter.
type Param struct {
	Name, Type, Description string
}

type ctxKey int

const principalKey ctxKey = iota

// principalFrom returns the authenticated caller.
func principalFrom(ctx context.Context) store.Principal {
	p, _ := ctx.Value(principalKey).(store.Principal)
	return p
}

// buildMux registers every route on a standard ServeMux. Routes sharing a
// path share one dispatcher, so a wrong method gets a problem+json 405 with
// Allow (the mux's own 405 would be plain text), and unknown paths get a
// problem+json 404.
func (a *API) buildMux(routes []Route) *http.ServeMux {
	mux := http.NewServeMux()
	byPath := map[string]map[string]Route{}
	var paths []string
	for _, rt := range routes {
		if rt.Policy == nil {
			panic(fmt.Sprintf("httpapi: route %s %s has no policy", rt.Method, rt.Path))
		}
		if byPath[rt.Path] == nil {
			byPath[rt.Path] = map[string]Route{}
			paths = append(paths, rt.Path)
		}
		if _, dup := byPath[rt.Path][rt.Method]; dup {
			panic(fmt.Sprintf("httpapi: route %s %s registered twice", rt.Method, rt.Path))
		}
		byPath[rt.Path][rt.Method] = rt
	}
	for _, p := range paths {
		methods := byPath[p]
		handlers := map[string]http.Handler{}
		for m, rt := range methods {
			handlers[m] = a.wrap(rt)
		}
		if h, ok := handlers[http.MethodGet]; ok {
			if _, has := handlers[http.MethodHead]; !has {
				handlers[http.MethodHead] = h
			}
		}
		// Allow lists what is served, HEAD included (RFC 9110 §10.2.1).
		allow := make([]string, 0, len(handlers))
		for m := range handlers {
			allow = append(allow, m)
		}
		sort.Strings(allow)
		allowHeader := strings.Join(allow, ", ")
		mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, ok := handlers[r.Method]
			if !ok {
				w.Header().Set("Allow", allowHeader)
				writeProblem(w, newProblem(http.StatusMethodNotAllowed, "method-not-allowed",
					"Method not allowed", fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, allowHeader)))
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, errNotFound("path "+strconv.Quote(r.URL.Path)))
	}))
	return mux
}

// wrap turns a route into an http.Handler: authentication (401), the
// workspace in the path (404), the role (403), then the handler, whose
// errors are written as problems. The order is the contract's (docs/concepts.md#conventions).
func (a *API) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		err := a.serve(rec, r, rt)
		if err != nil {
			p, internal := asProblem(err)
			if internal {
				a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", rt.Path, "err", err)
			}
			if !rec.wrote {
				writeProblem(rec, p)
			}
		}
		a.metrics.observe(rt.Method, rt.Path, rec.status, time.Since(start))
	})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, rt Route) error {
	if rt.Policy.Public {
		return rt.Handler(w, r)
	}
	p, err := a.authenticate(r)
	if err != nil {
		return err
	}
	if rt.Policy.WorkspacePath {
		id, err := strconv.ParseInt(r.PathValue("workspace_id"), 10, 64)
		if err != nil || id != p.Token.WorkspaceID {
			return errNotFound("workspace")
		}
	}
	if !p.Role().AtLeast(rt.Policy.MinRole) {
		return errForbidden(fmt.Sprintf("this requires the %s role or above; the credential acts as %s", rt.Policy.MinRole, p.Role()))
	}
	return rt.Handler(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
}

// authenticate reads the credential from Authorization: Bearer or
// X-API-Key and resolves it to a live principal.
func (a *API) authenticate(r *http.Request) (store.Principal, error) {
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return store.Principal{}, errUnauthorized("the Authorization header must be \"Bearer <token>\"")
		}
		token = strings.TrimSpace(rest)
	} else {
		token = strings.TrimSpace(r.Header.Get("X-API-Key"))
	}
	if token == "" {
		return store.Principal{}, errUnauthorized("send an API token as \"Authorization: Bearer <token>\" or \"X-API-Key: <token>\"")
	}
	if !auth.LooksLikeToken(token) {
		return store.Principal{}, errInvalidToken()
	}
	hash := auth.HashToken(token)
	p, cached := a.creds.get(hash)
	if !cached {
		var err error
		p, err = a.store.Authenticate(r.Context(), hash)
		if errors.Is(err, store.ErrNotFound) {
			return store.Principal{}, errInvalidToken()
		}
		if err != nil {
			return store.Principal{}, fmt.Errorf("authenticate: %w", err)
		}
		if p.Token.RevokedAt == nil {
			a.creds.put(hash, p)
		}
	}
	// The lookup was by hash; compare again in constant time so the
	// decision never depends on how a database compares strings.
	if !auth.Equal(p.Token.Hash, hash) || p.Token.RevokedAt != nil ||
		(p.Token.ExpiresAt != nil && !a.clock.Now().Before(*p.Token.ExpiresAt)) {
		return store.Principal{}, errInvalidToken()
	}
	return p, nil
}

// errInvalidToken is the one answer for every unusable token, so that an
// answer never tells which check failed.
func errInvalidToken() error { return errUnauthorized("the token is invalid, revoked or expired") }

// statusRecorder remembers the status for metrics and whether a response
// was started (so a late error is not written over it).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status = code
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.wrote = true
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logAttrs is the request's identity in logs.
func logAttrs(r *http.Request) []any {
	return []any{slog.String("method", r.Method), slog.String("path", r.URL.Path)}
}
