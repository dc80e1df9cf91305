package gateway

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/clock"
)

// TestThrottleRefusalsAudited: logins the throttle refuses (a delay, a
// lock: 429; a quarantine: 403) are audited as login.throttled, once per
// delay, lock or quarantine hour, whichever instance answered, however
// many attempts a bounded attack loop sends meanwhile. (Issue 15, item
// 7: throttle refusals were not audited.)
func TestThrottleRefusalsAudited(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, clk *clock.Clock, be backend) {
		h := newHarnessOn(t, clk, be)
		_, second := h.startServer()
		bases := []string{h.ts.URL, second}
		h.setWarehouse(devices.SettingsOverride{Throttle: &devices.Throttle{PairFreeFailures: 3, UserFailures: 8, DeviceFailures: 12}})
		h.user("bob", h.wh.ID)
		ctx := context.Background()
		throttled := func(verdict string) int {
			t.Helper()
			evs, err := h.be.reg.Events(ctx, devices.EventFilter{Action: "login.throttled"})
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			n := 0
			for _, ev := range evs {
				if ev.Details["verdict"] == verdict {
					n++
					if ev.WarehouseID != h.wh.ID || ev.DeviceID == "" || ev.Subject == "" {
						t.Errorf("login.throttled event %+v; want the warehouse, the device and the subject", ev)
					}
				}
			}
			return n
		}
		// attack sends n attempts, alternating instances, and wants
		// each refused with status.
		attack := func(d device, username string, n, status int) {
			t.Helper()
			for i := range n {
				r := h.doAt(bases[i%2], "POST", "/v1/login", d.token, map[string]string{"username": username, "pin": "9157"})
				if r.status != status {
					t.Fatalf("attempt %d = %d %s; want %d", i, r.status, r.body, status)
				}
			}
		}

		// A delay: the fourth failure of a (user, device) pair.
		d := h.enroll("S21-8801")
		for i := range 4 {
			if r := h.login(d, "bob", "9157"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d = %d %s; want 401", i, r.status, r.body)
			}
		}
		attack(d, "bob", 20, http.StatusTooManyRequests)
		if n := throttled("delay"); n != 1 {
			t.Errorf("login.throttled delay events after 20 refused attempts = %d; want 1", n)
		}

		// A lock: bob fails on other devices up to 8 failures; the
		// devices that failed are refused, the lock audited once.
		e, f := h.enroll("S21-8802"), h.enroll("S21-8803")
		for i := range 4 {
			dev := []device{e, f}[i%2]
			r := h.login(dev, "bob", "9157")
			if i < 3 && r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d = %d %s; want 401", i, r.status, r.body)
			}
		}
		attack(e, "bob", 10, http.StatusTooManyRequests)
		attack(f, "bob", 10, http.StatusTooManyRequests)
		if n := throttled("user_locked"); n != 1 {
			t.Errorf("login.throttled user_locked events after 20 refused attempts from two devices = %d; want 1", n)
		}

		// A quarantine: a device fails 12 times across users.
		q := h.enroll("S21-8804")
		for i := range 12 {
			if r := h.login(q, "guess"+strconv.Itoa(i), "9157"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d = %d %s; want 401", i, r.status, r.body)
			}
		}
		attack(q, "anyone", 30, http.StatusForbidden)
		if n := throttled("quarantined"); n != 1 {
			t.Errorf("login.throttled quarantined events after 30 refused attempts = %d; want 1", n)
		}
		if be.redis != nil {
			return // the leases below expire in Redis's time, not the test clock's
		}
		// The next lock is audited again, and a quarantine once an
		// hour while it lasts.
		clk.Advance(time.Hour + time.Minute)
		attack(q, "anyone", 5, http.StatusForbidden)
		if n := throttled("quarantined"); n != 2 {
			t.Errorf("login.throttled quarantined events an hour on = %d; want 2", n)
		}
		fresh := []device{h.enroll("S21-8805"), h.enroll("S21-8806"), h.enroll("S21-8807"), h.enroll("S21-8808")}
		for i := range 8 {
			if r := h.login(fresh[i%4], "bob", "9157"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d after the first lock = %d %s; want 401", i, r.status, r.body)
			}
		}
		attack(fresh[0], "bob", 10, http.StatusTooManyRequests)
		if n := throttled("user_locked"); n != 2 {
			t.Errorf("login.throttled user_locked events after a second lock = %d; want 2", n)
		}
	})
}
