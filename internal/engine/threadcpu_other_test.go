//go:build !linux

package engine

import "time"

// threadCPUTime is not measured off Linux; the caller uses wall time.
func threadCPUTime() (time.Duration, bool) { return 0, false }
