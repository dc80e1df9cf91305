package devices

import (
	"crypto/sha256"
	"sync"
	"time"
)

// fanCache is the bookkeeping of ManagerTokenCache, the pattern of
// TokenCache as a type of its own (TokenCache is to move onto it): what
// a token authenticated, by the token's SHA-256, each entry until a
// deadline, kept only while the cache is on (its owner hears every
// instance's news on the fan-out), and a generation that every drop,
// start and stop moves, so that an answer the registry gave while one of
// them happened is not kept. It starts off and empty.
type fanCache[V any] struct {
	max int

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]fanEntry[V]
	on    bool
	gen   uint64
}

type fanEntry[V any] struct {
	v     V
	until time.Time
}

func newFanCache[V any](max int) *fanCache[V] {
	return &fanCache[V]{max: max, byKey: map[[sha256.Size]byte]fanEntry[V]{}}
}

// get returns the entry of key if it is still good at now, and the
// generation a fill begun now carries.
func (c *fanCache[V]) get(key [sha256.Size]byte, now time.Time) (v V, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if ok && now.Before(e.until) {
		return e.v, true, c.gen
	}
	return v, false, c.gen
}

// put keeps v until until, unless the cache is off or moved on since the
// fill began at gen. Beyond max entries, the expired ones go, and if
// that is not enough, all of them.
func (c *fanCache[V]) put(key [sha256.Size]byte, v V, until, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || c.gen != gen || !now.Before(until) {
		return
	}
	if _, ok := c.byKey[key]; !ok && len(c.byKey) >= c.max {
		c.sweepLocked(now)
		if len(c.byKey) >= c.max {
			clear(c.byKey)
		}
	}
	c.byKey[key] = fanEntry[V]{v: v, until: until}
}

// dropIf forgets every entry for which match is true. It looks at every
// entry: drops are rare, an index would cost memory on every entry.
func (c *fanCache[V]) dropIf(match func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.byKey {
		if match(e.v) {
			delete(c.byKey, k)
		}
	}
}

// reset empties the cache and turns it on or off.
func (c *fanCache[V]) reset(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.on = on
	clear(c.byKey)
}

func (c *fanCache[V]) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(now)
}

func (c *fanCache[V]) sweepLocked(now time.Time) {
	for k, e := range c.byKey {
		if !now.Before(e.until) {
			delete(c.byKey, k)
		}
	}
}

func (c *fanCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}
