package throttle

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable: the throttle's store cannot be reached. Every error a
// Throttle returns matches it (the conformance suite checks this), and
// callers fail closed: an attempt that cannot be checked or counted is
// refused.
var ErrUnavailable = errors.New("throttle unavailable")

// Attempt identifies one sign-in try. Subject names the account tried
// (known or not, so that throttling reveals nothing about which accounts
// exist) and Source where the try came from; both are opaque keys here,
// and the signin package chooses their formats. WarehouseID is the
// warehouse of the source, for the spray alarm ("" when unknown).
type Attempt struct {
	Subject     string
	Source      string
	WarehouseID string
}

// Limits are the throttle limits in force (signin maps the registry's
// settings to them).
// A zero count turns its rule off: UserFailures, UserHardFailures,
// DeviceFailures and SprayUsers 0 never lock, quarantine or alarm
// (PairFreeFailures 0 means delays from the first failure). Callers whose
// Source is a client address rather than a device pass DeviceFailures 0:
// a quarantine lasts until UnlockSource, and no one unlocks an address.
type Limits struct {
	PairFreeFailures int           // failures per (subject, source) before delays
	PairMaxDelay     time.Duration // delays double from 1s up to this
	UserFailures     int           // per subject, within UserWindow ...
	UserWindow       time.Duration
	UserLock         time.Duration // ... lock it this long
	UserHardFailures int           // consecutive failures that lock until Unlock
	DeviceFailures   int           // per source, within DeviceWindow, quarantine it
	DeviceWindow     time.Duration
	SprayUsers       int // distinct subjects failing in a warehouse within SprayWindow
	SprayWindow      time.Duration
	// SprayHold, when positive, is how long a warehouse's spray alarm
	// tightens the limits of every attempt from that warehouse (Tighten)
	// after it is raised; an alarm is raised again at most once per
	// the longer of SprayWindow and SprayHold. 0: the alarm only reports.
	SprayHold time.Duration
	// UserLockMax, when positive, makes the timed lock grow: each lock of
	// a subject lasts twice the one before (UserLock, 2·UserLock, …) up
	// to UserLockMax, until a success or UnlockSubject starts it over.
	UserLockMax time.Duration
	// SpareCleanSources: a subject's timed lock does not hold against a
	// source with no failure of that subject on record (since its last
	// success there, or the source's unlock), so that failures elsewhere
	// cannot lock the account's owner out where they sign in. The
	// source's first failure makes it one the lock holds against.
	SpareCleanSources bool
}

// Verdict is a throttle decision.
type Verdict string

const (
	Allow       Verdict = "allow"
	Delay       Verdict = "delay"       // (subject, source) must wait RetryAfter
	UserLocked  Verdict = "user_locked" // subject locked (RetryAfter, or 0: until unlocked)
	Quarantined Verdict = "quarantined" // source quarantined until unlocked
)

// Decision is what Check and Fail decide.
type Decision struct {
	Verdict    Verdict
	RetryAfter time.Duration
	// Spray is true when this failure raised the warehouse spray alarm
	// (once per window, or per SprayHold when that is longer).
	Spray bool
	// Tightened is true when the decision was taken under the tightened
	// limits of a spray alarm that holds (Tighten).
	Tightened bool
}

// Throttle keeps the failure counters. Checks run before any hash is
// computed. Failure counting is serialised per subject so that parallel
// requests cannot slip past the counters. Every error it returns matches
// ErrUnavailable.
type Throttle interface {
	// Check decides whether an attempt may proceed to hashing.
	Check(ctx context.Context, a Attempt, l Limits) (Decision, error)
	// Fail counts a failure and returns the decision for the next attempt.
	Fail(ctx context.Context, a Attempt, l Limits) (Decision, error)
	// Succeed clears the (subject, source) delay and the consecutive count.
	Succeed(ctx context.Context, a Attempt) error
	// UnlockSubject clears every counter and lock of a subject.
	UnlockSubject(ctx context.Context, subject string) error
	// UnlockSource lifts a quarantine and clears the source's counters.
	UnlockSource(ctx context.Context, source string) error
	// Quarantined reports whether a source is quarantined.
	Quarantined(ctx context.Context, source string) (bool, error)
	// Claim leases every key to one attempt for ttl, or none: ok is
	// false when another attempt (on any instance sharing the store)
	// holds one of them. The lease ends at Release with the same id, or
	// after ttl when its holder never releases it (a crash).
	Claim(ctx context.Context, keys []string, id string, ttl time.Duration) (ok bool, err error)
	// Release ends the leases of keys that id still holds; a lease that
	// expired and was taken by another attempt is left alone.
	Release(ctx context.Context, keys []string, id string) error
	// Take spends one take of key's token bucket (r.Burst takes at
	// once, refilled at r.PerMinute), one bucket for every instance
	// sharing the store. When none is left, wait is how long until the
	// next one (never less than a second) and first is true for the
	// first refusal after an allowed take; nothing is spent.
	Take(ctx context.Context, key string, r Rate) (wait time.Duration, first bool, err error)
}

// Rate is a token bucket's size and refill: Burst takes at once, then
// PerMinute a minute. Both must be positive.
type Rate struct {
	Burst     int
	PerMinute int
}

// RateWait is the wait until a bucket holding tokens (less than one)
// has a whole one at r, at least a second.
func RateWait(r Rate, tokens float64) time.Duration {
	perSec := float64(r.PerMinute) / 60
	return max(time.Duration((1-tokens)/perSec*float64(time.Second)), time.Second)
}

// LockFor is how long the n-th timed lock of a subject lasts (n from 1):
// UserLock, growing by doubling up to UserLockMax when that is positive.
func LockFor(l Limits, n int) time.Duration {
	d := l.UserLock
	if l.UserLockMax <= 0 {
		return d
	}
	for i := 1; i < n && d < l.UserLockMax; i++ {
		d *= 2
	}
	return min(d, max(l.UserLockMax, l.UserLock))
}

// Tighten is l while a spray alarm holds in the attempt's warehouse
// (Limits.SprayHold): the free failures of a (subject, source) pair,
// the failures that lock a subject and those that quarantine a source
// halve (a count that is on stays at least 1), and a lock and the
// longest pair delay last twice as long (a growing lock still stops at
// UserLockMax, or at the doubled UserLock if that is longer).
func Tighten(l Limits) Limits {
	half := func(n int) int {
		if n <= 0 {
			return n
		}
		return max(1, n/2)
	}
	l.PairFreeFailures /= 2
	l.UserFailures = half(l.UserFailures)
	l.DeviceFailures = half(l.DeviceFailures)
	l.UserLock *= 2
	l.PairMaxDelay *= 2
	return l
}

// SprayPeriod is the least time between two spray alarms of a
// warehouse: the longer of SprayWindow and SprayHold.
func (l Limits) SprayPeriod() time.Duration { return max(l.SprayWindow, l.SprayHold) }
