package validation

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxJSONDepth is how deeply JSON may nest in any request body, event
// payloads included (docs/concepts.md#conventions): the request decoders refuse deeper bodies
// (400) and the engine's payload parser stops at the same depth, so
// whatever ingestion accepts the engine can evaluate. A body's top-level
// object or array is level 1.
const MaxJSONDepth = 64

// Text rules (docs/concepts.md#conventions). A text field is valid UTF-8 without control
// characters other than tab and newline: PostgreSQL cannot store NUL, the
// other controls are never meant, and one rule for every store keeps a
// value valid on one store valid on the other.

// TextProblem returns why s may not be stored as a text field, or "".
func TextProblem(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if r != '\t' && r != '\n' && unicode.IsControl(r) {
			return "may not contain control characters other than tab and newline"
		}
	}
	return ""
}

// Text adds an error for field when s breaks the text rules, and reports
// whether s is valid.
func (e *Errors) Text(field, s string) bool {
	if msg := TextProblem(s); msg != "" {
		e.Add(field, "%s", msg)
		return false
	}
	return true
}

// Blank reports whether s is empty or only white space: a name must show
// something.
func Blank(s string) bool { return strings.TrimSpace(s) == "" }

// Name checks a display name (a rule's, tag's, member's, token's, contact
// list's or workspace's): not blank, at most max characters, and text. It
// adds at most one error and reports whether s is valid.
func (e *Errors) Name(field, s string, max int) bool {
	switch {
	case Blank(s):
		e.Add(field, "is required and may not be empty or only white space")
	case utf8.RuneCountInString(s) > max:
		e.Add(field, "must be at most %d characters", max)
	default:
		return e.Text(field, s)
	}
	return false
}

// Times the API accepts lie within years 0001..9999 in UTC (docs/concepts.md#conventions):
// RFC 3339 cannot write others, so a stored time outside would make every
// later response that shows it fail.
var (
	MinTime = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999999999, time.UTC)
)

// TimeInRange reports whether t lies within MinTime..MaxTime.
func TimeInRange(t time.Time) bool { return !t.Before(MinTime) && !t.After(MaxTime) }

// TimeRangeMessage is the message for a time outside MinTime..MaxTime.
const TimeRangeMessage = "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"

// Time adds an error for field when t is outside MinTime..MaxTime, and
// reports whether it is inside.
func (e *Errors) Time(field string, t time.Time) bool {
	if !TimeInRange(t) {
		e.Add(field, "%s", TimeRangeMessage)
		return false
	}
	return true
}
