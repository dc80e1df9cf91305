// Package clock is the one fake clock of Floorgate's tests: a time that
// moves only when a test moves it. Code under test takes a
// func() time.Time (Clock.Now) wherever it needs the time.
//
// It imports the standard library only and starts no goroutine.
package clock

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// NewNow returns a Clock at the current wall time rounded down to the
// second, so that TTLs a store derives from it stay sane.
func NewNow() *Clock { return New(time.Now().UTC().Truncate(time.Second)) }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
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
