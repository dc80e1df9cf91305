package gateway

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/signin"
)

// TestAddressRateAcrossInstances: the per-address enrollment rate is one
// bucket for every instance on the throttle's store: with a burst of 4,
// an address that alternates between two gateways gets 4 attempts, not
// 4 per gateway; once refused on one, it is refused on the other.
// (Issue 15: the buckets lived in each process, so N instances behind a
// load balancer gave an address N times the budget.)
func TestAddressRateAcrossInstances(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, clk *clock.Clock, be backend) {
		rate := signin.AddressRate{Burst: 4, PerMinute: 1}
		policy := func() *signin.Policy {
			p, err := signin.New(signin.Config{Registry: be.reg, Sessions: be.store, Throttle: be.throttle, Logger: discard(), AddressRate: rate, AddressTarpit: -1})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		h := newHarnessOn(t, clk, be, withSignIn(policy()))
		_, second := h.startServer(withSignIn(policy())) // its own sign-in policy, as another process has
		bases := []string{h.ts.URL, second}
		for i := range 3 * rate.Burst {
			b := h.enrollBody(fmt.Sprintf("S21-78%02d", i))
			b["email"] = fmt.Sprintf("nobody-%d@example.com", i)
			r := h.doAt(bases[i%2], "POST", "/v1/enroll", "", b)
			want := http.StatusUnauthorized
			if i >= rate.Burst {
				want = http.StatusTooManyRequests
			}
			if r.status != want {
				t.Fatalf("enroll attempt %d (instance %d) = %d %s; want %d", i+1, i%2+1, r.status, r.body, want)
			}
		}
		evs, err := be.reg.Events(context.Background(), devices.EventFilter{Action: "throttle.address_limited"})
		if err != nil || len(evs) != 1 {
			t.Errorf("throttle.address_limited events = %d, %v; want 1 (the first refusal of the run, on either instance)", len(evs), err)
		}
		clk.Advance(time.Minute)
		if r := h.doAt(second, "POST", "/v1/enroll", "", h.enrollBody("S21-7899")); r.status != http.StatusCreated {
			t.Fatalf("enroll a minute later = %d %s; want 201", r.status, r.body)
		}
	})
}
