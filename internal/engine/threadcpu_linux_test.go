//go:build linux

package engine

import (
	"syscall"
	"time"
)

// threadCPUTime is the CPU time of the calling OS thread (the caller
// locks it to its goroutine): unlike wall time, it does not grow when
// other processes take the cores, as they do on a shared machine.
func threadCPUTime() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
