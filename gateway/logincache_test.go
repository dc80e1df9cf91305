package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestLoginRevokedOnEveryInstance: a login takes its device from the
// instance's token cache, and a revoked device still gets no session on
// any instance. Two instances on PostgreSQL and Redis, the cache's TTL
// an hour, both caches holding the device after a login each. Revoked
// in the registry with no news on the fan-out (the cache still holds
// it), each login is refused by the re-check once its session exists
// (401, audited device_revoked) and leaves no session; once the
// revocation is heard, each instance refuses the token before any
// sign-in step (no more audit rows). Fails if the re-check or the drop
// goes.
func TestLoginRevokedOnEveryInstance(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ttl := func(c *Config) { c.DeviceTokenTTL = time.Hour }
	h := newHarnessOn(t, clk, servers(t, clk), ttl)
	srv2, url2 := h.startServer(ttl)
	instances := []struct {
		srv *Server
		url string
	}{{h.srv, h.ts.URL}, {srv2, url2}}
	ctx := context.Background()
	h.user("kim", h.wh.ID)
	d := h.enroll("S21-9200")
	login := func(url string) response {
		t.Helper()
		return h.doAt(url, "POST", "/v1/login", d.token, map[string]string{"username": "kim", "pin": goodPIN})
	}
	for i, in := range instances {
		clk.Advance(time.Second)
		if r := login(in.url); r.status != http.StatusOK {
			t.Fatalf("login on instance %d = %d %s; want 200", i, r.status, r.body)
		}
		if in.srv.tokens.Len() == 0 {
			t.Fatalf("instance %d caches no device token after a login", i)
		}
	}
	revokedRows := func() int {
		t.Helper()
		evs, err := h.be.reg.Events(ctx, devices.EventFilter{Action: "login.failure"})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Details["reason"] == "device_revoked" {
				n++
			}
		}
		return n
	}

	// Revoked, not heard: the caches still let the token in; the
	// re-check refuses the login and ends its session.
	if _, err := h.be.reg.RevokeDevice(ctx, devices.ActorSystem, d.id); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	if _, err := h.be.store.EndDevice(ctx, d.id, sessions.ReasonDeviceRevoked); err != nil {
		t.Fatalf("EndDevice: %v", err)
	}
	for i, in := range instances {
		clk.Advance(time.Second)
		r := login(in.url)
		if r.status != http.StatusUnauthorized || r.code() != CodeInvalidToken {
			t.Fatalf("login of a revoked device on instance %d = %d %s; want 401 %s", i, r.status, r.body, CodeInvalidToken)
		}
		if got := revokedRows(); got != i+1 {
			t.Fatalf("login.failure device_revoked rows after instance %d = %d; want %d (refused by the re-check)", i, got, i+1)
		}
	}
	if open, err := h.be.store.ByDevice(ctx, d.id); err != nil || len(open) != 0 {
		t.Fatalf("sessions of the revoked device = %d, %v; want none", len(open), err)
	}

	// Heard: refused at the token, on every instance.
	if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: d.id}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for i, in := range instances {
		waitFor(t, "the revocation heard", func() bool { return in.srv.tokens.Len() == 0 })
		r := login(in.url)
		if r.status != http.StatusUnauthorized || r.code() != CodeInvalidToken {
			t.Fatalf("login of a revoked device on instance %d after the news = %d %s; want 401 %s", i, r.status, r.body, CodeInvalidToken)
		}
	}
	if got := revokedRows(); got != len(instances) {
		t.Errorf("login.failure device_revoked rows = %d; want %d (after the news, refused before any sign-in step)", got, len(instances))
	}
}
