package signin

import (
	"sync"
	"time"

	"github.com/floorgate/floorgate/internal/connlimit"
)

// AddressRate is the rate at which one client address may try a password
// sign-in that anyone can reach without a token (enrollment, admin
// sign-in), counted per kind, before any hashing or throttle call: a
// token bucket of Burst attempts refilled at PerMinute. Zero fields take
// DefaultAddressRate's.
type AddressRate struct {
	Burst     int
	PerMinute int
}

// DefaultAddressRate: 10 attempts at once, then one every two seconds,
// per address and kind. A mobile manager enrolling handhelds one after
// the other types a password every 10 s or so; several of them behind one
// NAT address stay well inside it.
var DefaultAddressRate = AddressRate{Burst: 10, PerMinute: 30}

// maxAddressBuckets bounds the addresses the limiter remembers; beyond
// it, the buckets that have refilled are forgotten, then any.
const maxAddressBuckets = 100_000

// addressLimiter is the per-address token buckets of one process.
type addressLimiter struct {
	rate AddressRate
	now  func() time.Time

	mu      sync.Mutex
	buckets map[addressKey]*bucket
}

type addressKey struct {
	kind kind
	addr string
}

type bucket struct {
	tokens float64
	at     time.Time
	// refused: the last take was refused (the first refusal of a run is
	// audited, not every one).
	refused bool
}

func newAddressLimiter(r AddressRate, now func() time.Time) *addressLimiter {
	if r.Burst <= 0 {
		r.Burst = DefaultAddressRate.Burst
	}
	if r.PerMinute <= 0 {
		r.PerMinute = DefaultAddressRate.PerMinute
	}
	return &addressLimiter{rate: r, now: now, buckets: map[addressKey]*bucket{}}
}

// addressOf is the key of a client address: the address itself, an IPv6
// address by its /64 (one host has all of it), anything unparsable as
// it is.
func addressOf(addr string) string {
	if a := connlimit.Key(addr); a.IsValid() {
		return a.String()
	}
	return fallbackKey(addr)
}

// take spends one attempt of addr for kind k. When none is left it
// returns the wait until the next, and first is true for the first
// refusal after an allowed attempt.
func (l *addressLimiter) take(k kind, addr string) (wait time.Duration, first bool) {
	now := l.now()
	perSec := float64(l.rate.PerMinute) / 60
	key := addressKey{k, addressOf(addr)}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxAddressBuckets {
			l.forgetLocked(now, perSec)
		}
		b = &bucket{tokens: float64(l.rate.Burst), at: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(l.rate.Burst), b.tokens+d.Seconds()*perSec)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		b.refused = false
		return 0, false
	}
	first = !b.refused
	b.refused = true
	wait = time.Duration((1 - b.tokens) / perSec * float64(time.Second))
	return max(wait, time.Second), first
}

// forgetLocked drops the buckets that have refilled, and if that is not
// enough, any half of them (a fresh bucket is what a forgotten one gets).
func (l *addressLimiter) forgetLocked(now time.Time, perSec float64) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*perSec >= float64(l.rate.Burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxAddressBuckets/2 {
			break
		}
		delete(l.buckets, k)
	}
}
