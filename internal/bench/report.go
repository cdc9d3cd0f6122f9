package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Labels of the text report, one figure per line (tests find them).
const (
	LabelNoOp       = "no-op JSON handler"
	LabelAccepted   = "accepted"
	LabelProcessed  = "processed end to end"
	LabelLatency    = "ingest → processed p50 / p99, full speed"
	LabelHalfRate   = "ingest → processed p50 / p99, half rate"
	LabelCounts     = "events processed / accepted"
	LabelMatched    = "matched runs per event"
	LabelBytes      = "store bytes per event"
	LabelPeakMemory = "server peak RSS"
	LabelCPU        = "server CPU per event"
)

// WriteText writes the report as a table a person reads.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	wl := r.Workload
	fmt.Fprintf(&b, "switchboard bench: %s, %d rules (%d on %s, %d match every event), %d clients, %s, %s-byte events over %s conversations\n",
		wl.Store, wl.Rules, wl.RulesOnTrigger, benchTrigger, wl.MatchingRules, wl.Conns,
		strconv.FormatFloat(wl.DurationSecs, 'f', -1, 64)+"s", group(int64(wl.PayloadBytes)), group(int64(wl.Conversations)))
	fmt.Fprintf(&b, "machine: %d CPUs, load average %s at the start, %s", wl.CPUs, wl.LoadAverage, wl.GoVersion)
	if len(wl.ServerEnv) > 0 {
		fmt.Fprintf(&b, "; server environment: %s", strings.Join(wl.ServerEnv, " "))
	}
	b.WriteString("\n\n")
	line := func(label, format string, args ...any) {
		// Padded by characters, not bytes: labels hold "→".
		pad := max(44-utf8.RuneCountInString(label), 0)
		fmt.Fprintf(&b, "%s%s %s\n", label, strings.Repeat(" ", pad), fmt.Sprintf(format, args...))
	}
	line("", "%12s   %s", "value", "ratio to no-op")
	line(LabelNoOp, "%12s ev/s", small(r.NoOpPerSec))
	line(LabelAccepted, "%12s ev/s %7s", small(r.AcceptedPerSec), ratio(r.AcceptedRatio))
	line(LabelProcessed, "%12s ev/s %7s   (%s events in %.1f s, first send to last processed)",
		small(r.ProcessedPerSec), ratio(r.ProcessedRatio), group(r.Accepted), r.ProcessedSecs)
	line(LabelLatency, "%12s ms   (%s samples)", msText(r.Latency.P50Ms)+" / "+msText(r.Latency.P99Ms), group(int64(r.Latency.Samples)))
	if h := r.HalfRate; h != nil {
		line(LabelHalfRate, "%12s ms   (%s samples at %s ev/s, target %s)", msText(h.Latency.P50Ms)+" / "+msText(h.Latency.P99Ms),
			group(int64(h.Latency.Samples)), small(h.AcceptedPerSec), small(h.TargetPerSec))
	}
	line(LabelCounts, "%12s", group(r.TotalProcessed)+" / "+group(r.TotalAccepted))
	line(LabelMatched, "%12.2f      (the workload makes %d)", r.MatchedRunsPerEvent, wl.MatchingRules)
	line(LabelBytes, "%12s   (%s; %s MB grown)", group(round(r.BytesPerEvent)), r.StoreMeasure,
		strconv.FormatFloat(float64(r.StoreGrowthBytes)/1e6, 'f', 1, 64))
	line(LabelPeakMemory, "%12s MB (VmHWM of the serve process)", strconv.FormatFloat(float64(r.PeakRSSBytes)/(1<<20), 'f', 1, 64))
	line(LabelCPU, "%12s µs (serve process, user + system, full speed)", group(round(r.ServerCPUPerEventUs)))
	if r.Rejected > 0 || r.TotalFailed > 0 {
		fmt.Fprintf(&b, "\nrejected requests: %d, failed events: %d\n", r.Rejected, r.TotalFailed)
	}
	if r.Kept != "" {
		fmt.Fprintf(&b, "\ndatabase kept: %s\n", r.Kept)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report for machines, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func round(f float64) int64 { return int64(f + 0.5) }

// group writes n with thousands separators: 12,345.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// small writes a figure as whole numbers with separators from 10 up, with
// one decimal below (a rate of 0.4 events/s on a starved machine must not
// read as 0).
func small(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return group(round(v))
}

// ratio writes a ratio with three decimals, or three significant digits
// below 0.01 (so a tiny ratio never reads as 0).
func ratio(v float64) string {
	if v > 0 && v < 0.01 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// msText writes a latency: whole milliseconds with separators from 10 ms
// up, one decimal below.
func msText(v float64) string { return small(v) }
