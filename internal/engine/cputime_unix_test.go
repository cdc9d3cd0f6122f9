//go:build unix

package engine

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time. Benchmarks report it beside wall time
// because the machines they run on are shared: CPU time per operation
// does not grow when other processes take the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
