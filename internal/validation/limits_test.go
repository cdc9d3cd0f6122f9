package validation

import (
	"strings"
	"testing"
	"time"
)

func TestTextProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", "Billing", true},
		{"empty", "", true},
		{"tab and newline", "a\tb\nc", true},
		{"non-ASCII", "Zoë — 日本", true},
		{"U+FFFD written out", "a\uFFFDb", true},
		{"NUL", "a\x00b", false},
		{"carriage return", "a\rb", false},
		{"escape", "\x1b[31m", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u0085b", false},
		{"invalid UTF-8", "a\xffb", false},
		{"truncated sequence", "\xe2\x82", false},
	}
	for _, tt := range tests {
		if got := TextProblem(tt.in) == ""; got != tt.ok {
			t.Errorf("%s: TextProblem(%q) = %q, want valid %v", tt.name, tt.in, TextProblem(tt.in), tt.ok)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", "VIP", true},
		{"at the limit", strings.Repeat("é", 10), true},
		{"over the limit", strings.Repeat("é", 11), false},
		{"empty", "", false},
		{"spaces", "   ", false},
		{"white space of every kind", " \t\n\u00a0\u3000", false},
		{"NUL", "a\x00", false},
	}
	for _, tt := range tests {
		var errs Errors
		ok := errs.Name("name", tt.in, 10)
		if ok != tt.ok || ok != (len(errs) == 0) {
			t.Errorf("%s: Name(%q) = %v with %v, want %v", tt.name, tt.in, ok, errs, tt.ok)
		}
		if len(errs) > 1 || len(errs) == 1 && errs[0].Field != "name" {
			t.Errorf("%s: errors %v, want at most one for name", tt.name, errs)
		}
	}
}

func TestTimeInRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"0001-01-01T00:00:00Z", true},
		{"9999-12-31T23:59:59.999Z", true},
		{"2026-06-15T09:00:00+02:00", true},
		{"0000-12-31T23:59:59Z", false},
		{"0001-01-01T00:30:00+01:00", false}, // 0000-12-31T23:30Z
		{"9999-12-31T23:00:00-01:00", false}, // 10000-01-01T00:00Z
		{"9999-12-31T23:59:59-00:01", false},
	}
	for _, tt := range tests {
		v, err := time.Parse(time.RFC3339Nano, tt.in)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.in, err)
		}
		var errs Errors
		if got := errs.Time("at", v); got != tt.ok || got != (len(errs) == 0) {
			t.Errorf("Time(%s) = %v (%v), want %v", tt.in, got, errs, tt.ok)
		}
	}
}
