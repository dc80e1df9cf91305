package gateway

import (
	"sync"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// DefaultIntrospectCache is how long an instance answers POST
// /v1/introspect for a session from what the store last told it, when
// Config.IntrospectCache is 0.
const DefaultIntrospectCache = time.Second

// validCache holds, per instance, the sessions that POST /v1/introspect
// found live, for at most bound after the store said so, so that a busy
// backend's introspections of the same token cost no store round trip.
//
// What keeps it right:
//   - Every instance hears every end on the fan-out (KindEnded): the
//     entry goes at once, so an ended session is refused on the next
//     request once the event is in, on every instance.
//   - An entry is never older than bound (the injected clock): if the
//     fan-out or Redis goes quiet, nothing is answered from what the
//     store said more than bound ago; the next request asks the store
//     and fails closed (503) when it does not answer.
//   - When the watcher may have missed events (KindLost) the cache is
//     emptied and stays off until the watcher has subscribed again
//     (Watch's ready, which empties it again). It starts off, before
//     the first subscription.
//   - A fill races with an end: the end's event may arrive while the
//     store's answer is on its way. Every end is numbered (seq) and the
//     last ringSize ended ids are kept; a fill carries the number it
//     started at and is dropped if its session ended since (or if too
//     many ended to tell).
//   - Sessions confined to a PIN change are never kept (introspection
//     answers them inactive, and the confinement can be lifted).
//
// The idle-timeout touch rides on the store reads: each one (at most one
// per session per bound while it is used) is a Validate, which writes the
// session's last activity when TouchEvery has passed since its last
// write. Uses answered from the cache between two reads are not written,
// so a session's idle end may come up to bound + TouchEvery after its
// last use minus the idle timeout, instead of TouchEvery without the
// cache: with the defaults, 6 s early at the most against idle timeouts
// of minutes. A session in use keeps every extension it needs: its next
// use after bound goes to the store and touches it.
type validCache struct {
	bound time.Duration
	max   int

	mu      sync.RWMutex
	on      bool
	byToken map[string]validEntry // by token hash
	byID    map[string]string     // session id → token hash
	seq     uint64                // ends heard so far (and jumps on a reset)
	ring    [ringSize]string      // ring[n%ringSize]: the id of end number n
	swept   time.Time             // last sweep of stale entries
}

// ringSize is how many ends a fill in flight can be checked against.
const ringSize = 1024

// maxCached bounds the entries (about 400 bytes each).
const maxCached = 100_000

type validEntry struct {
	s      sessions.Session
	answer []byte    // the encoded 200 answer for s
	at     time.Time // when the store was asked
}

func newValidCache(bound time.Duration) *validCache {
	return &validCache{
		bound:   bound,
		max:     maxCached,
		byToken: make(map[string]validEntry),
		byID:    make(map[string]string),
	}
}

// get returns the encoded answer for a token hash if the cache may
// answer for it at now.
func (c *validCache) get(hash string, now time.Time) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.byToken[hash]
	on := c.on
	c.mu.RUnlock()
	if !ok || !on || now.Sub(e.at) >= c.bound || now.Before(e.at) || !now.Before(e.s.EndsAt()) {
		return nil, false
	}
	return e.answer, true
}

// start returns the number a fill carries: ends heard so far.
func (c *validCache) start() uint64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
}

// put keeps s and its answer, which the store answered for a read begun
// at now and at number from, unless the cache is off or s ended since.
func (c *validCache) put(hash string, s sessions.Session, answer []byte, from uint64, now time.Time) {
	if c == nil || s.PINChangeRequired {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || c.seq-from >= ringSize {
		return
	}
	for n := from + 1; n <= c.seq; n++ {
		if c.ring[n%ringSize] == s.ID {
			return
		}
	}
	if _, ok := c.byToken[hash]; !ok && len(c.byToken) >= c.max {
		c.sweep(now)
		if len(c.byToken) >= c.max {
			return
		}
	}
	c.byToken[hash] = validEntry{s: s, answer: answer, at: now}
	c.byID[s.ID] = hash
}

// sweep drops the entries too old to answer, at most once per bound.
// c.mu is held.
func (c *validCache) sweep(now time.Time) {
	if now.Sub(c.swept) < c.bound {
		return
	}
	c.swept = now
	for h, e := range c.byToken {
		if now.Sub(e.at) >= c.bound || now.Before(e.at) {
			delete(c.byToken, h)
			delete(c.byID, e.s.ID)
		}
	}
}

// ended drops a session that has ended and numbers the end.
func (c *validCache) ended(sessionID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.ring[c.seq%ringSize] = sessionID
	if h, ok := c.byID[sessionID]; ok {
		delete(c.byID, sessionID)
		delete(c.byToken, h)
	}
}

// reset empties the cache and turns it on (the watcher has subscribed:
// Watch's ready) or off (it may be missing events). Fills in flight are
// refused.
func (c *validCache) reset(on bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = on
	c.seq += ringSize
	clear(c.byToken)
	clear(c.byID)
}

// event applies one fan-out event.
func (c *validCache) event(e sessions.Event) {
	if c == nil {
		return
	}
	switch e.Kind {
	case sessions.KindEnded:
		if e.Command != nil {
			c.ended(e.Command.SessionID)
		}
	case sessions.KindLost:
		c.reset(false)
	}
}
