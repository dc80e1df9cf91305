package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestRevokedRefusedOnEveryInstance: two gateways on PostgreSQL and Redis
// have a device's token in their caches (each has let it connect; the
// cache's TTL is an hour, so only news can empty it); the device is
// revoked the way the admin API does it (registry, sessions, fan-out).
// Its held socket closes with 4403 and its next connect is refused with
// 4403 on both instances, soon: the test waits for it with a deadline
// (frameWait) and logs how long it took.
func TestRevokedRefusedOnEveryInstance(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ttl := func(c *Config) { c.DeviceTokenTTL = time.Hour }
	h := newHarnessOn(t, clk, servers(t, clk), ttl)
	srv2, url2 := h.startServer(ttl)
	instances := []struct {
		srv *Server
		url string
	}{{h.srv, h.ts.URL}, {srv2, url2}}
	d := h.enroll("S21-9100")
	other := h.enroll("S21-9101")
	held, _ := h.connect(url2, d)
	c, _ := h.connect(h.ts.URL, d) // replaces the one on the second instance
	if got := closeCode(t, held); got != closeReplaced {
		t.Fatalf("first socket closed with %d; want %d", got, closeReplaced)
	}
	held = c
	for i, in := range instances {
		c, _ := h.connect(in.url, other)
		c.Close()
		if n := in.srv.tokens.Len(); n == 0 {
			t.Fatalf("instance %d caches no device token after connects", i)
		}
	}
	c2, _ := h.connect(url2, d)
	if got := closeCode(t, held); got != closeReplaced {
		t.Fatalf("socket on the first instance closed with %d; want %d", got, closeReplaced)
	}
	held = c2 // now on the second instance; both caches hold d's token

	ctx := context.Background()
	start := time.Now()
	if _, err := h.be.reg.RevokeDevice(ctx, devices.ActorSystem, d.id); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	if _, err := h.be.store.EndDevice(ctx, d.id, sessions.ReasonDeviceRevoked); err != nil {
		t.Fatalf("EndDevice: %v", err)
	}
	if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: d.id}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := closeCode(t, held); got != closeRevoked {
		t.Errorf("held socket closed with %d; want %d", got, closeRevoked)
	}
	for i, in := range instances {
		deadline := time.Now().Add(frameWait)
		for attempt := 1; ; attempt++ {
			code, err := connectCode(t, in.url, d.token)
			if err != nil {
				t.Fatalf("instance %d: %v", i, err)
			}
			if code == closeRevoked {
				t.Logf("instance %d refuses the revoked device %v after the revocation began (attempt %d)", i, time.Since(start).Round(time.Millisecond), attempt)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d still lets the revoked device in after %v (attempt %d: %d)", i, frameWait, attempt, code)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The other device is not touched.
	for _, in := range instances {
		c, _ := h.connect(in.url, other)
		c.Close()
	}
}

// connectCode dials with a device token and returns 0 if welcome came
// first, or the close code the socket was closed with.
func connectCode(t *testing.T, base, token string) (int, error) {
	t.Helper()
	c, resp, err := dial(t, base, token, nil)
	if err != nil {
		return 0, errors.Join(err, errors.New(resp.Status))
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(frameWait))
	var f struct {
		Type string `json:"type"`
	}
	err = c.ReadJSON(&f)
	var ce *websocket.CloseError
	switch {
	case err == nil && f.Type == "welcome":
		return 0, nil
	case errors.As(err, &ce):
		return ce.Code, nil
	}
	return 0, errors.Join(errors.New("first frame neither welcome nor a close"), err)
}

// TestStillValid: a socket authenticated from the cache before a drop it
// may have missed (the generation moved) is checked against the registry
// again before welcome; one authenticated with no drop since is not.
func TestStillValid(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	d := h.enroll("S21-9200")
	other := h.enroll("S21-9201")
	dev, gen, err := h.srv.socketDevice(ctx, d.token)
	if err != nil {
		t.Fatalf("socketDevice: %v", err)
	}
	auth := socketAuth{dev: &dev, token: d.token, gen: gen}
	if _, err := h.be.reg.RevokeDevice(ctx, devices.ActorSystem, d.id); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	if code := h.srv.stillValid(auth); code != 0 {
		t.Errorf("stillValid with no drop since = %d; want 0 (the registry is not asked)", code)
	}
	h.srv.tokens.Drop(other.id) // news of another device: the generation moves
	if code := h.srv.stillValid(auth); code != closeRevoked {
		t.Errorf("stillValid of a device revoked meanwhile = %d; want %d", code, closeRevoked)
	}
	dev, gen, err = h.srv.socketDevice(ctx, other.token)
	if err != nil {
		t.Fatalf("socketDevice: %v", err)
	}
	h.srv.tokens.Drop(d.id)
	if code := h.srv.stillValid(socketAuth{dev: &dev, token: other.token, gen: gen}); code != 0 {
		t.Errorf("stillValid of an active device after a drop = %d; want 0", code)
	}
}
