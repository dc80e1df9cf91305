package gateway

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
)

// TestValidCache drives the cache's rules one by one on the injected
// clock: off until the watcher has subscribed, never older than its
// bound, dropped by an end, by a lost fan-out and by a resync, and a
// fill that raced with its session's end is refused.
func TestValidCache(t *testing.T) {
	t0 := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	live := func(id string) sessions.Session {
		return sessions.Session{ID: id, LastActiveAt: t0, IdleTimeout: time.Hour, ExpiresAt: t0.Add(12 * time.Hour)}
	}
	onCache := func() *validCache {
		c := newValidCache(time.Second)
		c.reset(true) // Watch's ready
		return c
	}
	hit := func(c *validCache, hash string, at time.Time) bool {
		_, ok := c.get(hash, at)
		return ok
	}
	ended := func(id string) sessions.Event {
		return sessions.Event{Kind: sessions.KindEnded, Command: &sessions.Command{SessionID: id}}
	}
	tests := []struct {
		name string
		run  func(c *validCache) bool // what get answers at the end
		want bool
	}{
		{"kept", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			return hit(c, "h1", t0.Add(999*time.Millisecond))
		}, true},
		{"bound passed", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			return hit(c, "h1", t0.Add(time.Second))
		}, false},
		{"clock went back", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			return hit(c, "h1", t0.Add(-time.Millisecond))
		}, false},
		{"ended", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			c.event(ended("s1"))
			return hit(c, "h1", t0)
		}, false},
		{"another ended", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			c.event(ended("s2"))
			return hit(c, "h1", t0)
		}, true},
		{"ended while the store answered", func(c *validCache) bool {
			from := c.start()
			c.event(ended("s1"))
			c.put("h1", live("s1"), nil, from, t0)
			return hit(c, "h1", t0)
		}, false},
		{"another ended while the store answered", func(c *validCache) bool {
			from := c.start()
			c.event(ended("s2"))
			c.put("h1", live("s1"), nil, from, t0)
			return hit(c, "h1", t0)
		}, true},
		{"too many ended while the store answered", func(c *validCache) bool {
			from := c.start()
			for range ringSize {
				c.event(ended("other"))
			}
			c.put("h1", live("s1"), nil, from, t0)
			return hit(c, "h1", t0)
		}, false},
		{"fan-out lost", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			c.event(sessions.Event{Kind: sessions.KindLost})
			return hit(c, "h1", t0)
		}, false},
		{"filled while the fan-out is lost", func(c *validCache) bool {
			c.event(sessions.Event{Kind: sessions.KindLost})
			c.put("h1", live("s1"), nil, c.start(), t0)
			return hit(c, "h1", t0)
		}, false},
		{"resubscribed", func(c *validCache) bool {
			c.put("h1", live("s1"), nil, c.start(), t0)
			c.event(sessions.Event{Kind: sessions.KindLost})
			c.reset(true)
			return hit(c, "h1", t0)
		}, false},
		{"filled across a resync", func(c *validCache) bool {
			from := c.start()
			c.reset(true)
			c.put("h1", live("s1"), nil, from, t0)
			return hit(c, "h1", t0)
		}, false},
		{"filled after the resync", func(c *validCache) bool {
			c.event(sessions.Event{Kind: sessions.KindLost})
			c.reset(true)
			c.put("h1", live("s1"), nil, c.start(), t0)
			return hit(c, "h1", t0)
		}, true},
		{"confined to a PIN change", func(c *validCache) bool {
			s := live("s1")
			s.PINChangeRequired = true
			c.put("h1", s, nil, c.start(), t0)
			return hit(c, "h1", t0)
		}, false},
		{"idle end passed", func(c *validCache) bool {
			s := live("s1")
			s.IdleTimeout = time.Second
			c.put("h1", s, nil, c.start(), t0.Add(999*time.Millisecond))
			return hit(c, "h1", t0.Add(time.Second))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.run(onCache()); got != tt.want {
				t.Errorf("get = %v; want %v", got, tt.want)
			}
		})
	}
	t.Run("off before the first subscription", func(t *testing.T) {
		c := newValidCache(time.Second)
		c.put("h1", live("s1"), nil, c.start(), t0)
		if hit(c, "h1", t0) {
			t.Errorf("get before any resync = true; want false")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := onCache()
		c.max = 2
		c.put("h1", live("s1"), nil, c.start(), t0)
		c.put("h2", live("s2"), nil, c.start(), t0)
		c.put("h3", live("s3"), nil, c.start(), t0)
		if hit(c, "h3", t0) || !hit(c, "h1", t0) {
			t.Errorf("a full cache took a third entry or lost one")
		}
		later := t0.Add(time.Second) // h1 and h2 are stale: swept
		c.put("h3", live("s3"), nil, c.start(), later)
		if !hit(c, "h3", later) || len(c.byToken) != 1 || len(c.byID) != 1 {
			t.Errorf("after a sweep: %d entries, %d ids; want only h3", len(c.byToken), len(c.byID))
		}
	})
}

// countingStore counts the Validate calls that reach the store.
type countingStore struct {
	sessions.Store
	validates atomic.Int64
}

func (c *countingStore) Validate(ctx context.Context, t sessions.Token) (sessions.Session, error) {
	c.validates.Add(1)
	return c.Store.Validate(ctx, t)
}

// introspect posts tok to base's /v1/introspect and returns the status
// and the answer's active.
func (h *harness) introspect(base, tok string) (int, bool) {
	h.t.Helper()
	r := h.doAt(base, "POST", "/v1/introspect", h.svcKey, map[string]string{"token": tok})
	if r.status != http.StatusOK {
		return r.status, false
	}
	return r.status, r.json(h.t)["active"] == true
}

// TestIntrospectCached: repeated introspections of a token within the
// cache's bound ask the store once; once the bound has passed on the
// clock the store is asked again (and touches the session).
func TestIntrospectCached(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	counted := &countingStore{Store: be.store}
	h := newHarnessOn(t, clk, be, func(c *Config) { c.Sessions = counted })
	h.user("kim", h.wh.ID)
	tok, _ := h.mustLogin(h.enroll("S21-C001"), "kim")
	var first response
	for i := range 3 {
		r := h.doAt(h.ts.URL, "POST", "/v1/introspect", h.svcKey, map[string]string{"token": tok})
		if r.status != 200 || r.json(t)["active"] != true {
			t.Fatalf("introspect %d = %d %s; want 200 active", i, r.status, r.body)
		}
		if i == 0 {
			first = r
			continue
		}
		// The cached answer is the store's answer, byte for byte.
		if string(r.body) != string(first.body) || r.header.Get("Content-Type") != first.header.Get("Content-Type") ||
			r.header.Get("Cache-Control") != "no-store" || first.header.Get("Cache-Control") != "no-store" {
			t.Errorf("introspect %d = %q %v; want %q %v (Cache-Control no-store)", i, r.body, r.header, first.body, first.header)
		}
	}
	if n := counted.validates.Load(); n != 1 {
		t.Errorf("3 introspections within the bound: %d store reads; want 1", n)
	}
	// Past the bound and the store's touch interval (5 s by default).
	clk.Advance(5 * time.Second)
	if status, active := h.introspect(h.ts.URL, tok); status != 200 || !active {
		t.Fatalf("introspect after the bound = %d active %v; want 200 true", status, active)
	}
	if n := counted.validates.Load(); n != 2 {
		t.Errorf("an introspection once the bound has passed: %d store reads in all; want 2", n)
	}
	s, err := be.store.Session(context.Background(), mustSessionID(t, h, tok))
	if err != nil || !s.LastActiveAt.Equal(clk.Now()) {
		t.Errorf("last activity after the store read = %v (%v); want %v (touched)", s.LastActiveAt, err, clk.Now())
	}
}

// mustSessionID reads the session id of tok through GET /v1/session
// (which is not cached).
func mustSessionID(t *testing.T, h *harness, tok string) string {
	t.Helper()
	r := h.do("GET", "/v1/session", tok, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/session = %d %s", r.status, r.body)
	}
	return r.json(t)["session_id"].(string)
}

// TestIntrospectEndedElsewhere: two gateways on Redis; a session that B
// has cached ends on A (the device's own logout), and B refuses it once
// the fan-out has brought the end. The clock does not move, so nothing
// but the fan-out can drop B's entry; the test waits with a bound, it
// does not time anything.
func TestIntrospectEndedElsewhere(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := servers(t, clk)
	counted := &countingStore{Store: be.store}
	h := newHarnessOn(t, clk, be)
	_, urlB := h.startServer(func(c *Config) { c.Sessions = counted })
	h.user("kim", h.wh.ID)
	tok, _ := h.mustLogin(h.enroll("S21-C002"), "kim")
	for range 2 {
		if status, active := h.introspect(urlB, tok); status != 200 || !active {
			t.Fatalf("introspect on B = %d active %v; want 200 true", status, active)
		}
	}
	if n := counted.validates.Load(); n != 1 {
		t.Fatalf("B read the store %d times for 2 introspections; want 1 (cached)", n)
	}
	if r := h.do("POST", "/v1/logout", tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("logout on A = %d %s", r.status, r.body)
	}
	waitFor(t, "B refuses the session ended on A", func() bool {
		status, active := h.introspect(urlB, tok)
		return status == 200 && !active
	})
	// A, where it ended, refuses it at once.
	if status, active := h.introspect(h.ts.URL, tok); status != 200 || active {
		t.Errorf("introspect on A after the logout = %d active %v; want 200 false", status, active)
	}
}

// TestIntrospectFanoutLost: B's link to Redis is cut while it holds a
// session in its cache. Once its watcher has found the subscription
// gone, B asks the store again and answers 503, never the cached
// "active"; the clock does not move, so only the lost fan-out turns the
// cache off. When the link is back, the session is active again.
func TestIntrospectFanoutLost(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t)
	proxy := testenv.StartProxy(t, e.rds.Addr())
	b := e.instance(t, faultStore(t, proxy.Addr, "gw-b", e.h.clk))
	x := e.signedIn(t, "lost", 1, e.h.ts.URL)[0]
	if status, active := e.h.introspect(b.url, x.token); status != 200 || !active {
		t.Fatalf("introspect on B = %d active %v; want 200 true", status, active)
	}
	proxy.Cut()
	waitFor(t, "B answers 503 once its link is cut", func() bool {
		status, _ := e.h.introspect(b.url, x.token)
		return status == http.StatusServiceUnavailable
	})
	proxy.Restore()
	waitFor(t, "B answers active again once its link is back", func() bool {
		status, active := e.h.introspect(b.url, x.token)
		return status == 200 && active
	})
}
