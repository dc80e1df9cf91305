package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/internal/connlimit"
	"github.com/floorgate/floorgate/signin"
)

// limits are the flags that cap what one client, or all of them
// together, may hold open on the listeners, and what a device socket may
// send (docs/SECURITY.md, "Connections, sockets and timeouts").
type limits struct {
	// MaxConns caps the device listener's open connections, websockets
	// included; 0: the open-files limit less FDReserve and AdminMaxConns.
	MaxConns int
	// MaxConnsPerAddr caps those from one client address (an IPv6 /64).
	// It counts the connection's peer, so it is not applied behind a
	// trusted proxy (-client-ip-header), whose address every connection
	// has; 0: no cap.
	MaxConnsPerAddr int
	// MaxSockets caps the open websockets; 0: nine tenths of MaxConns,
	// so that logins and introspection always find a connection.
	MaxSockets int
	// MaxSocketsPerAddr caps the websockets from one client address (the
	// proxy's header when -client-ip-header is set); 0: no cap.
	MaxSocketsPerAddr int
	// AdminMaxConns caps the admin listener's connections (a quarter of
	// them per client address).
	AdminMaxConns int
	// FDReserve is the files kept for the stores (PostgreSQL or SQLite,
	// Redis), logs and the process itself, beyond both listeners' caps.
	FDReserve int
	// MessagesPerMinute and MessageBurst bound what a device socket may
	// send after its auth message (a token bucket); beyond them it is
	// closed with 1008.
	MessagesPerMinute float64
	MessageBurst      int
	// DeviceMetrics serves /metrics on the device listener too (the
	// admin listener always serves it).
	DeviceMetrics bool
	// SignInBurst and SignInPerMinute are the per-address rate of
	// enrollment and admin sign-in attempts (signin.AddressRate), each
	// kind its own bucket, shared by every instance on the throttle's
	// store.
	SignInBurst     int
	SignInPerMinute int
	// EnrollHashShare and AdminHashShare are the parts of the hashing
	// pool's time enrollment and admin sign-in may use (signin.Shares).
	EnrollHashShare float64
	AdminHashShare  float64
}

// The defaults of the limits. Sized for a warehouse of 2,000 handhelds
// behind one NAT address: each holds one websocket and, at shift start,
// one HTTP connection for its login, so 4,000 connections and 2,000
// sockets from one address must fit with room to spare.
const (
	defaultMaxConnsPerAddr   = 6000
	defaultMaxSocketsPerAddr = 3000
	defaultAdminMaxConns     = 256
	defaultFDReserve         = 512
	defaultMessagesPerMinute = 6
	defaultMessageBurst      = 20
	// fleetBehindOneAddress is the warehouse the per-address defaults
	// are sized for; a start with caps below it says so in the log.
	fleetBehindOneAddress = 2000
	// maxAutoConns bounds the automatic cap when the open-files limit
	// is huge (or unlimited).
	maxAutoConns = 1 << 20
	// minDeviceConns is the fewest device connections a start accepts.
	minDeviceConns = 16
)

// The timeouts of the listeners. Not flags: each is far above what a
// device or a browser on a working network needs, and far below what
// would let a crowd of idle or slow connections pile up.
const (
	// headerTimeout bounds reading a request's line and headers (both
	// listeners).
	headerTimeout = 5 * time.Second
	// deviceReadTimeout bounds reading a whole device request, body
	// included (bodies are at most 16 KiB); net/http also cancels a
	// request still running then, and device requests are bounded well
	// inside it (the hashing wait is bounded).
	deviceReadTimeout = 15 * time.Second
	// deviceWriteTimeout bounds a device request from the end of its
	// headers to the end of its answer. A websocket is not bound by it:
	// the upgrade clears the connection's deadlines, and each frame then
	// has its own (gateway.Config.WriteWait).
	deviceWriteTimeout = 20 * time.Second
	// deviceIdleTimeout closes a keep-alive connection with no request.
	deviceIdleTimeout = 60 * time.Second
	// adminBodyTimeout bounds reading an admin request's body (a CSV
	// import of up to 64 MiB). The admin listener has no ReadTimeout:
	// net/http would cancel an import still hashing PINs after it.
	adminBodyTimeout = 60 * time.Second
	// adminWriteStall bounds each write of an admin answer: a client
	// that stops reading is cut, while a long import or export, or a
	// live page's stream, keeps going as long as it is read. The admin
	// listener has no WriteTimeout for that reason.
	adminWriteStall = 30 * time.Second
	// adminIdleTimeout closes an idle keep-alive admin connection.
	adminIdleTimeout = 120 * time.Second
	// connRetryAfter is the Retry-After of a connection refused by a cap.
	connRetryAfter = 5 * time.Second
)

// deviceListenConfig is the device listener's: no TCP keep-alive on the
// connections it accepts. A device's socket is checked by the gateway's
// pings (a peer silent for PongWait is dropped) and an idle HTTP
// connection ends after deviceIdleTimeout, so the kernel's probes would
// find nothing those do not; and each connection would cost four more
// system calls to set them up (SO_KEEPALIVE and its three timers) on the
// path of every connect. The admin listener keeps Go's default.
var deviceListenConfig = net.ListenConfig{KeepAlive: -1}

// flagFunc defines one flag with its environment variable.
type flagFunc[T any] func(p *T, name, env string, def T, help string)

// limitFlags defines the flags of l.
func limitFlags(l *limits, intVar flagFunc[int], floatVar flagFunc[float64], boolVar flagFunc[bool]) {
	intVar(&l.MaxConns, "max-conns", "FLOORGATE_MAX_CONNS", 0,
		"device listener: connections open at once, websockets included; 0: the open-files limit less -fd-reserve and -admin-max-conns")
	intVar(&l.MaxConnsPerAddr, "max-conns-per-addr", "FLOORGATE_MAX_CONNS_PER_ADDR", defaultMaxConnsPerAddr,
		"device listener: connections from one client address (IPv6: one /64); not applied with -client-ip-header; 0: no cap")
	intVar(&l.MaxSockets, "max-websockets", "FLOORGATE_MAX_WEBSOCKETS", 0,
		"open websockets; 0: nine tenths of -max-conns")
	intVar(&l.MaxSocketsPerAddr, "max-websockets-per-addr", "FLOORGATE_MAX_WEBSOCKETS_PER_ADDR", defaultMaxSocketsPerAddr,
		"open websockets from one client address; 0: no cap")
	intVar(&l.AdminMaxConns, "admin-max-conns", "FLOORGATE_ADMIN_MAX_CONNS", defaultAdminMaxConns,
		"admin listener: connections open at once (a quarter of them per client address)")
	intVar(&l.FDReserve, "fd-reserve", "FLOORGATE_FD_RESERVE", defaultFDReserve,
		"open files kept for the stores, logs and the process beyond both listeners' caps")
	floatVar(&l.MessagesPerMinute, "ws-messages-per-minute", "FLOORGATE_WS_MESSAGES_PER_MINUTE", defaultMessagesPerMinute,
		"messages a device socket may send per minute after its auth message, beyond -ws-message-burst (more: closed with 1008)")
	intVar(&l.MessageBurst, "ws-message-burst", "FLOORGATE_WS_MESSAGE_BURST", defaultMessageBurst,
		"messages a device socket may send at once")
	boolVar(&l.DeviceMetrics, "device-metrics", "FLOORGATE_DEVICE_METRICS", false,
		"serve /metrics on the device listener too (it is always on the admin listener)")
	intVar(&l.SignInBurst, "signin-burst", "FLOORGATE_SIGNIN_BURST", signin.DefaultAddressRate.Burst,
		"enrollment and admin sign-in attempts one client address (IPv6: one /64) may make at once, each kind apart, counted across every instance on the throttle's store")
	intVar(&l.SignInPerMinute, "signin-per-minute", "FLOORGATE_SIGNIN_PER_MINUTE", signin.DefaultAddressRate.PerMinute,
		"enrollment and admin sign-in attempts one client address may make per minute beyond -signin-burst (more: 429)")
	floatVar(&l.EnrollHashShare, "enroll-hash-share", "FLOORGATE_ENROLL_HASH_SHARE", signin.DefaultShares.Enroll,
		"part of the hashing pool's time (above 0, at most 1) enrollment may use; device sign-ins keep the rest under any flood")
	floatVar(&l.AdminHashShare, "admin-hash-share", "FLOORGATE_ADMIN_HASH_SHARE", signin.DefaultShares.Manager,
		"part of the hashing pool's time (above 0, at most 1) admin sign-in may use")
}

// check refuses values that mean nothing.
func (l limits) check() error {
	var errs []error
	for _, v := range []struct {
		name string
		n    int
	}{
		{"max-conns", l.MaxConns}, {"max-conns-per-addr", l.MaxConnsPerAddr},
		{"max-websockets", l.MaxSockets}, {"max-websockets-per-addr", l.MaxSocketsPerAddr},
		{"fd-reserve", l.FDReserve},
	} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("-%s %d: want 0 or more", v.name, v.n))
		}
	}
	if l.AdminMaxConns < 4 {
		errs = append(errs, fmt.Errorf("-admin-max-conns %d: want 4 or more", l.AdminMaxConns))
	}
	if !(l.MessagesPerMinute > 0) || l.MessagesPerMinute > 60000 {
		errs = append(errs, fmt.Errorf("-ws-messages-per-minute %v: want more than 0, at most 60000", l.MessagesPerMinute))
	}
	if l.MessageBurst < 1 || l.MessageBurst > 10000 {
		errs = append(errs, fmt.Errorf("-ws-message-burst %d: want 1 to 10000", l.MessageBurst))
	}
	if l.SignInBurst < 1 || l.SignInBurst > 100000 {
		errs = append(errs, fmt.Errorf("-signin-burst %d: want 1 to 100000", l.SignInBurst))
	}
	if l.SignInPerMinute < 1 || l.SignInPerMinute > 1000000 {
		errs = append(errs, fmt.Errorf("-signin-per-minute %d: want 1 to 1000000", l.SignInPerMinute))
	}
	for _, v := range []struct {
		name  string
		share float64
	}{{"enroll-hash-share", l.EnrollHashShare}, {"admin-hash-share", l.AdminHashShare}} {
		if !(v.share > 0) || v.share > 1 {
			errs = append(errs, fmt.Errorf("-%s %v: want more than 0, at most 1", v.name, v.share))
		}
	}
	return errors.Join(errs...)
}

// caps are the limits in force: the flags sized against the open-files
// limit.
type caps struct {
	FileLimit                     int // the open-files limit (0: unknown)
	Conns, ConnsPerAddr           int // device listener
	Sockets, SocketsPerAddr       int
	AdminConns, AdminConnsPerAddr int
	MessageRate                   float64 // per second
	MessageBurst                  int
	warnings                      []string
}

// size sizes l below the open-files limit fileLimit (0: unknown, then
// the automatic cap is what the reserve leaves of 20,000 files):
// FDReserve and the admin listener's cap are set aside, and the device
// listener may have the rest. An explicit cap beyond it is refused, so
// that the process cannot run out of files however many clients come.
// behindProxy drops the per-address connection cap, which would count
// the proxy.
func (l limits) size(fileLimit int, behindProxy bool) (caps, error) {
	c := caps{FileLimit: fileLimit, AdminConns: l.AdminMaxConns, AdminConnsPerAddr: max(l.AdminMaxConns/4, 1),
		MessageRate: l.MessagesPerMinute / 60, MessageBurst: l.MessageBurst}
	files := fileLimit
	if files <= 0 {
		files = 20000
	}
	budget := min(files-l.FDReserve-l.AdminMaxConns, maxAutoConns)
	if budget < minDeviceConns {
		return c, fmt.Errorf("the open-files limit %d leaves %d device connections after -fd-reserve %d and -admin-max-conns %d: "+
			"raise the limit (LimitNOFILE, ulimit -n) or lower those two", files, budget, l.FDReserve, l.AdminMaxConns)
	}
	c.Conns = l.MaxConns
	switch {
	case c.Conns == 0:
		c.Conns = budget
	case c.Conns > budget:
		return c, fmt.Errorf("-max-conns %d is more than the open-files limit %d allows after -fd-reserve %d and -admin-max-conns %d (at most %d): "+
			"raise the limit (LimitNOFILE, ulimit -n) or lower -max-conns", c.Conns, files, l.FDReserve, l.AdminMaxConns, budget)
	}
	c.Sockets = l.MaxSockets
	switch {
	case c.Sockets == 0:
		c.Sockets = max(c.Conns*9/10, 1)
	case c.Sockets > c.Conns:
		return c, fmt.Errorf("-max-websockets %d is more than -max-conns %d (every websocket is a connection)", c.Sockets, c.Conns)
	}
	// One address may never hold more than half of what the instance
	// may: the other half stays for everyone else.
	c.ConnsPerAddr = l.MaxConnsPerAddr
	if c.ConnsPerAddr > c.Conns/2 {
		c.ConnsPerAddr = max(c.Conns/2, 1)
		c.warnings = append(c.warnings, fmt.Sprintf("-max-conns-per-addr lowered to %d, half of -max-conns", c.ConnsPerAddr))
	}
	if behindProxy {
		c.ConnsPerAddr = 0
	}
	c.SocketsPerAddr = l.MaxSocketsPerAddr
	if c.SocketsPerAddr > c.Sockets/2 {
		c.SocketsPerAddr = max(c.Sockets/2, 1)
		c.warnings = append(c.warnings, fmt.Sprintf("-max-websockets-per-addr lowered to %d, half of -max-websockets", c.SocketsPerAddr))
	}
	if (c.SocketsPerAddr > 0 && c.SocketsPerAddr < fleetBehindOneAddress) || (c.ConnsPerAddr > 0 && c.ConnsPerAddr < 2*fleetBehindOneAddress) {
		c.warnings = append(c.warnings, fmt.Sprintf("the per-address caps (%d connections, %d websockets) do not fit %d handhelds behind one NAT address",
			c.ConnsPerAddr, c.SocketsPerAddr, fleetBehindOneAddress))
	}
	return c, nil
}

// listenerMetrics counts each capped listener's open connections and
// refusals.
type listenerMetrics struct {
	refusals *prometheus.CounterVec // listener, reason
	reg      prometheus.Registerer
}

func newListenerMetrics(reg prometheus.Registerer) (*listenerMetrics, error) {
	m := &listenerMetrics{reg: reg, refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floorgate", Subsystem: "listener", Name: "refusals_total",
		Help: "Connections answered 503 at once because a cap was reached (per_address, instance).",
	}, []string{"listener", "reason"})}
	if err := reg.Register(m.refusals); err != nil {
		return nil, fmt.Errorf("register listener metrics: %w", err)
	}
	return m, nil
}

// capped wraps ln in the caps most and perAddr, counted as listener.
// Refused connections linger for their answer within an eighth of the
// files kept in reserve.
func (m *listenerMetrics) capped(listener string, ln net.Listener, most, perAddr, reserve int) (*connlimit.Listener, error) {
	cl := connlimit.NewListener(ln, connlimit.Config{
		Max: most, PerAddr: perAddr, RetryAfter: connRetryAfter, LingerMax: max(reserve/8, 1),
		OnRefuse: func(reason string) { m.refusals.WithLabelValues(listener, reason).Inc() },
	})
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "floorgate", Subsystem: "listener", Name: "connections",
		Help:        "Connections open on the listener, websockets included.",
		ConstLabels: prometheus.Labels{"listener": listener},
	}, func() float64 { return float64(cl.Open()) })
	if err := m.reg.Register(g); err != nil {
		return nil, fmt.Errorf("register listener metrics: %w", err)
	}
	return cl, nil
}

// bodyDeadline bounds reading a request's body to d: the read deadline
// is set when the handler starts and cleared once the body has been read
// to its end, so that the handler's own work (an import hashing PINs) is
// not cut by it.
func bodyDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the read deadline when its body has been read to
// its end. Any other error (the deadline passing) leaves it, so that the
// connection is closed rather than read without a bound.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// writeStall bounds each write of an answer to d (see adminWriteStall):
// the write deadline is set again before every write and flush, and once
// more when the handler returns, before net/http writes what it buffered.
func writeStall(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		defer sw.arm()
		sw.arm()
		h.ServeHTTP(sw, r)
	})
}

type stallWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *stallWriter) arm() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *stallWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(p)
}

// FlushError lets http.ResponseController flush through the wrapper.
func (w *stallWriter) FlushError() error {
	w.arm()
	return w.rc.Flush()
}

// Flush makes the wrapper an http.Flusher for handlers that ask.
func (w *stallWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the connection.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
