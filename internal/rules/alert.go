package rules

import (
	"sort"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// AlertSettings says when a rule's failure rate should raise an alert
// (docs/concepts.md#alerting). A nil *AlertSettings means alerting is off.
type AlertSettings struct {
	Enabled                bool     `json:"enabled"`
	WindowMinutes          int      `json:"window_minutes"`
	MinMatchedRuns         int      `json:"min_matched_runs"`
	WarningFailureRatePct  float64  `json:"warning_failure_rate_pct"`
	CriticalFailureRatePct float64  `json:"critical_failure_rate_pct"`
	Notify                 []string `json:"notify"`
	RenotifyMinutes        int      `json:"renotify_minutes"`
}

// Notification channels for alerts.
const (
	NotifyWebhook = "webhook"
	NotifyEmail   = "email"
)

// AlertPresets are the named alert settings of the contract.
var AlertPresets = map[string]AlertSettings{
	"off":     {Enabled: false, WindowMinutes: 1440, MinMatchedRuns: 10, WarningFailureRatePct: 20, CriticalFailureRatePct: 50, Notify: []string{NotifyWebhook, NotifyEmail}, RenotifyMinutes: 60},
	"default": {Enabled: true, WindowMinutes: 1440, MinMatchedRuns: 10, WarningFailureRatePct: 20, CriticalFailureRatePct: 50, Notify: []string{NotifyWebhook, NotifyEmail}, RenotifyMinutes: 60},
	"strict":  {Enabled: true, WindowMinutes: 60, MinMatchedRuns: 5, WarningFailureRatePct: 5, CriticalFailureRatePct: 20, Notify: []string{NotifyWebhook, NotifyEmail}, RenotifyMinutes: 60},
	"relaxed": {Enabled: true, WindowMinutes: 1440, MinMatchedRuns: 50, WarningFailureRatePct: 40, CriticalFailureRatePct: 80, Notify: []string{NotifyWebhook, NotifyEmail}, RenotifyMinutes: 60},
}

// PresetNames returns the preset names, sorted, for error messages and docs.
func PresetNames() []string {
	names := make([]string, 0, len(AlertPresets))
	for n := range AlertPresets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a copy of the named preset.
func Preset(name string) (*AlertSettings, bool) {
	p, ok := AlertPresets[name]
	if !ok {
		return nil, false
	}
	p.Notify = append([]string(nil), p.Notify...)
	return &p, true
}

// Validate checks the ranges of the contract; fields are relative.
func (a *AlertSettings) Validate() validation.Errors {
	var errs validation.Errors
	if a.WindowMinutes < 5 || a.WindowMinutes > 43200 {
		errs.Add("window_minutes", "must be between 5 and 43200")
	}
	if a.MinMatchedRuns < 1 || a.MinMatchedRuns > 100000 {
		errs.Add("min_matched_runs", "must be between 1 and 100000")
	}
	if a.WarningFailureRatePct < 0 || a.WarningFailureRatePct > 100 {
		errs.Add("warning_failure_rate_pct", "must be between 0 and 100")
	}
	switch {
	case a.CriticalFailureRatePct < 0 || a.CriticalFailureRatePct > 100:
		errs.Add("critical_failure_rate_pct", "must be between 0 and 100")
	case a.CriticalFailureRatePct < a.WarningFailureRatePct:
		errs.Add("critical_failure_rate_pct", "must be at least warning_failure_rate_pct")
	}
	seen := map[string]bool{}
	for i, n := range a.Notify {
		if n != NotifyWebhook && n != NotifyEmail {
			errs.Add(validation.Index("notify", i), "must be \"webhook\" or \"email\"")
		} else if seen[n] {
			errs.Add(validation.Index("notify", i), "is listed twice")
		}
		seen[n] = true
	}
	if a.RenotifyMinutes < 5 || a.RenotifyMinutes > 10080 {
		errs.Add("renotify_minutes", "must be between 5 and 10080")
	}
	return errs
}
