package devices

import (
	"context"
	"crypto/sha256"
	"maps"
	"sync"
	"time"
	"unique"
)

// TokenCache remembers, in one process, which active device a device
// token authenticates, so that a handheld that reconnects costs no
// registry query. It is only as fresh as its caller keeps it: the caller
// turns it on (Start) while it hears the news of every instance, Drops a
// device as soon as it hears that the device was revoked or re-enrolled,
// and turns it off (Stop) whenever it may miss such news (its fan-out
// subscription was lost); off, every lookup goes to the registry and
// nothing is kept. It starts off. An entry that no news removed still
// lapses after TTL, so a lost message keeps a revoked token working here
// for at most TTL.
//
// Only active devices are kept, each as its id, warehouse and app
// versions: a hit answers a Device with ID, WarehouseID, Status,
// EnrolledAppVersion (fixed at enrollment) and AppVersion (as last read:
// a login's claim updates it in the registry later, and a login without
// a claim is checked against the version read then). Unknown and
// revoked tokens always go to the registry.
type TokenCache struct {
	reg *Registry
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	byToken map[[sha256.Size]byte]cachedDevice
	// peak is the most entries byToken has held since it was made: a Go
	// map keeps the room of its peak after its entries are deleted, so
	// the sweep makes a new one when most of that room is empty.
	peak int
	on   bool
	gen  uint64 // moved by every Drop, Start and Stop
}

type cachedDevice struct {
	id, warehouseID string
	// The app versions, interned: a fleet runs few versions, and an
	// entry per socket keeps two pointers rather than two strings.
	appVersion, enrolledAppVersion unique.Handle[string]
	until                          time.Time
}

// DefaultTokenCacheTTL is how long a TokenCache keeps an entry when
// TokenCacheOptions.TTL is 0.
const DefaultTokenCacheTTL = 30 * time.Second

// TokenCacheOptions configure a TokenCache.
type TokenCacheOptions struct {
	// TTL bounds how long an entry is used (DefaultTokenCacheTTL when 0).
	TTL time.Duration
	// Max bounds the entries (100,000 when 0): beyond it the expired
	// ones are dropped, and if that is not enough, all of them.
	Max int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NewTokenCache returns an empty cache in front of reg.
func NewTokenCache(reg *Registry, o TokenCacheOptions) *TokenCache {
	if o.TTL <= 0 {
		o.TTL = DefaultTokenCacheTTL
	}
	if o.Max <= 0 {
		o.Max = 100_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &TokenCache{reg: reg, ttl: o.TTL, max: o.Max, now: o.Now, byToken: map[[sha256.Size]byte]cachedDevice{}}
}

// Generation changes whenever a device is dropped or the cache started
// or stopped.
// A caller that authenticated a device at one generation and finds
// another afterwards may have let in a device revoked meanwhile: it asks
// the registry again (AuthenticateDevice).
func (c *TokenCache) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// AuthenticateDevice is Registry.AuthenticateDevice through the cache.
func (c *TokenCache) AuthenticateDevice(ctx context.Context, tok Token) (Device, error) {
	key := sha256.Sum256([]byte(tok.Reveal()))
	now := c.now()
	c.mu.Lock()
	e, ok := c.byToken[key]
	gen, on := c.gen, c.on
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return Device{ID: e.id, WarehouseID: e.warehouseID, Status: DeviceActive,
			AppVersion: handleValue(e.appVersion), EnrolledAppVersion: handleValue(e.enrolledAppVersion)}, nil
	}
	d, err := c.reg.AuthenticateDevice(ctx, tok)
	if err != nil || d.Status != DeviceActive || !on {
		return d, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A Drop or Stop while the registry answered may concern this
	// device: the answer is returned (it was true when read) but not kept.
	if c.gen != gen {
		return d, nil
	}
	if len(c.byToken) >= c.max {
		c.sweepLocked(now)
		if len(c.byToken) >= c.max {
			clear(c.byToken)
		}
	}
	c.byToken[key] = cachedDevice{id: d.ID, warehouseID: d.WarehouseID, appVersion: unique.Make(d.AppVersion),
		enrolledAppVersion: unique.Make(d.EnrolledAppVersion), until: now.Add(c.ttl)}
	c.peak = max(c.peak, len(c.byToken))
	return d, nil
}

// Sweep drops the entries whose TTL has passed, so that the sockets of
// an idle instance cost no memory here after TTL. The caller runs it
// every TTL or so.
func (c *TokenCache) Sweep() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(now)
}

func (c *TokenCache) sweepLocked(now time.Time) {
	for k, e := range c.byToken {
		if !now.Before(e.until) {
			delete(c.byToken, k)
		}
	}
	c.shrinkLocked()
}

// shrinkLocked moves the entries to a new map when they fill less than a
// quarter of the room the map grew to (and that room is worth it): a
// Go map keeps the memory of its deleted entries, about 160 bytes each
// for this one, so without this an instance that once took 10,000
// device connects kept 1.6 MB here after every entry had lapsed.
func (c *TokenCache) shrinkLocked() {
	if c.peak < minShrink || len(c.byToken) > c.peak/4 {
		return
	}
	m := make(map[[sha256.Size]byte]cachedDevice, len(c.byToken))
	maps.Copy(m, c.byToken)
	c.byToken, c.peak = m, len(m)
}

// minShrink is the peak below which the cache's map is not remade.
const minShrink = 1024

// Drop forgets every token of a device: it was revoked or enrolled again.
// It looks at every entry (revocations are rare; an index by device
// would cost memory on every socket).
func (c *TokenCache) Drop(deviceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.byToken {
		if e.id == deviceID {
			delete(c.byToken, k)
		}
	}
}

// Start empties the cache and turns it on.
func (c *TokenCache) Start() { c.reset(true) }

// Stop empties the cache and turns it off.
func (c *TokenCache) Stop() { c.reset(false) }

func (c *TokenCache) reset(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.on = on
	clear(c.byToken)
	c.shrinkLocked()
}

// Len is the number of entries, expired ones included.
func (c *TokenCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byToken)
}

// handleValue is h's string, "" for the zero Handle (whose Value would
// panic).
func handleValue(h unique.Handle[string]) string {
	if h == (unique.Handle[string]{}) {
		return ""
	}
	return h.Value()
}
