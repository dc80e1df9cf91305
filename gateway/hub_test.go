package gateway

import (
	"strconv"
	"testing"
)

// fleetHub is a hub holding n registered sockets (no connections: the
// table only), spread over the ping slots as attach spreads them.
func fleetHub(tb testing.TB, n int) *hub {
	tb.Helper()
	h := newHub(nil)
	for i := range n {
		s := &socket{deviceID: "dev_" + strconv.Itoa(i)}
		if !h.attach(s) {
			tb.Fatal("attach refused")
		}
		if _, ok := h.register(s); !ok {
			tb.Fatal("register refused")
		}
	}
	return h
}

// TestPingSlots: every registered socket is in exactly one ping slot; a
// replaced or detached socket is in none.
func TestPingSlots(t *testing.T) {
	t.Parallel()
	h := fleetHub(t, 103)
	seen := map[*socket]int{}
	for slot := range uint32(pingSlots) {
		for _, s := range h.pingBatch(slot, nil) {
			if s.slot != slot {
				t.Errorf("socket of slot %d in slot %d's batch", s.slot, slot)
			}
			seen[s]++
		}
	}
	if len(seen) != 103 {
		t.Fatalf("the slots hold %d sockets; want 103", len(seen))
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%s is in %d slots", s.deviceID, n)
		}
	}
	old := h.get("dev_7")
	newer := &socket{deviceID: "dev_7"}
	h.attach(newer)
	if got, _ := h.register(newer); got != old {
		t.Fatalf("register returned %p; want the replaced socket %p", got, old)
	}
	h.detach(h.get("dev_8"))
	count := 0
	for slot := range uint32(pingSlots) {
		for _, s := range h.pingBatch(slot, nil) {
			count++
			if s == old || s.deviceID == "dev_8" {
				t.Errorf("%s (replaced or detached) is still pinged", s.deviceID)
			}
		}
	}
	if count != 102 {
		t.Errorf("the slots hold %d sockets after a replacement and a detach; want 102", count)
	}
}

// BenchmarkPingTick is the work one ping tick does under the hub's lock
// at 20,000 sockets: finding its slot's sockets, from the slot index
// (index) and, for comparison, by walking every socket as the hub did
// before the index (walk).
func BenchmarkPingTick(b *testing.B) {
	h := fleetHub(b, 20000)
	var batch []*socket
	var tick uint32
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			batch = h.pingBatch(tick%pingSlots, batch[:0])
			tick++
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			slot := tick % pingSlots
			batch = batch[:0]
			h.mu.Lock()
			for _, s := range h.byDevice {
				if s.slot == slot {
					batch = append(batch, s)
				}
			}
			h.mu.Unlock()
			tick++
		}
	})
}
