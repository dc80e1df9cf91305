package memory

import (
	"context"
	"sync"
	"time"

	"github.com/floorgate/floorgate/throttle"
)

// Options configure a Throttle. The zero value works.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Forget is how long a subject's or source's counters are kept after
	// its last failure when nothing locks it (default 7 days). A lock
	// until unlocked, a quarantine and a timed lock still running are
	// never forgotten. It bounds memory when attackers invent usernames.
	Forget time.Duration
}

// Throttle is the in-process throttle.Throttle. One mutex serialises
// every call: failure counting per subject cannot race, and the source
// and warehouse counters that subjects share are consistent too.
type Throttle struct {
	now    func() time.Time
	forget time.Duration

	mu         sync.Mutex
	subjects   map[string]*subjectState
	sources    map[string]*sourceState
	warehouses map[string]*sprayState
	leases     map[string]lease
	buckets    map[string]*bucket
	ops        int // failures since the last forget pass
}

// bucket is a token bucket of Take.
type bucket struct {
	tokens  float64
	at      time.Time
	refused bool // the last take was refused
}

// maxBuckets bounds the buckets kept; beyond it, those that have
// refilled are forgotten, then any (a fresh bucket is full, as a
// forgotten one would be).
const maxBuckets = 100_000

// lease is a claim on a key: who holds it and until when.
type lease struct {
	id    string
	until time.Time
}

type subjectState struct {
	window      []time.Time // recent failures, oldest first
	lockedUntil time.Time
	consecutive int
	locks       int // timed locks since the last success (UserLockMax)
	hardLocked  bool
	last        time.Time             // last failure
	pairs       map[string]*pairState // by source
}

type pairState struct {
	fails int
	last  time.Time
}

type sourceState struct {
	window      []time.Time
	quarantined bool
	last        time.Time
}

type sprayState struct {
	queue      []sprayFail          // failures within the window, oldest first
	latest     map[string]time.Time // subject -> its latest failure in queue
	alarmedAt  time.Time
	alarmed    bool
	tightUntil time.Time // the last alarm's SprayHold ends (kept until then)
}

type sprayFail struct {
	subject string
	at      time.Time
}

var _ throttle.Throttle = (*Throttle)(nil)

// New returns a Throttle with no counters.
func New(opts Options) *Throttle {
	t := &Throttle{
		now:        opts.Now,
		forget:     opts.Forget,
		subjects:   map[string]*subjectState{},
		sources:    map[string]*sourceState{},
		warehouses: map[string]*sprayState{},
		leases:     map[string]lease{},
		buckets:    map[string]*bucket{},
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.forget <= 0 {
		t.forget = 7 * 24 * time.Hour
	}
	return t
}

// Check decides whether an attempt may go on to hashing. It counts
// nothing.
func (t *Throttle) Check(ctx context.Context, a throttle.Attempt, l throttle.Limits) (throttle.Decision, error) {
	if err := ctx.Err(); err != nil {
		return throttle.Decision{}, err
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l, tight := t.limitsLocked(a, l, now)
	d := t.decideLocked(a, l, now)
	d.Tightened = tight
	return d, nil
}

// limitsLocked is l, tightened while a spray alarm holds in the
// attempt's warehouse.
func (t *Throttle) limitsLocked(a throttle.Attempt, l throttle.Limits, now time.Time) (throttle.Limits, bool) {
	if a.WarehouseID == "" || l.SprayHold <= 0 {
		return l, false
	}
	w := t.warehouses[a.WarehouseID]
	if w == nil || !w.alarmed || now.Sub(w.alarmedAt) >= l.SprayHold {
		return l, false
	}
	return throttle.Tighten(l), true
}

// Fail counts a failed attempt against the pair, the subject, the source
// and the warehouse, and returns the decision for the next attempt.
func (t *Throttle) Fail(ctx context.Context, a throttle.Attempt, l throttle.Limits) (throttle.Decision, error) {
	if err := ctx.Err(); err != nil {
		return throttle.Decision{}, err
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()

	// The warehouse first: the failure that raises the alarm is counted
	// under the limits it tightens. The windows keep as many failures
	// as the untightened limits need.
	spray := t.sprayLocked(a, l, now)
	keep := l
	l, tight := t.limitsLocked(a, l, now)

	sub := t.subjects[a.Subject]
	if sub == nil {
		sub = &subjectState{pairs: map[string]*pairState{}}
		t.subjects[a.Subject] = sub
	}
	sub.last = now
	sub.consecutive++
	if l.UserHardFailures > 0 && sub.consecutive >= l.UserHardFailures {
		sub.hardLocked = true
	}
	if l.UserFailures > 0 {
		sub.window = slide(append(sub.window, now), now, l.UserWindow, max(l.UserFailures, keep.UserFailures))
		if len(sub.window) >= l.UserFailures {
			sub.locks++
			sub.lockedUntil = now.Add(throttle.LockFor(l, sub.locks))
			sub.window = sub.window[:0] // a new count starts after the lock
		}
	}
	p := sub.pairs[a.Source]
	if p == nil {
		p = &pairState{}
		sub.pairs[a.Source] = p
	}
	p.fails++
	p.last = now

	src := t.sources[a.Source]
	if src == nil {
		src = &sourceState{}
		t.sources[a.Source] = src
	}
	src.last = now
	if l.DeviceFailures > 0 {
		src.window = slide(append(src.window, now), now, l.DeviceWindow, max(l.DeviceFailures, keep.DeviceFailures))
		if len(src.window) >= l.DeviceFailures {
			src.quarantined = true
		}
	}

	t.ops++
	if t.ops >= 4096 {
		t.ops = 0
		t.forgetLocked(now)
	}
	d := t.decideLocked(a, l, now)
	d.Spray, d.Tightened = spray, tight
	return d, nil
}

// sprayLocked records a failure in the warehouse and reports whether it
// raised the alarm: SprayUsers distinct subjects failing within
// SprayWindow, at most once per SprayPeriod.
func (t *Throttle) sprayLocked(a throttle.Attempt, l throttle.Limits, now time.Time) bool {
	if a.WarehouseID == "" || l.SprayUsers <= 0 {
		return false
	}
	w := t.warehouses[a.WarehouseID]
	if w == nil {
		w = &sprayState{latest: map[string]time.Time{}}
		t.warehouses[a.WarehouseID] = w
	}
	w.queue = append(w.queue, sprayFail{a.Subject, now})
	w.latest[a.Subject] = now
	w.trim(now, l.SprayWindow)
	if len(w.latest) < l.SprayUsers {
		return false
	}
	if w.alarmed && now.Sub(w.alarmedAt) < l.SprayPeriod() {
		return false
	}
	w.alarmed, w.alarmedAt = true, now
	w.tightUntil = now.Add(l.SprayHold)
	return true
}

// trim drops failures older than the window.
func (w *sprayState) trim(now time.Time, window time.Duration) {
	i := 0
	for ; i < len(w.queue) && now.Sub(w.queue[i].at) >= window; i++ {
		f := w.queue[i]
		if w.latest[f.subject].Equal(f.at) {
			delete(w.latest, f.subject)
		}
	}
	w.queue = append(w.queue[:0], w.queue[i:]...)
}

// decideLocked is the decision for the next attempt: a quarantined
// source, then a locked subject, then the pair's delay.
func (t *Throttle) decideLocked(a throttle.Attempt, l throttle.Limits, now time.Time) throttle.Decision {
	if src := t.sources[a.Source]; src != nil && src.quarantined {
		return throttle.Decision{Verdict: throttle.Quarantined}
	}
	sub := t.subjects[a.Subject]
	if sub == nil {
		return throttle.Decision{Verdict: throttle.Allow}
	}
	if sub.hardLocked {
		return throttle.Decision{Verdict: throttle.UserLocked}
	}
	p := sub.pairs[a.Source]
	if now.Before(sub.lockedUntil) && !(l.SpareCleanSources && (p == nil || p.fails == 0)) {
		return throttle.Decision{Verdict: throttle.UserLocked, RetryAfter: sub.lockedUntil.Sub(now)}
	}
	if p != nil && p.fails > l.PairFreeFailures {
		until := p.last.Add(pairDelay(p.fails-l.PairFreeFailures, l.PairMaxDelay))
		if now.Before(until) {
			return throttle.Decision{Verdict: throttle.Delay, RetryAfter: until.Sub(now)}
		}
	}
	return throttle.Decision{Verdict: throttle.Allow}
}

// pairDelay is the wait after the n-th failure beyond the free ones: 1s,
// 2s, 4s... up to limit (when limit is positive).
func pairDelay(n int, limit time.Duration) time.Duration {
	n = min(max(n, 1), 34) // time.Second<<33 is the last that fits a Duration
	d := time.Second << (n - 1)
	if limit > 0 && d > limit {
		d = limit
	}
	return d
}

// slide drops the times older than window and keeps at most keep of the
// newest (the count never needs more).
func slide(ts []time.Time, now time.Time, window time.Duration, keep int) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	if n := len(ts) - i; n > keep {
		i += n - keep
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

// Succeed clears the pair's delay and the subject's consecutive count.
func (t *Throttle) Succeed(ctx context.Context, a throttle.Attempt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if sub := t.subjects[a.Subject]; sub != nil {
		delete(sub.pairs, a.Source)
		sub.consecutive = 0
		sub.locks = 0
	}
	return nil
}

// UnlockSubject clears every counter and lock of a subject.
func (t *Throttle) UnlockSubject(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.subjects, subject)
	return nil
}

// UnlockSource lifts a quarantine and clears the source's counters,
// including the delays of every subject on that source.
func (t *Throttle) UnlockSource(ctx context.Context, source string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sources, source)
	for _, sub := range t.subjects {
		delete(sub.pairs, source)
	}
	return nil
}

// Quarantined reports whether a source is quarantined.
func (t *Throttle) Quarantined(ctx context.Context, source string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	src := t.sources[source]
	return src != nil && src.quarantined, nil
}

// forgetLocked drops counters idle for longer than Forget that hold no
// lock, and warehouses with no failure in their window.
func (t *Throttle) forgetLocked(now time.Time) {
	for k, sub := range t.subjects {
		if !sub.hardLocked && !now.Before(sub.lockedUntil) && now.Sub(sub.last) >= t.forget {
			delete(t.subjects, k)
		}
	}
	for k, src := range t.sources {
		if !src.quarantined && now.Sub(src.last) >= t.forget {
			delete(t.sources, k)
		}
	}
	for k, w := range t.warehouses {
		if now.Before(w.tightUntil) {
			continue // its alarm still tightens the limits
		}
		if len(w.queue) == 0 || now.Sub(w.queue[len(w.queue)-1].at) >= t.forget {
			delete(t.warehouses, k)
		}
	}
}

// Claim leases every key to id for ttl, or none.
func (t *Throttle) Claim(ctx context.Context, keys []string, id string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if l, held := t.leases[k]; held && l.id != id && now.Before(l.until) {
			return false, nil
		}
	}
	for _, k := range keys {
		t.leases[k] = lease{id: id, until: now.Add(ttl)}
	}
	if len(t.leases) > 4096 {
		for k, l := range t.leases {
			if !now.Before(l.until) {
				delete(t.leases, k)
			}
		}
	}
	return true, nil
}

// Release ends the leases of keys that id still holds.
func (t *Throttle) Release(ctx context.Context, keys []string, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if t.leases[k].id == id {
			delete(t.leases, k)
		}
	}
	return nil
}

// Take spends one take of key's bucket.
func (t *Throttle) Take(ctx context.Context, key string, r throttle.Rate) (time.Duration, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	now := t.now()
	perSec := float64(r.PerMinute) / 60
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[key]
	if b == nil {
		if len(t.buckets) >= maxBuckets {
			t.forgetBucketsLocked(now, r)
		}
		b = &bucket{tokens: float64(r.Burst), at: now}
		t.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(r.Burst), b.tokens+d.Seconds()*perSec)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		b.refused = false
		return 0, false, nil
	}
	first := !b.refused
	b.refused = true
	return throttle.RateWait(r, b.tokens), first, nil
}

// forgetBucketsLocked drops the buckets that have refilled at r, and if
// that is not enough, any half of them.
func (t *Throttle) forgetBucketsLocked(now time.Time, r throttle.Rate) {
	perSec := float64(r.PerMinute) / 60
	for k, b := range t.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*perSec >= float64(r.Burst) {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < maxBuckets/2 {
			break
		}
		delete(t.buckets, k)
	}
}
