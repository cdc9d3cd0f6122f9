//go:build race

package pipeline_test

// raceEnabled is set under the race detector, whose tenfold slowdown
// makes the load test's time bounds meaningless.
const raceEnabled = true
