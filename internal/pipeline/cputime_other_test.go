//go:build !unix

package pipeline_test

import "time"

// processCPU is not measured off Unix: tests fall back to wall time.
func processCPU() (time.Duration, bool) { return 0, false }
