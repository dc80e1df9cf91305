package admin

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the admin API's collectors.
type metrics struct {
	requests *prometheus.CounterVec
	denied   prometheus.Counter
	// forgotDropped counts forgot-password requests dropped on a full queue.
	forgotDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floorgate_admin_requests_total", Help: "Admin API requests by route and status.",
		}, []string{"method", "route", "code"}),
		denied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floorgate_admin_authz_denied_total", Help: "Admin API requests refused by role or warehouse (audited as authz.denied).",
		}),
		forgotDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "floorgate_admin_forgot_password_dropped_total", Help: "Forgot-password requests dropped because the queue was full (the answer was the same).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.denied, m.forgotDropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("admin: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) request(rt route, code int) {
	m.requests.WithLabelValues(rt.Method, BasePath+rt.Path, strconv.Itoa(code)).Inc()
}
