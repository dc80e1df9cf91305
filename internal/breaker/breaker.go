// Package breaker is the circuit breaker in front of each store: after a
// few calls in a row fail because the store did not answer, it refuses
// calls at once (the caller answers 503) instead of letting them queue
// behind a dead server, and lets one probe through every cooldown to
// find out whether the store is back. Any call that the store answers
// closes it again.
//
// It imports the standard library only, starts no goroutine, and reads
// time through the clock it is given.
package breaker

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOpen is the error of a call the breaker refused: the store is known
// not to answer.
var ErrOpen = errors.New("store unavailable (circuit breaker open)")

// Defaults of Options.
const (
	DefaultThreshold = 2
	DefaultCooldown  = time.Second
)

// Options tune a Breaker. The zero value takes the defaults.
type Options struct {
	// Threshold is how many failures in a row open the breaker; 0 means
	// DefaultThreshold.
	Threshold int
	// Cooldown is how long an open breaker refuses every call before it
	// lets one probe through (and again after each probe that fails, or
	// that never reported); 0 means DefaultCooldown.
	Cooldown time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnChange, when set, is called with true when the breaker opens and
	// false when it closes, outside the breaker's lock.
	OnChange func(open bool)
}

// Breaker is safe for concurrent use.
type Breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	onChange  func(open bool)

	mu       sync.Mutex
	fails    int       // failures in a row while closed
	open     bool      // refusing calls
	probeAt  time.Time // when the next probe may go through (while open)
	isOpen   atomic.Bool
	refused  atomic.Uint64
	openings atomic.Uint64
}

// New returns a closed Breaker.
func New(o Options) *Breaker {
	b := &Breaker{threshold: o.Threshold, cooldown: o.Cooldown, now: o.Now, onChange: o.OnChange}
	if b.threshold <= 0 {
		b.threshold = DefaultThreshold
	}
	if b.cooldown <= 0 {
		b.cooldown = DefaultCooldown
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// Allow tells whether a call may go to the store: always while closed;
// while open, only the first call after each cooldown (the probe). A
// refused call is counted and should fail with ErrOpen.
func (b *Breaker) Allow() bool {
	if !b.isOpen.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if now := b.now(); !now.Before(b.probeAt) {
		// One probe per cooldown: if it hangs or its caller goes away
		// without a report, the next cooldown lets another one through.
		b.probeAt = now.Add(b.cooldown)
		return true
	}
	b.refused.Add(1)
	return false
}

// Success reports a call the store answered (an error reply included):
// the breaker closes.
func (b *Breaker) Success() {
	if !b.isOpen.Load() {
		b.mu.Lock()
		b.fails = 0
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	changed := b.open
	b.open, b.fails = false, 0
	b.isOpen.Store(false)
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange(false)
	}
}

// Failure reports a call the store did not answer in time or at all
// (a timeout, a refused or reset connection). Threshold failures in a
// row open the breaker. While it is open, a failure changes nothing:
// the next probe is due a cooldown after the last one went through.
func (b *Breaker) Failure() {
	b.mu.Lock()
	changed := false
	if !b.open && b.fails+1 >= b.threshold {
		b.open, changed = true, true
		b.probeAt = b.now().Add(b.cooldown)
		b.isOpen.Store(true)
		b.openings.Add(1)
	} else if !b.open {
		b.fails++
	}
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange(true)
	}
}

// Open tells whether the breaker refuses calls now.
func (b *Breaker) Open() bool { return b.isOpen.Load() }

// Refused is how many calls the breaker has refused.
func (b *Breaker) Refused() uint64 { return b.refused.Load() }

// Openings is how many times the breaker has opened.
func (b *Breaker) Openings() uint64 { return b.openings.Load() }
