package introspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/clients/internal/livetest"
	"github.com/floorgate/floorgate/clients/introspect"
)

// backend is a handler behind the middleware that records the session
// it was called with.
type backend struct {
	calls atomic.Int32
	last  atomic.Value // introspect.Session
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := introspect.FromContext(r.Context())
	if !ok {
		http.Error(w, "no session in context", http.StatusInternalServerError)
		return
	}
	b.calls.Add(1)
	b.last.Store(s)
	w.WriteHeader(http.StatusOK)
}

// problem is the answer of the middleware when it answers itself.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// get calls h with token as bearer (none when empty) and returns the
// status, the problem (when any) and the response headers.
func get(t *testing.T, h http.Handler, token string) (int, problem, http.Header) {
	t.Helper()
	req := httptest.NewRequest("GET", "/picks", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var p problem
	if rec.Code != http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("answer %d has Content-Type %q; want application/problem+json", rec.Code, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
			t.Errorf("answer %d body %q is not a problem with that status: %v", rec.Code, rec.Body, err)
		}
	}
	return rec.Code, p, rec.Header()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestMiddleware runs the middleware against the real binary: an active
// session reaches the handler with its fields, anything else is a 401
// that the handler never sees, and a forced logout takes effect on the
// very next request.
func TestMiddleware(t *testing.T) {
	in := livetest.Start(t)
	f := in.SetUp(t)
	u := f.AddUser(t, "jsmith", "4821", "es", false)
	d := f.Enroll(t, "S21-0001")
	token, sessionID := f.Login(t, d, u)

	c := &introspect.Client{BaseURL: in.GatewayURL, ServiceKey: f.ServiceKey}
	var b backend
	h := c.Middleware(quiet(), &b)

	if code, p, _ := get(t, h, token); code != http.StatusOK {
		t.Fatalf("active session: %d %+v; want 200", code, p)
	}
	s := b.last.Load().(introspect.Session)
	if s.ID != sessionID || s.UserID != u.ID || s.Username != "jsmith" || s.WarehouseID != f.WarehouseID || s.DeviceID != d.ID {
		t.Errorf("session in context = %+v; want session %s, user %s (jsmith), warehouse %s, device %s", s, sessionID, u.ID, f.WarehouseID, d.ID)
	}
	if until := time.Until(s.ExpiresAt); until < time.Hour || until > 13*time.Hour {
		t.Errorf("session expires_at %v is %v away; want about the 12 h lifetime", s.ExpiresAt, until)
	}

	pinUser := f.AddUser(t, "newbie", "5930", "", true)
	pinToken, _ := f.Login(t, f.Enroll(t, "S21-0002"), pinUser)

	for _, tt := range []struct{ name, token string }{
		{"no header", ""},
		{"device token", d.Token},
		{"not a token", "hello"},
		{"unknown session", "fgs_" + strings.Repeat("A", 43)},
		{"session that must change its PIN", pinToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := b.calls.Load()
			code, p, hdr := get(t, h, tt.token)
			if code != http.StatusUnauthorized || p.Code != "invalid_token" || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("GET with %s = %d %+v; want 401 invalid_token with WWW-Authenticate", tt.name, code, p)
			}
			if b.calls.Load() != before {
				t.Errorf("the handler was called for %s", tt.name)
			}
		})
	}

	t.Run("forced logout", func(t *testing.T) {
		if err := f.Admin("DELETE", "/sessions/"+sessionID, nil, nil, http.StatusOK); err != nil {
			t.Fatal(err)
		}
		before := b.calls.Load()
		if code, p, _ := get(t, h, token); code != http.StatusUnauthorized || p.Code != "invalid_token" {
			t.Errorf("first request after the forced logout = %d %+v; want 401 invalid_token", code, p)
		}
		if b.calls.Load() != before {
			t.Error("the handler was called after the forced logout")
		}
	})

	t.Run("wrong service key", func(t *testing.T) {
		token2, _ := f.Login(t, d, u)
		bad := &introspect.Client{BaseURL: in.GatewayURL, ServiceKey: "fgk_" + strings.Repeat("B", 43)}
		code, p, hdr := get(t, bad.Middleware(quiet(), &b), token2)
		if code != http.StatusServiceUnavailable || p.Code != "unavailable" || hdr.Get("Retry-After") == "" {
			t.Errorf("refused service key: %d %+v Retry-After %q; want 503 unavailable with Retry-After (the user's session may be fine)",
				code, p, hdr.Get("Retry-After"))
		}
		if _, err := bad.Introspect(context.Background(), token2); !errors.Is(err, introspect.ErrUnavailable) || strings.Contains(err.Error(), token2) {
			t.Errorf("Introspect with a refused key = %v; want ErrUnavailable, without the token", err)
		}
	})
}

// TestFailClosed: with Floorgate stopped, the middleware answers 503
// unavailable and never calls the handler.
func TestFailClosed(t *testing.T) {
	in := livetest.Start(t)
	f := in.SetUp(t)
	token, _ := f.Login(t, f.Enroll(t, "S21-0001"), f.AddUser(t, "jsmith", "4821", "", false))
	c := &introspect.Client{BaseURL: in.GatewayURL, ServiceKey: f.ServiceKey}
	var b backend
	h := c.Middleware(quiet(), &b)
	if code, p, _ := get(t, h, token); code != http.StatusOK {
		t.Fatalf("before the stop: %d %+v; want 200", code, p)
	}
	in.Stop(t)
	code, p, hdr := get(t, h, token)
	if code != http.StatusServiceUnavailable || p.Code != "unavailable" || hdr.Get("Retry-After") == "" {
		t.Errorf("Floorgate down: %d %+v Retry-After %q; want 503 unavailable with Retry-After", code, p, hdr.Get("Retry-After"))
	}
	if b.calls.Load() != 1 {
		t.Errorf("handler called %d times; want once (before the stop)", b.calls.Load())
	}
	if _, err := c.Introspect(context.Background(), token); !errors.Is(err, introspect.ErrUnavailable) {
		t.Errorf("Introspect with Floorgate down = %v; want ErrUnavailable", err)
	}
}

// TestAnswers covers answers the real binary gives only when its stores
// fail (5xx), or never (a hung or foreign server): each fails closed.
func TestAnswers(t *testing.T) {
	hang := make(chan struct{}) // closed once the hanging case is done
	tests := []struct {
		name      string
		serve     func(w http.ResponseWriter, r *http.Request)
		wantRetry string
	}{
		{"503 with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":503,"code":"unavailable"}`)
		}, "7"},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, "1"},
		{"200 that is no introspection", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `<html>proxy login</html>`) }, "1"},
		{"200 without active", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"session_id":"s"}`) }, "1"},
		{"active without ids", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"active":true}`) }, "1"},
		{"hangs past the timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tt.serve))
			defer srv.Close()
			if strings.HasPrefix(tt.name, "hangs") {
				defer close(hang) // before srv.Close, which waits for the handler
			}
			c := &introspect.Client{BaseURL: srv.URL, ServiceKey: "fgk_test", Timeout: 200 * time.Millisecond}
			var b backend
			code, p, hdr := get(t, c.Middleware(quiet(), &b), "fgs_some-token")
			if code != http.StatusServiceUnavailable || p.Code != "unavailable" || hdr.Get("Retry-After") != tt.wantRetry {
				t.Errorf("%s: %d %+v Retry-After %q; want 503 unavailable, Retry-After %s", tt.name, code, p, hdr.Get("Retry-After"), tt.wantRetry)
			}
			if b.calls.Load() != 0 {
				t.Errorf("%s: the handler was called", tt.name)
			}
		})
	}
}

// FuzzAnswer feeds arbitrary introspection answers to the client: it
// never panics, and never reports an active session without its ids.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{`{"active":false}`, `{"active":true}`, `{"active":true,"session_id":"s","user_id":"u","expires_at":"2026-01-01T00:00:00Z"}`,
		`{"active":"yes"}`, `null`, `[]`, ``, `{"active":true,"session_id":"s","user_id":"u","expires_at":7}`} {
		f.Add(s)
	}
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body.Load().(string)) }))
	defer srv.Close()
	c := &introspect.Client{BaseURL: srv.URL, ServiceKey: "fgk_test"}
	f.Fuzz(func(t *testing.T, answer string) {
		body.Store(answer)
		s, err := c.Introspect(context.Background(), "fgs_x")
		if err == nil && (s.ID == "" || s.UserID == "") {
			t.Errorf("answer %q gave active session %+v without ids", answer, s)
		}
		if err != nil && !errors.Is(err, introspect.ErrInactive) && !errors.Is(err, introspect.ErrUnavailable) {
			t.Errorf("answer %q gave %v; want ErrInactive or ErrUnavailable", answer, err)
		}
	})
}
