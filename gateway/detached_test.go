package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

// hangUp cancels the context of the request in progress when a chosen
// throttle or store method is called, as a client that disconnects right
// then would, and records whether the call still had a live context.
type hangUp struct {
	mu     sync.Mutex
	at     string             // the method that hangs up ("Succeed", "Fail", "End")
	cancel context.CancelFunc // the request's
	live   map[string]bool    // method → its context was alive after the hang-up
}

func (h *hangUp) arm(at string, cancel context.CancelFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at, h.cancel, h.live = at, cancel, map[string]bool{}
}

// call hangs up if method is the armed one and notes ctx's state.
func (h *hangUp) call(ctx context.Context, method string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil && h.at == method {
		h.cancel()
	}
	if h.live != nil {
		h.live[method] = ctx.Err() == nil
	}
}

func (h *hangUp) alive(method string) (alive, called bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	alive, called = h.live[method]
	return alive, called
}

type hangUpThrottle struct {
	throttle.Throttle
	h *hangUp
}

func (t hangUpThrottle) Fail(ctx context.Context, a throttle.Attempt, l throttle.Limits) (throttle.Decision, error) {
	t.h.call(ctx, "Fail")
	return t.Throttle.Fail(ctx, a, l)
}

func (t hangUpThrottle) Succeed(ctx context.Context, a throttle.Attempt) error {
	t.h.call(ctx, "Succeed")
	return t.Throttle.Succeed(ctx, a)
}

type hangUpStore struct {
	sessions.Store
	h *hangUp
}

func (s hangUpStore) End(ctx context.Context, id string, reason sessions.Reason) (sessions.Command, error) {
	s.h.call(ctx, "End")
	return s.Store.End(ctx, id, reason)
}

// TestDecidedWorkOutlivesTheClient checks that once a request's answer is
// decided (the hash has run, the token was valid), a client that
// disconnects cannot cut short what must follow: the throttle's reset or
// failure count, the session, and the audit event.
func TestDecidedWorkOutlivesTheClient(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	hu := &hangUp{}
	be.throttle = hangUpThrottle{Throttle: be.throttle, h: hu}
	be.store = hangUpStore{Store: be.store, h: hu}
	h := newHarnessOn(t, clk, be)
	d := h.enroll("SN-HANGUP")
	h.user("jo.smith", h.wh.ID)
	h.user("al.jones", h.wh.ID)
	sessToken, _ := h.mustLogin(h.enroll("SN-HANGUP-3"), "al.jones")

	// send serves one request in-process with a context that the armed
	// method cancels.
	send := func(at, path, token string, body any) *httptest.ResponseRecorder {
		t.Helper()
		data, _ := json.Marshal(body)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hu.arm(at, cancel)
		req := httptest.NewRequestWithContext(ctx, "POST", path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	events := func(action string) int {
		t.Helper()
		evs, err := h.be.reg.Events(context.Background(), devices.EventFilter{Action: action})
		if err != nil {
			t.Fatalf("Events(%q): %v", action, err)
		}
		return len(evs)
	}

	tests := []struct {
		name       string
		at         string // the method that hangs up
		path       string
		token      string
		body       any
		wantStatus int
		wantEvent  string // an audit action recorded once
	}{
		{"login success", "Succeed", "/v1/login", d.token, map[string]string{"username": "jo.smith", "pin": goodPIN}, http.StatusOK, "login.success"},
		{"login failure", "Fail", "/v1/login", d.token, map[string]string{"username": "jo.smith", "pin": "0000"}, http.StatusUnauthorized, "login.failure"},
		{"enroll", "Succeed", "/v1/enroll", "", h.enrollBody("SN-HANGUP-2"), http.StatusCreated, ""},
		{"pin change", "Succeed", "/v1/pin", sessToken, map[string]string{"current_pin": goodPIN, "new_pin": "7294"}, http.StatusNoContent, ""},
		{"logout", "End", "/v1/logout", sessToken, nil, http.StatusNoContent, "logout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := 0
			if tt.wantEvent != "" {
				before = events(tt.wantEvent)
			}
			rec := send(tt.at, tt.path, tt.token, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("POST %s = %d %s; want %d", tt.path, rec.Code, rec.Body, tt.wantStatus)
			}
			if alive, called := hu.alive(tt.at); !called || !alive {
				t.Errorf("%s after the client left: called %v, context alive %v; want a live context", tt.at, called, alive)
			}
			if tt.wantEvent != "" {
				if got := events(tt.wantEvent) - before; got != 1 {
					t.Errorf("%s events recorded = %d; want 1", tt.wantEvent, got)
				}
			}
		})
	}
}
