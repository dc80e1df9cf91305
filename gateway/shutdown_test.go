package gateway

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/sessions"
)

// closingStore notes every store call that ends after closed is set,
// as one against a closed Redis client would fail. MarkOffline, Ack,
// AckMany and DeliveredMany are slowed a little, so that a Shutdown that did not wait
// for the sockets' clean-up would return while they still run.
type closingStore struct {
	sessions.Store
	closed atomic.Bool
	late   atomic.Int64
	calls  atomic.Int64 // MarkOffline calls
	marked atomic.Int64 // devices those calls carried
}

func (s *closingStore) after() {
	if s.closed.Load() {
		s.late.Add(1)
	}
}

func (s *closingStore) MarkOffline(ctx context.Context, origin string, deviceIDs []string) error {
	time.Sleep(20 * time.Millisecond)
	defer s.after()
	s.calls.Add(1)
	s.marked.Add(int64(len(deviceIDs)))
	return s.Store.MarkOffline(ctx, origin, deviceIDs)
}

func (s *closingStore) Ack(ctx context.Context, deviceID, commandID string) error {
	time.Sleep(20 * time.Millisecond)
	defer s.after()
	return s.Store.Ack(ctx, deviceID, commandID)
}

func (s *closingStore) Delivered(ctx context.Context, id string) error {
	defer s.after()
	return s.Store.Delivered(ctx, id)
}

func (s *closingStore) AckMany(ctx context.Context, acks []sessions.Ack) error {
	time.Sleep(20 * time.Millisecond)
	defer s.after()
	return s.Store.AckMany(ctx, acks)
}

func (s *closingStore) DeliveredMany(ctx context.Context, ids []string) error {
	time.Sleep(20 * time.Millisecond)
	defer s.after()
	return s.Store.DeliveredMany(ctx, ids)
}

// Publish counts only what sockets publish: the events of Run's own loops
// (warehouse activity, the fan-out probe, which has no device) go on
// until Run's context ends, which in production comes after Shutdown
// and before the stores close.
func (s *closingStore) Publish(ctx context.Context, e sessions.Event) error {
	if e.Kind != sessions.KindActivity && e.DeviceID != "" {
		defer s.after()
	}
	return s.Store.Publish(ctx, e)
}

// socketGoroutines lists the goroutines running the gateway's socket code.
func socketGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		// A goroutine inside tasks.done has signalled its end and is only
		// unlocking on its way out: its work, store calls included, is over.
		if strings.Contains(g, "gateway.(*tasks).done") {
			continue
		}
		if strings.Contains(g, "gateway.(*socket)") || strings.Contains(g, "gateway.(*Server).written") || strings.Contains(g, "gateway.(*marks)") {
			found = append(found, g)
		}
	}
	return found
}

// TestShutdownWaitsForSocketCleanUp checks that once Shutdown returns, no
// socket goroutine remains and no store call is made: the caller closes
// the stores next.
//
// Not parallel: socketGoroutines sees every server's sockets in the
// process, and the parallel tests start theirs only once the sequential
// ones are done.
func TestShutdownWaitsForSocketCleanUp(t *testing.T) {
	clk := newClock()
	be := embedded(t, clk)
	cs := &closingStore{Store: be.store}
	be.store = cs
	h := newHarnessOn(t, clk, be)
	const n = 5
	var conns []*websocket.Conn
	for i := range n {
		d := h.enroll("SN-STOP-" + string(rune('A'+i)))
		c, _ := h.connect(h.ts.URL, d)
		// An ack in flight at the stop (its command is unknown: the
		// store call still runs).
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","command_id":"cmd_unknown"}`)); err != nil {
			t.Fatalf("write ack: %v", err)
		}
		conns = append(conns, c)
	}
	if got := h.srv.Sockets(); got != n {
		t.Fatalf("Sockets() = %d; want %d", got, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		left := socketGoroutines()
		t.Fatalf("Shutdown = %v; want nil (%d socket goroutines left:\n%s)", err, len(left), strings.Join(left, "\n\n"))
	}
	cs.closed.Store(true)
	if left := socketGoroutines(); len(left) > 0 {
		t.Fatalf("after Shutdown, %d socket goroutines remain; the first:\n%s", len(left), left[0])
	}
	// Every device marked offline before Shutdown returned, in batches
	// (Run's presence pass may have taken some of them first).
	if got := cs.marked.Load(); got != n {
		t.Errorf("devices marked offline before Shutdown returned = %d (in %d calls); want %d", got, cs.calls.Load(), n)
	}
	if got := cs.late.Load(); got != 0 {
		t.Errorf("store calls ending after Shutdown returned = %d; want 0", got)
	}
	for _, c := range conns {
		if code := closeCode(t, c); code != websocket.CloseGoingAway {
			t.Errorf("close code = %d; want %d", code, websocket.CloseGoingAway)
		}
	}
}
