package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below must exist on any machine

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// schedTime parses an RFC 3339 instant or fails the test.
func schedTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

func schedTimePtr(t testing.TB, s string) *time.Time {
	v := schedTime(t, s)
	return &v
}

// schedCompile compiles settings given as JSON, as the API receives them.
func schedCompile(t testing.TB, settings, defaultTZ string) *Schedule {
	t.Helper()
	var s ScheduleSettings
	dec := json.NewDecoder(strings.NewReader(settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("bad test settings %s: %v", settings, err)
	}
	c, err := CompileSchedule(&s, defaultTZ)
	if err != nil {
		t.Fatalf("CompileSchedule(%s): %v", settings, err)
	}
	return c
}

var schedEveryDay = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func TestScheduleValidateInvalid(t *testing.T) {
	t.Parallel()
	win := func(days []string, start, end string) ScheduleWindow {
		return ScheduleWindow{Days: days, Start: start, End: end}
	}
	mon := []string{"mon"}
	tooManyWindows := make([]ScheduleWindow, MaxScheduleWindows+1)
	for i := range tooManyWindows {
		tooManyWindows[i] = win(mon, "09:00", "10:00")
	}
	tooManyDates := make([]string, MaxExcludeDates+1)
	for i := range tooManyDates {
		tooManyDates[i] = time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}

	tests := []struct {
		name  string
		s     ScheduleSettings
		field string
	}{
		{"unknown zone", ScheduleSettings{Timezone: "Mars/Olympus_Mons"}, "timezone"},
		{"Local is not a zone", ScheduleSettings{Timezone: "Local"}, "timezone"},
		{"zone path escape", ScheduleSettings{Timezone: "../etc/passwd"}, "timezone"},
		{"leap-second zone", ScheduleSettings{Timezone: "right/UTC"}, "timezone"},
		{"too many windows", ScheduleSettings{Windows: tooManyWindows}, "windows"},
		{"no days", ScheduleSettings{Windows: []ScheduleWindow{win(nil, "09:00", "17:00")}}, "windows[0].days"},
		{"empty days", ScheduleSettings{Windows: []ScheduleWindow{win([]string{}, "09:00", "17:00")}}, "windows[0].days"},
		{"unknown day", ScheduleSettings{Windows: []ScheduleWindow{win([]string{"mon", "tue", "funday"}, "09:00", "17:00")}}, "windows[0].days[2]"},
		{"capitalised day", ScheduleSettings{Windows: []ScheduleWindow{win([]string{"Mon"}, "09:00", "17:00")}}, "windows[0].days[0]"},
		{"full day name", ScheduleSettings{Windows: []ScheduleWindow{win([]string{"monday"}, "09:00", "17:00")}}, "windows[0].days[0]"},
		{"duplicate day", ScheduleSettings{Windows: []ScheduleWindow{win([]string{"mon", "tue", "mon"}, "09:00", "17:00")}}, "windows[0].days[2]"},
		{"start 24:00", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "24:00", "17:00")}}, "windows[0].start"},
		{"start without leading zero", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "9:00", "17:00")}}, "windows[0].start"},
		{"start minute 60", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:60", "17:00")}}, "windows[0].start"},
		{"start hour 25", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "25:00", "17:00")}}, "windows[0].start"},
		{"start empty", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "", "17:00")}}, "windows[0].start"},
		{"start with seconds", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:00:00", "17:00")}}, "windows[0].start"},
		{"start with sign", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "+9:00", "17:00")}}, "windows[0].start"},
		{"end 24:01", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:00", "24:01")}}, "windows[0].end"},
		{"end 25:00", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:00", "25:00")}}, "windows[0].end"},
		{"end with spaces", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:00", " 17:00")}}, "windows[0].end"},
		{"start equals end", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:00", "09:00")}}, "windows[0].end"},
		{"midnight to midnight", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "00:00", "00:00")}}, "windows[0].end"},
		{"second window", ScheduleSettings{Windows: []ScheduleWindow{win(mon, "09:00", "10:00"), win(mon, "9h", "10:00")}}, "windows[1].start"},
		{"too many dates", ScheduleSettings{ExcludeDates: tooManyDates}, "exclude_dates"},
		{"impossible date", ScheduleSettings{ExcludeDates: []string{"2026-12-25", "2026-02-30"}}, "exclude_dates[1]"},
		{"short month", ScheduleSettings{ExcludeDates: []string{"2026-1-05"}}, "exclude_dates[0]"},
		{"two-digit year", ScheduleSettings{ExcludeDates: []string{"26-01-05"}}, "exclude_dates[0]"},
		{"date with time", ScheduleSettings{ExcludeDates: []string{"2026-01-05T00:00:00Z"}}, "exclude_dates[0]"},
		{"until before from", ScheduleSettings{ActiveFrom: schedTimePtr(t, "2026-02-01T00:00:00Z"), ActiveUntil: schedTimePtr(t, "2026-01-01T00:00:00Z")}, "active_until"},
		{"until equals from", ScheduleSettings{ActiveFrom: schedTimePtr(t, "2026-02-01T00:00:00Z"), ActiveUntil: schedTimePtr(t, "2026-02-01T01:00:00+01:00")}, "active_until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := tt.s.Validate()
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
				if e.Message == "" {
					t.Errorf("%s: empty message", e.Field)
				}
			}
			if diff := cmp.Diff([]string{tt.field}, fields); diff != "" {
				t.Errorf("Validate() fields (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			if _, err := CompileSchedule(&tt.s, "UTC"); err == nil {
				t.Error("CompileSchedule accepted invalid settings")
			}
		})
	}
}

func TestScheduleValidateValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    ScheduleSettings
	}{
		{"empty", ScheduleSettings{}},
		{"empty windows", ScheduleSettings{Windows: []ScheduleWindow{}}},
		{"business hours", ScheduleSettings{Timezone: "Europe/Paris", Windows: []ScheduleWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:30"}}}},
		{"whole day", ScheduleSettings{Windows: []ScheduleWindow{{Days: schedEveryDay, Start: "00:00", End: "24:00"}}}},
		{"overnight", ScheduleSettings{Windows: []ScheduleWindow{{Days: []string{"mon"}, Start: "22:00", End: "06:00"}}}},
		{"overnight to midnight", ScheduleSettings{Windows: []ScheduleWindow{{Days: []string{"sun"}, Start: "23:59", End: "00:00"}}}},
		{"utc", ScheduleSettings{Timezone: "UTC"}},
		{"dates", ScheduleSettings{ExcludeDates: []string{"2026-12-25", "2028-02-29", "2026-12-25"}}},
		{"from only", ScheduleSettings{ActiveFrom: schedTimePtr(t, "2026-01-01T00:00:00Z")}},
		{"until only", ScheduleSettings{ActiveUntil: schedTimePtr(t, "2026-01-01T00:00:00Z")}},
		{"from and until", ScheduleSettings{ActiveFrom: schedTimePtr(t, "2026-01-01T00:00:00Z"), ActiveUntil: schedTimePtr(t, "2026-01-01T00:00:00.001Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if errs := tt.s.Validate(); len(errs) > 0 {
				t.Errorf("Validate() = %v, want no errors", errs)
			}
			if _, err := CompileSchedule(&tt.s, "Europe/Paris"); err != nil {
				t.Errorf("CompileSchedule() = %v", err)
			}
		})
	}
}

func TestScheduleSettingsJSONShape(t *testing.T) {
	t.Parallel()
	in := `{"timezone":"Europe/Paris","windows":[{"days":["mon"],"start":"09:00","end":"17:30"}],"exclude_dates":["2026-12-25"],"active_from":"2026-01-01T00:00:00Z","active_until":"2027-01-01T00:00:00Z"}`
	var s ScheduleSettings
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, string(out)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestCompileSchedule(t *testing.T) {
	t.Parallel()
	c, err := CompileSchedule(nil, "Europe/Paris")
	if c != nil || err != nil {
		t.Errorf("CompileSchedule(nil) = %v, %v; want nil, nil", c, err)
	}
	if _, err := CompileSchedule(&ScheduleSettings{}, "Mars/Olympus_Mons"); err == nil {
		t.Error("CompileSchedule accepted an unknown workspace zone")
	}
	for _, tt := range []struct{ tz, defaultTZ, want string }{
		{"", "", "UTC"},
		{"", "America/New_York", "America/New_York"},
		{"Europe/Paris", "America/New_York", "Europe/Paris"},
	} {
		c, err := CompileSchedule(&ScheduleSettings{Timezone: tt.tz}, tt.defaultTZ)
		if err != nil {
			t.Fatalf("CompileSchedule(%q, %q): %v", tt.tz, tt.defaultTZ, err)
		}
		if got := c.Location().String(); got != tt.want {
			t.Errorf("CompileSchedule(%q, %q).Location() = %q, want %q", tt.tz, tt.defaultTZ, got, tt.want)
		}
	}
}

func TestNilSchedule(t *testing.T) {
	t.Parallel()
	var s *Schedule
	from := schedTime(t, "2026-11-22T10:30:00.123+01:00")
	to := from.Add(168 * time.Hour)
	if !s.Active(from) {
		t.Error("nil schedule is not active")
	}
	if got := s.Location(); got != time.UTC {
		t.Errorf("Location() = %v, want UTC", got)
	}
	want := []TimeRange{{from.UTC(), to.UTC()}}
	if diff := cmp.Diff(want, s.Windows(from, to)); diff != "" {
		t.Errorf("Windows (-want +got):\n%s", diff)
	}
	if got := s.Windows(to, from); len(got) != 0 {
		t.Errorf("Windows(to, from) = %v, want none", got)
	}
}

// TestScheduleHandComputed checks Windows and Active against instants
// worked out by hand (the comments give the local reading). Dates: 2026-11-23
// is a Monday; Paris goes from CEST (+2) to CET (+1) at 2026-10-25T01:00Z;
// New York from EST (-5) to EDT (-4) at 2026-03-08T07:00Z.
func TestScheduleHandComputed(t *testing.T) {
	t.Parallel()
	type probe struct {
		at   string
		want bool
	}
	tests := []struct {
		name      string
		settings  string
		defaultTZ string
		from, to  string
		want      [][2]string
		probes    []probe
	}{
		{
			name:     "touching windows merge",
			settings: `{"windows":[{"days":["mon"],"start":"09:00","end":"12:00"},{"days":["mon"],"start":"12:00","end":"17:00"}]}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-24T00:00:00Z",
			want:     [][2]string{{"2026-11-23T09:00:00Z", "2026-11-23T17:00:00Z"}},
			probes: []probe{
				{"2026-11-23T08:59:59.999Z", false}, {"2026-11-23T09:00:00Z", true},
				{"2026-11-23T11:59:59Z", true}, {"2026-11-23T12:00:00Z", true},
				{"2026-11-23T16:59:59.999999999Z", true}, {"2026-11-23T17:00:00Z", false},
				{"2026-11-30T10:00:00Z", true}, {"2026-11-24T10:00:00Z", false},
			},
		},
		{
			name:     "overlapping windows merge",
			settings: `{"windows":[{"days":["mon"],"start":"09:00","end":"13:00"},{"days":["mon","tue"],"start":"10:00","end":"11:00"},{"days":["mon"],"start":"12:00","end":"18:00"}]}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-25T00:00:00Z",
			want: [][2]string{
				{"2026-11-23T09:00:00Z", "2026-11-23T18:00:00Z"},
				{"2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z"},
			},
		},
		{
			name:     "overnight window belongs to the day it starts",
			settings: `{"windows":[{"days":["mon"],"start":"22:00","end":"06:00"}]}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-25T00:00:00Z",
			want:     [][2]string{{"2026-11-23T22:00:00Z", "2026-11-24T06:00:00Z"}},
			probes: []probe{
				{"2026-11-23T21:59:59Z", false}, {"2026-11-23T22:00:00Z", true},
				{"2026-11-24T00:00:00Z", true}, {"2026-11-24T05:59:59Z", true},
				{"2026-11-24T06:00:00Z", false}, {"2026-11-24T22:30:00Z", false},
			},
		},
		{
			name:     "window that started before from",
			settings: `{"windows":[{"days":["mon"],"start":"22:00","end":"06:00"}]}`,
			from:     "2026-11-24T03:00:00.5Z",
			to:       "2026-11-24T12:00:00Z",
			want:     [][2]string{{"2026-11-24T03:00:00.5Z", "2026-11-24T06:00:00Z"}},
		},
		{
			name:     "sunday overnight wraps into monday",
			settings: `{"windows":[{"days":["sun"],"start":"23:00","end":"01:00"}]}`,
			from:     "2026-11-22T00:00:00Z",
			to:       "2026-11-24T00:00:00Z",
			want:     [][2]string{{"2026-11-22T23:00:00Z", "2026-11-23T01:00:00Z"}},
			probes:   []probe{{"2026-11-23T00:30:00Z", true}, {"2026-11-23T01:00:00Z", false}},
		},
		{
			name:     "end 24:00 touches the next day's window",
			settings: `{"windows":[{"days":["mon"],"start":"20:00","end":"24:00"},{"days":["tue"],"start":"00:00","end":"02:00"}]}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-25T00:00:00Z",
			want:     [][2]string{{"2026-11-23T20:00:00Z", "2026-11-24T02:00:00Z"}},
			probes: []probe{
				{"2026-11-23T23:59:59.999Z", true}, {"2026-11-24T00:00:00Z", true},
				{"2026-11-24T01:59:59Z", true}, {"2026-11-24T02:00:00Z", false},
			},
		},
		{
			name:     "excluded date removes the overnight window starting on it",
			settings: `{"windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"22:00","end":"06:00"}],"exclude_dates":["2026-12-24"]}`,
			from:     "2026-12-23T00:00:00Z",
			to:       "2026-12-27T00:00:00Z",
			want: [][2]string{
				{"2026-12-23T00:00:00Z", "2026-12-23T06:00:00Z"},
				{"2026-12-23T22:00:00Z", "2026-12-24T06:00:00Z"}, // started on the 23rd: kept
				{"2026-12-25T22:00:00Z", "2026-12-26T06:00:00Z"},
				{"2026-12-26T22:00:00Z", "2026-12-27T00:00:00Z"},
			},
			probes: []probe{
				{"2026-12-24T05:00:00Z", true}, {"2026-12-24T23:00:00Z", false},
				{"2026-12-25T03:00:00Z", false}, {"2026-12-25T22:00:00Z", true},
			},
		},
		{
			name:     "active_from and active_until clip",
			settings: `{"windows":[{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00"}],"active_from":"2026-11-23T11:30:00+01:00","active_until":"2026-11-24T12:00:00Z"}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-26T00:00:00Z",
			want: [][2]string{
				{"2026-11-23T10:30:00Z", "2026-11-23T17:00:00Z"},
				{"2026-11-24T09:00:00Z", "2026-11-24T12:00:00Z"},
			},
			probes: []probe{
				{"2026-11-23T10:29:59.999Z", false}, {"2026-11-23T10:30:00Z", true},
				{"2026-11-24T11:59:59.999Z", true}, {"2026-11-24T12:00:00Z", false},
				{"2026-11-25T10:00:00Z", false},
			},
		},
		{
			name:     "no windows means all day, minus excluded local days",
			settings: `{"timezone":"Europe/Paris","exclude_dates":["2026-11-24"]}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-26T00:00:00Z",
			// 24 November in Paris (CET, +1) is 23 Nov 23:00Z to 24 Nov 23:00Z.
			want: [][2]string{
				{"2026-11-23T00:00:00Z", "2026-11-23T23:00:00Z"},
				{"2026-11-24T23:00:00Z", "2026-11-26T00:00:00Z"},
			},
			probes: []probe{
				{"2026-11-23T22:59:59Z", true}, {"2026-11-23T23:00:00Z", false},
				{"2026-11-24T22:59:59Z", false}, {"2026-11-24T23:00:00Z", true},
			},
		},
		{
			name:     "no windows and only bounds",
			settings: `{"windows":[],"active_until":"2026-11-24T12:00:00Z"}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-26T00:00:00Z",
			want:     [][2]string{{"2026-11-23T00:00:00Z", "2026-11-24T12:00:00Z"}},
			probes:   []probe{{"2020-01-01T00:00:00Z", true}, {"2026-11-24T12:00:00Z", false}},
		},
		{
			name:     "bounds outside the range",
			settings: `{"active_from":"2027-01-01T00:00:00Z"}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-11-26T00:00:00Z",
			want:     [][2]string{},
		},
		{
			name:      "workspace zone when timezone is empty",
			settings:  `{"windows":[{"days":["mon"],"start":"09:00","end":"10:00"}]}`,
			defaultTZ: "America/New_York",
			from:      "2026-11-23T00:00:00Z",
			to:        "2026-11-24T00:00:00Z",
			want:      [][2]string{{"2026-11-23T14:00:00Z", "2026-11-23T15:00:00Z"}},
		},
		{
			name:     "Paris daily hours across the fall-back",
			settings: `{"timezone":"Europe/Paris","windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"09:00","end":"17:00"}]}`,
			from:     "2026-10-24T00:00:00Z",
			to:       "2026-10-26T00:00:00Z",
			want: [][2]string{
				{"2026-10-24T07:00:00Z", "2026-10-24T15:00:00Z"}, // Saturday, CEST
				{"2026-10-25T08:00:00Z", "2026-10-25T16:00:00Z"}, // Sunday, CET
			},
			probes: []probe{
				{"2026-10-24T06:59:59Z", false}, {"2026-10-24T07:00:00Z", true},
				{"2026-10-25T07:30:00Z", false}, {"2026-10-25T15:30:00Z", true},
				{"2026-10-25T16:00:00Z", false},
			},
		},
		{
			name:     "Paris ambiguous start is the earlier instant",
			settings: `{"timezone":"Europe/Paris","windows":[{"days":["sun"],"start":"02:30","end":"04:00"}]}`,
			from:     "2026-10-24T12:00:00Z",
			to:       "2026-10-25T12:00:00Z",
			// 02:30 CEST = 00:30Z (not 02:30 CET = 01:30Z); 04:00 CET = 03:00Z.
			want: [][2]string{{"2026-10-25T00:30:00Z", "2026-10-25T03:00:00Z"}},
			probes: []probe{
				{"2026-10-25T00:29:59Z", false}, {"2026-10-25T00:30:00Z", true},
				{"2026-10-25T01:15:00Z", true}, // 02:15 CET: before 02:30 on the wall, but inside
				{"2026-10-25T02:59:59Z", true}, {"2026-10-25T03:00:00Z", false},
			},
		},
		{
			name:     "Paris ambiguous end is the earlier instant",
			settings: `{"timezone":"Europe/Paris","windows":[{"days":["sun"],"start":"01:00","end":"02:30"}]}`,
			from:     "2026-10-24T12:00:00Z",
			to:       "2026-10-25T12:00:00Z",
			// 01:00 CEST = 24 Oct 23:00Z; 02:30 CEST = 00:30Z.
			want: [][2]string{{"2026-10-24T23:00:00Z", "2026-10-25T00:30:00Z"}},
			probes: []probe{
				{"2026-10-24T22:59:59Z", false}, {"2026-10-24T23:00:00Z", true},
				{"2026-10-25T00:29:59Z", true}, {"2026-10-25T00:30:00Z", false},
				{"2026-10-25T01:15:00Z", false}, // 02:15 CET, the second pass
			},
		},
		{
			name:     "Paris window over the repeated hour lasts two hours",
			settings: `{"timezone":"Europe/Paris","windows":[{"days":["sun"],"start":"02:00","end":"03:00"}]}`,
			from:     "2026-10-24T12:00:00Z",
			to:       "2026-10-25T12:00:00Z",
			want:     [][2]string{{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"}},
			probes:   []probe{{"2026-10-25T01:59:59Z", true}, {"2026-10-25T02:00:00Z", false}},
		},
		{
			name:     "New York window starting in the gap starts after it",
			settings: `{"timezone":"America/New_York","windows":[{"days":["sun"],"start":"02:30","end":"05:00"}]}`,
			from:     "2026-03-07T12:00:00Z",
			to:       "2026-03-09T00:00:00Z",
			// 02:30 does not exist: 03:00 EDT = 07:00Z; 05:00 EDT = 09:00Z.
			want: [][2]string{{"2026-03-08T07:00:00Z", "2026-03-08T09:00:00Z"}},
			probes: []probe{
				{"2026-03-08T06:59:59Z", false}, {"2026-03-08T07:00:00Z", true},
				{"2026-03-08T08:59:59Z", true}, {"2026-03-08T09:00:00Z", false},
			},
		},
		{
			name:     "New York window ending in the gap ends at it",
			settings: `{"timezone":"America/New_York","windows":[{"days":["sun"],"start":"01:00","end":"02:30"}]}`,
			from:     "2026-03-07T12:00:00Z",
			to:       "2026-03-09T00:00:00Z",
			want:     [][2]string{{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"}},
			probes:   []probe{{"2026-03-08T06:59:59Z", true}, {"2026-03-08T07:00:00Z", false}},
		},
		{
			name:     "New York window inside the gap is empty that day",
			settings: `{"timezone":"America/New_York","windows":[{"days":["sun"],"start":"02:00","end":"02:45"}]}`,
			from:     "2026-03-01T00:00:00Z",
			to:       "2026-03-09T00:00:00Z",
			want:     [][2]string{{"2026-03-01T07:00:00Z", "2026-03-01T07:45:00Z"}},
			probes:   []probe{{"2026-03-08T07:00:00Z", false}, {"2026-03-08T06:59:59Z", false}},
		},
		{
			name:     "New York overnight window across the spring-forward",
			settings: `{"timezone":"America/New_York","windows":[{"days":["sat"],"start":"22:00","end":"06:00"}]}`,
			from:     "2026-03-07T00:00:00Z",
			to:       "2026-03-09T00:00:00Z",
			// Saturday 22:00 EST = 03:00Z; Sunday 06:00 EDT = 10:00Z: seven hours.
			want:   [][2]string{{"2026-03-08T03:00:00Z", "2026-03-08T10:00:00Z"}},
			probes: []probe{{"2026-03-08T02:59:59Z", false}, {"2026-03-08T09:59:59Z", true}, {"2026-03-08T10:00:00Z", false}},
		},
		{
			name:     "New York daily hours across the spring-forward",
			settings: `{"timezone":"America/New_York","windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"09:00","end":"17:00"}]}`,
			from:     "2026-03-07T00:00:00Z",
			to:       "2026-03-09T00:00:00Z",
			want: [][2]string{
				{"2026-03-07T14:00:00Z", "2026-03-07T22:00:00Z"}, // EST
				{"2026-03-08T13:00:00Z", "2026-03-08T21:00:00Z"}, // EDT
			},
		},
		{
			name:     "excluded day in the local zone, not UTC",
			settings: `{"timezone":"America/New_York","windows":[{"days":["mon"],"start":"20:00","end":"23:00"}],"exclude_dates":["2026-11-23"]}`,
			from:     "2026-11-23T00:00:00Z",
			to:       "2026-12-01T12:00:00Z",
			// 23 Nov 20:00 EST is 24 Nov 01:00Z, still removed; the next Monday stays.
			want:   [][2]string{{"2026-12-01T01:00:00Z", "2026-12-01T04:00:00Z"}},
			probes: []probe{{"2026-11-24T01:30:00Z", false}, {"2026-12-01T01:30:00Z", true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := schedCompile(t, tt.settings, tt.defaultTZ)
			from, to := schedTime(t, tt.from), schedTime(t, tt.to)
			want := []TimeRange{}
			for _, w := range tt.want {
				want = append(want, TimeRange{schedTime(t, w[0]), schedTime(t, w[1])})
			}
			got := s.Windows(from, to)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Windows(%s, %s) (-want +got):\n%s", tt.from, tt.to, diff)
			}
			for _, p := range tt.probes {
				if got := s.Active(schedTime(t, p.at)); got != p.want {
					t.Errorf("Active(%s) = %v, want %v", p.at, got, p.want)
				}
			}
		})
	}
}

// TestScheduleWindowsLongRange previews the longest range the API allows
// and checks the count: 90 days of weekday hours in Paris, whatever the DST
// change in between.
func TestScheduleWindowsLongRange(t *testing.T) {
	t.Parallel()
	s := schedCompile(t, `{"timezone":"Europe/Paris","windows":[{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00"}]}`, "")
	from := schedTime(t, "2026-09-01T00:00:00Z") // a Tuesday
	got := s.Windows(from, from.Add(2160*time.Hour))
	// 1 Sep to 29 Nov 2026 (90 days) holds 64 weekdays.
	if len(got) != 64 {
		t.Fatalf("got %d windows, want 64", len(got))
	}
	for _, w := range got {
		if d := w.End.Sub(w.Start); d != 8*time.Hour {
			t.Errorf("window %v lasts %v, want 8h", w, d)
		}
		local := w.Start.In(s.Location())
		if local.Hour() != 9 || local.Minute() != 0 {
			t.Errorf("window %v starts at %v local, want 09:00", w, local)
		}
	}
}

// TestScheduleActiveAllocs is not parallel: testing.AllocsPerRun refuses
// to run beside other tests, whose allocations it would count.
func TestScheduleActiveAllocs(t *testing.T) {
	s := schedCompile(t, `{"timezone":"Europe/Paris","windows":[{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00"}],"exclude_dates":["2026-12-25"]}`, "")
	for _, at := range []string{"2026-11-23T10:00:00Z", "2026-10-25T01:30:00Z", "2150-01-01T10:00:00Z"} {
		tm := schedTime(t, at)
		if n := testing.AllocsPerRun(100, func() { s.Active(tm) }); n != 0 {
			t.Errorf("Active(%s) allocates %v times", at, n)
		}
	}
}

// TestZoneResolve checks the local-time resolution rules directly,
// including zones whose changes happen at midnight.
func TestZoneResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone, local, want string
	}{
		{"Europe/Paris", "2026-10-25 02:30", "2026-10-25T00:30:00Z"}, // ambiguous: earlier
		{"Europe/Paris", "2026-10-25 01:59", "2026-10-24T23:59:00Z"},
		{"Europe/Paris", "2026-10-25 03:00", "2026-10-25T02:00:00Z"},
		{"Europe/Paris", "2026-03-29 02:30", "2026-03-29T01:00:00Z"}, // gap: 03:00 CEST
		{"America/New_York", "2026-03-08 02:00", "2026-03-08T07:00:00Z"},
		{"America/New_York", "2026-03-08 02:59", "2026-03-08T07:00:00Z"},
		{"America/New_York", "2026-03-08 01:59", "2026-03-08T06:59:00Z"},
		{"America/New_York", "2026-11-01 01:30", "2026-11-01T05:30:00Z"}, // ambiguous: EDT
		// Havana springs forward at midnight: the day starts at 01:00 CDT.
		{"America/Havana", "2026-03-08 00:00", "2026-03-08T05:00:00Z"},
		// Samoa skipped 30 December 2011 entirely.
		{"Pacific/Apia", "2011-12-30 12:00", "2011-12-30T10:00:00Z"},
		// Lord Howe moves by 30 minutes.
		{"Australia/Lord_Howe", "2026-04-05 01:45", "2026-04-04T14:45:00Z"},
		{"UTC", "1969-12-31 23:00", "1969-12-31T23:00:00Z"},
		{"Europe/Paris", "2150-07-01 12:00", "2150-07-01T10:00:00Z"}, // beyond the table
		// time's bounds end a day early on 31 December of leap years past
		// the zone file's last transition; neither in the table nor beyond
		// it may that matter.
		{"Europe/Paris", "2040-12-31 12:00", "2040-12-31T11:00:00Z"},
		{"Europe/Paris", "2104-12-31 12:00", "2104-12-31T11:00:00Z"},
		{"America/New_York", "2108-12-31 23:30", "2109-01-01T04:30:00Z"},
	}
	for _, tt := range tests {
		z, err := loadZone(tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		local, err := time.Parse("2006-01-02 15:04", tt.local)
		if err != nil {
			t.Fatal(err)
		}
		got := time.Unix(z.resolve(local.Unix()), 0).UTC()
		if want := schedTime(t, tt.want); !got.Equal(want) {
			t.Errorf("%s %s resolves to %v, want %v", tt.zone, tt.local, got, want)
		}
	}
}

// zonesUnderTest have offset changes of every awkward kind: 30-minute and
// 2-hour DST, changes at midnight and at 24:00, a skipped day, several
// changes a year, negative DST.
var zonesUnderTest = []string{
	"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham",
	"America/Sao_Paulo", "America/Havana", "Asia/Beirut", "America/Santiago",
	"Africa/Casablanca", "Antarctica/Troll", "Pacific/Apia", "Asia/Kolkata",
	"Europe/Dublin", "America/St_Johns",
}

// drawSchedule draws settings and a preview range. Most of the time the
// range surrounds one of the zone's real offset changes and the windows
// start or end within a few hours of its local time, because that is where
// resolving local times can go wrong; otherwise anything in 1965–2110.
func drawSchedule(t *rapid.T) (s *ScheduleSettings, from, to time.Time) {
	s = &ScheduleSettings{Timezone: rapid.SampledFrom(zonesUnderTest).Draw(t, "tz")}
	z, err := loadZone(s.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	clock := rapid.OneOf(rapid.IntRange(0, minutesPerDay-1), rapid.SampledFrom([]int{0, 30, 60, 120, 150, 180, 1410, 1439}))
	if len(z.when) > 1 && rapid.IntRange(0, 3).Draw(t, "near") > 0 {
		change := rapid.SampledFrom(z.when[1:]).Draw(t, "change")
		off, _, _ := z.lookup(change - 1)
		wall := int(schedFloorMod(change+off, secondsPerDay) / 60)
		near := rapid.Map(rapid.IntRange(-240, 240), func(d int) int { return int(schedFloorMod(int64(wall+d), minutesPerDay)) })
		clock = rapid.OneOf(clock, near, near)
		from = time.Unix(change+rapid.Int64Range(-100*3600, 100*3600).Draw(t, "shift"), 0)
	} else if rapid.Bool().Draw(t, "leap") {
		// Around 31 December of a leap year, where time's bounds go wrong.
		year := 4 * rapid.IntRange(2036/4, 2108/4).Draw(t, "leap_year")
		from = time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(-72*3600, 72*3600).Draw(t, "shift")) * time.Second)
	} else {
		from = time.Unix(rapid.Int64Range(-157766400, 4417977600).Draw(t, "from"), 0)
	}
	from = from.Add(time.Duration(rapid.Int64Range(0, 999_999_999).Draw(t, "nanos")))
	hours := rapid.OneOf(rapid.Int64Range(1, 240), rapid.Int64Range(1, 2160)).Draw(t, "hours")
	to = from.Add(time.Duration(hours) * time.Hour)

	for i, n := 0, rapid.IntRange(0, 5).Draw(t, "windows"); i < n; i++ {
		start := clock.Draw(t, "start")
		end := rapid.OneOf(clock, rapid.Just(minutesPerDay)).Filter(func(e int) bool { return e != start }).Draw(t, "end")
		s.Windows = append(s.Windows, ScheduleWindow{
			Days:  rapid.SliceOfNDistinct(rapid.SampledFrom(dayNames), 1, 7, rapid.ID[string]).Draw(t, "days"),
			Start: fmt.Sprintf("%02d:%02d", start/60, start%60),
			End:   fmt.Sprintf("%02d:%02d", end/60, end%60),
		})
	}
	drawBounds(t, s, from, to)
	return s, from, to
}

func schedFloorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func drawBounds(t *rapid.T, s *ScheduleSettings, from, to time.Time) {
	span := int64(to.Sub(from) / time.Second)
	day := func(label string) string {
		off := rapid.Int64Range(-2*86400, span+2*86400).Draw(t, label)
		return from.Add(time.Duration(off) * time.Second).In(time.UTC).Format(time.DateOnly)
	}
	for i, n := 0, rapid.IntRange(0, 3).Draw(t, "excluded"); i < n; i++ {
		s.ExcludeDates = append(s.ExcludeDates, day("exclude"))
	}
	if rapid.Bool().Draw(t, "has_from") {
		v := from.Add(time.Duration(rapid.Int64Range(-3600, span).Draw(t, "active_from")) * time.Second)
		s.ActiveFrom = &v
	}
	if rapid.Bool().Draw(t, "has_until") {
		lo := int64(-3600)
		if s.ActiveFrom != nil {
			lo = int64(s.ActiveFrom.Sub(from)/time.Second) + 1
		}
		v := from.Add(time.Duration(rapid.Int64Range(lo, span+3600).Draw(t, "active_until")) * time.Second)
		s.ActiveUntil = &v
	}
}

// schedOffsetChanges returns the instants in [from, to) where z's offset changes.
func schedOffsetChanges(z *zone, from, to time.Time) []time.Time {
	var out []time.Time
	for sec := from.Unix(); sec < to.Unix(); {
		_, _, end := z.lookup(sec)
		if end >= to.Unix() {
			break
		}
		out = append(out, time.Unix(end, 0))
		sec = end
	}
	return out
}

func schedInWindows(ws []TimeRange, t time.Time) bool {
	for _, w := range ws {
		if !t.Before(w.Start) && t.Before(w.End) {
			return true
		}
	}
	return false
}

// TestScheduleWindowsProperties checks Windows' shape and that Active
// agrees with it everywhere, including next to every boundary.
func TestScheduleWindowsProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		settings, from, to := drawSchedule(t)
		s, err := CompileSchedule(settings, "")
		if err != nil {
			t.Fatalf("CompileSchedule: %v", err)
		}
		ws := s.Windows(from, to)
		for i, w := range ws {
			if w.Start.Location() != time.UTC || w.End.Location() != time.UTC {
				t.Fatalf("window %d not in UTC: %v", i, w)
			}
			if !w.Start.Before(w.End) {
				t.Fatalf("window %d empty or reversed: %v", i, w)
			}
			if w.Start.Before(from) || w.End.After(to) {
				t.Fatalf("window %d outside [%v, %v): %v", i, from, to, w)
			}
			if i > 0 && !ws[i-1].End.Before(w.Start) {
				t.Fatalf("windows %d and %d touch or overlap: %v %v", i-1, i, ws[i-1], w)
			}
		}

		probes := []time.Time{from, to.Add(-time.Nanosecond)}
		for _, w := range ws {
			probes = append(probes, w.Start, w.Start.Add(-time.Nanosecond), w.End, w.End.Add(-time.Nanosecond))
		}
		for i := 0; i < 20; i++ {
			probes = append(probes, from.Add(time.Duration(rapid.Int64Range(0, int64(to.Sub(from))-1).Draw(t, "probe"))))
		}
		// Most mistakes hide in the hours around an offset change.
		for _, change := range schedOffsetChanges(s.zone, from, to) {
			for m := -180; m <= 180; m += 15 {
				at := change.Add(time.Duration(m) * time.Minute)
				probes = append(probes, at, at.Add(-time.Nanosecond))
			}
		}
		for _, p := range probes {
			if p.Before(from) || !p.Before(to) {
				continue
			}
			if got, want := s.Active(p), schedInWindows(ws, p); got != want {
				t.Fatalf("Active(%v) = %v, but Windows says %v (%s local; windows %v)", p.UTC(), got, want, p.In(s.Location()), ws)
			}
		}

		// Splitting the range anywhere gives the same windows.
		mid := from.Add(time.Duration(rapid.Int64Range(0, int64(to.Sub(from))).Draw(t, "mid")))
		joined := append(s.Windows(from, mid), s.Windows(mid, to)...)
		for i := 1; i < len(joined); i++ {
			if joined[i-1].End.Equal(joined[i].Start) {
				joined[i-1].End = joined[i].End
				joined = append(joined[:i], joined[i+1:]...)
				i--
			}
		}
		if diff := cmp.Diff(ws, joined, schedCmpTime); diff != "" {
			t.Fatalf("Windows split at %v differs (-whole +split):\n%s", mid, diff)
		}
	})
}

// TestScheduleActiveFastPath checks the wall-clock fast path of Active
// against resolving every candidate window, at any instant.
func TestScheduleActiveFastPath(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		settings, from, to := drawSchedule(t)
		s, err := CompileSchedule(settings, "")
		if err != nil {
			t.Fatalf("CompileSchedule: %v", err)
		}
		at := from.Add(time.Duration(rapid.Int64Range(0, int64(to.Sub(from))-1).Draw(t, "at")))
		if s.hasFrom && at.Before(s.from) || s.hasUntil && !at.Before(s.until) {
			return
		}
		sec := at.Unix()
		off, _, _ := s.zone.lookup(sec)
		if got, want := s.Active(at), s.activeNearTransition(sec, off); got != want {
			t.Fatalf("Active(%v) = %v, resolving says %v", at.UTC(), got, want)
		}
	})
}

var schedCmpTime = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// TestZoneLookupBounds checks that every stretch lookup returns holds its
// instant and keeps one offset, also where time's own bounds do not (31
// December of leap years after a zone file's last transition), and that
// the precomputed table reaches its planned end.
func TestZoneLookupBounds(t *testing.T) {
	t.Parallel()
	for _, name := range zonesUnderTest {
		z, err := loadZone(name)
		if err != nil {
			t.Fatal(err)
		}
		if z.tableEnd < tableTo {
			t.Errorf("%s: table ends at %v, want 2100 or later", name, time.Unix(z.tableEnd, 0).UTC())
		}
		for _, at := range []string{
			"2040-12-31T00:00:00Z", "2040-12-31T12:00:00Z", "2040-12-31T23:59:59Z",
			"2104-12-31T00:00:00Z", "2104-12-31T12:00:00Z", "2108-12-31T23:59:59Z",
			"2150-06-30T12:00:00Z",
		} {
			sec := schedTime(t, at).Unix()
			off, start, end := z.lookup(sec)
			if sec < start || sec >= end {
				t.Errorf("%s at %s: outside its stretch [%d, %d)", name, at, start, end)
			}
			for _, x := range []int64{sec, max(start, sec-86400), min(end-1, sec+86400)} {
				if got := offsetAt(z.loc, x); got != off {
					t.Errorf("%s at %s: stretch offset %d, but %d at %d", name, at, off, got, x)
				}
			}
		}
	}
}

// TestZoneTableMatchesTime checks the precomputed offsets against the time
// package at random instants.
func TestZoneTableMatchesTime(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		z, err := loadZone(rapid.SampledFrom(zonesUnderTest).Draw(t, "tz"))
		if err != nil {
			t.Fatal(err)
		}
		sec := rapid.OneOf(
			rapid.Int64Range(-200000000, 4500000000),
			// 31 December of a leap year, where time's bounds go wrong.
			rapid.Map(rapid.IntRange(2036/4, 2112/4), func(y4 int) int64 {
				return time.Date(y4*4, 12, 31, 0, 0, 0, 0, time.UTC).Unix() + int64(y4*7919%86400)
			}),
		).Draw(t, "sec")
		off, start, end := z.lookup(sec)
		_, want := time.Unix(sec, 0).In(z.loc).Zone()
		if off != int64(want) {
			t.Fatalf("offset at %d = %d, time says %d", sec, off, want)
		}
		if sec < start || sec >= end {
			t.Fatalf("%d outside its stretch [%d, %d)", sec, start, end)
		}
		for _, edge := range []int64{start, end - 1} {
			if edge <= noStart || edge >= noEnd-1 {
				continue
			}
			if _, o := time.Unix(edge, 0).In(z.loc).Zone(); int64(o) != off {
				t.Fatalf("offset at stretch edge %d = %d, want %d", edge, o, off)
			}
		}
	})
}
