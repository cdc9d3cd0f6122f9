package delivery

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestBackoffSchedule: whatever the jitter draws, at least 5 attempts
// spread over at least an hour, each wait no shorter than the one before,
// each within ±20 % of its base, and the attempts end at MaxAttempts.
func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		var total, prev time.Duration
		attempts := 1
		for ; ; attempts++ {
			u := rapid.Float64Range(0, 0.999999).Draw(t, "u")
			wait, ok := Backoff(attempts, 0, u)
			if !ok {
				break
			}
			base := schedule[attempts-1]
			if wait < base*8/10 || wait > base*12/10 {
				t.Fatalf("attempt %d: wait %s outside ±20%% of %s", attempts, wait, base)
			}
			if wait < prev {
				t.Fatalf("attempt %d: wait %s shorter than the previous %s", attempts, wait, prev)
			}
			prev = wait
			total += wait
		}
		if attempts != MaxAttempts {
			t.Fatalf("gave up after %d attempts, want %d", attempts, MaxAttempts)
		}
		if attempts < 5 || total < time.Hour {
			t.Fatalf("%d attempts over %s: want at least 5 over at least 1 h", attempts, total)
		}
	})
}

// TestBackoffRetryAfter: a Retry-After longer than the schedule is
// honoured (up to the cap), a shorter one never makes us retry sooner.
func TestBackoffRetryAfter(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		attempts := rapid.IntRange(1, MaxAttempts-1).Draw(t, "attempts")
		ra := time.Duration(rapid.Int64Range(0, int64(48*time.Hour)).Draw(t, "retryAfter"))
		u := rapid.Float64Range(0, 0.999999).Draw(t, "u")
		plain, _ := Backoff(attempts, 0, u)
		wait, ok := Backoff(attempts, ra, u)
		if !ok {
			t.Fatal("gave up early")
		}
		want := max(plain, min(ra, MaxRetryAfter))
		if wait != want {
			t.Fatalf("Backoff(%d, %s) = %s, want %s", attempts, ra, wait, want)
		}
	})
}

func TestBackoffEnds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{MaxAttempts, MaxAttempts + 1, 100} {
		if _, ok := Backoff(n, time.Minute, 0.5); ok {
			t.Errorf("Backoff(%d) still retries", n)
		}
	}
	if w, ok := Backoff(0, 0, 0.5); !ok || w != 30*time.Second {
		t.Errorf("Backoff(0) = %s, %v; want the first wait", w, ok)
	}
}
