package syncer

import (
	"testing"
	"time"
)

// TestBackoff: each wait is jittered in [d/2, d], d doubles from min up to
// max, and a success starts again from min.
func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for round := range 2 {
		for i, d := range want {
			d *= time.Millisecond
			got := b.next()
			if got < d/2 || got > d {
				t.Fatalf("round %d wait %d: %s, want within [%s, %s]", round, i, got, d/2, d)
			}
		}
		b.reset()
	}
	// Jitter spreads a fleet: many waits at one step are not all equal.
	seen := map[time.Duration]bool{}
	for range 50 {
		b.reset()
		seen[b.next()] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 first waits took only %d values: no jitter", len(seen))
	}
}
