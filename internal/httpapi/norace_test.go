//go:build !race

package httpapi_test

// raceEnabled is set under the race detector, which slows the handling of
// large bodies tenfold: time bounds are widened accordingly.
const raceEnabled = false
