package gateway

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/clock"
)

// TestSprayTightensLimits: a spray (wrong PINs for many usernames in a
// warehouse, here from handhelds answered by two instances) raises the
// warehouse's alarm once, and from then on, on every instance, the
// warehouse's limits are halved: a (user, device) pair is delayed after
// its first failure instead of its third, and a device is quarantined
// after 15 failures instead of 30 (the default device_failures), while
// another warehouse keeps the usual limits. (Issue 15, item 5: the alarm
// only reported.)
func TestSprayTightensLimits(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, clk *clock.Clock, be backend) {
		h := newHarnessOn(t, clk, be)
		_, second := h.startServer()
		bases := []string{h.ts.URL, second}
		// The default limits but a small spray threshold.
		h.setWarehouse(devices.SettingsOverride{Throttle: &devices.Throttle{SprayUsers: 5}})
		login := func(i int, d device, username string) response {
			return h.doAt(bases[i%2], "POST", "/v1/login", d.token, map[string]string{"username": username, "pin": "9157"})
		}
		ctx := context.Background()

		// Before the spray: three failures of a pair are free.
		before := h.enroll("S21-9900")
		for i := range 4 {
			if r := login(i, before, "bob"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d of a pair before any spray = %d %s; want 401", i+1, r.status, r.body)
			}
		}

		// The spray: five usernames from five handhelds.
		for i := range 5 {
			if r := login(i, h.enroll("S21-990"+strconv.Itoa(i+1)), "spray"+strconv.Itoa(i)); r.status != http.StatusUnauthorized {
				t.Fatalf("spray failure %d = %d %s; want 401", i, r.status, r.body)
			}
		}
		evs, err := h.be.reg.Events(ctx, devices.EventFilter{Action: "throttle.spray_alarm"})
		if err != nil || len(evs) != 1 || evs[0].WarehouseID != h.wh.ID || evs[0].Details["tightened_for_s"] != "3600" {
			t.Fatalf("spray alarm events = %+v, %v; want one for the warehouse, tightened for 3600 s", evs, err)
		}

		// A pair is delayed after its first failure now.
		d := h.enroll("S21-9910")
		if r := login(0, d, "carol"); r.status != http.StatusUnauthorized {
			t.Fatalf("first failure of a pair under the alarm = %d %s; want 401", r.status, r.body)
		}
		if r := login(1, d, "carol"); r.status != http.StatusUnauthorized {
			t.Fatalf("second failure of a pair under the alarm = %d %s; want 401", r.status, r.body)
		}
		if r := login(0, d, "carol"); r.status != http.StatusTooManyRequests {
			t.Fatalf("third attempt of a pair under the alarm = %d %s; want 429 (one free failure)", r.status, r.body)
		}

		// A device is quarantined after 15 failures across users.
		q := h.enroll("S21-9911")
		for i := range 15 {
			if r := login(i, q, "guess"+strconv.Itoa(i)); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d of a device under the alarm = %d %s; want 401", i+1, r.status, r.body)
			}
		}
		if r := login(1, q, "guess-next"); r.status != http.StatusForbidden || r.code() != CodeDeviceQuarantined {
			t.Fatalf("attempt after 15 failures under the alarm = %d %s; want 403 device_quarantined", r.status, r.body)
		}
		if evs, _ := h.be.reg.Events(ctx, devices.EventFilter{Action: "throttle.spray_alarm"}); len(evs) != 1 {
			t.Errorf("spray alarm events after the tightened failures = %d; want still 1 (once per hold)", len(evs))
		}

		// Another warehouse: the usual three free failures.
		if _, err := h.be.reg.UpdateWarehouse(ctx, devices.ActorSystem, h.other.ID, devices.WarehousePatch{
			Settings: &devices.SettingsOverride{Throttle: &devices.Throttle{SprayUsers: 5}}}); err != nil {
			t.Fatalf("UpdateWarehouse: %v", err)
		}
		od, tok, _, err := h.be.reg.Enroll(ctx, devices.ActorSystem, devices.EnrollInput{WarehouseID: h.other.ID, Serial: "S21-9920", AppVersion: "4.2.0"})
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		o := device{id: od.ID, token: tok.Reveal()}
		for i := range 4 {
			if r := login(i, o, "dave"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d of a pair in another warehouse = %d %s; want 401", i+1, r.status, r.body)
			}
		}
	})
}
