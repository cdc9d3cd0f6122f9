// Package validation carries field-level validation errors from the places
// that know the rules (the rule model, the directory) to the HTTP layer,
// which renders them as the "errors" member of an RFC 9457 problem.
package validation

import (
	"fmt"
	"strings"
)

// Error is one invalid field. Field is a path such as
// "conditions[0].operator" or "schedule_settings.windows[1].start".
type Error struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Errors is a list of field errors. A nil or empty Errors means valid.
type Errors []Error

// Add appends an error for field.
func (e *Errors) Add(field, format string, args ...any) {
	*e = append(*e, Error{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge appends every error of other, prefixing each field with prefix
// (joined with a dot unless other's field starts with "[").
func (e *Errors) Merge(prefix string, other Errors) {
	for _, o := range other {
		*e = append(*e, Error{Field: Join(prefix, o.Field), Message: o.Message})
	}
}

// Join joins a path prefix and a field name: Join("a", "b") = "a.b",
// Join("a", "[0]") = "a[0]", Join("", "b") = "b".
func Join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	default:
		return prefix + "." + field
	}
}

// Index returns "prefix[i]".
func Index(prefix string, i int) string { return fmt.Sprintf("%s[%d]", prefix, i) }

// Err returns e as an error, or nil when there is nothing in it.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Error implements error.
func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, x := range e {
		parts[i] = x.Field + ": " + x.Message
	}
	return "validation: " + strings.Join(parts, "; ")
}
