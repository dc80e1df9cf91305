package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/sessions"
)

// markStore records the batches of DeliveredMany and AckMany. The first
// DeliveredMany waits for hold to close, when hold is set; the first
// fail calls of each answer ErrUnavailable without marking anything.
type markStore struct {
	sessions.Store
	hold chan struct{}
	fail int

	mu        sync.Mutex
	delivered [][]string
	acks      [][]sessions.Ack
	failedDv  int
	failedAck int
}

func (s *markStore) DeliveredMany(ctx context.Context, ids []string) error {
	s.mu.Lock()
	first := len(s.delivered) == 0
	s.delivered = append(s.delivered, append([]string(nil), ids...))
	failing := s.failedDv < s.fail
	if failing {
		s.failedDv++
	}
	s.mu.Unlock()
	if first && s.hold != nil {
		<-s.hold
	}
	if failing {
		return fmt.Errorf("mark delivered: %w", sessions.ErrUnavailable)
	}
	return s.Store.DeliveredMany(ctx, ids)
}

func (s *markStore) AckMany(ctx context.Context, acks []sessions.Ack) error {
	s.mu.Lock()
	s.acks = append(s.acks, append([]sessions.Ack(nil), acks...))
	failing := s.failedAck < s.fail
	if failing {
		s.failedAck++
	}
	s.mu.Unlock()
	if failing {
		return fmt.Errorf("ack: %w", sessions.ErrUnavailable)
	}
	return s.Store.AckMany(ctx, acks)
}

func (s *markStore) calls() (dv [][]string, acks [][]sessions.Ack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.delivered...), append([][]sessions.Ack(nil), s.acks...)
}

// signedIn enrolls n devices of the harness warehouse, signs a user in
// on each and connects it; it returns the sockets, the session ids and
// the device ids.
func signedIn(h *harness, n int, prefix string) ([]*websocket.Conn, []string, []string) {
	h.t.Helper()
	conns := make([]*websocket.Conn, n)
	sids := make([]string, n)
	devs := make([]string, n)
	for i := range n {
		d := h.enroll(fmt.Sprintf("%s-%03d", prefix, i))
		u := fmt.Sprintf("%s%03d", prefix, i)
		h.user(u, h.wh.ID)
		_, m := h.mustLogin(d, u)
		sids[i] = m["session_id"].(string)
		conns[i], _ = h.connect(h.ts.URL, d)
		devs[i] = d.id
	}
	return conns, sids, devs
}

// TestMarksBatched: the delivered marks of logouts written while a batch
// is in flight go out together in the next one, and the commands read
// delivered once it lands; nothing is marked twice or left out.
func TestMarksBatched(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	ms := &markStore{Store: be.store, hold: make(chan struct{})}
	be.store = ms
	h := newHarnessOn(t, clk, be)
	const n = 8
	conns, _, _ := signedIn(h, n, "MB")
	ctx := context.Background()
	cmds, err := be.store.EndWarehouse(ctx, h.wh.ID, sessions.ReasonAdmin)
	if err != nil || len(cmds) != n {
		t.Fatalf("EndWarehouse = %d commands, %v; want %d", len(cmds), err, n)
	}
	for i, c := range conns {
		if f := readFrame(t, c); f["type"] != "logout" {
			t.Fatalf("device %d: frame %v; want logout", i, f)
		}
	}
	// The first batch is held in the store; every other frame's mark
	// waits for the next. (When every frame was written before the
	// flusher started, the first batch holds all of them.)
	first := 0
	waitFor(t, "marks queued behind the first batch", func() bool {
		dv, _ := ms.calls()
		h.srv.marks.mu.Lock()
		defer h.srv.marks.mu.Unlock()
		if len(dv) == 1 {
			first = len(dv[0])
		}
		return len(dv) == 1 && len(dv[0])+len(h.srv.marks.delivered) == n
	})
	want := 2
	if first == n {
		want = 1
	}
	close(ms.hold)
	waitFor(t, "every command delivered", func() bool {
		for _, c := range cmds {
			got, err := be.store.Command(ctx, c.ID)
			if err != nil || got.DeliveredAt == nil {
				return false
			}
		}
		return true
	})
	dv, _ := ms.calls()
	sizes, total := make([]int, len(dv)), 0
	for i, b := range dv {
		sizes[i] = len(b)
		total += len(b)
	}
	if len(dv) != want || total != n {
		t.Fatalf("DeliveredMany batches of %v commands; want %d, of %d in all (the one held with %d, then the rest in one)", sizes, want, n, first)
	}
	seen := map[string]bool{}
	for _, b := range dv {
		for _, id := range b {
			if seen[id] {
				t.Errorf("command %s marked twice", id)
			}
			seen[id] = true
		}
	}
	for _, c := range cmds {
		if !seen[c.ID] {
			t.Errorf("command %s never marked", c.ID)
		}
	}
}

// TestMarksRetried: a batch the store refuses is sent again, so a
// delivered mark and an acknowledgement are kept through a failure.
func TestMarksRetried(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	ms := &markStore{Store: be.store, fail: 1}
	be.store = ms
	h := newHarnessOn(t, clk, be)
	conns, sids, devs := signedIn(h, 1, "MR")
	ctx := context.Background()
	cmd, err := be.store.End(ctx, sids[0], sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	f := readFrame(t, conns[0])
	if f["type"] != "logout" || f["command_id"] != cmd.ID {
		t.Fatalf("frame %v; want logout %s", f, cmd.ID)
	}
	waitFor(t, "command delivered", func() bool {
		got, err := be.store.Command(ctx, cmd.ID)
		return err == nil && got.DeliveredAt != nil
	})
	if err := conns[0].WriteJSON(map[string]string{"type": "ack", "command_id": cmd.ID}); err != nil {
		t.Fatalf("write ack: %v", err)
	}
	waitFor(t, "command acknowledged", func() bool {
		got, err := be.store.Command(ctx, cmd.ID)
		return err == nil && got.AckedAt != nil
	})
	dv, acks := ms.calls()
	if len(dv) != 2 || len(acks) != 2 {
		t.Errorf("DeliveredMany called %d times, AckMany %d; want 2 each (a failure, then the retry)", len(dv), len(acks))
	}
	if pend, err := be.store.Pending(ctx, devs[0]); err != nil || len(pend) != 0 {
		t.Errorf("Pending after the ack = %v, %v; want none", pend, err)
	}
}
