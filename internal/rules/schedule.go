package rules

import (
	"time"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// ScheduleSettings limits when a rule is in effect (API.md §6). A nil
// *ScheduleSettings means always in schedule.
type ScheduleSettings struct {
	// Timezone is an IANA zone; empty means the workspace's.
	Timezone     string           `json:"timezone,omitempty"`
	Windows      []ScheduleWindow `json:"windows"`
	ExcludeDates []string         `json:"exclude_dates,omitempty"`
	ActiveFrom   *time.Time       `json:"active_from,omitempty"`
	ActiveUntil  *time.Time       `json:"active_until,omitempty"`
}

// ScheduleWindow is a weekly window of local time.
type ScheduleWindow struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

// Validate checks schedule settings (placeholder until the schedule model lands).
func (s *ScheduleSettings) Validate() validation.Errors { return nil }
