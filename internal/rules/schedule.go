package rules

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/validation"
)

// ScheduleSettings limits when a rule is in effect (docs/concepts.md#schedules). A nil
// *ScheduleSettings means always in schedule.
//
// Windows are weekly and in local time of Timezone. A window whose start is
// after its end runs past midnight and belongs to the day it starts: a
// Monday 22:00–06:00 window ends on Tuesday at 06:00, and excluding
// Monday's date removes all of it (and nothing of Sunday's overnight
// window, even though that one ends on Monday).
//
// An omitted or empty Windows list means "all day, every day": then only
// ActiveFrom/ActiveUntil and ExcludeDates (each removing a whole local day)
// restrict the schedule. We chose this over "never" because a schedule that
// can never be active is better expressed by is_active = false, while "only
// between these dates" and "every day except holidays" are common asks that
// should not need a seven-day 00:00–24:00 window to spell.
//
// Local times are turned into instants explicitly, because time.Date does
// not promise which instant it picks: a local time that falls in a DST gap
// means the first instant after the gap (02:30 on the night clocks jump
// from 02:00 to 03:00 means 03:00), and an ambiguous local time (the hour
// repeated when clocks go back) means the earlier of its two instants.
type ScheduleSettings struct {
	// Timezone is an IANA zone; empty means the workspace's.
	Timezone string `json:"timezone,omitempty"`
	// Windows are the weekly windows; empty means all day, every day.
	Windows []ScheduleWindow `json:"windows"`
	// ExcludeDates are local dates ("YYYY-MM-DD"); each removes the windows
	// that start on it.
	ExcludeDates []string `json:"exclude_dates,omitempty"`
	// ActiveFrom and ActiveUntil bound the schedule to [ActiveFrom, ActiveUntil).
	ActiveFrom  *time.Time `json:"active_from,omitempty"`
	ActiveUntil *time.Time `json:"active_until,omitempty"`
}

// ScheduleWindow is a weekly window of local time: on each of Days, from
// Start ("HH:MM", 00:00..23:59) to End ("HH:MM", 00:00..24:00). End before
// Start runs past midnight into the next day.
type ScheduleWindow struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

// Schedule limits; they live here so the validator and the docs agree.
const (
	MaxScheduleWindows = 50
	MaxExcludeDates    = 366
)

// dayNames are the accepted day names of a window, Monday first.
var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// dayIndex returns the Monday-first index of a day name, or -1.
func dayIndex(name string) int { return slices.Index(dayNames, name) }

// parseClock parses "HH:MM" into minutes after midnight. "24:00" is only
// accepted when allow24 is set (window ends).
func parseClock(s string, allow24 bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case m > 59:
		return 0, false
	case h < 24:
		return h*60 + m, true
	case h == 24 && m == 0 && allow24:
		return minutesPerDay, true
	}
	return 0, false
}

// parseDate parses a local date "YYYY-MM-DD" into days since 1970-01-01.
func parseDate(s string) (int64, bool) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return floorDiv(d.Unix(), secondsPerDay), true
}

// checkZoneName reports why name is not a usable zone, or "". "Local" is
// refused because it means whatever zone the server happens to run in, and
// the "posix/" and "right/" copies of the database because only some
// machines have them (and "right/" counts leap seconds, which Go does not),
// so a rule valid on one node would be invalid on another.
func checkZoneName(name string) string {
	if name == "Local" || strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/") {
		return fmt.Sprintf("must be an IANA time zone such as \"Europe/Paris\", not %q", name)
	}
	if _, err := loadZone(name); err != nil {
		return fmt.Sprintf("unknown time zone %q", name)
	}
	return ""
}

// Validate checks the settings against the contract; fields are relative
// to the settings ("windows[0].start").
func (s *ScheduleSettings) Validate() validation.Errors {
	var errs validation.Errors
	if s.Timezone != "" {
		if msg := checkZoneName(s.Timezone); msg != "" {
			errs.Add("timezone", "%s", msg)
		}
	}
	// Past a limit we report the count only: a list of ten thousand
	// identical errors helps nobody.
	if len(s.Windows) > MaxScheduleWindows {
		errs.Add("windows", "must have at most %d windows", MaxScheduleWindows)
	} else {
		for i, w := range s.Windows {
			errs.Merge(validation.Index("windows", i), w.validate())
		}
	}
	if len(s.ExcludeDates) > MaxExcludeDates {
		errs.Add("exclude_dates", "must have at most %d dates", MaxExcludeDates)
	} else {
		for i, d := range s.ExcludeDates {
			if _, ok := parseDate(d); !ok {
				errs.Add(validation.Index("exclude_dates", i), "must be a date \"YYYY-MM-DD\", not %q", d)
			}
		}
	}
	inRange := true
	if s.ActiveFrom != nil {
		inRange = errs.Time("active_from", *s.ActiveFrom)
	}
	if s.ActiveUntil != nil {
		inRange = errs.Time("active_until", *s.ActiveUntil) && inRange
	}
	if inRange && s.ActiveFrom != nil && s.ActiveUntil != nil && !s.ActiveUntil.After(*s.ActiveFrom) {
		errs.Add("active_until", "must be after active_from")
	}
	return errs
}

func (w *ScheduleWindow) validate() validation.Errors {
	var errs validation.Errors
	if len(w.Days) == 0 {
		errs.Add("days", "must list at least one day")
	}
	var seen [7]bool
	for j, d := range w.Days {
		switch i := dayIndex(d); {
		case i < 0:
			errs.Add(validation.Index("days", j), "must be one of mon, tue, wed, thu, fri, sat, sun, not %q", d)
		case seen[i]:
			errs.Add(validation.Index("days", j), "%q is listed twice", d)
		default:
			seen[i] = true
		}
	}
	start, startOK := parseClock(w.Start, false)
	if !startOK {
		errs.Add("start", "must be a time \"HH:MM\" from 00:00 to 23:59, not %q", w.Start)
	}
	end, endOK := parseClock(w.End, true)
	if !endOK {
		errs.Add("end", "must be a time \"HH:MM\" from 00:00 to 24:00, not %q", w.End)
	}
	if startOK && endOK && start == end {
		errs.Add("end", "must differ from start")
	}
	return errs
}

const (
	minutesPerDay = 24 * 60
	secondsPerDay = 24 * 60 * 60
	// minuteWords is the size of a bitmap with one bit per minute of a day.
	minuteWords = (minutesPerDay + 63) / 64
)

// minuteSet is a set of minutes of a day. A bitmap makes the common case of
// Active one shift and one mask, whatever the number of windows.
type minuteSet [minuteWords]uint64

func (m *minuteSet) addRange(from, to int) {
	for i := from; i < to; i++ {
		m[i>>6] |= 1 << (i & 63)
	}
}

func (m *minuteSet) has(i int) bool { return m[i>>6]&(1<<(i&63)) != 0 }

// localSpan is a window instance relative to the start of the local day it
// belongs to, in seconds of wall time: end may exceed a day (overnight).
type localSpan struct{ start, end int64 }

// Schedule is compiled ScheduleSettings: immutable, safe for concurrent
// use. A nil *Schedule is always active.
type Schedule struct {
	zone *zone

	hasFrom, hasUntil bool
	from, until       time.Time

	// spans[d] are the windows starting on weekday d (Monday = 0), sorted
	// by start.
	spans [7][]localSpan
	// own[d] holds the minutes of day d covered by windows starting that
	// day; carry[d] the minutes covered by overnight windows that started
	// the day before. They are kept apart because an excluded date removes
	// only the windows that start on it.
	own, carry [7]minuteSet
	// excluded are local dates as days since 1970-01-01, sorted.
	excluded []int64
	// allDay is set when there are no windows and no excluded dates: only
	// the from/until bounds matter.
	allDay bool
}

// CompileSchedule validates s and compiles it for evaluation. defaultTZ is
// the workspace's zone, used when s has none ("" means UTC). Nil settings
// compile to a nil *Schedule, which is always active. Invalid settings
// return validation.Errors.
func CompileSchedule(s *ScheduleSettings, defaultTZ string) (*Schedule, error) {
	if s == nil {
		return nil, nil
	}
	if errs := s.Validate(); len(errs) > 0 {
		return nil, errs
	}
	name := s.Timezone
	if name == "" {
		name = defaultTZ
	}
	if name == "" {
		name = "UTC"
	}
	if msg := checkZoneName(name); msg != "" {
		return nil, fmt.Errorf("rules: workspace time zone: %s", msg)
	}
	z, _ := loadZone(name)
	c := &Schedule{zone: z}
	if s.ActiveFrom != nil {
		c.hasFrom, c.from = true, *s.ActiveFrom
	}
	if s.ActiveUntil != nil {
		c.hasUntil, c.until = true, *s.ActiveUntil
	}
	for _, d := range s.ExcludeDates {
		day, _ := parseDate(d)
		c.excluded = append(c.excluded, day)
	}
	slices.Sort(c.excluded)
	c.excluded = slices.Compact(c.excluded)

	windows := s.Windows
	if len(windows) == 0 {
		c.allDay = len(c.excluded) == 0
		windows = []ScheduleWindow{{Days: dayNames, Start: "00:00", End: "24:00"}}
	}
	for _, w := range windows {
		start, _ := parseClock(w.Start, false)
		end, _ := parseClock(w.End, true)
		for _, name := range w.Days {
			d := dayIndex(name)
			if end > start {
				c.own[d].addRange(start, end)
				c.spans[d] = append(c.spans[d], localSpan{int64(start) * 60, int64(end) * 60})
				continue
			}
			c.own[d].addRange(start, minutesPerDay)
			c.carry[(d+1)%7].addRange(0, end)
			c.spans[d] = append(c.spans[d], localSpan{int64(start) * 60, int64(end+minutesPerDay) * 60})
		}
	}
	for d := range c.spans {
		slices.SortFunc(c.spans[d], func(a, b localSpan) int {
			if a.start != b.start {
				return int(a.start - b.start)
			}
			return int(a.end - b.end)
		})
	}
	return c, nil
}

// Location returns the schedule's time zone (UTC for a nil schedule).
func (s *Schedule) Location() *time.Location {
	if s == nil {
		return time.UTC
	}
	return s.zone.loc
}

// Margins of Active's fast path. Comparing t's wall clock with the
// windows' minutes gives the same answer as resolving each candidate window
// to instants, provided one UTC offset holds over all of them. A window
// that can contain t starts on t's local date or the day before, so at
// most 48 h before t. Requiring the offset to hold from 96 h before t adds
// 48 h, more than any offset change ever made, so no earlier stretch can
// show the same wall time (resolve would prefer that earlier instant). The
// 48 h after t cover the latest end of a candidate; strictly they are not
// needed, but they keep the argument simple and cost only a few days a
// year of slow path.
const (
	fastBefore = 96 * 3600
	fastAfter  = 48 * 3600
)

// Active reports whether t is inside the schedule. A nil schedule is
// always active. It does not allocate: it runs for every rule on every
// event.
func (s *Schedule) Active(t time.Time) bool {
	if s == nil {
		return true
	}
	if s.hasFrom && t.Before(s.from) || s.hasUntil && !t.Before(s.until) {
		return false
	}
	if s.allDay {
		return true
	}
	sec := t.Unix()
	off, start, end := s.zone.lookup(sec)
	if start > sec-fastBefore || end <= sec+fastAfter {
		return s.activeNearTransition(sec, off)
	}
	local := sec + off
	day := floorDiv(local, secondsPerDay)
	minute := int((local - day*secondsPerDay) / 60)
	wd := weekday(day)
	return s.own[wd].has(minute) && !s.isExcluded(day) ||
		s.carry[wd].has(minute) && !s.isExcluded(day-1)
}

// activeNearTransition answers Active when the UTC offset changes close to
// sec: each candidate window is resolved to instants, exactly as Windows
// does it.
func (s *Schedule) activeNearTransition(sec, off int64) bool {
	today := floorDiv(sec+off, secondsPerDay)
	for day := today - 2; day <= today+1; day++ {
		if s.isExcluded(day) {
			continue
		}
		base := day * secondsPerDay
		for _, sp := range s.spans[weekday(day)] {
			if sec >= s.zone.resolve(base+sp.start) && sec < s.zone.resolve(base+sp.end) {
				return true
			}
		}
	}
	return false
}

func (s *Schedule) isExcluded(day int64) bool {
	if len(s.excluded) == 0 {
		return false
	}
	_, found := slices.BinarySearch(s.excluded, day)
	return found
}

// TimeRange is a half-open interval [Start, End) of time.
type TimeRange struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Windows returns the schedule's active time within [from, to): sorted,
// with touching and overlapping windows merged, clipped to the range and
// to [active_from, active_until), all in UTC. A window that started before
// from (an overnight window of the day before) is included from from. A
// nil schedule returns the whole range. The cost grows with the number of
// days in the range; the API bounds it to 2160 hours.
func (s *Schedule) Windows(from, to time.Time) []TimeRange {
	out := []TimeRange{}
	if !from.Before(to) {
		return out
	}
	if s == nil {
		return append(out, TimeRange{from.UTC(), to.UTC()})
	}
	if s.hasFrom && s.from.After(from) {
		from = s.from
	}
	if s.hasUntil && s.until.Before(to) {
		to = s.until
	}
	if !from.Before(to) {
		return out
	}
	first := s.zone.localDay(from.Unix()) - 2
	last := s.zone.localDay(to.Unix()) + 1
	for day := first; day <= last; day++ {
		if s.isExcluded(day) {
			continue
		}
		base := day * secondsPerDay
		for _, sp := range s.spans[weekday(day)] {
			start := time.Unix(s.zone.resolve(base+sp.start), 0).UTC()
			end := time.Unix(s.zone.resolve(base+sp.end), 0).UTC()
			if start.Before(from) {
				start = from
			}
			if end.After(to) {
				end = to
			}
			if !start.Before(end) {
				continue
			}
			out = append(out, TimeRange{start.UTC(), end.UTC()})
		}
	}
	slices.SortFunc(out, func(a, b TimeRange) int { return a.Start.Compare(b.Start) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && !r.Start.After(merged[n-1].End) {
			if r.End.After(merged[n-1].End) {
				merged[n-1].End = r.End
			}
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// floorDiv divides rounding towards negative infinity, so instants before
// 1970 land on the right day.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// weekday returns the Monday-first weekday of a day counted from
// 1970-01-01, which was a Thursday.
func weekday(day int64) int {
	w := (day + 3) % 7
	if w < 0 {
		w += 7
	}
	return int(w)
}

// zone is a time.Location with its UTC offset changes precomputed for
// 1970–2100. time's own lookup re-parses the POSIX TZ rule string for
// every instant after the last explicit transition of a zone file (all of
// today's dates with the slim tzdata Go embeds), which alone would cost
// more than Active's budget. Outside the table we ask time.
type zone struct {
	loc *time.Location
	// when[i] is the first instant (unix seconds) of the i-th stretch of
	// constant offset off[i]; the last stretch ends at tableEnd. Adjacent
	// stretches always differ in offset.
	when     []int64
	off      []int64
	tableEnd int64
}

const (
	// Sentinels for "no transition before/after": far enough from any
	// instant a schedule meets that adding a few days cannot overflow.
	noStart = -1 << 62
	noEnd   = 1 << 62

	tableFrom = 0            // 1970-01-01T00:00:00Z
	tableTo   = 4102444800   // 2100-01-01T00:00:00Z
	maxOffset = 30 * 60 * 60 // beyond any UTC offset ever used, LMT included
)

// zones caches compiled zones by name: building one costs up to a few
// hundred microseconds, and every rule of a workspace shares its zone.
var zones sync.Map // string → *zone

// loadZone returns the named zone, building it on first use. Failures are
// not cached: validation sees arbitrary names.
func loadZone(name string) (*zone, error) {
	if z, ok := zones.Load(name); ok {
		return z.(*zone), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	z := newZone(loc)
	actual, _ := zones.LoadOrStore(name, z)
	return actual.(*zone), nil
}

func newZone(loc *time.Location) *zone {
	z := &zone{loc: loc}
	sec := int64(tableFrom)
	for {
		off, start, end := timeLookup(loc, sec)
		if n := len(z.off); n == 0 || z.off[n-1] != off {
			z.when = append(z.when, start)
			z.off = append(z.off, off)
		}
		z.tableEnd = end
		if end >= tableTo || end <= sec { // the second only on broken zone data
			return z
		}
		sec = end
	}
}

// timeLookup asks the time package for the offset at sec and the bounds
// [start, end) of a stretch of that offset around it. The offset is
// always right, but past a zone's last explicit transition time computes
// the bounds from the POSIX rule, and there a year's last stretch ends 365
// days after the year starts: on 31 December of a leap year it ends before
// sec itself (Go 1.26, time.tzset). So the end is checked, and where it
// does not hold the stretch is cut at the next UTC midnight, or at the
// offset change before it if there is one.
func timeLookup(loc *time.Location, sec int64) (off, start, end int64) {
	t := time.Unix(sec, 0).In(loc)
	_, o := t.Zone()
	off = int64(o)
	s, e := t.ZoneBounds()
	start, end = noStart, noEnd
	if !s.IsZero() {
		start = min(s.Unix(), sec)
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	if end <= sec {
		end = (floorDiv(sec, secondsPerDay) + 1) * secondsPerDay
		if offsetAt(loc, end-1) != off {
			// Find the first second whose offset differs.
			lo, hi := sec, end-1 // offset(lo) == off, offset(hi) != off
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				if offsetAt(loc, mid) == off {
					lo = mid
				} else {
					hi = mid
				}
			}
			end = hi
		}
	}
	return off, start, end
}

func offsetAt(loc *time.Location, sec int64) int64 {
	_, o := time.Unix(sec, 0).In(loc).Zone()
	return int64(o)
}

// lookup returns the UTC offset in effect at instant sec and the bounds
// [start, end) of the stretch of that offset around it.
func (z *zone) lookup(sec int64) (off, start, end int64) {
	if sec < z.when[0] || sec >= z.tableEnd {
		return timeLookup(z.loc, sec)
	}
	lo, hi := 0, len(z.when)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if sec < z.when[m] {
			hi = m
		} else {
			lo = m
		}
	}
	end = z.tableEnd
	if lo+1 < len(z.when) {
		end = z.when[lo+1]
	}
	return z.off[lo], z.when[lo], end
}

// localDay returns the local date of instant sec, as days since 1970-01-01.
func (z *zone) localDay(sec int64) int64 {
	off, _, _ := z.lookup(sec)
	return floorDiv(sec+off, secondsPerDay)
}

// resolve returns the instant (unix seconds) of a local wall time, given
// as seconds since 1970-01-01T00:00 local. A wall time that never occurs
// (a DST gap) resolves to the first instant after the gap; one that occurs
// twice (clocks going back) to the earlier instant.
//
// It walks the stretches of constant offset that could show that wall time
// in order; the first that does holds the earliest instant. A wall time
// before the first wall time of a stretch, but after every wall time of the
// stretch before, is in the gap between them.
func (z *zone) resolve(wall int64) int64 {
	sec := wall - maxOffset
	// A wall time is shown within maxOffset of its instant, so a handful
	// of stretches suffice; the bound only keeps broken zone data from
	// hanging the engine.
	for range 64 {
		off, start, end := z.lookup(sec)
		i := wall - off
		if i < start {
			return start
		}
		if i < end || end <= sec {
			return i
		}
		sec = end
	}
	off, _, _ := z.lookup(wall)
	return wall - off
}
