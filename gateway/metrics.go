package gateway

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus collectors.
type metrics struct {
	logins        *prometheus.CounterVec // outcome
	pushes        *prometheus.CounterVec // type (logout, warning), path (live, queued, recheck)
	pushLatency   prometheus.Histogram   // command created -> frame written, live pushes
	socketsClosed *prometheus.CounterVec // code
	// socketRefusals counts upgrades refused by the socket caps.
	socketRefusals *prometheus.CounterVec // reason
	sockets        prometheus.GaugeFunc   //
	// resyncs counts the fan-out watcher's (re)subscriptions.
	resyncs *prometheus.CounterVec // reset
}

func newMetrics(reg prometheus.Registerer, sockets func() int) (*metrics, error) {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "gateway", Name: "logins_total",
			Help: "Device logins by outcome.",
		}, []string{"outcome"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "gateway", Name: "pushes_total",
			Help: "Frames pushed to devices: live from the fan-out, queued and sent after welcome, or found queued by a re-check of a live socket (recheck).",
		}, []string{"type", "path"}),
		pushLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "floorgate", Subsystem: "gateway", Name: "push_latency_seconds",
			Help:    "From a logout command's creation to its frame written on a live socket.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		socketsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "gateway", Name: "socket_closes_total",
			Help: "Sockets closed by the gateway, by close code (\"dropped\" for cut connections).",
		}, []string{"code"}),
		socketRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "gateway", Name: "socket_refusals_total",
			Help: "Websocket upgrades refused with 503 because a cap was reached (per_address, instance).",
		}, []string{"reason"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floorgate", Subsystem: "gateway", Name: "fanout_resyncs_total",
			Help: "Times the fan-out watcher subscribed (at start and after each lost subscription), each followed by a re-check of every socket; reset=\"true\" when the session store had lost its data.",
		}, []string{"reset"}),
	}
	m.sockets = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "floorgate", Subsystem: "gateway", Name: "sockets",
		Help: "Authenticated device sockets held by this instance.",
	}, func() float64 { return float64(sockets()) })
	for _, c := range []prometheus.Collector{m.logins, m.pushes, m.pushLatency, m.socketsClosed, m.socketRefusals, m.sockets, m.resyncs} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("gateway: metrics already registered (one Server per registry): %w", err)
			}
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}
