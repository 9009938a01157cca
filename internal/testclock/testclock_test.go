package testclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/testclock"
)

func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := testclock.New(start)
	var now func() time.Time = c.Now // the shape code under test takes
	if got := now(); !got.Equal(start) {
		t.Fatalf("Now=%v, want %v", got, start)
	}
	if got := now(); !got.Equal(start) {
		t.Fatalf("Now moved by itself: %v, want %v", got, start)
	}
	c.Advance(90 * time.Minute)
	if got, want := now(), start.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance: Now=%v, want %v", got, want)
	}
	c.Set(start)
	if got := now(); !got.Equal(start) {
		t.Fatalf("after Set: Now=%v, want %v", got, start)
	}
}

// TestClockConcurrent is for the race detector: code under test reads
// the clock from its own goroutines while the test moves it.
func TestClockConcurrent(t *testing.T) {
	t.Parallel()
	c := testclock.New(time.Unix(0, 0))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_ = c.Now()
				c.Advance(time.Second)
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), time.Unix(400, 0); !got.Equal(want) {
		t.Fatalf("Now=%v, want %v", got, want)
	}
}
