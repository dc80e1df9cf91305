package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/signin"
)

// TestInFlightAcrossInstances: while one instance holds a PIN attempt
// between its throttle check and its count (here: waiting for a hashing
// slot), a second instance on the same stores answers an attempt for the
// same user, or from the same device, 429 at once; once the first ends,
// the user signs in on the second. On the embedded backend the two
// gateways share one in-process throttle; on the servers, Redis.
// (Issue 10, item 4: the claim held per instance only.)
func TestInFlightAcrossInstances(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T, *clock.Clock) backend{
		"embedded": func(t *testing.T, clk *clock.Clock) backend { return embedded(t, clk) },
		"servers":  servers,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			be := open(t, clk)
			pool := signin.NewPool(1, 10*time.Second)
			h := newHarnessOn(t, clk, be, withSignIn(newSignIn(t, be, nil, pool)))
			_, second := h.startServer() // its own sign-in policy and pool
			h.setWarehouse(devices.SettingsOverride{Throttle: &devices.Throttle{PairFreeFailures: 50}})
			h.user("ines", h.wh.ID)
			h.user("omar", h.wh.ID)
			d1, d2 := h.enroll("S21-7101"), h.enroll("S21-7102")

			release := hold(t, pool)
			first := make(chan int, 1)
			go func() {
				r, err := postJSON(h.ts.URL+"/v1/login", d1.token, `{"username":"ines","pin":"9157"}`)
				if err != nil {
					t.Errorf("login on the first instance: %v", err)
				}
				first <- r
			}()
			inFlight := func(r response) bool {
				return r.status == http.StatusTooManyRequests && strings.Contains(string(r.body), "in progress")
			}
			var r response
			for range 200 { // until the first instance holds the claim
				if r = h.doAt(second, "POST", "/v1/login", d2.token, map[string]string{"username": "ines", "pin": "9158"}); inFlight(r) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if !inFlight(r) {
				t.Fatalf("login for the same user on the second instance = %d %s; want 429, another attempt in progress", r.status, r.body)
			}
			if r.header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
			if r := h.doAt(second, "POST", "/v1/login", d1.token, map[string]string{"username": "omar", "pin": goodPIN}); !inFlight(r) {
				t.Errorf("login from the same device on the second instance = %d %s; want 429, another attempt in progress", r.status, r.body)
			}
			release()
			if st := <-first; st != http.StatusUnauthorized {
				t.Errorf("the first instance's attempt = %d; want 401", st)
			}
			if r := h.doAt(second, "POST", "/v1/login", d2.token, map[string]string{"username": "ines", "pin": goodPIN}); r.status != http.StatusOK {
				t.Errorf("login on the second instance once the first ended = %d %s; want 200", r.status, r.body)
			}
		})
	}
}

// postJSON posts body with a bearer and returns the status, for use off
// the test's goroutine.
func postJSON(url, bearer, body string) (int, error) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
