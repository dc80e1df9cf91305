package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// pingFunc is a pinger made of a function.
type pingFunc func(ctx context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }

var (
	up   = pingFunc(func(context.Context) error { return nil })
	down = pingFunc(func(context.Context) error { return errors.New("connection refused") })
)

func TestOps(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	tests := []struct {
		name               string
		registry, sessions pinger
		draining           bool
		method, path       string
		status             int
		contentType        string
		code               string // of a problem body
	}{
		{"healthz", up, up, false, "GET", "/healthz", 200, "application/json", ""},
		{"healthz with stores down", down, down, false, "GET", "/healthz", 200, "application/json", ""},
		{"readyz", up, up, false, "GET", "/readyz", 200, "application/json", ""},
		{"readyz registry down", down, up, false, "GET", "/readyz", 503, "application/problem+json", "unavailable"},
		{"readyz sessions down", up, down, false, "GET", "/readyz", 503, "application/problem+json", "unavailable"},
		{"readyz while stopping", up, up, true, "GET", "/readyz", 503, "application/problem+json", "unavailable"},
		{"readyz before the fan-out watcher is subscribed", up, up, false, "GET", "/readyz?watching=false", 503, "application/problem+json", "unavailable"},
		{"metrics", up, up, false, "GET", "/metrics", 200, "text/plain", ""},
		{"metrics off", up, up, false, "GET", "/metrics?off", http.StatusTeapot, "", ""},
		{"other paths go on", up, up, false, "GET", "/v1/session", http.StatusTeapot, "", ""},
		{"other methods go on", up, up, false, "POST", "/healthz", http.StatusTeapot, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			watching := !strings.Contains(tt.path, "watching=false")
			o := &ops{registry: tt.registry, sessions: tt.sessions, metrics: newMetricsRegistry(), log: discardLogger(),
				watching: func() bool { return watching }}
			o.draining.Store(tt.draining)
			rec := httptest.NewRecorder()
			var metrics prometheus.Gatherer = o.metrics
			if strings.HasSuffix(tt.path, "?off") {
				metrics = nil
			}
			o.wrap(next, metrics).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d; want %d", tt.method, tt.path, rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("%s %s Content-Type = %q; want %q", tt.method, tt.path, ct, tt.contentType)
			}
			if tt.code != "" {
				var p problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatalf("%s %s body %q: %v", tt.method, tt.path, rec.Body, err)
				}
				if p.Code != tt.code || p.Status != tt.status {
					t.Errorf("%s %s problem = %+v; want code %q, status %d", tt.method, tt.path, p, tt.code, tt.status)
				}
				if tt.status == http.StatusServiceUnavailable && (rec.Header().Get("Retry-After") == "" || p.RetryAfter <= 0) {
					t.Errorf("%s %s = 503 with Retry-After %q, retry_after %d; want both", tt.method, tt.path, rec.Header().Get("Retry-After"), p.RetryAfter)
				}
				if strings.Contains(rec.Body.String(), "connection refused") {
					t.Errorf("%s %s body %q carries the store's error", tt.method, tt.path, rec.Body)
				}
			}
			if tt.path == "/metrics" && tt.status == 200 && !strings.Contains(rec.Body.String(), "go_goroutines") {
				t.Errorf("/metrics lacks the Go collector:\n%.300s", rec.Body)
			}
		})
	}
}

func TestBrowsableAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"[::]:8081", "localhost:8081"},
		{"0.0.0.0:8081", "localhost:8081"},
		{":8081", "localhost:8081"},
		{"127.0.0.1:40000", "127.0.0.1:40000"},
		{"[::1]:8081", "[::1]:8081"},
	}
	for _, tt := range tests {
		if got := browsableAddr(tt.in); got != tt.want {
			t.Errorf("browsableAddr(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		header string
		values []string
		remote string
		want   string
	}{
		{"", []string{"203.0.113.9"}, "10.0.0.2:5000", "10.0.0.2"},
		{"X-Forwarded-For", nil, "10.0.0.2:5000", "10.0.0.2"},
		{"X-Forwarded-For", []string{"203.0.113.9"}, "10.0.0.2:5000", "203.0.113.9"},
		{"X-Forwarded-For", []string{"1.2.3.4, 203.0.113.9"}, "10.0.0.2:5000", "203.0.113.9"},
		{"X-Forwarded-For", []string{"1.2.3.4", "203.0.113.9"}, "10.0.0.2:5000", "203.0.113.9"},
		{"x-real-ip", []string{"2001:db8::1"}, "10.0.0.2:5000", "2001:db8::1"},
		{"X-Real-IP", []string{"not an address"}, "10.0.0.2:5000", "10.0.0.2"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/v1/enroll", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.values {
			r.Header.Add(tt.header, v)
		}
		if tt.header == "" {
			r.Header.Set("X-Forwarded-For", tt.values[0])
		}
		if got := clientIP(tt.header)(r); got != tt.want {
			t.Errorf("clientIP(%q) with %q from %s = %q; want %q", tt.header, tt.values, tt.remote, got, tt.want)
		}
	}
}
