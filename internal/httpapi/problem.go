package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Problem is an RFC 9457 problem detail. Handlers return it as an error;
// the router writes it.
type Problem struct {
	Type    string             `json:"type"`
	Title   string             `json:"title"`
	Status  int                `json:"status"`
	Detail  string             `json:"detail,omitempty"`
	Errors  []validation.Error `json:"errors,omitempty"`
	RuleIDs []int64            `json:"rule_ids,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// problemTypeBase prefixes the type URIs: they name the kind of problem and
// are stable, so clients may branch on them.
const problemTypeBase = "https://switchboard.dev/problems/"

func newProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: problemTypeBase + slug, Title: title, Status: status, Detail: detail}
}

func errBadRequest(format string, args ...any) *Problem {
	return newProblem(http.StatusBadRequest, "bad-request", "Bad request", fmt.Sprintf(format, args...))
}

// errBadField is a 400 that names the offending field or query parameter.
func errBadField(field, format string, args ...any) *Problem {
	msg := fmt.Sprintf(format, args...)
	p := newProblem(http.StatusBadRequest, "bad-request", "Bad request", field+": "+msg)
	p.Errors = []validation.Error{{Field: field, Message: msg}}
	return p
}

func errUnauthorized(detail string) *Problem {
	return newProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized", detail)
}

func errForbidden(detail string) *Problem {
	return newProblem(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

func errNotFound(what string) *Problem {
	return newProblem(http.StatusNotFound, "not-found", "Not found", what+" not found")
}

func errConflict(detail string) *Problem {
	return newProblem(http.StatusConflict, "conflict", "Conflict", detail)
}

func errTooLarge(limit int64) *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large",
		fmt.Sprintf("the request body may be at most %d bytes", limit))
}

// errInvalid is the 422 for field validation errors.
func errInvalid(errs validation.Errors) *Problem {
	p := newProblem(http.StatusUnprocessableEntity, "validation", "Invalid request", "")
	p.Errors = errs
	if len(errs) == 1 {
		p.Detail = errs[0].Field + ": " + errs[0].Message
	} else {
		p.Detail = fmt.Sprintf("%d fields are invalid", len(errs))
	}
	return p
}

// errInvalidField is a 422 for one field.
func errInvalidField(field, format string, args ...any) *Problem {
	var errs validation.Errors
	errs.Add(field, format, args...)
	return errInvalid(errs)
}

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		// RFC 9110 §11.6.1: a 401 carries a challenge. X-API-Key works
		// too, but has no scheme to announce.
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// asProblem maps an error to the problem the client sees. Validation errors
// become 422; anything unexpected becomes a 500 that hides its cause (the
// router logs it).
func asProblem(err error) (p *Problem, internal bool) {
	var prob *Problem
	if errors.As(err, &prob) {
		return prob, false
	}
	var verrs validation.Errors
	if errors.As(err, &verrs) {
		return errInvalid(verrs), false
	}
	return newProblem(http.StatusInternalServerError, "internal", "Internal server error",
		"the server failed to handle the request; it has been logged"), true
}
