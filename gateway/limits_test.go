package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
)

// fromHeader is a ClientIP that reads the client's address from a test
// header, so that one test plays several addresses.
func fromHeader(r *http.Request) string { return r.Header.Get("X-Test-Addr") }

// refusedWith503 fails t unless a failed dial was answered 503
// unavailable with a Retry-After header.
func refusedWith503(t *testing.T, what string, resp *http.Response, err error) {
	t.Helper()
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s: dial = %v, %v; want 503", what, resp, err)
	}
	var p Problem
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &p) != nil || p.Code != CodeUnavailable || p.RetryAfter <= 0 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: 503 %s, Retry-After %q; want code unavailable with Retry-After", what, b, resp.Header.Get("Retry-After"))
	}
}

// TestSocketCaps: two sockets per address, three in all; an upgrade
// over either cap is answered 503 with Retry-After before any store
// call, and a closed socket gives its slot back.
func TestSocketCaps(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxSockets, c.MaxSocketsPerAddr, c.ClientIP = 3, 2, fromHeader
	})
	from := func(addr string) http.Header { return http.Header{"X-Test-Addr": {addr}} }
	d := h.enroll("CAP-1")
	a1, resp, err := dial(t, h.ts.URL, d.token, from("192.0.2.1"))
	if err != nil {
		t.Fatalf("first socket: %v (%v)", err, resp)
	}
	defer a1.Close()
	// Unauthenticated sockets hold a slot too, until their auth timeout.
	a2, resp, err := dial(t, h.ts.URL, "", from("192.0.2.1"))
	if err != nil {
		t.Fatalf("second socket: %v (%v)", err, resp)
	}
	_, resp, err = dial(t, h.ts.URL, d.token, from("192.0.2.1"))
	refusedWith503(t, "third socket from one address", resp, err)
	b1, resp, err := dial(t, h.ts.URL, "", from("2001:db8:1:2::7"))
	if err != nil {
		t.Fatalf("socket from another address: %v (%v)", err, resp)
	}
	defer b1.Close()
	// The same IPv6 /64 is the same address... and the instance is full.
	_, resp, err = dial(t, h.ts.URL, "", from("2001:db8:1:2::8"))
	refusedWith503(t, "fourth socket", resp, err)
	if got := testutilCount(t, h, "per_address") + testutilCount(t, h, "instance"); got != 2 {
		t.Errorf("socket_refusals_total = %v; want 2", got)
	}
	a2.Close()
	waitFor(t, "the closed socket's slot given back", func() bool { return h.srv.slots.Open() == 2 })
	c, resp, err := dial(t, h.ts.URL, "", from("198.51.100.9"))
	if err != nil {
		t.Fatalf("socket after one closed: %v (%v)", err, resp)
	}
	c.Close()
}

// testutilCount reads the socket refusals counter of reason.
func testutilCount(t *testing.T, h *harness, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := h.srv.metrics.socketRefusals.WithLabelValues(reason).Write(&m); err != nil {
		t.Fatalf("read socket_refusals_total: %v", err)
	}
	return m.GetCounter().GetValue()
}

// TestUpgradeWhileStopping: once Shutdown has begun, an upgrade is
// answered 503 with Retry-After (connect again, elsewhere), not upgraded
// and closed.
func TestUpgradeWhileStopping(t *testing.T) {
	h := newHarness(t)
	d := h.enroll("STOP-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_, resp, err := dial(t, h.ts.URL, d.token, nil)
	refusedWith503(t, "upgrade after Shutdown", resp, err)
}

// TestMessageRateDefault: by default a socket may send 20 messages at
// once, then one every 10 seconds (6 a minute); the next one closes it
// with 1008. The clock is the harness's, moved by hand.
func TestMessageRateDefault(t *testing.T) {
	h := newHarness(t)
	d := h.enroll("RATE-1")
	c, _ := h.connect(h.ts.URL, d)
	// A reader hands pongs and the close over: a pong is the server's
	// reader saying it has read every message sent before the ping.
	pongs, closed := make(chan struct{}, 1), make(chan error, 1)
	c.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	send := func(n int) {
		t.Helper()
		for range n {
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"nonsense"}`)); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
	}
	synced := func() {
		t.Helper()
		if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(frameWait)); err != nil {
			t.Fatalf("ping: %v", err)
		}
		select {
		case <-pongs:
		case err := <-closed:
			t.Fatalf("closed within the rate: %v", err)
		case <-time.After(frameWait):
			t.Fatal("no pong")
		}
	}
	send(DefaultMessageBurst)
	synced()
	h.clk.Advance(10 * time.Second) // one more message's worth
	send(1)
	synced()
	send(1)
	select {
	case err := <-closed:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != closePolicy {
			t.Errorf("after 22 messages in 10 s: %v; want close %d", err, closePolicy)
		}
	case <-time.After(frameWait):
		t.Errorf("after 22 messages in 10 s the socket is open; want close %d", closePolicy)
	}
}

// TestPingFlood: pings a device sends are answered with pongs within a
// bucket of their own with the message limits (20 at once by default);
// the next one closes the socket with 1008, so that a ping flood cannot
// make the server write without bound. The clock does not move.
func TestPingFlood(t *testing.T) {
	h := newHarness(t)
	d := h.enroll("PING-1")
	c, _ := h.connect(h.ts.URL, d)
	pongs, closed := make(chan struct{}, DefaultMessageBurst+1), make(chan error, 1)
	c.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	ping := func() {
		t.Helper()
		if err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(frameWait)); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	for i := range DefaultMessageBurst {
		ping()
		select {
		case <-pongs:
		case err := <-closed:
			t.Fatalf("closed after %d pings: %v; want a pong for each of %d", i+1, err, DefaultMessageBurst)
		case <-time.After(frameWait):
			t.Fatalf("no pong for ping %d", i+1)
		}
	}
	ping()
	select {
	case err := <-closed:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != closePolicy {
			t.Errorf("after %d pings: %v; want close %d", DefaultMessageBurst+1, err, closePolicy)
		}
	case <-pongs:
		t.Errorf("ping %d answered; want close %d", DefaultMessageBurst+1, closePolicy)
	case <-time.After(frameWait):
		t.Errorf("after %d pings the socket is open; want close %d", DefaultMessageBurst+1, closePolicy)
	}
}
