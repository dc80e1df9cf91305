package signin

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Pool bounds the hashes of secrets that run at once, and gives each kind
// of sign-in its own bounded share of them. A hash costs tens of
// milliseconds of CPU; beyond its share, an attempt waits at most the
// pool's wait and is then refused (ErrBusy, answered 429) instead of
// queuing until everything times out. One Pool serves every kind of
// sign-in of the process.
//
// Device sign-ins (PIN login, PIN change: a device token is needed to
// try) may use every slot, and a free slot goes to a waiting device
// sign-in first. The two password sign-ins that anyone can try without a
// token, enrollment and admin sign-in, each have a share of the pool's
// hashing time (Shares) and at most that share of its slots at once
// (always at least one): a flood of either, from any number of
// addresses, leaves device sign-ins the rest, and one cannot take the
// other's share.
type Pool struct {
	size int
	wait time.Duration
	now  func() time.Time // the budgets' clock (the waits are real time)

	// entries are the device sign-ins admitted to the pool (admit): its
	// slots and a quarter more (at least one more), so that a slot that
	// comes free finds an attempt whose user is already read (a read
	// takes about a millisecond, a hash tens), and no more than that
	// many reach the registry while the slots are taken: a burst of
	// logins on 2 cores reads 3 users at a time where it read 2, and
	// the store's connection pool, which the burst's device and
	// settings reads already fill, is not given more to wait for.
	entries chan struct{}

	mu      sync.Mutex
	used    int
	classes [numClasses]classState
	changed chan struct{} // closed and replaced when a slot is given back
}

// class is a group of kinds that share one part of the pool.
type class int

const (
	classDevice  class = iota // pin, pin_change
	classEnroll               // enroll
	classManager              // manager
	numClasses
)

func classOf(k kind) class {
	switch k {
	case kindEnroll:
		return classEnroll
	case kindManager:
		return classManager
	}
	return classDevice
}

// Shares are the parts of the pool's hashing time (0 to 1) that enrollment
// and admin sign-in may use; a zero field takes DefaultShares'.
type Shares struct {
	Enroll, Manager float64
}

// DefaultShares give enrollment and admin sign-in a sixteenth of the
// pool's hashing time each (on 2 cores, about two password hashes a
// second each at the default hash cost), leaving device sign-ins at least
// seven eighths under any flood of both.
var DefaultShares = Shares{Enroll: 1.0 / 16, Manager: 1.0 / 16}

// passwordWait is the longest an enrollment or admin sign-in waits for
// its share of the pool.
const passwordWait = time.Second

// shareBurst is the hashing time a class with a share may run ahead of
// its share: a person who signs in, or a mobile manager who enrolls a
// few handhelds in a row, after a quiet spell never waits, even on a
// busy server where a hash and its lookups take a few hundred
// milliseconds. A flood spends it in its first second; from then on it
// gets its share.
const shareBurst = time.Second

type classState struct {
	share   float64 // 1: no budget
	maxHeld int
	held    int
	waiting int
	debt    time.Duration // hashing time not yet paid back at the share's rate
	paidAt  time.Time
}

// NewPool returns a pool of workers slots (GOMAXPROCS when 0 or less)
// with DefaultShares; a device sign-in waits at most wait for one (100ms
// when 0 or less), a password sign-in at most the longer of wait and a
// second.
func NewPool(workers int, wait time.Duration) *Pool {
	return NewPoolShares(workers, wait, Shares{})
}

// NewPoolShares is NewPool with the given shares.
func NewPoolShares(workers int, wait time.Duration, s Shares) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	if s.Enroll <= 0 || s.Enroll > 1 {
		s.Enroll = DefaultShares.Enroll
	}
	if s.Manager <= 0 || s.Manager > 1 {
		s.Manager = DefaultShares.Manager
	}
	p := &Pool{size: workers, wait: wait, now: time.Now, changed: make(chan struct{}), entries: make(chan struct{}, workers+max(1, workers/4))}
	p.classes[classDevice] = classState{share: 1, maxHeld: workers}
	for c, share := range map[class]float64{classEnroll: s.Enroll, classManager: s.Manager} {
		p.classes[c] = classState{share: share, maxHeld: max(1, int(share*float64(workers)))}
	}
	return p
}

// Shares are the pool's shares in force (the defaults filled in).
func (p *Pool) Shares() Shares {
	return Shares{Enroll: p.classes[classEnroll].share, Manager: p.classes[classManager].share}
}

// Acquire takes a slot for a device sign-in (see acquire).
func (p *Pool) Acquire(ctx context.Context) (release func(), err error) {
	return p.acquire(ctx, classDevice)
}

// deadline is when an attempt of class c that starts waiting now for
// the pool gives up: the pool's wait, or for a password sign-in at
// least a second (a sleeping goroutine costs nothing, and a flood that
// sends its next request when answered is paced by it).
func (p *Pool) deadline(c class) time.Time {
	wait := p.wait
	if c != classDevice {
		wait = max(wait, passwordWait)
	}
	return time.Now().Add(wait)
}

// admit admits a device sign-in to the pool before it reads the
// registry for the hash to come: at most the pool's slots and a
// quarter more (at least one more) are admitted at once, and one that finds no entry by deadline (or when
// ctx ends) is ErrBusy, as one that finds no slot is. The hash itself
// still takes a slot (acquireBy) with the same deadline; leave gives
// the entry back once the hash is done.
func (p *Pool) admit(ctx context.Context, deadline time.Time) (leave func(), err error) {
	select {
	case p.entries <- struct{}{}:
		return p.leave, nil
	default:
	}
	left := time.Until(deadline)
	if left <= 0 {
		return nil, ErrBusy
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case p.entries <- struct{}{}:
		return p.leave, nil
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, ErrBusy
}

func (p *Pool) leave() { <-p.entries }

// acquire takes a slot for class c, waiting at most the pool's wait (and
// never past ctx); ErrBusy when none came free within c's share. The
// returned func gives it back.
func (p *Pool) acquire(ctx context.Context, c class) (release func(), err error) {
	return p.acquireBy(ctx, c, p.deadline(c))
}

// acquireBy is acquire, waiting until deadline.
func (p *Pool) acquireBy(ctx context.Context, c class, deadline time.Time) (release func(), err error) {
	st := &p.classes[c]
	p.mu.Lock()
	st.waiting++
	defer func() {
		p.mu.Lock()
		st.waiting--
		p.mu.Unlock()
	}()
	for {
		now := p.now()
		retry, ok := p.mayTakeLocked(c, now)
		if ok {
			p.used++
			st.held++
			p.mu.Unlock()
			start := now
			return func() { p.give(c, start) }, nil
		}
		changed := p.changed
		p.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return nil, ErrBusy
		}
		if retry <= 0 || retry > left {
			retry = left
		}
		t := time.NewTimer(retry)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ErrBusy
		}
		t.Stop()
		p.mu.Lock()
	}
}

// mayTakeLocked reports whether class c may take a slot now, and if not
// because of its budget, how long until it may.
func (p *Pool) mayTakeLocked(c class, now time.Time) (retry time.Duration, ok bool) {
	st := &p.classes[c]
	if p.used >= p.size || st.held >= st.maxHeld {
		return 0, false
	}
	if c == classDevice {
		return 0, true
	}
	if p.classes[classDevice].waiting > 0 {
		return 0, false // a free slot goes to a device first
	}
	st.pay(now, p.size)
	if st.debt > shareBurst {
		rate := st.share * float64(p.size)
		return time.Duration(float64(st.debt-shareBurst)/rate) + time.Millisecond, false
	}
	return 0, true
}

// pay pays the class's debt back at its share of a pool of size slots
// (share*size seconds of hashing per second) up to now.
func (st *classState) pay(now time.Time, size int) {
	if st.debt > 0 && now.After(st.paidAt) {
		paid := time.Duration(float64(now.Sub(st.paidAt)) * st.share * float64(size))
		st.debt = max(0, st.debt-paid)
	}
	st.paidAt = now
}

// give returns a slot of class c taken at start, charging the time it
// was held to c's budget.
func (p *Pool) give(c class, start time.Time) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := &p.classes[c]
	p.used--
	st.held--
	if st.share < 1 {
		st.pay(now, p.size)
		st.debt += max(0, now.Sub(start))
	}
	close(p.changed)
	p.changed = make(chan struct{})
}
