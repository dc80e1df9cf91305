package signin

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sign-in collectors, with the kind of sign-in as a label
// (pin, pin_change, enroll, manager).
type metrics struct {
	decisions   *prometheus.CounterVec // kind, step (check, fail), verdict
	sprayAlarms prometheus.Counter
	hashBusy    *prometheus.CounterVec // kind
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "signin", Name: "throttle_decisions_total",
			Help: "Sign-in throttle decisions, at the check before hashing and after a failure.",
		}, []string{"kind", "step", "verdict"}),
		sprayAlarms: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "signin", Name: "spray_alarms_total",
			Help: "Warehouse spray alarms raised (many usernames failing).",
		}),
		hashBusy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "signin", Name: "hash_busy_total",
			Help: "Sign-ins refused at once because every hashing slot was taken.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.sprayAlarms, m.hashBusy} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("signin: metrics already registered (one Policy per registry): %w", err)
			}
			return nil, fmt.Errorf("signin: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) decision(k kind, step, verdict string) {
	m.decisions.WithLabelValues(string(k), step, verdict).Inc()
}
