package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNoopHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want int
	}{
		{"an event", string(newEventGen(1024, 10).body(rand.New(rand.NewPCG(1, 1)), 0, 0)), http.StatusAccepted},
		{"not JSON", `{"event_type":`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		noopHandler(rec, httptest.NewRequest(http.MethodPost, "/v1/automation/events", strings.NewReader(tt.body)))
		if rec.Code != tt.want {
			t.Fatalf("%s: status %d, want %d", tt.name, rec.Code, tt.want)
		}
		if tt.want != http.StatusAccepted {
			continue
		}
		var res struct {
			ID          string `json:"id"`
			PayloadHash string `json:"payload_hash"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.ID) != 36 || len(res.PayloadHash) != 64 {
			t.Errorf("%s: answer %s (%v)", tt.name, rec.Body, err)
		}
	}
}

// TestPhase drives the no-op handler: unpaced, every answer is counted; paced,
// the clients keep to the schedule.
func TestPhase(t *testing.T) {
	t.Parallel()
	url, stop, err := startNoop()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tests := []struct {
		name  string
		rate  float64
		dur   time.Duration
		conns int
		max   int64 // most accepted events the schedule allows
	}{
		{name: "closed loop", conns: 3, dur: 300 * time.Millisecond},
		{name: "paced", rate: 100, conns: 4, dur: 500 * time.Millisecond, max: 50},
	}
	for _, tt := range tests {
		sample := newReservoir[sentEvent](10)
		p := &phase{url: url, token: "t", conns: tt.conns, dur: tt.dur, rate: tt.rate, gen: newEventGen(512, 10), sample: sample}
		res := p.run(context.Background(), newClient(tt.conns))
		if res.Rejected != 0 || res.Accepted == 0 {
			t.Fatalf("%s: %d accepted, %d rejected (%s)", tt.name, res.Accepted, res.Rejected, res.FirstError)
		}
		if tt.max > 0 && res.Accepted > tt.max {
			t.Errorf("%s: %d accepted, the schedule allows %d", tt.name, res.Accepted, tt.max)
		}
		if want := min(res.Accepted, 10); int64(len(sample.sample())) != want {
			t.Errorf("%s: %d sampled ids, want %d", tt.name, len(sample.sample()), want)
		}
		if res.Bytes < res.Accepted*400 || res.End.Before(res.Start) {
			t.Errorf("%s: %d bytes sent for %d events; start %s end %s", tt.name, res.Bytes, res.Accepted, res.Start, res.End)
		}
	}
}

func TestReservoir(t *testing.T) {
	t.Parallel()
	tests := []struct{ cap, add, want int }{
		{cap: 5, add: 0, want: 0},
		{cap: 5, add: 3, want: 3},
		{cap: 5, add: 1000, want: 5},
	}
	for _, tt := range tests {
		r := newReservoir[string](tt.cap)
		for i := range tt.add {
			r.add(string(rune('a' + i%26)))
		}
		if got := len(r.sample()); got != tt.want {
			t.Errorf("cap %d, %d added: %d kept, want %d", tt.cap, tt.add, got, tt.want)
		}
	}
	// Uniform: over many draws each of 100 ids is kept about 10 % of the
	// time, the first as often as the last.
	first, last := 0, 0
	for range 2000 {
		r := newReservoir[string](10)
		for i := range 100 {
			r.add(strconv.Itoa(i))
		}
		for _, id := range r.sample() {
			switch id {
			case "0":
				first++
			case "99":
				last++
			}
		}
	}
	for _, kept := range []int{first, last} {
		if kept < 140 || kept > 260 { // expected 200, σ ≈ 13
			t.Errorf("first id kept %d times, last %d, in 2000 draws; want about 200 each", first, last)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	tests := []struct {
		name string
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of 4", ms(4, 1, 3, 2), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"max", ms(hundred...), 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.q); got != tt.want {
			t.Errorf("%s: percentile(%v) = %s, want %s", tt.name, tt.q, got, tt.want)
		}
	}
}

// TestTailWriterAddr finds the listen address in serve's log line, also
// when the line arrives in pieces, and only in that line.
func TestTailWriterAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"text", []string{"time=x level=INFO msg=\"switchboard listening\" addr=127.0.0.1:43123 store=sqlite\n"}, "127.0.0.1:43123"},
		{"json", []string{`{"msg":"switchboard listening","addr":"127.0.0.1:8080"}` + "\n"}, "127.0.0.1:8080"},
		{"split in the port", []string{"msg=\"switchboard listening\" addr=127.0.0.1:43", "123 x=y\n"}, "127.0.0.1:43123"},
		{"another line first", []string{"msg=dialing addr=127.0.0.1:5432\n", "msg=\"switchboard listening\" addr=127.0.0.1:9\n"}, "127.0.0.1:9"},
		{"no whole line yet", []string{"msg=\"switchboard listening\" addr=127.0.0.1:9"}, ""},
	}
	for _, tt := range tests {
		w := &tailWriter{addr: make(chan string, 1)}
		for _, s := range tt.writes {
			if _, err := w.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		var got string
		select {
		case got = <-w.addr:
		default:
		}
		if got != tt.want {
			t.Errorf("%s: addr %q, want %q", tt.name, got, tt.want)
		}
		if !strings.Contains(w.String(), tt.writes[len(tt.writes)-1]) {
			t.Errorf("%s: the tail lost the output", tt.name)
		}
	}
}

func TestSmallFigures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    func(float64) string
		v    float64
		want string
	}{
		{small, 0.4, "0.4"}, {small, 9.96, "10.0"}, {small, 12.4, "12"}, {small, 12345.6, "12,346"},
		{ratio, 0.1407, "0.141"}, {ratio, 0.00042, "0.00042"}, {ratio, 0, "0.000"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.v); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-45000, "-45,000"}}
	for _, tt := range tests {
		if got := group(tt.n); got != tt.want {
			t.Errorf("group(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestReportText prints every figure on its own labelled line, and the
// JSON form carries the same figures.
func TestReportText(t *testing.T) {
	t.Parallel()
	rep := &Report{
		Workload:   Workload{Store: "sqlite", Rules: 100, RulesOnTrigger: 70, MatchingRules: 10, Conns: 16, DurationSecs: 20, PayloadBytes: 1027, Conversations: 10000, CPUs: 2, GoVersion: "go1.26"},
		NoOpPerSec: 14210.4, Accepted: 40000, AcceptedPerSec: 2000, AcceptedRatio: 0.1407, ProcessedPerSec: 251, ProcessedRatio: 0.0177,
		ProcessedSecs: 159.4, Latency: Latency{P50Ms: 81234, P99Ms: 160321, Samples: 4000},
		HalfRate:      &HalfRate{TargetPerSec: 125.5, AcceptedPerSec: 125, Accepted: 2500, Latency: Latency{P50Ms: 4.25, P99Ms: 48, Samples: 2500}},
		TotalAccepted: 42500, TotalProcessed: 42500, MatchedRunsPerEvent: 10,
		StoreGrowthBytes: 3_100_000_000, BytesPerEvent: 72941.2, StoreMeasure: "SQLite pages in use, free pages left out", PeakRSSBytes: 212 << 20,
		ServerCPUPerEventUs: 3456.7,
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for label, want := range map[string]string{
		LabelNoOp:       "14,210 ev/s",
		LabelAccepted:   "2,000 ev/s   0.141",
		LabelProcessed:  "251 ev/s   0.018",
		LabelLatency:    "81,234 / 160,321 ms",
		LabelHalfRate:   "4.2 / 48 ms",
		LabelCounts:     "42,500 / 42,500",
		LabelMatched:    "10.00",
		LabelBytes:      "72,941",
		LabelPeakMemory: "212.0 MB",
		LabelCPU:        "3,457 µs",
	} {
		line := lineOf(out, label)
		if !strings.Contains(line, want) {
			t.Errorf("%s: line %q does not show %q; report:\n%s", label, line, want, out)
		}
	}
	if !strings.Contains(out, "100 rules (70 on messages.incoming, 10 match every event), 16 clients, 20s, 1,027-byte events") {
		t.Errorf("workload line missing:\n%s", out)
	}

	b.Reset()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.ProcessedPerSec != rep.ProcessedPerSec || back.HalfRate == nil || back.HalfRate.Latency.P99Ms != 48 || back.PeakRSSBytes != rep.PeakRSSBytes {
		t.Errorf("JSON round trip lost figures: %s", b.String())
	}
}

// lineOf returns the report line starting with label.
func lineOf(out, label string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, label+" ") {
			return line
		}
	}
	return ""
}

func TestReportCheck(t *testing.T) {
	t.Parallel()
	ok := Report{Workload: Workload{MatchingRules: 10}, TotalAccepted: 5, TotalProcessed: 5, MatchedRunsPerEvent: 10}
	tests := []struct {
		name   string
		change func(*Report)
		want   string // "" = no error
	}{
		{"complete", func(*Report) {}, ""},
		{"rejections", func(r *Report) { r.Rejected = 2 }, "rejected 2"},
		{"failed", func(r *Report) { r.TotalFailed = 1 }, "1 events failed"},
		{"unprocessed", func(r *Report) { r.TotalProcessed = 4 }, "5 events accepted but 4 processed"},
		{"wrong matches", func(r *Report) { r.MatchedRunsPerEvent = 9.5 }, "9.500 matched runs per event, want 10"},
	}
	for _, tt := range tests {
		r := ok
		tt.change(&r)
		err := r.check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{Rules: 100, Conns: 16, Duration: time.Second, PayloadBytes: 1024, Conversations: 10, HalfRate: true,
		HalfRateDuration: time.Second, DrainTimeout: time.Minute, Launch: func([]string, []string) *exec.Cmd { return nil }}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"good", func(*Config) {}, ""},
		{"negative rules", func(c *Config) { c.Rules = -1 }, "--rules"},
		{"no clients", func(c *Config) { c.Conns = 0 }, "--conns"},
		{"short duration", func(c *Config) { c.Duration = time.Millisecond }, "--duration"},
		{"huge payload", func(c *Config) { c.PayloadBytes = 1 << 30 }, "--events-payload-bytes"},
		{"no conversations", func(c *Config) { c.Conversations = 0 }, "--conversations"},
		{"short half rate", func(c *Config) { c.HalfRateDuration = 0 }, "--half-rate-duration"},
		{"half rate off", func(c *Config) { c.HalfRate, c.HalfRateDuration = false, 0 }, ""},
		{"short drain", func(c *Config) { c.DrainTimeout = 0 }, "--drain-timeout"},
	}
	for _, tt := range tests {
		c := good
		tt.change(&c)
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one naming %s", tt.name, err, tt.want)
		}
	}
}
