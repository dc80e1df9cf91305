package signin

import "sync"

// claims holds the throttle keys of the attempts that are between their
// throttle check and their failure count on this instance. The throttle
// counts a failure only after the hash, so without them parallel guesses
// at one subject (or from one device) would all pass the check before
// the first failure is counted, and a burst would get as many free
// guesses as there are hashing slots and waiting requests.
type claims struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// take claims every key, or none: false when one is held already. The
// returned func gives them back.
func (c *claims) take(keys ...string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if _, held := c.keys[k]; held {
			return nil, false
		}
	}
	if c.keys == nil {
		c.keys = make(map[string]struct{})
	}
	for _, k := range keys {
		c.keys[k] = struct{}{}
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, k := range keys {
			delete(c.keys, k)
		}
	}, true
}
