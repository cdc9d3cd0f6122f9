// Package bench is `switchboard bench`, the benchmark of record
// (docs/operations.md#measuring-a-machine-switchboard-bench): it measures what a user of this machine gets from a real
// `switchboard serve` — a separate process with its workers, on a fresh
// database — loaded over HTTP by closed-loop clients, beside a no-op JSON
// handler measured by the same clients in the same run.
//
// It talks to the server only through the HTTP API; it reads the store
// only for its size on disk, and the process only for its peak memory.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/internal/auth"
)

// Config is one bench run.
type Config struct {
	Rules         int           // rules to create
	Conns         int           // concurrent HTTP clients
	Duration      time.Duration // full-speed phase (and the no-op baseline)
	Database      string        // "" = a temporary SQLite file; a fresh SQLite path; or a postgres:// URL (a fresh schema is made in it)
	PayloadBytes  int           // about how large each request body is
	Conversations int           // events are spread over this many conversations

	// HalfRate adds a phase at half the sustained processed rate, for the
	// latency a server that is not saturated gives.
	HalfRate         bool
	HalfRateDuration time.Duration

	DrainTimeout time.Duration // how long to wait for the queue to empty after a phase
	Keep         bool          // keep the database (SQLite file or schema)

	Launch   Launcher  // runs `switchboard serve`
	Progress io.Writer // progress lines (nil: none)
}

// Defaults of the command line.
const (
	DefaultRules         = 100
	DefaultConns         = 16
	DefaultDuration      = 30 * time.Second
	DefaultPayloadBytes  = 1024
	DefaultConversations = 10000
	DefaultDrainTimeout  = 10 * time.Minute
)

// latencySamples is how many events per phase latency is read from.
const latencySamples = 4000

// Validate reports the first setting out of range, naming its flag.
func (c *Config) Validate() error {
	switch {
	case c.Rules < 0 || c.Rules > 10000:
		return fmt.Errorf("--rules must be between 0 and 10000, not %d", c.Rules)
	case c.Conns < 1 || c.Conns > 1024:
		return fmt.Errorf("--conns must be between 1 and 1024, not %d", c.Conns)
	case c.Duration < 100*time.Millisecond:
		return fmt.Errorf("--duration must be at least 100ms, not %s", c.Duration)
	case c.PayloadBytes < 0 || c.PayloadBytes > 512<<10:
		return fmt.Errorf("--events-payload-bytes must be between 0 and %d, not %d", 512<<10, c.PayloadBytes)
	case c.Conversations < 1:
		return fmt.Errorf("--conversations must be at least 1, not %d", c.Conversations)
	case c.HalfRate && c.HalfRateDuration < 100*time.Millisecond:
		return fmt.Errorf("--half-rate-duration must be at least 100ms, not %s", c.HalfRateDuration)
	case c.DrainTimeout < time.Second:
		return fmt.Errorf("--drain-timeout must be at least 1s, not %s", c.DrainTimeout)
	case c.Launch == nil:
		return errors.New("bench: no Launcher")
	}
	return nil
}

// Report is what a run measured. Rates are events per second; ratios are
// against the no-op handler of the same run.
type Report struct {
	Workload Workload `json:"workload"`

	NoOpPerSec float64 `json:"noop_events_per_sec"`

	Accepted       int64   `json:"accepted"` // full-speed phase
	AcceptedPerSec float64 `json:"accepted_events_per_sec"`
	AcceptedRatio  float64 `json:"accepted_ratio"`

	// ProcessedPerSec is the full-speed phase's events over the time from
	// its first send to the last event processed.
	ProcessedPerSec float64 `json:"processed_events_per_sec"`
	ProcessedRatio  float64 `json:"processed_ratio"`
	ProcessedSecs   float64 `json:"processed_seconds"`
	Latency         Latency `json:"latency"` // at full speed: mostly queueing when processing is slower than ingestion

	HalfRate *HalfRate `json:"half_rate,omitempty"`

	// Every phase together: what the store holds at the end.
	TotalAccepted  int64 `json:"total_accepted"`
	TotalProcessed int64 `json:"total_processed"`
	TotalFailed    int64 `json:"total_failed"`
	Rejected       int64 `json:"rejected"` // answers other than 202 from the real server

	// MatchedRunsPerEvent is the matched runs listed over the events
	// processed: the workload's own check (Workload.MatchingRules).
	MatchedRunsPerEvent float64 `json:"matched_runs_per_event"`

	StoreGrowthBytes int64   `json:"store_growth_bytes"`
	BytesPerEvent    float64 `json:"store_bytes_per_event"`
	StoreMeasure     string  `json:"store_measure"`

	PeakRSSBytes int64 `json:"server_peak_rss_bytes"`

	// ServerCPUPerEventUs is the serve process's CPU time (user + system)
	// over the full-speed phase and its drain, per event processed. It
	// moves less than the rates when other work shares the machine (but
	// leaves out PostgreSQL's own processes).
	ServerCPUPerEventUs float64 `json:"server_cpu_per_event_us"`

	Kept string `json:"kept,omitempty"` // where the database is, with --keep
}

// Workload describes the run.
type Workload struct {
	Store          string   `json:"store"`
	Rules          int      `json:"rules"`
	RulesOnTrigger int      `json:"rules_on_trigger"` // rules of messages.incoming: evaluated for each event
	MatchingRules  int      `json:"matching_rules"`   // rules every event matches
	Conns          int      `json:"conns"`
	DurationSecs   float64  `json:"duration_seconds"`
	PayloadBytes   int      `json:"payload_bytes"` // mean request body actually sent
	Conversations  int      `json:"conversations"`
	ServerEnv      []string `json:"server_env,omitempty"`
	CPUs           int      `json:"cpus"`
	LoadAverage    string   `json:"load_average"` // 1-minute, before the run: other work skews every figure
	GoVersion      string   `json:"go_version"`
}

// Latency is ingest (the client sending the event's request) → processed
// (its processed_at), read from a uniform sample of the phase's accepted
// events: what a host waits for a decision, the request's own time
// included. (The server's clock is the client's: one machine.)
type Latency struct {
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	Samples int     `json:"samples"`
}

// HalfRate is the phase paced at half the sustained processed rate.
type HalfRate struct {
	TargetPerSec   float64 `json:"target_events_per_sec"`
	AcceptedPerSec float64 `json:"accepted_events_per_sec"`
	Accepted       int64   `json:"accepted"`
	Latency        Latency `json:"latency"`
}

// Run measures. It returns the report even with an error when figures
// were measured (so they can be shown beside what went wrong).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "bench: "+format+"\n", args...)
		}
	}
	gen := newEventGen(cfg.PayloadBytes, cfg.Conversations)
	specs := workloadRules(cfg.Rules, make([]int64, numTags)) // for the counts; ids come later
	rep := &Report{Workload: Workload{
		Rules: cfg.Rules, Conns: cfg.Conns, DurationSecs: cfg.Duration.Seconds(),
		Conversations: cfg.Conversations, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAverage: loadAverage(),
	}}
	for _, s := range specs {
		if s.TriggerType == benchTrigger {
			rep.Workload.RulesOnTrigger++
		}
		if s.Matches {
			rep.Workload.MatchingRules++
		}
	}
	client := newClient(cfg.Conns)
	defer client.CloseIdleConnections()

	// 1. The baseline, before the server exists, so nothing else runs.
	noopURL, stopNoop, err := startNoop()
	if err != nil {
		return nil, err
	}
	progress("no-op JSON handler: %d clients for %s", cfg.Conns, cfg.Duration)
	noop := (&phase{url: noopURL, token: "noop", conns: cfg.Conns, dur: cfg.Duration, gen: gen}).run(ctx, client)
	stopNoop()
	client.CloseIdleConnections()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if noop.Accepted == 0 {
		return nil, fmt.Errorf("the no-op handler accepted nothing (first error: %s)", noop.FirstError)
	}
	rep.NoOpPerSec = float64(noop.Accepted) / noop.End.Sub(noop.Start).Seconds()
	if noop.Accepted+noop.Rejected > 0 {
		rep.Workload.PayloadBytes = int(noop.Bytes / (noop.Accepted + noop.Rejected))
	}

	// 2. The store and the server, with the workspace's rules.
	st, err := prepareStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	rep.Workload.Store = st.Dialect
	rep.StoreMeasure = st.sizeMethod()
	defer func() {
		if cfg.Keep {
			return
		}
		if err := st.remove(context.Background()); err != nil {
			progress("%v", err)
		}
	}()
	if cfg.Keep {
		rep.Kept = st.where()
	}
	token := auth.NewToken()
	env, passed := serverEnv(token)
	rep.Workload.ServerEnv = passed

	progress("starting switchboard serve on %s (%s)", st.Dialect, st.where())
	srv, err := startServer(ctx, cfg.Launch, st.Database, env)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	api := &apiClient{base: srv.base, token: token, c: &http.Client{Timeout: 2 * time.Minute}}
	progress("creating %d tags and %d rules", min(numTags, max(cfg.Rules, 0)), cfg.Rules)
	if err := createWorkload(ctx, api, cfg.Rules); err != nil {
		return nil, err
	}
	// Restarted, so the store's size before the load is that of a cleanly
	// closed database (SQLite's WAL checkpointed), like the size after it.
	if err := srv.stop(); err != nil {
		return nil, err
	}
	sizeBefore, err := st.size(ctx)
	if err != nil {
		return nil, err
	}
	srv, err = startServer(ctx, cfg.Launch, st.Database, env)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	api.base = srv.base
	eventsURL := srv.base + "/v1/automation/events"

	// 3. Full speed: ingestion and processing at once.
	progress("real server: %d clients for %s", cfg.Conns, cfg.Duration)
	full := &phase{url: eventsURL, token: token, conns: cfg.Conns, dur: cfg.Duration, gen: gen, sample: newReservoir[sentEvent](latencySamples)}
	cpu0, err := srv.cpuTime()
	if err != nil {
		return nil, err
	}
	res := full.run(ctx, client)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep.Accepted, rep.Rejected = res.Accepted, res.Rejected
	rep.TotalAccepted = res.Accepted
	rep.AcceptedPerSec = float64(res.Accepted) / res.End.Sub(res.Start).Seconds()
	rep.AcceptedRatio = rep.AcceptedPerSec / rep.NoOpPerSec
	progress("accepted %d events (%.0f/s); waiting for the queue to drain (at most %s)", res.Accepted, rep.AcceptedPerSec, cfg.DrainTimeout)
	processed, drainErr := drain(ctx, api, cfg.DrainTimeout, progress)
	if drainErr != nil {
		return rep, drainErr
	}
	cpu1, err := srv.cpuTime()
	if err != nil {
		return rep, err
	}
	if processed > 0 {
		rep.ServerCPUPerEventUs = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(processed)
	}
	last, err := lastProcessed(ctx, api)
	if err != nil {
		return rep, err
	}
	if secs := last.Sub(res.Start).Seconds(); secs > 0 {
		rep.ProcessedSecs = secs
		rep.ProcessedPerSec = float64(processed) / secs
		rep.ProcessedRatio = rep.ProcessedPerSec / rep.NoOpPerSec
	}
	if rep.Latency, err = latency(ctx, api, full.sample.sample()); err != nil {
		return rep, err
	}

	// 4. Half the sustained rate: what latency is when the server keeps up.
	if cfg.HalfRate && rep.ProcessedPerSec > 0 {
		target := rep.ProcessedPerSec / 2
		progress("half rate: %.0f events/s for %s", target, cfg.HalfRateDuration)
		half := &phase{url: eventsURL, token: token, conns: cfg.Conns, dur: cfg.HalfRateDuration, rate: target,
			gen: gen, sample: newReservoir[sentEvent](latencySamples)}
		hres := half.run(ctx, client)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		rep.Rejected += hres.Rejected
		rep.TotalAccepted += hres.Accepted
		rep.HalfRate = &HalfRate{TargetPerSec: target, Accepted: hres.Accepted,
			AcceptedPerSec: float64(hres.Accepted) / hres.End.Sub(hres.Start).Seconds()}
		if _, err := drain(ctx, api, cfg.DrainTimeout, progress); err != nil {
			return rep, err
		}
		if rep.HalfRate.Latency, err = latency(ctx, api, half.sample.sample()); err != nil {
			return rep, err
		}
	}

	// 5. What the store holds, and what it cost.
	if rep.TotalProcessed, err = api.total(ctx, "/v1/automation/events?status=processed&per_page=1"); err != nil {
		return rep, err
	}
	if rep.TotalFailed, err = api.total(ctx, "/v1/automation/events?status=failed&per_page=1"); err != nil {
		return rep, err
	}
	if rep.TotalProcessed > 0 {
		matched, err := api.total(ctx, "/v1/automation/runs?matched=true&per_page=1")
		if err != nil {
			return rep, err
		}
		rep.MatchedRunsPerEvent = float64(matched) / float64(rep.TotalProcessed)
	}
	if rep.PeakRSSBytes, err = srv.peakRSS(); err != nil {
		return rep, err
	}
	if err := srv.stop(); err != nil {
		return rep, err
	}
	sizeAfter, err := st.size(ctx)
	if err != nil {
		return rep, err
	}
	rep.StoreGrowthBytes = sizeAfter - sizeBefore
	if rep.TotalAccepted > 0 {
		rep.BytesPerEvent = float64(rep.StoreGrowthBytes) / float64(rep.TotalAccepted)
	}
	return rep, rep.check()
}

// check reports what makes the run not one of record.
func (r *Report) check() error {
	var errs []error
	if r.Rejected > 0 {
		errs = append(errs, fmt.Errorf("the server rejected %d requests", r.Rejected))
	}
	if r.TotalFailed > 0 {
		errs = append(errs, fmt.Errorf("%d events failed processing", r.TotalFailed))
	}
	if r.TotalProcessed != r.TotalAccepted {
		errs = append(errs, fmt.Errorf("%d events accepted but %d processed", r.TotalAccepted, r.TotalProcessed))
	}
	if want := float64(r.Workload.MatchingRules); r.TotalProcessed > 0 && r.MatchedRunsPerEvent != want {
		errs = append(errs, fmt.Errorf("%.3f matched runs per event, want %.0f", r.MatchedRunsPerEvent, want))
	}
	return errors.Join(errs...)
}

// createWorkload creates the tags and the rules.
func createWorkload(ctx context.Context, api *apiClient, nrules int) error {
	if nrules == 0 {
		return nil
	}
	tagIDs := make([]int64, 0, numTags)
	for i := range min(numTags, nrules) {
		var tag struct {
			ID int64 `json:"id"`
		}
		if err := api.do(ctx, http.MethodPost, "/v1/tags", map[string]any{"name": fmt.Sprintf("bench-%02d", i)}, http.StatusCreated, &tag); err != nil {
			return fmt.Errorf("create tag: %w", err)
		}
		tagIDs = append(tagIDs, tag.ID)
	}
	for _, r := range workloadRules(nrules, tagIDs) {
		if err := api.do(ctx, http.MethodPost, "/v1/automation/rules", r, http.StatusCreated, nil); err != nil {
			return fmt.Errorf("create rule %q: %w", r.Name, err)
		}
	}
	return nil
}

// drain waits until no event is pending or processing, and returns how
// many are processed.
func drain(ctx context.Context, api *apiClient, timeout time.Duration, progress func(string, ...any)) (int64, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	lastNote := start
	for {
		pending, err := api.total(ctx, "/v1/automation/events?status=pending&per_page=1")
		if err != nil {
			return 0, err
		}
		processing, err := api.total(ctx, "/v1/automation/events?status=processing&per_page=1")
		if err != nil {
			return 0, err
		}
		if pending == 0 && processing == 0 {
			return api.total(ctx, "/v1/automation/events?status=processed&per_page=1")
		}
		now := time.Now()
		if now.After(deadline) {
			processed, _ := api.total(ctx, "/v1/automation/events?status=processed&per_page=1")
			return processed, fmt.Errorf("after waiting %s, %d events are still pending and %d processing (%d processed); raise --drain-timeout or lower --duration",
				timeout, pending, processing, processed)
		}
		if now.Sub(lastNote) >= 10*time.Second {
			progress("  %d pending, %d processing (%s)", pending, processing, now.Sub(start).Round(time.Second))
			lastNote = now
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// eventTimes is the part of an event latency reads.
type eventTimes struct {
	ProcessedAt *time.Time `json:"processed_at"`
}

// lastProcessed returns when the last event was processed.
func lastProcessed(ctx context.Context, api *apiClient) (time.Time, error) {
	var page struct {
		Data []eventTimes `json:"data"`
	}
	err := api.do(ctx, http.MethodGet, "/v1/automation/events?status=processed&sort_by=processed_at&sort_order=desc&per_page=1",
		nil, http.StatusOK, &page)
	if err != nil {
		return time.Time{}, err
	}
	if len(page.Data) == 0 || page.Data[0].ProcessedAt == nil {
		return time.Time{}, errors.New("no processed event to time")
	}
	return *page.Data[0].ProcessedAt, nil
}

// latency reads the events sent and returns the percentiles of
// processed_at - the time the request was sent. processed_at is kept in
// milliseconds: a shorter wait may read as up to 1 ms less, never below 0.
func latency(ctx context.Context, api *apiClient, sent []sentEvent) (Latency, error) {
	durs := make([]time.Duration, len(sent))
	errs := make([]error, len(sent))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var ev eventTimes
				if err := api.do(ctx, http.MethodGet, "/v1/automation/events/"+sent[i].ID, nil, http.StatusOK, &ev); err != nil {
					errs[i] = err
					continue
				}
				if ev.ProcessedAt == nil {
					errs[i] = fmt.Errorf("event %s has no processed_at", sent[i].ID)
					continue
				}
				durs[i] = max(ev.ProcessedAt.Sub(sent[i].At), 0)
			}
		}()
	}
	for i := range sent {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Latency{}, err
		}
	}
	return Latency{P50Ms: ms(percentile(durs, 0.50)), P99Ms: ms(percentile(durs, 0.99)), Samples: len(durs)}, nil
}

// percentile returns the nearest-rank q-quantile of ds (0 for none).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(float64(len(s))*q)) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadAverage returns the 1-minute load average ("?" where /proc has none).
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(raw)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
