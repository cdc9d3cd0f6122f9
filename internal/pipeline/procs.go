package pipeline

import (
	"os"
	"runtime"
)

// SpareProc lets the Go scheduler run one goroutine more than the machine
// has cores, for a store whose commits block an OS thread on the disk.
//
// SQLite (a pure-Go build) waits for fsync in a blocking system call —
// about half a millisecond per commit on the machine the benchmarks run
// on. The committing goroutine keeps its P (the scheduler's slot) while it
// waits, and the runtime hands the P to another thread only when its
// monitor notices, which under load can take milliseconds: with
// GOMAXPROCS equal to the cores, one core idles through much of every
// commit. BenchmarkIngestHTTP on 2 cores: ~11,000 events/s at
// GOMAXPROCS=2, ~13,000 at 3, and no change for the no-op handler.
//
// A GOMAXPROCS set in the environment wins. SpareProc returns a function
// that restores the previous setting.
func SpareProc() (restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	prev := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(prev + 1)
	return func() { runtime.GOMAXPROCS(prev) }
}
