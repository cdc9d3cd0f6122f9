package delivery

import "time"

// MaxAttempts is how many times a delivery is attempted before it fails
// for good. With the schedule below the last attempt comes about 1 h 47 min
// after the first (at least 1 h 25 min with the most negative jitter).
const MaxAttempts = 8

// MaxRetryAfter caps a receiver's Retry-After. A longer wish is granted
// only up to this, so a misconfigured receiver cannot park a delivery for
// days; the cap is well beyond the whole backoff schedule.
const MaxRetryAfter = 6 * time.Hour

// schedule is the base wait after the n-th failed attempt (index n-1).
// It grows roughly 2-3x a step, so early blips are retried quickly and a
// receiver that is down for an hour is still reached.
var schedule = [MaxAttempts - 1]time.Duration{
	30 * time.Second,
	time.Minute,
	2 * time.Minute,
	5 * time.Minute,
	10 * time.Minute,
	30 * time.Minute,
	time.Hour,
}

// jitter is the ± fraction applied to each base wait, so deliveries that
// failed together (a receiver's outage) do not all return together. At
// ±20 % the shortest wait of a step is still longer than the longest of
// the step before, so the schedule stays monotone whatever the draws.
const jitter = 0.2

// Backoff returns how long to wait before the next attempt, given the
// number of attempts made so far (1 after the first failure), the
// receiver's Retry-After (0 when it sent none), and u, a uniform random
// number in [0, 1) that picks the jitter. ok is false when no attempt is
// left: the delivery has failed for good.
//
// The wait is the jittered base, or the Retry-After (capped at
// MaxRetryAfter) when that is longer: a receiver's wish is honoured, but
// never makes us retry sooner than the schedule.
func Backoff(attempts int, retryAfter time.Duration, u float64) (wait time.Duration, ok bool) {
	if attempts < 1 {
		attempts = 1
	}
	if attempts >= MaxAttempts {
		return 0, false
	}
	if u < 0 || u >= 1 {
		u = 0.5
	}
	base := schedule[attempts-1]
	wait = time.Duration(float64(base) * (1 - jitter + 2*jitter*u)).Round(time.Millisecond)
	if retryAfter > MaxRetryAfter {
		retryAfter = MaxRetryAfter
	}
	if retryAfter > wait {
		wait = retryAfter
	}
	return wait, true
}
