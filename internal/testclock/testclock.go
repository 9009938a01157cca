// Package testclock is the settable clock tests inject where code takes a
// `Now func() time.Time` (STYLE.md, habit 10), so that session expiry,
// token lifetimes and backoff are tested by moving time, not by sleeping.
// The edge's and the cloud's tests share this one copy.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when a test moves it. It is safe for
// concurrent use: the code under test reads it from its own goroutines
// while the test advances it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock stopped at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time; pass the method value (clock.Now) as a
// Now func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative, to
// test a clock that jumps back).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
