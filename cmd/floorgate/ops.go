package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/floorgate/floorgate/internal/reqlog"
)

// readyTimeout bounds each store ping of /readyz.
const readyTimeout = 2 * time.Second

// pinger is what /readyz asks: devices.Store and sessions.Store both are.
type pinger interface {
	Ping(ctx context.Context) error
}

// ops serves the operations endpoints (docs/OPERATIONS.md) on both listeners:
// /healthz, /readyz and /metrics.
type ops struct {
	registry pinger
	sessions pinger
	metrics  *prometheus.Registry
	log      *slog.Logger
	// draining turns /readyz to 503 once a graceful stop has begun, so
	// that a load balancer stops sending new work here.
	draining atomic.Bool
	// watching, when set, tells whether the gateway's fan-out watcher is
	// subscribed; until it is, /readyz answers 503 (a push published
	// meanwhile could miss this instance's sockets).
	watching func() bool
}

// newMetricsRegistry returns the Prometheus registry of this process,
// with the Go runtime and process collectors; gateway and admin add
// theirs to it.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfoGauge(readBuildInfo()),
	)
	return reg
}

// wrap returns h with the operations endpoints in front of it: /healthz,
// /readyz, and /metrics from metrics unless it is nil (then /metrics is
// h's, which answers 404).
func (o *ops) wrap(h http.Handler, metrics prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", namedRoute(http.HandlerFunc(o.healthz)))
	mux.Handle("GET /readyz", namedRoute(http.HandlerFunc(o.readyz)))
	if metrics != nil {
		mux.Handle("GET /metrics", namedRoute(promhttp.HandlerFor(metrics, promhttp.HandlerOpts{
			Registry:          o.metrics,
			ErrorLog:          slog.NewLogLogger(o.log.Handler(), slog.LevelError),
			EnableOpenMetrics: false,
		})))
	}
	mux.Handle("/", h)
	return mux
}

// namedRoute gives the request log the mux pattern of an operations
// endpoint.
func namedRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		reqlog.Set(r, strings.TrimPrefix(r.Pattern, "GET "))
	})
}

// deviceGatherer is what /metrics shows on the device listener, when
// the operator turns it on (-device-metrics): the Go and process
// metrics, the gateway's, and the sign-in metrics of the device's own
// sign-ins (PIN login, PIN change, enrollment). Nothing of the admin
// listener: no admin API metric and no admin sign-in outcome. It keeps
// what it knows rather than dropping what it does not, so a metric added
// later stays off the device listener until it is listed here.
type deviceGatherer struct{ g prometheus.Gatherer }

// deviceSignInKinds are the values of the sign-in metrics' kind label
// that belong to the device listener.
var deviceSignInKinds = map[string]bool{"pin": true, "pin_change": true, "enroll": true}

// deviceMetricPrefixes are the metric families the device listener shows.
var deviceMetricPrefixes = []string{"go_", "process_", "floorgate_gateway_", "floorgate_signin_", "floorgate_listener_"}

func (d deviceGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := d.g.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		if !hasAnyPrefix(mf.GetName(), deviceMetricPrefixes) {
			continue
		}
		ms := mf.Metric[:0]
		for _, m := range mf.Metric {
			if deviceSample(m) {
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			mf.Metric = ms
			out = append(out, mf)
		}
	}
	return out, err
}

// deviceSample keeps a sample unless a label ties it to the admin side:
// a sign-in kind other than the device's, or a listener other than the
// gateway.
func deviceSample(m *dto.Metric) bool {
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "kind":
			if !deviceSignInKinds[l.GetValue()] {
				return false
			}
		case "listener":
			if l.GetValue() != "gateway" {
				return false
			}
		}
	}
	return true
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// healthz answers 200 while the process runs.
func (o *ops) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the registry and the session store both answer
// a ping within readyTimeout, else 503 unavailable (fail closed).
func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	if o.draining.Load() {
		writeUnavailable(w, "shutting down", nil)
		return
	}
	// Both stores are asked at once, within one deadline.
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	names := [2]string{"registry", "sessions"}
	var errs [2]error
	var wg sync.WaitGroup
	for i, p := range [2]pinger{o.registry, o.sessions} {
		wg.Go(func() { errs[i] = p.Ping(ctx) })
	}
	wg.Wait()
	checks := map[string]string{}
	ok := true
	for i, err := range errs {
		checks[names[i]] = "ok"
		if err != nil {
			ok = false
			checks[names[i]] = "unavailable"
			o.log.Warn("readiness check failed", "store", names[i], "err", err)
		}
	}
	if !ok {
		writeUnavailable(w, "a store does not answer", checks)
		return
	}
	if o.watching != nil && !o.watching() {
		checks["fanout"] = "starting"
		writeUnavailable(w, "the fan-out watcher is not subscribed yet", checks)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}

// problem is an RFC 9457 body with the stable code of docs/ERRORS.md.
type problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail,omitempty"`
	Checks map[string]string `json:"checks,omitempty"`
	// RetryAfter repeats the Retry-After header, as every 503 of both
	// APIs does.
	RetryAfter int `json:"retry_after,omitempty"`
}

// readyRetry is the Retry-After of a /readyz that is not ready.
const readyRetry = 5 * time.Second

func writeUnavailable(w http.ResponseWriter, detail string, checks map[string]string) {
	retry := int(readyRetry / time.Second)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(problem{
		Type:       "about:blank",
		Title:      "Service unavailable",
		Status:     http.StatusServiceUnavailable,
		Code:       "unavailable",
		Detail:     detail,
		Checks:     checks,
		RetryAfter: retry,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
