package gateway

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/sessions"
)

// gatedPresence holds every MarkOnline until it is let through, and
// records the devices of each call.
type gatedPresence struct {
	sessions.Store
	gate chan struct{} // one receive lets one MarkOnline through

	mu    sync.Mutex
	calls [][]string
}

func (g *gatedPresence) MarkOnline(ctx context.Context, origin string, ids []string, ttl time.Duration) error {
	g.mu.Lock()
	g.calls = append(g.calls, slices.Clone(ids))
	g.mu.Unlock()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.MarkOnline(ctx, origin, ids, ttl)
}

func (g *gatedPresence) seen() [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

// TestPresenceBatchedAfterWelcome checks that presence does not hold up
// welcome, that the sockets welcomed while one MarkOnline is under way
// share the next one (a connect makes no presence call of its own), and that a device whose socket closes while its
// batch is in flight ends offline, not online until the TTL.
func TestPresenceBatchedAfterWelcome(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	gp := &gatedPresence{Store: be.store, gate: make(chan struct{})}
	be.store = gp
	// No refresh during the test; the queued sockets are flushed often.
	h := newHarnessOn(t, clk, be, func(c *Config) {
		c.PresenceEvery = time.Hour
		c.PresenceFlushEvery = 5 * time.Millisecond
	})
	a, b, c := h.enroll("SN-PRES-A"), h.enroll("SN-PRES-B"), h.enroll("SN-PRES-C")
	online := func(id string) bool {
		m, err := be.store.Online(context.Background(), []string{id})
		if err != nil {
			t.Fatalf("Online: %v", err)
		}
		return m[id]
	}

	// A is welcomed although its MarkOnline is held.
	connA, _ := h.connect(h.ts.URL, a)
	waitFor(t, "MarkOnline of A under way", func() bool { return len(gp.seen()) == 1 })
	// B and C are welcomed meanwhile: they wait for the next batch.
	h.connect(h.ts.URL, b)
	h.connect(h.ts.URL, c)
	// A's socket closes while its batch is in flight.
	connA.Close()
	waitFor(t, "A's socket gone", func() bool { return h.srv.Sockets() == 2 })

	gp.gate <- struct{}{} // A's batch lands
	gp.gate <- struct{}{} // then B and C's, together
	waitFor(t, "B and C online", func() bool { return online(b.id) && online(c.id) })
	waitFor(t, "A offline", func() bool { return !online(a.id) })

	calls := gp.seen()
	if len(calls) != 2 {
		t.Fatalf("MarkOnline calls = %v; want 2 ([A], then [B C])", calls)
	}
	second := slices.Sorted(slices.Values(calls[1]))
	if want := slices.Sorted(slices.Values([]string{b.id, c.id})); !slices.Equal(second, want) {
		t.Errorf("second MarkOnline carried %v; want %v", second, want)
	}
	close(gp.gate) // let the stop through
}

// offlineCalls records the devices of every MarkOffline.
type offlineCalls struct {
	sessions.Store
	mu    sync.Mutex
	calls [][]string
}

func (o *offlineCalls) MarkOffline(ctx context.Context, origin string, ids []string) error {
	o.mu.Lock()
	o.calls = append(o.calls, slices.Sorted(slices.Values(ids)))
	o.mu.Unlock()
	return o.Store.MarkOffline(ctx, origin, ids)
}

func (o *offlineCalls) seen() [][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// TestOfflineBatched checks that the devices whose sockets closed are
// marked offline together by the next presence pass (a close makes no
// store call of its own), that a device back on this instance before
// the pass is left out of it and stays online, and that a device that
// moved to another instance meanwhile keeps that instance's mark. The
// passes are run by hand: Run's own are an hour apart.
func TestOfflineBatched(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	rec := &offlineCalls{Store: be.store}
	be.store = rec
	slow := func(c *Config) {
		c.PresenceEvery = time.Hour
		c.PresenceFlushEvery = time.Hour
	}
	h := newHarnessOn(t, clk, be, slow)
	other, otherURL := h.startServer(slow)
	ctx := context.Background()
	a, b, c, e := h.enroll("SN-OFF-A"), h.enroll("SN-OFF-B"), h.enroll("SN-OFF-C"), h.enroll("SN-OFF-E")
	conns := map[string]*websocket.Conn{}
	for _, d := range []device{a, b, c, e} {
		conns[d.id], _ = h.connect(h.ts.URL, d)
	}
	h.srv.hub.flushPresence(ctx)
	ids := map[string]string{a.id: "a", b.id: "b", c.id: "c", e.id: "e"}
	named := func() map[string]bool {
		out := map[string]bool{}
		got, err := be.store.Online(ctx, []string{a.id, b.id, c.id, e.id})
		if err != nil {
			t.Fatalf("Online: %v", err)
		}
		for id, v := range got {
			out[ids[id]] = v
		}
		return out
	}
	if got := named(); !got["a"] || !got["b"] || !got["c"] || !got["e"] {
		t.Fatalf("online after the first pass = %v; want all four", got)
	}

	// A, B, C and E close; C comes back to this instance and E goes to
	// the other one, which marks it, all before this instance's pass.
	for _, id := range []string{a.id, b.id, c.id, e.id} {
		conns[id].Close()
	}
	waitFor(t, "the four sockets gone", func() bool { return h.srv.Sockets() == 0 })
	if calls := rec.seen(); len(calls) != 0 {
		t.Fatalf("MarkOffline calls before the pass = %v; want none (a close makes no call of its own)", calls)
	}
	h.connect(h.ts.URL, c)
	h.connect(otherURL, e)
	other.hub.flushPresence(ctx)

	h.srv.hub.flushOffline(ctx)
	calls := rec.seen()
	want := slices.Sorted(slices.Values([]string{a.id, b.id, e.id}))
	if len(calls) != 1 || !slices.Equal(calls[0], want) {
		t.Fatalf("MarkOffline calls = %v; want one carrying A, B and E %v (C came back before the pass)", calls, want)
	}
	got := named()
	if got["a"] || got["b"] {
		t.Errorf("online after the offline pass = %v; want A and B offline", got)
	}
	if !got["c"] {
		t.Errorf("online after the offline pass = %v; want C online (its socket is back on this instance)", got)
	}
	if !got["e"] {
		t.Errorf("online after the offline pass = %v; want E online (the other instance holds it)", got)
	}
	// An empty queue makes no call.
	h.srv.hub.flushOffline(ctx)
	if n := len(rec.seen()); n != 1 {
		t.Errorf("MarkOffline calls after a pass with nothing queued = %d; want 1", n)
	}
}
