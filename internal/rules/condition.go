package rules

import (
	"encoding/json"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Condition is a parsed condition (placeholder until the condition model lands).
type Condition struct{}

// ParseConditions parses and validates a rule's conditions.
func ParseConditions(raw json.RawMessage, triggerType string) ([]Condition, validation.Errors) {
	return nil, nil
}

// ContactListIDs returns the contact lists conditions refer to.
func ContactListIDs(conds []Condition) []int64 { return nil }
