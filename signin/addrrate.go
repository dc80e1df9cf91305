package signin

import (
	"github.com/floorgate/floorgate/internal/connlimit"
)

// AddressRate is the rate at which one client address may try a password
// sign-in that anyone can reach without a token (enrollment, admin
// sign-in), counted per kind, before any hashing or registry call: a
// token bucket of Burst attempts refilled at PerMinute, kept in the
// throttle's store (throttle.Take), so that every instance sharing it
// spends from one bucket per address: three instances behind one load
// balancer give an address the budget one gives. Zero fields take
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

// addressOf is the key of a client address: the address itself, an IPv6
// address by its /64 (one host has all of it), anything unparsable as
// it is.
func addressOf(addr string) string {
	if a := connlimit.Key(addr); a.IsValid() {
		return a.String()
	}
	return fallbackKey(addr)
}

// withDefaults fills zero fields from DefaultAddressRate.
func (r AddressRate) withDefaults() AddressRate {
	if r.Burst <= 0 {
		r.Burst = DefaultAddressRate.Burst
	}
	if r.PerMinute <= 0 {
		r.PerMinute = DefaultAddressRate.PerMinute
	}
	return r
}
