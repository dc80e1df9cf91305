package gateway

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

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
