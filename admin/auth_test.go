package admin

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
	"github.com/floorgate/floorgate/throttle"
)

// fromAddress makes the API see every request as coming from the
// address the returned setter last chose.
func fromAddress(e *env) func(addr string) {
	var cur atomic.Pointer[string]
	e.api.clientIP = func(*http.Request) string { return *cur.Load() }
	set := func(addr string) { cur.Store(&addr) }
	set("192.0.2.1")
	return set
}

func (e *env) login(email, password string) response {
	e.t.Helper()
	return e.call("", "POST", "/login", LoginRequest{Email: email, Password: password})
}

// TestLoginAddressNotQuarantined: failures from one address, over many
// emails, never lock the address (a NAT's worth of managers share it),
// and a quarantine of the bare address left by an older version does not
// apply.
func TestLoginAddressNotQuarantined(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		from := fromAddress(e)
		from("203.0.113.7")
		limit := devices.DefaultThrottle().DeviceFailures
		for i := range limit + 10 {
			e.clock.Advance(2 * time.Second) // within the address's rate
			if r := e.login(fmt.Sprintf("nobody%d@example.com", i), "Wrong-password-1"); r.status != 401 || r.code() != "invalid_credentials" {
				t.Fatalf("failed login #%d from one address = %d %s; want 401 invalid_credentials", i+1, r.status, r.body)
			}
		}
		if r := e.login("admin@example.com", testPassword); r.status != 200 {
			t.Fatalf("login after %d failures of others from the same address = %d %s; want 200", limit+10, r.status, r.body)
		}
		ctx := context.Background()
		for _, src := range []string{"203.0.113.7", "ip:203.0.113.7"} {
			if q, err := e.throttle.Quarantined(ctx, src); err != nil || q {
				t.Errorf("Quarantined(%q) = %v, %v; want false", src, q, err)
			}
		}

		// A quarantine of the bare address, as older versions left it.
		lim := signin.Limits(devices.DefaultThrottle())
		for i := range lim.DeviceFailures {
			if _, err := e.throttle.Fail(ctx, throttle.Attempt{Subject: fmt.Sprintf("mgr:old%d@example.com", i), Source: "198.51.100.9"}, lim); err != nil {
				t.Fatalf("Fail: %v", err)
			}
		}
		if q, err := e.throttle.Quarantined(ctx, "198.51.100.9"); err != nil || !q {
			t.Fatalf("Quarantined(198.51.100.9) = %v, %v; want true (the fixture)", q, err)
		}
		from("198.51.100.9")
		if r := e.login("um_a@example.com", testPassword); r.status != 200 {
			t.Errorf("login from an address quarantined by an older version = %d %s; want 200", r.status, r.body)
		}
	})
}

// TestLoginEmailThrottles: what still guards a manager's password: the
// delays of one (email, address), the timed lock of an email across
// addresses, and the unlock that lifts it. None of it touches another
// email on the same address.
func TestLoginEmailThrottles(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		from := fromAddress(e)
		d := devices.DefaultThrottle()

		// Pair delays: the free failures, then 1 s.
		from("192.0.2.10")
		for i := range d.PairFreeFailures + 1 {
			if r := e.login("mm_a@example.com", "Wrong-password-1"); r.status != 401 {
				t.Fatalf("failure #%d = %d %s; want 401", i+1, r.status, r.body)
			}
		}
		r := e.login("mm_a@example.com", testPassword)
		if r.status != 429 || r.code() != "too_many_attempts" || r.header.Get("Retry-After") != "1" {
			t.Fatalf("login right after %d failures = %d %s (Retry-After %q); want 429 too_many_attempts, Retry-After 1", d.PairFreeFailures+1, r.status, r.body, r.header.Get("Retry-After"))
		}
		if r := e.login("um_a@example.com", testPassword); r.status != 200 {
			t.Errorf("another email from the same address = %d %s; want 200", r.status, r.body)
		}
		e.clock.Advance(2 * time.Second)
		if r := e.login("mm_a@example.com", testPassword); r.status != 200 {
			t.Fatalf("login after the delay = %d %s; want 200", r.status, r.body)
		}

		// The email's lock: UserFailures from as many addresses.
		for i := range d.UserFailures {
			from(fmt.Sprintf("192.0.2.%d", 100+i))
			if r := e.login("um_b@example.com", "Wrong-password-1"); r.status != 401 {
				t.Fatalf("failure #%d = %d %s; want 401", i+1, r.status, r.body)
			}
		}
		// The lock holds where the email failed (an address that has not
		// failed is spared: TestAttackedAdminSignsInFromACleanAddress).
		from("192.0.2.100")
		r = e.login("um_b@example.com", testPassword)
		if r.status != 429 || r.header.Get("Retry-After") != fmt.Sprint(d.UserLockS) {
			t.Fatalf("login of a locked email = %d %s (Retry-After %q); want 429, Retry-After %d", r.status, r.body, r.header.Get("Retry-After"), d.UserLockS)
		}
		if evs := e.events(devices.EventFilter{Action: "manager.login.throttled"}); len(evs) == 0 || evs[0].Details["remote_addr"] != "192.0.2.100" {
			t.Errorf("throttled login audit = %+v; want one with remote_addr 192.0.2.100", evs)
		}
		// An attack loop on the locked email, from the addresses that
		// failed, writes one row for the lock, not one per attempt.
		for i := range 10 {
			from(fmt.Sprintf("192.0.2.%d", 100+i%d.UserFailures))
			if r := e.login("um_b@example.com", "Wrong-password-1"); r.status != 429 {
				t.Fatalf("attempt #%d on a locked email = %d %s; want 429", i+1, r.status, r.body)
			}
		}
		locked := 0
		for _, ev := range e.events(devices.EventFilter{Action: "manager.login.throttled"}) {
			if ev.Details["verdict"] == "user_locked" {
				locked++
			}
		}
		if locked != 1 {
			t.Errorf("manager.login.throttled user_locked rows after 11 refused attempts = %d; want 1", locked)
		}
		e.expect(200, "admin", "POST", "/managers/"+e.managers["um_b"].ID+"/unlock", nil)
		if r := e.login("um_b@example.com", testPassword); r.status != 200 {
			t.Errorf("login after unlock = %d %s; want 200", r.status, r.body)
		}
	})
}

// TestLoginInput: refusals before any hash or throttle key.
func TestLoginInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	long := make([]byte, maxEmailInput+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, in := range []LoginRequest{{}, {Email: "a@example.com"}, {Password: "x"}, {Email: string(long) + "@example.com", Password: "x"}} {
		if r := e.login(in.Email, in.Password); r.status != 400 || r.code() != "invalid_request" {
			t.Errorf("login(%d-byte email, %d-byte password) = %d %s; want 400 invalid_request", len(in.Email), len(in.Password), r.status, r.body)
		}
	}
	// A disabled account with the right password: 403, audited.
	e.expect(200, "admin", "PATCH", "/managers/"+e.managers["mm_b"].ID, map[string]any{"status": "disabled"})
	if r := e.login("mm_b@example.com", testPassword); r.status != 403 || r.code() != "account_disabled" {
		t.Errorf("login of a disabled account = %d %s; want 403 account_disabled", r.status, r.body)
	}
	if evs := e.events(devices.EventFilter{Action: "manager.login.disabled"}); len(evs) != 1 {
		t.Errorf("disabled login audited %d times; want 1", len(evs))
	}
}

// TestManagerTokenLifetime: a token ends 15 minutes unused or 12 hours
// after sign-in, and on logout.
func TestManagerTokenLifetime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	var lr LoginResponse
	e.expect(200, "", "POST", "/login", LoginRequest{Email: "admin@example.com", Password: testPassword}).decode(t, &lr)
	if want := e.clock.Now().Add(12 * time.Hour); !lr.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %v; want %v", lr.ExpiresAt, want)
	}
	e.tokens["t"] = lr.Token
	// Used every 10 minutes, it lives until the absolute end.
	for range 12*6 - 1 {
		e.clock.Advance(10 * time.Minute)
		e.expect(200, "t", "GET", "/me", nil)
	}
	e.clock.Advance(10 * time.Minute)
	if r := e.call("t", "GET", "/me", nil); r.status != 401 || r.code() != "invalid_token" {
		t.Errorf("token after 12 h = %d %s; want 401 invalid_token", r.status, r.body)
	}
	// Unused for 15 minutes, it ends.
	e.expect(200, "", "POST", "/login", LoginRequest{Email: "admin@example.com", Password: testPassword}).decode(t, &lr)
	e.tokens["t"] = lr.Token
	e.clock.Advance(14 * time.Minute)
	e.expect(200, "t", "GET", "/me", nil)
	e.clock.Advance(15 * time.Minute)
	if r := e.call("t", "GET", "/me", nil); r.status != 401 {
		t.Errorf("token 15 min after its last use = %d %s; want 401", r.status, r.body)
	}
}

// failingThrottle is a throttle that checks but cannot count failures.
type failingThrottle struct {
	throttle.Throttle
}

func (failingThrottle) Fail(context.Context, throttle.Attempt, throttle.Limits) (throttle.Decision, error) {
	return throttle.Decision{}, fmt.Errorf("%w: connection refused", throttle.ErrUnavailable)
}

// TestLoginFailClosed: a wrong password the throttle cannot count is 503
// unavailable (with Retry-After), not 401: otherwise an outage of the
// throttle's store would lift the limits. A right password still signs in.
func TestLoginFailClosed(t *testing.T) {
	t.Parallel()
	b := embedded()
	open := b.open
	b.open = func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		ds, ss, th := open(t, now)
		return ds, ss, failingThrottle{th}
	}
	e := newEnv(t, b)
	r := e.login("um_a@example.com", "Wrong-password-1")
	if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("login with a wrong password the throttle cannot count = %d %s; want 503 unavailable with Retry-After", r.status, r.body)
	}
	if r := e.login("um_a@example.com", testPassword); r.status != 200 {
		t.Errorf("login with the right password = %d %s; want 200", r.status, r.body)
	}
}
