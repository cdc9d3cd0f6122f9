package validation

import (
	"errors"
	"testing"
)

func TestJoinAndIndex(t *testing.T) {
	t.Parallel()
	tests := []struct{ prefix, field, want string }{
		{"", "name", "name"},
		{"actions", "", "actions"},
		{"actions", "[0]", "actions[0]"},
		{"conditions[1]", "any[0].value", "conditions[1].any[0].value"},
	}
	for _, tt := range tests {
		if got := Join(tt.prefix, tt.field); got != tt.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tt.prefix, tt.field, got, tt.want)
		}
	}
	if got := Index("actions", 3); got != "actions[3]" {
		t.Errorf("Index = %q", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	var errs Errors
	if errs.Err() != nil {
		t.Fatal("empty Errors is an error")
	}
	var nested Errors
	nested.Add("[0].operator", "unknown operator %q", "eq")
	nested.Add("list_id", "is required")
	errs.Add("name", "is required")
	errs.Merge("conditions", nested)
	want := []Error{
		{"name", "is required"},
		{"conditions[0].operator", `unknown operator "eq"`},
		{"conditions.list_id", "is required"},
	}
	if len(errs) != len(want) {
		t.Fatalf("errs = %v", errs)
	}
	for i := range want {
		if errs[i] != want[i] {
			t.Errorf("errs[%d] = %v, want %v", i, errs[i], want[i])
		}
	}
	var target Errors
	if err := errs.Err(); !errors.As(err, &target) || len(target) != 3 {
		t.Errorf("Err() = %v, not the Errors", err)
	}
}
