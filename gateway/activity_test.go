package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// TestActivityCoalesced: a login, the socket coming online, and a
// delivered and acknowledged logout each make the warehouse's activity
// event, coalesced: far fewer events than changes.
func TestActivityCoalesced(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.ActivityEvery = 20 * time.Millisecond })
	var (
		mu     sync.Mutex
		counts = map[string]int{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.be.store.Watch(ctx, nil, func(e sessions.Event) {
		if e.Kind == sessions.KindActivity {
			mu.Lock()
			counts[e.WarehouseID]++
			mu.Unlock()
		}
	})
	seen := func() int {
		mu.Lock()
		defer mu.Unlock()
		return counts[h.wh.ID]
	}
	// The watcher above subscribes asynchronously: enroll until it hears.
	waitFor(t, "an activity event after an enrollment", func() bool {
		h.enroll("SER-ACT-" + time.Now().Format("150405.000000000"))
		time.Sleep(30 * time.Millisecond)
		return seen() > 0
	})
	d := h.enroll("SER-ACT")
	h.user("actor1", h.wh.ID)
	before := seen()
	c, _ := h.connect(h.ts.URL, d)
	defer c.Close()
	h.mustLogin(d, "actor1")
	waitFor(t, "an activity event after the login", func() bool { return seen() > before })

	before = seen()
	cmds, err := h.be.store.EndDevice(context.Background(), d.id, sessions.ReasonAdmin)
	if err != nil || len(cmds) != 1 {
		t.Fatalf("EndDevice = %v, %v", cmds, err)
	}
	f := readFrame(t, c)
	if f["type"] != "logout" {
		t.Fatalf("frame = %v; want logout", f)
	}
	if err := c.WriteJSON(map[string]string{"type": "ack", "command_id": cmds[0].ID}); err != nil {
		t.Fatalf("ack: %v", err)
	}
	waitFor(t, "an activity event after the delivery", func() bool { return seen() > before })
	if counts := seen(); counts > 40 {
		t.Errorf("%d activity events for a handful of changes; want them coalesced", counts)
	}
	if other := func() int { mu.Lock(); defer mu.Unlock(); return counts[h.other.ID] }(); other != 0 {
		t.Errorf("the other warehouse had %d activity events; want 0", other)
	}
}
