package rules

import (
	"testing"
	"time"
)

const benchSchedule = `{"timezone":"Europe/Paris","windows":[
	{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"12:30"},
	{"days":["mon","tue","wed","thu","fri"],"start":"13:30","end":"18:00"},
	{"days":["sat"],"start":"10:00","end":"14:00"},
	{"days":["sun"],"start":"22:00","end":"06:00"}],
	"exclude_dates":["2026-01-01","2026-04-06","2026-05-01","2026-05-08","2026-05-14","2026-05-25","2026-07-14","2026-08-15","2026-11-01","2026-11-11","2026-12-25"],
	"active_from":"2026-01-01T00:00:00Z"}`

// benchInstants are spread over a year, so the benchmark sees every
// weekday, both offsets, and the days next to the offset changes.
func benchInstants() []time.Time {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]time.Time, 1024)
	for i := range out {
		out[i] = start.Add(time.Duration(i)*8*time.Hour + time.Duration(i)*7*time.Minute)
	}
	return out
}

// BenchmarkScheduleActive is the engine's per-rule, per-event check.
func BenchmarkScheduleActive(b *testing.B) {
	s := schedCompile(b, benchSchedule, "")
	ts := benchInstants()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Active(ts[i&1023])
		i++
	}
}

// BenchmarkScheduleActiveNearChange measures the slow path, taken within a
// few days of an offset change.
func BenchmarkScheduleActiveNearChange(b *testing.B) {
	s := schedCompile(b, benchSchedule, "")
	t := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		s.Active(t)
	}
}

// BenchmarkScheduleWindows is the longest preview the API allows.
func BenchmarkScheduleWindows(b *testing.B) {
	s := schedCompile(b, benchSchedule, "")
	from := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(2160 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		s.Windows(from, to)
	}
}

// BenchmarkCompileSchedule runs once per rule per snapshot; the zone table
// is shared, so this is the cost after the first rule of a zone.
func BenchmarkCompileSchedule(b *testing.B) {
	s := schedCompile(b, benchSchedule, "")
	_ = s
	var settings ScheduleSettings
	settings.Timezone = "Europe/Paris"
	settings.Windows = []ScheduleWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:30"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileSchedule(&settings, "UTC"); err != nil {
			b.Fatal(err)
		}
	}
}
