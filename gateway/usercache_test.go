package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestWelcomeUserCached checks the cache of the users shown in welcome:
// a signed-in device's reconnect is answered from it (a change written
// to the registry without its event does not show), the admin API's
// KindUserChanged drops the user on the instance, a lost subscription
// turns the cache off, and an entry is not used past the TTL.
func TestWelcomeUserCached(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.DeviceTokenTTL = 30 * time.Second })
	ctx := context.Background()
	waitFor(t, "fan-out subscribed", h.srv.Watching)
	u := h.user("cachy", h.wh.ID)
	d := h.enroll("SN-UCACHE-1")
	h.mustLogin(d, "cachy")
	firstName := func() string {
		t.Helper()
		c, w := h.connect(h.ts.URL, d)
		defer c.Close()
		sess, _ := w["session"].(map[string]any)
		user, _ := sess["user"].(map[string]any)
		name, _ := user["first_name"].(string)
		return name
	}
	// Written to the registry only: no event, as if it were lost.
	rename := func(name string) {
		t.Helper()
		if _, err := h.be.reg.UpdateUser(ctx, devices.ActorSystem, u.ID, devices.UserPatch{FirstName: &name}); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
	}
	cached := func() bool { _, _, ok := h.srv.users.get(u.ID); return ok }

	if got := firstName(); got != "Jo" {
		t.Fatalf("first welcome: first_name = %q; want Jo", got)
	}
	rename("Joanna")
	if got := firstName(); got != "Jo" {
		t.Fatalf("welcome after a change without its event: first_name = %q; want Jo, from the cache (no registry read)", got)
	}

	// The change's event drops the user: the next welcome reads it.
	if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindUserChanged, UserID: u.ID}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	waitFor(t, "user dropped by its event", func() bool { return !cached() })
	if got := firstName(); got != "Joanna" {
		t.Errorf("welcome after KindUserChanged: first_name = %q; want Joanna", got)
	}

	// A lost subscription turns the cache off until the watcher is back.
	h.srv.watched(sessions.Event{Kind: sessions.KindLost})
	rename("Jolene")
	if got := firstName(); got != "Jolene" {
		t.Errorf("welcome with the cache off: first_name = %q; want Jolene", got)
	}
	if cached() {
		t.Errorf("the cache kept a user while off")
	}

	// Back on: an entry whose change was never heard lapses with the TTL.
	h.srv.subscribed(false)
	if got := firstName(); got != "Jolene" {
		t.Fatalf("welcome: first_name = %q; want Jolene", got)
	}
	rename("Josie")
	if got := firstName(); got != "Jolene" {
		t.Errorf("welcome within the TTL: first_name = %q; want Jolene, from the cache", got)
	}
	h.clk.Advance(31 * time.Second)
	if got := firstName(); got != "Josie" {
		t.Errorf("welcome past the TTL: first_name = %q; want Josie", got)
	}
}

// TestUserCacheFillRacingDrop: a registry answer read before a drop of
// its user (the change heard while the read was under way) is not kept,
// nor anything while the cache is off; a fill after the drop is.
func TestUserCacheFillRacingDrop(t *testing.T) {
	clk := newClock()
	c := newUserCache(30*time.Second, clk.Now)
	u := devices.User{ID: "usr_1", FirstName: "Old"}
	c.put(u, 0)
	if _, _, ok := c.get(u.ID); ok {
		t.Fatalf("kept a user while off (before the first start)")
	}
	c.start()
	_, gen, ok := c.get(u.ID)
	if ok {
		t.Fatalf("hit on an empty cache")
	}
	c.drop(u.ID) // heard while the registry was read
	c.put(u, gen)
	if _, _, ok := c.get(u.ID); ok {
		t.Errorf("kept a user read before its drop")
	}
	_, gen, _ = c.get(u.ID)
	u.FirstName = "New"
	c.put(u, gen)
	if got, _, ok := c.get(u.ID); !ok || got.FirstName != "New" {
		t.Errorf("get after a fill = %+v, %v; want New", got, ok)
	}
	c.stop()
	if _, _, ok := c.get(u.ID); ok {
		t.Errorf("hit after stop")
	}
}
