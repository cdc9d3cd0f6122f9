//go:build !unix

package engine

import "time"

// cpuTime is not measured off Unix; benchmarks then report 0.
func cpuTime() time.Duration { return 0 }
