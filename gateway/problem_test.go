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
)

func TestProblemOf(t *testing.T) {
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
	t.Run("retry after", func(t *testing.T) {
		w := httptest.NewRecorder()
		p := WriteProblem(w, &Error{Status: 429, Code: CodeTooManyAttempts, RetryAfter: 1500 * time.Millisecond})
		if p.RetryAfter != 2 || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), `"retry_after":2`) {
			t.Errorf("WriteProblem = %+v, Retry-After %q, body %s; want 2 seconds", p, w.Header().Get("Retry-After"), w.Body)
		}
	})
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"4.2.0", "4.2.0", 0},
		{"4.2", "4.2.0", 0},
		{"4.2.0", "4.10", -1},
		{"4.10", "4.9.9", 1},
		{"5", "4.99", 1},
		{"4.2.0-beta", "4.2.0", 0},
		{"v4.3", "4.2", 1},
		{"", "1.0", -1},
		{"garbage", "1.0", -1},
		{"1.0", "", 1},
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestHashPoolBusy: with every hashing slot taken, a sign-in is answered
// 429 at once instead of waiting in line.
func TestHashPoolBusy(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HashWorkers = 1; c.HashWait = time.Millisecond })
	d := h.enroll("S21-0900")
	h.user("max", h.wh.ID)
	h.srv.hashSem <- struct{}{} // hold the only slot
	r := h.login(d, "max", goodPIN)
	<-h.srv.hashSem
	if r.status != 429 || r.code() != CodeTooManyAttempts || r.header.Get("Retry-After") == "" {
		t.Fatalf("login with no free hashing slot = %d %s; want 429 with Retry-After", r.status, r.body)
	}
	if r := h.login(d, "max", goodPIN); r.status != 200 {
		t.Errorf("login with a free slot = %d %s; want 200", r.status, r.body)
	}
}
