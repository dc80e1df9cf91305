package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
	"github.com/floorgate/floorgate/sessions"
)

func TestWSRefusedBeforeUpgrade(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-1000")
	tests := []struct {
		name       string
		query      string
		origin     string
		wantStatus int
	}{
		{"token in query", "?token=" + d.token, "", http.StatusBadRequest},
		{"device_token in query", "?device_token=" + d.token, "", http.StatusBadRequest},
		{"access_token in query", "?access_token=x", "", http.StatusBadRequest},
		{"origin not allowed", "", "https://evil.example.com", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"Authorization": {"Bearer " + d.token}}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			c, resp, err := websocket.DefaultDialer.Dial(wsURL(h.ts.URL)+tt.query, hdr)
			if err == nil {
				c.Close()
				t.Fatalf("dial succeeded; want %d", tt.wantStatus)
			}
			if resp == nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("dial = %v, %v; want status %d", resp, err, tt.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
		})
	}
	t.Run("origin allowed", func(t *testing.T) {
		c, resp, err := dial(t, h.ts.URL, d.token, http.Header{"Origin": {"https://console.example.com"}})
		if err != nil {
			t.Fatalf("dial with an allowed origin: %v (%v)", err, resp)
		}
		defer c.Close()
		if w := readFrame(t, c); w["type"] != "welcome" {
			t.Errorf("first frame = %v; want welcome", w)
		}
	})
}

func TestWSCloseCodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AuthTimeout = 200 * time.Millisecond })
	ctx := context.Background()
	d := h.enroll("S21-1100")
	revoked := h.enroll("S21-1101")
	if _, err := h.be.reg.RevokeDevice(ctx, devices.ActorSystem, revoked.id); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	unknown := string(token.New(devices.DeviceTokenPrefix))

	tests := []struct {
		name   string
		header string // device token in the header
		first  string // first message, "" for none
		want   int
	}{
		{"invalid token in header", unknown, "", closeInvalidToken},
		{"malformed token in header", "fgd_!!", "", closeInvalidToken},
		{"revoked device in header", revoked.token, "", closeRevoked},
		{"invalid token in auth message", "", `{"type":"auth","device_token":"` + unknown + `"}`, closeInvalidToken},
		{"revoked device in auth message", "", `{"type":"auth","device_token":"` + revoked.token + `"}`, closeRevoked},
		{"first message not auth", "", `{"type":"ack","command_id":"x"}`, closeInvalidToken},
		{"first message not json", "", `hello`, closeInvalidToken},
		{"never authenticates", "", "", closeAuthTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dial(t, h.ts.URL, tt.header, nil)
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer c.Close()
			if tt.first != "" {
				if err := c.WriteMessage(websocket.TextMessage, []byte(tt.first)); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			if got := closeCode(t, c); got != tt.want {
				t.Errorf("close code = %d; want %d", got, tt.want)
			}
		})
	}

	t.Run("auth message", func(t *testing.T) {
		c, _, err := dial(t, h.ts.URL, "", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","device_token":"`+d.token+`"}`))
		if w := readFrame(t, c); w["type"] != "welcome" || w["device_id"] != d.id || w["session"] != nil {
			t.Errorf("welcome = %v; want device %s and session null", w, d.id)
		}
	})

	t.Run("replaced by a newer socket", func(t *testing.T) {
		first, _ := h.connect(h.ts.URL, d)
		second, _ := h.connect(h.ts.URL, d)
		if got := closeCode(t, first); got != closeReplaced {
			t.Errorf("older socket close code = %d; want %d", got, closeReplaced)
		}
		second.Close()
	})

	t.Run("too many messages", func(t *testing.T) {
		c, _ := h.connect(h.ts.URL, d)
		// The clock is frozen, so the bucket never refills: burst 20.
		for range 25 {
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"nonsense"}`)); err != nil {
				break
			}
		}
		if got := closeCode(t, c); got != closePolicy {
			t.Errorf("close code = %d; want %d", got, closePolicy)
		}
	})

	t.Run("message too big", func(t *testing.T) {
		c, _ := h.connect(h.ts.URL, d)
		big := `{"type":"ack","command_id":"` + strings.Repeat("x", 5000) + `"}`
		c.WriteMessage(websocket.TextMessage, []byte(big))
		if got := closeCode(t, c); got != closeTooBig {
			t.Errorf("close code = %d; want %d", got, closeTooBig)
		}
	})

	t.Run("revoked while connected", func(t *testing.T) {
		v := h.enroll("S21-1102")
		c, _ := h.connect(h.ts.URL, v)
		if _, err := h.be.reg.RevokeDevice(ctx, devices.ActorSystem, v.id); err != nil {
			t.Fatalf("RevokeDevice: %v", err)
		}
		if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: v.id, Origin: "admin"}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if got := closeCode(t, c); got != closeRevoked {
			t.Errorf("close code = %d; want %d", got, closeRevoked)
		}
	})
}

func TestWSShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, b := h.enroll("S21-1200"), h.enroll("S21-1201")
	ca, _ := h.connect(h.ts.URL, a)
	cb, _ := h.connect(h.ts.URL, b)
	pre, _, err := dial(t, h.ts.URL, "", nil) // not yet authenticated
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer pre.Close()
	if n := h.srv.Sockets(); n != 2 {
		t.Errorf("Sockets() = %d; want 2", n)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameWait)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	for _, c := range []*websocket.Conn{ca, cb, pre} {
		if got := closeCode(t, c); got != closeGoingAway {
			t.Errorf("close code = %d; want %d", got, closeGoingAway)
		}
		c.Close()
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
	if n := h.srv.Sockets(); n != 0 {
		t.Errorf("Sockets() after Shutdown = %d; want 0", n)
	}
	c, _, err := dial(t, h.ts.URL, a.token, nil)
	if err == nil {
		if got := closeCode(t, c); got != closeGoingAway {
			t.Errorf("socket opened after Shutdown closed with %d; want %d", got, closeGoingAway)
		}
		c.Close()
	}
}

// TestEvictFlow: cap 3, one user on four devices: the first device is
// told at once that the fourth evicted it, acknowledges, and the command
// reads acked.
func TestEvictFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.user("gina", h.wh.ID)
	var devs []device
	for _, serial := range []string{"S21-1301", "S21-1302", "S21-1303", "S21-1304"} {
		devs = append(devs, h.enroll(serial))
	}
	c, _ := h.connect(h.ts.URL, devs[0])
	var first map[string]any
	for i, d := range devs {
		h.clk.Advance(time.Second) // distinct creation times: "oldest" is well defined
		_, m := h.mustLogin(d, "gina")
		if i == 0 {
			first = m
		}
		if i == 3 {
			ev := m["evicted"].([]any)
			if len(ev) != 1 || ev[0].(map[string]any)["device_id"] != devs[0].id || ev[0].(map[string]any)["session_id"] != first["session_id"] {
				t.Errorf("evicted = %v; want the session of %s", ev, devs[0].id)
			}
		}
	}
	f := readFrame(t, c)
	if f["type"] != "logout" || f["reason"] != "evicted" || f["session_id"] != first["session_id"] {
		t.Fatalf("frame = %v; want logout evicted of %v", f, first["session_id"])
	}
	by, _ := f["by"].(map[string]any)
	if by["device_id"] != devs[3].id || by["warehouse_id"] != h.wh.ID || by["at"] == nil {
		t.Errorf("by = %v; want device %s, warehouse %s and at", by, devs[3].id, h.wh.ID)
	}
	id := f["command_id"].(string)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","command_id":"`+id+`"}`)); err != nil {
		t.Fatalf("write ack: %v", err)
	}
	waitFor(t, "command acked", func() bool {
		cmd, err := h.be.store.Command(ctx, id)
		return err == nil && cmd.Status(h.clk.Now()) == sessions.StatusAcked
	})
}

// TestQueuedLogout: a logout that happened while the device was away is
// sent right after welcome, marked delivered, and resent until acked.
func TestQueuedLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	d := h.enroll("S21-1400")
	h.user("hank", h.wh.ID)
	_, m := h.mustLogin(d, "hank")
	sid := m["session_id"].(string)
	cmd, err := h.be.store.End(ctx, sid, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	for round := range 2 {
		c, w := h.connect(h.ts.URL, d)
		if w["session"] != nil {
			t.Errorf("welcome session = %v; want null", w["session"])
		}
		f := readFrame(t, c)
		if f["type"] != "logout" || f["command_id"] != cmd.ID || f["reason"] != "admin" || f["session_id"] != sid {
			t.Fatalf("round %d: frame after welcome = %v; want logout %s", round, f, cmd.ID)
		}
		if _, ok := f["by"]; ok {
			t.Errorf("admin logout carries by: %v", f)
		}
		waitFor(t, "command delivered", func() bool {
			got, err := h.be.store.Command(ctx, cmd.ID)
			return err == nil && got.DeliveredAt != nil
		})
		if round == 1 {
			c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","command_id":"`+cmd.ID+`"}`))
			waitFor(t, "no command pending", func() bool {
				p, err := h.be.store.Pending(ctx, d.id)
				return err == nil && len(p) == 0
			})
		}
		c.Close()
	}
}

func TestWSWelcomeAndWarning(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Idle as long as the absolute lifetime, so that the clock can jump to
	// the warning without the session idling out first.
	idle := 12 * 3600
	h.setWarehouse(devices.SettingsOverride{IdleTimeoutS: &idle, AbsoluteTimeoutS: &idle})
	d := h.enroll("S21-1500")
	h.user("ivy", h.wh.ID)
	_, m := h.mustLogin(d, "ivy")
	c, w := h.connect(h.ts.URL, d)
	sess, ok := w["session"].(map[string]any)
	if !ok || sess["session_id"] != m["session_id"] || sess["device_id"] != d.id || sess["user"].(map[string]any)["username"] != "ivy" {
		t.Fatalf("welcome session = %v; want session %v", w["session"], m["session_id"])
	}
	exp, _ := time.Parse(time.RFC3339, m["expires_at"].(string))
	h.clk.Advance(exp.Sub(h.clk.Now()) - 4*time.Minute)
	f := readFrame(t, c)
	if f["type"] != "warning" || f["reason"] != "expires_soon" || f["session_id"] != m["session_id"] {
		t.Fatalf("frame = %v; want warning expires_soon", f)
	}
	if at, _ := time.Parse(time.RFC3339, f["at"].(string)); !at.Equal(exp) {
		t.Errorf("warning at = %v; want %v", f["at"], exp)
	}
	h.clk.Advance(5 * time.Minute)
	f = readFrame(t, c)
	if f["type"] != "logout" || f["reason"] != "expired" || f["session_id"] != m["session_id"] {
		t.Fatalf("frame = %v; want logout expired", f)
	}
}

// TestCrossInstance: two gateways on one session store: a socket on the
// second replaces one on the first (4409), and a login through the first
// reaches the socket held by the second.
func TestCrossInstance(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, url2 := h.startServer()
	d, e := h.enroll("S21-1600"), h.enroll("S21-1601")
	h.user("jack", h.wh.ID)

	on1, _ := h.connect(h.ts.URL, d)
	on2, _ := h.connect(url2, d)
	if got := closeCode(t, on1); got != closeReplaced {
		t.Errorf("socket on instance 1 closed with %d; want %d", got, closeReplaced)
	}
	_, m := h.mustLogin(d, "jack")
	h.clk.Advance(time.Second)
	one := 1
	h.setWarehouse(devices.SettingsOverride{SessionCap: &one})
	h.mustLogin(e, "jack")
	f := readFrame(t, on2)
	if f["type"] != "logout" || f["reason"] != "evicted" || f["session_id"] != m["session_id"] {
		t.Fatalf("frame on instance 2 = %v; want logout evicted", f)
	}
	if by := f["by"].(map[string]any); by["device_id"] != e.id {
		t.Errorf("by = %v; want device %s", by, e.id)
	}
}

// TestWSDeadPeer: a device that answers no ping is dropped.
func TestWSDeadPeer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.PingEvery = 50 * time.Millisecond; c.PongWait = 100 * time.Millisecond })
	d := h.enroll("S21-1700")
	c, _ := h.connect(h.ts.URL, d)
	c.SetPingHandler(func(string) error { return nil }) // a peer that never answers
	c.SetReadDeadline(time.Now().Add(frameWait))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatalf("socket still open after %v of unanswered pings", frameWait)
		}
		break // the gateway cut the connection
	}
	waitFor(t, "socket gone", func() bool { return h.srv.Sockets() == 0 })
}
