package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/internal/reqlog"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// BasePath is where the admin API is mounted.
const BasePath = "/admin/v1"

// Config configures the admin API. Registry, Sessions and SignIn are
// required; zero values of the others take the defaults.
type Config struct {
	Registry *devices.Registry
	Sessions Sessions
	// SignIn is the process's sign-in policy, shared with the gateway:
	// manager sign-in and the unlocks of users, managers and devices go
	// through it.
	SignIn *signin.Policy
	// Logger receives one record per failure that stops in this package;
	// slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Metrics, when not nil, receives the admin API's collectors.
	Metrics prometheus.Registerer
	// ClientIP returns the address a sign-in is throttled by; the host of
	// r.RemoteAddr when nil (set it when a trusted proxy sits in front).
	ClientIP func(r *http.Request) string
	// MaxImportRows is the most data rows one CSV import may hold
	// (50,000 by default).
	MaxImportRows int
	// ImportWorkers is how many PINs an import hashes at once
	// (GOMAXPROCS by default).
	ImportWorkers int
	// MaxSummaryDevices bounds the devices one warehouse summary counts
	// (100,000 by default); beyond it the summary says partial.
	MaxSummaryDevices int
	// DeviceURL is the address handhelds reach the device API at (the
	// -device-url flag), carried by enrollment tokens' QR codes and
	// managed configuration.
	DeviceURL string
	// ConsoleURL is the address managers open the console at (the
	// -console-url flag): invitation and reset links point there.
	ConsoleURL string
	// InvitationTTL is how long an invitation link is valid
	// (devices.DefaultInvitationTTL, 48 hours, by default).
	InvitationTTL time.Duration
	// Mailer, when not nil, mails invitation and reset links; without it
	// the admin who asked gets the link in the answer, and forgot-password
	// sends nothing.
	Mailer Mailer
	// ResetCooldown is how long after a forgot-password reset link the
	// same manager gets no other (5 minutes by default): one mail per
	// cooldown, however often anyone asks.
	ResetCooldown time.Duration
	// ManagerTokenCache is how long this instance may let a manager
	// token in from its memory of the registry's answer
	// (devices.DefaultManagerTokenCacheTTL when 0; negative: no cache,
	// two registry reads per call). The cache is on only between
	// Subscribed and the next KindLost given to Watched: the caller hands
	// it the fan-out.
	ManagerTokenCache time.Duration
	// ForgotQueue bounds the forgot-password requests waiting for Run
	// (64 by default); beyond it they are dropped, with the same answer.
	ForgotQueue int
}

// Sessions is what the admin API needs of the session store: the
// sessions it lists and ends, the logout commands it shows, whether
// devices are online, and the fan-out it announces revocations on.
// Both session backends implement it (sessions.Store).
type Sessions interface {
	sessions.Sessions
	sessions.Commands
	Online(ctx context.Context, deviceIDs []string) (map[string]bool, error)
	Publish(ctx context.Context, e sessions.Event) error
}

// Defaults of the forgot-password limits.
const (
	DefaultResetCooldown = 5 * time.Minute
	DefaultForgotQueue   = 64
)

// API serves the admin REST API.
type API struct {
	reg      *devices.Registry
	sess     Sessions
	signin   *signin.Policy
	log      *slog.Logger
	now      func() time.Time
	clientIP func(*http.Request) string
	metrics  *metrics
	routes   []route
	cfg      Config
	// hashPIN completes a validated import row (Registry.HashUserPIN;
	// tests count and block it).
	hashPIN func(ctx context.Context, u *devices.User, pin string) error
	mail    Mailer
	forgot  chan forgotRequest
	// managers is the manager-token cache (nil when off by Config).
	managers *devices.ManagerTokenCache
	// bg holds what a call left running after its answer (a warehouse
	// logout's records and audit); Run waits for it before returning.
	bg sync.WaitGroup

	docOnce  sync.Once
	docBytes []byte
}

// New checks cfg and returns an API.
func New(cfg Config) (*API, error) {
	if cfg.Registry == nil || cfg.Sessions == nil || cfg.SignIn == nil {
		return nil, errors.New("admin: Registry, Sessions and SignIn are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	if cfg.MaxImportRows <= 0 {
		cfg.MaxImportRows = DefaultMaxImportRows
	}
	if cfg.ResetCooldown <= 0 {
		cfg.ResetCooldown = DefaultResetCooldown
	}
	if cfg.ForgotQueue <= 0 {
		cfg.ForgotQueue = DefaultForgotQueue
	}
	if cfg.InvitationTTL <= 0 {
		cfg.InvitationTTL = devices.DefaultInvitationTTL
	}
	if cfg.ConsoleURL == "" {
		cfg.ConsoleURL = "http://localhost:8081"
	}
	if cfg.MaxSummaryDevices <= 0 {
		cfg.MaxSummaryDevices = defaultMaxSummaryDevices
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	a := &API{
		reg:      cfg.Registry,
		sess:     cfg.Sessions,
		signin:   cfg.SignIn,
		log:      cfg.Logger,
		now:      cfg.Now,
		clientIP: cfg.ClientIP,
		metrics:  m,
		cfg:      cfg,
		hashPIN:  cfg.Registry.HashUserPIN,
		mail:     cfg.Mailer,
		forgot:   make(chan forgotRequest, cfg.ForgotQueue),
	}
	if cfg.ManagerTokenCache >= 0 {
		a.managers = devices.NewManagerTokenCache(cfg.Registry, devices.TokenCacheOptions{TTL: cfg.ManagerTokenCache, Now: cfg.Now})
	}
	cfg.Registry.OnManagerChange(a.managerChanged)
	a.routes = a.routeTable()
	return a, nil
}

// Handler returns the router of every route under /admin/v1. It does not
// serve /healthz, /readyz or /metrics: the caller mounts those.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(reqlog.Record) // the request log names the route
	r.Route(BasePath, func(r chi.Router) {
		r.NotFound(func(w http.ResponseWriter, req *http.Request) {
			a.writeError(w, req, errNoRoute)
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
			a.writeError(w, req, &problem.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Detail: "method not allowed on this path"})
		})
		for _, rt := range a.routes {
			r.Method(rt.Method, rt.Path, a.wrap(rt))
		}
	})
	return r
}

// wrap turns a route into an http.Handler: authentication, the error
// mapping and the request metric.
func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		ctx := r.Context()
		if !rt.Public {
			p, err := a.authenticate(ctx, r)
			if err != nil {
				a.writeError(sw, r, err)
				a.metrics.request(rt, sw.status())
				return
			}
			ctx = context.WithValue(ctx, principalKey{}, p)
			r = r.WithContext(ctx)
		}
		if err := rt.h(sw, r); err != nil {
			a.writeError(sw, r, err)
		}
		a.metrics.request(rt, sw.status())
	})
}

// statusWriter remembers the status written, for the metric. It passes
// Flush through so that exports stream.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
