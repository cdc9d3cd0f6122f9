//go:build !race

package engine

// raceEnabled is set under the race detector, whose slowdown makes
// timing assertions meaningless.
const raceEnabled = false
