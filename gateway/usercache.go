package gateway

import (
	"sync"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// userCache remembers, in this instance, the users of the sessions it
// shows (the session object of welcome and GET /v1/session: names,
// username, warehouse, language), so that a signed-in device's connect
// costs no registry read. It is kept as the device-token cache is: on
// only while the fan-out is heard (start at each ready, stop at
// KindLost), an entry dropped as soon as any instance publishes
// sessions.KindUserChanged for its user (the admin API does after every
// change of a user), and none used after ttl, which bounds how long a
// change whose event was lost shows its old names here. Off (a negative
// DeviceTokenTTL), every view reads the registry.
type userCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	users map[string]cachedUser
	on    bool
	gen   uint64 // moved by every drop, start and stop
}

type cachedUser struct {
	u     devices.User
	until time.Time
}

func newUserCache(ttl time.Duration, now func() time.Time) *userCache {
	if ttl == 0 {
		ttl = devices.DefaultTokenCacheTTL
	}
	return &userCache{ttl: ttl, max: 100_000, now: now, users: map[string]cachedUser{}}
}

// get returns the cached user of id and, on a miss, the generation to
// hand to put after the registry's answer.
func (c *userCache) get(id string) (devices.User, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.users[id]; ok && c.on && c.now().Before(e.until) {
		return e.u, c.gen, true
	}
	return devices.User{}, c.gen, false
}

// put keeps u unless the cache is off or anything was dropped since gen
// was read: a change heard while the registry was being read may be
// newer than its answer.
func (c *userCache) put(u devices.User, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || c.ttl < 0 || gen != c.gen {
		return
	}
	now := c.now()
	if len(c.users) >= c.max {
		for id, e := range c.users {
			if !now.Before(e.until) {
				delete(c.users, id)
			}
		}
		if len(c.users) >= c.max {
			clear(c.users)
		}
	}
	c.users[u.ID] = cachedUser{u: u, until: now.Add(c.ttl)}
}

// drop forgets a user that changed.
func (c *userCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.users, id)
	c.gen++
}

// start turns the cache on, empty (the fan-out is heard from now on).
func (c *userCache) start() { c.reset(c.ttl >= 0) }

// stop turns it off and empties it (news may be missed from now on).
func (c *userCache) stop() { c.reset(false) }

func (c *userCache) reset(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.users)
	c.on = on
	c.gen++
}

// sweep forgets the entries past their ttl.
func (c *userCache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, e := range c.users {
		if !now.Before(e.until) {
			delete(c.users, id)
		}
	}
}
