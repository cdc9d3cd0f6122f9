package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/bench"
	"github.com/switchboard-hq/switchboard/internal/store/storetest"
)

// testLauncher runs the test binary as the switchboard binary (TestMain).
func testLauncher(args, env []string) *exec.Cmd {
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, envChild+"=1", envChildArgs+"="+string(raw))
	return cmd
}

// numberPattern is a figure as the report prints it: 12,345 or 0.018.
var numberPattern = regexp.MustCompile(`[0-9][0-9,]*(\.[0-9]+)?`)

// figures returns the numbers on the report line that starts with label.
func figures(t *testing.T, out, label string) []float64 {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		rest, ok := strings.CutPrefix(line, label+" ")
		if !ok {
			continue
		}
		var nums []float64
		for _, m := range numberPattern.FindAllString(rest, -1) {
			f, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64)
			if err != nil {
				t.Fatalf("%s: %q is not a number", label, m)
			}
			nums = append(nums, f)
		}
		if len(nums) == 0 {
			t.Fatalf("%s: no figure on %q", label, line)
		}
		return nums
	}
	t.Fatalf("no %q line in the report:\n%s", label, out)
	return nil
}

// TestBenchCommand is the bench's few-second CI mode: a real server on
// each store, a handful of rules, a short run. It asserts no speed, only
// that every accepted event was processed and every figure was printed.
func TestBenchCommand(t *testing.T) {
	t.Parallel()
	skipIfShort(t)
	tests := []struct {
		name    string
		dialect string
		args    []string
		matched float64 // matched runs per event
	}{
		{name: "sqlite, 5 rules", dialect: "sqlite", matched: 1,
			args: []string{"--rules", "5", "--conns", "4", "--duration", "2s", "--half-rate-duration", "1s", "--conversations", "300"}},
		{name: "sqlite, no rules", dialect: "sqlite", matched: 0,
			args: []string{"--rules", "0", "--conns", "4", "--duration", "1s", "--half-rate=false"}},
		{name: "postgres, 5 rules", dialect: "postgres", matched: 1,
			args: []string{"--rules", "5", "--conns", "4", "--duration", "2s", "--half-rate-duration", "1s", "--conversations", "300"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.dialect == "postgres" {
				base := os.Getenv(storetest.EnvPostgres)
				if base == "" {
					t.Skip(storetest.EnvPostgres + " is not set; skipping PostgreSQL tests")
				}
				args = append(args, "--database", base)
			}
			var out, progress bytes.Buffer
			if err := runBench(context.Background(), args, &out, &progress, testLauncher); err != nil {
				t.Fatalf("bench: %v\nreport:\n%s\nprogress:\n%s", err, out.String(), progress.String())
			}
			report := out.String()
			t.Logf("report:\n%s", report)
			if !strings.Contains(report, "switchboard bench: "+tt.dialect+",") {
				t.Errorf("the workload line does not name %s", tt.dialect)
			}
			positive := []string{bench.LabelNoOp, bench.LabelAccepted, bench.LabelProcessed, bench.LabelBytes, bench.LabelPeakMemory, bench.LabelCPU}
			for _, label := range positive {
				if f := figures(t, report, label); f[0] <= 0 {
					t.Errorf("%s: %v, want a positive figure", label, f[0])
				}
			}
			// Ratios to the no-op handler are printed beside the rates.
			for _, label := range []string{bench.LabelAccepted, bench.LabelProcessed} {
				if f := figures(t, report, label); len(f) < 2 || f[1] <= 0 {
					t.Errorf("%s: no positive ratio in %v", label, f)
				}
			}
			latencies := []string{bench.LabelLatency}
			if !strings.Contains(strings.Join(args, " "), "--half-rate=false") {
				latencies = append(latencies, bench.LabelHalfRate)
			}
			for _, label := range latencies {
				// p50 / p99 ms (samples). processed_at is in milliseconds:
				// without rules, an event is processed by its ingest commit
				// and may read as processed in the millisecond it was sent.
				f := figures(t, report, label)
				if len(f) < 3 || f[0] < 0 || f[1] < f[0] || f[2] <= 0 {
					t.Errorf("%s: want 0 ≤ p50 ≤ p99 and samples, got %v", label, f)
				}
			}
			counts := figures(t, report, bench.LabelCounts)
			if len(counts) != 2 || counts[0] != counts[1] || counts[0] <= 0 {
				t.Errorf("processed / accepted = %v, want equal and positive", counts)
			}
			if f := figures(t, report, bench.LabelMatched); f[0] != tt.matched {
				t.Errorf("matched runs per event %v, want %v", f[0], tt.matched)
			}
		})
	}
}

// TestBenchFlags refuses what cannot be run, naming the flag, before any
// server starts.
func TestBenchFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--rules", "-1"}, "--rules"},
		{[]string{"--conns", "0"}, "--conns"},
		{[]string{"--duration", "1ms"}, "--duration"},
		{[]string{"--rules", "x"}, "command line"},
		{[]string{"extra"}, "command line"},
	}
	for _, tt := range tests {
		var out, errs bytes.Buffer
		err := runBench(context.Background(), tt.args, &out, &errs, testLauncher)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %s", tt.args, err, tt.want)
		}
	}
	dir := t.TempDir()
	existing := dir + "/exists.db"
	if err := os.WriteFile(existing, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	err := runBench(context.Background(), []string{"--duration", "100ms", "--half-rate=false", "--database", existing}, &out, &errs, testLauncher)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("an existing SQLite file: error %v, want a refusal", err)
	}
}
