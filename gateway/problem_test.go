package gateway

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

func TestProblemOf(t *testing.T) {
	t.Parallel()
	secret := errors.New("dial tcp 10.0.0.7:6379: connection refused")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"gateway error", &Error{Status: 403, Code: CodeWrongWarehouse, Detail: "x"}, 403, CodeWrongWarehouse},
		{"wrapped gateway error", fmt.Errorf("login: %w", errInvalidToken), 401, CodeInvalidToken},
		{"validation", &devices.ValidationError{Fields: []devices.FieldError{{Field: "username", Code: "required"}}}, 400, CodeInvalidRequest},
		{"policy", &devices.PolicyError{Secret: "pin", Rule: "sequence", Reason: "no straight runs"}, 422, CodeWeakPIN},
		{"invalid credentials", fmt.Errorf("auth: %w", devices.ErrInvalidCredentials), 401, CodeInvalidCredentials},
		{"disabled", devices.ErrDisabled, 403, CodeAccountDisabled},
		{"session limit", sessions.ErrLimit, 409, CodeSessionLimit},
		{"sessions unavailable", fmt.Errorf("validate: %w: %w", sessions.ErrUnavailable, secret), 503, CodeUnavailable},
		{"registry unavailable", devices.ErrUnavailable, 503, CodeUnavailable},
		{"unknown error", secret, 503, CodeUnavailable},
		{"503 with a cause", unavailable(secret), 503, CodeUnavailable},
		{"not found from a store", devices.ErrNotFound, 503, CodeUnavailable},
		{"attempt in flight", fmt.Errorf("pin: %w", signin.ErrInFlight), 429, CodeTooManyAttempts},
		{"no hashing slot", signin.ErrBusy, 429, CodeTooManyAttempts},
		{"throttled", &signin.ThrottledError{RetryAfter: 3 * time.Second}, 429, CodeTooManyAttempts},
		{"quarantined", signin.ErrQuarantined, 403, CodeDeviceQuarantined},
		{"wrong warehouse", signin.ErrWrongWarehouse, 403, CodeWrongWarehouse},
		{"device revoked during the login", fmt.Errorf("login: %w", signin.ErrDeviceRevoked), 401, CodeInvalidToken},
		{"no role to enroll", signin.ErrForbidden, 403, CodeForbidden},
		{"throttle cannot count", fmt.Errorf("%w: throttle fail: %w", signin.ErrUnavailable, secret), 503, CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ProblemOf(tt.err)
			if p.Status != tt.wantStatus || p.Code != tt.wantCode {
				t.Fatalf("ProblemOf(%v) = %d %s; want %d %s", tt.err, p.Status, p.Code, tt.wantStatus, tt.wantCode)
			}
			if p.Type != "about:blank" || p.Title == "" {
				t.Errorf("ProblemOf(%v) type %q title %q; want about:blank and a title", tt.err, p.Type, p.Title)
			}
			w := httptest.NewRecorder()
			WriteProblem(w, tt.err)
			if strings.Contains(w.Body.String(), "10.0.0.7") {
				t.Errorf("WriteProblem(%v) body %s carries the error text", tt.err, w.Body)
			}
		})
	}
	t.Run("in flight", func(t *testing.T) {
		// An attempt made while another for the same username or device
		// is between its check and its count (signin's claim; the claim
		// itself is tested in signin): 429, Retry-After 1.
		w := httptest.NewRecorder()
		p := WriteProblem(w, signin.ErrInFlight)
		if p.Status != 429 || p.Code != CodeTooManyAttempts || w.Header().Get("Retry-After") != "1" {
			t.Errorf("WriteProblem(ErrInFlight) = %d %s, Retry-After %q; want 429 too_many_attempts, Retry-After 1", p.Status, p.Code, w.Header().Get("Retry-After"))
		}
	})
	t.Run("retry after", func(t *testing.T) {
		w := httptest.NewRecorder()
		p := WriteProblem(w, &Error{Status: 429, Code: CodeTooManyAttempts, RetryAfter: 1500 * time.Millisecond})
		if p.RetryAfter != 2 || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), `"retry_after":2`) {
			t.Errorf("WriteProblem = %+v, Retry-After %q, body %s; want 2 seconds", p, w.Header().Get("Retry-After"), w.Body)
		}
	})
}

// TestHashPoolBusy: with every hashing slot taken, a sign-in is answered
// 429 at once instead of waiting in line.
func TestHashPoolBusy(t *testing.T) {
	t.Parallel()
	pool := signin.NewPool(1, time.Millisecond)
	h := newPoolHarness(t, pool)
	d := h.enroll("S21-0900")
	h.user("max", h.wh.ID)
	release := hold(t, pool) // hold the only slot
	r := h.login(d, "max", goodPIN)
	release()
	if r.status != 429 || r.code() != CodeTooManyAttempts || r.header.Get("Retry-After") == "" {
		t.Fatalf("login with no free hashing slot = %d %s; want 429 with Retry-After", r.status, r.body)
	}
	if r := h.login(d, "max", goodPIN); r.status != 200 {
		t.Errorf("login with a free slot = %d %s; want 200", r.status, r.body)
	}
}
