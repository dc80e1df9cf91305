package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/connlimit"
	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/reqlog"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// Config configures a Server. Registry, Sessions and SignIn are
// required; zero fields take the defaults written beside them.
type Config struct {
	Registry *devices.Registry
	Sessions Sessions
	// SignIn is the process's sign-in policy (throttle, claims, hashing
	// pool), shared with the admin API.
	SignIn *signin.Policy
	// Logger receives one line per error that stops a request or a socket.
	// slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for the rules (message rate, push latency); time.Now
	// when nil. Network deadlines always use the real clock.
	Now func() time.Time
	// AllowedOrigins lists the browser origins (scheme://host[:port])
	// allowed to open a websocket and to call the device API from a
	// page (CORS, cors.go). A request without an Origin header is always
	// allowed; "*" allows every origin.
	AllowedOrigins []string
	// InstanceID names this instance in the fan-out and presence; random
	// when empty.
	InstanceID string
	// Metrics is where the gateway's collectors are registered; a private
	// registry when nil.
	Metrics prometheus.Registerer
	// AuthTimeout is how long a socket has to authenticate (10s).
	AuthTimeout time.Duration
	// PingEvery is the ping interval (25s); PongWait how long a silent
	// peer is kept (60s); WriteWait the deadline of one write (10s);
	// CloseGrace how long a closing socket waits for the peer's close
	// frame (2s).
	PingEvery  time.Duration
	PongWait   time.Duration
	WriteWait  time.Duration
	CloseGrace time.Duration
	// MessageRate and MessageBurst bound the messages a device may send
	// after its auth message (a token bucket: MessageRate per second,
	// DefaultMessageRate when 0, and a burst of MessageBurst,
	// DefaultMessageBurst when 0); beyond them the socket closes with
	// 1008.
	MessageRate  float64
	MessageBurst int
	// MaxSockets caps the websockets this instance holds at once
	// (authenticated or still waiting for their auth message), and
	// MaxSocketsPerAddr those from one client address (ClientIP; an
	// IPv6 address counts by its /64). An upgrade over either cap is
	// answered 503 unavailable with Retry-After. 0 is no cap.
	MaxSockets        int
	MaxSocketsPerAddr int
	// RecheckEvery is how often Run re-reads the pending logouts of every
	// socket it holds and pushes those whose push it missed (10s); it
	// also does so at once whenever the fan-out has been resubscribed.
	RecheckEvery time.Duration
	// PresenceEvery is how often Run refreshes the presence of the sockets
	// it holds (20s); PresenceTTL how long a refresh lasts (60s).
	PresenceEvery time.Duration
	PresenceTTL   time.Duration
	// PresenceFlushEvery is how often Run marks the sockets welcomed since
	// its last pass online, all in one call (250ms): a connect makes no
	// presence call of its own.
	PresenceFlushEvery time.Duration
	// IntrospectCache is how long this instance answers POST
	// /v1/introspect for a live session from the store's last answer
	// (validcache.go: dropped by the fan-out's ends, never older than
	// this, off while the fan-out may be missing events);
	// DefaultIntrospectCache when 0, no cache when negative.
	IntrospectCache time.Duration
	// DefaultLanguage is the organisation's language, returned at login for
	// users without one ("en").
	DefaultLanguage string
	// ActivityEvery paces the events Run publishes about the warehouses where
	// something changed, for the admin console's live pages (250ms).
	ActivityEvery time.Duration
	// DeviceTokenTTL bounds how long this instance's cache of device
	// tokens (devices.TokenCache, used by websocket connects) trusts an
	// entry that no revocation heard on the fan-out has dropped
	// (devices.DefaultTokenCacheTTL, 30s, when 0; negative: no cache,
	// every connect asks the registry). It bounds the cache of the users
	// shown in session objects (usercache.go) alike.
	DeviceTokenTTL time.Duration
	// ClientIP returns the address a request came from, the throttle source
	// of enrollments (signin.AddressSource). The connection's remote address by default; set it
	// when a trusted proxy forwards the client's address.
	ClientIP func(r *http.Request) string
}

// Sessions is what the gateway needs of the session store: the sessions
// it validates and ends, the logout commands it pushes and whose
// delivery and acknowledgement it records, the presence of the sockets
// it holds, the fan-out it publishes to and watches, and the
// announcement of a new socket (with the device's sessions and queued
// logouts in the same call). Both session backends implement it
// (sessions.Store). The expiry sweep is housekeeping's.
type Sessions interface {
	sessions.Sessions
	sessions.Commands
	sessions.Presence
	sessions.Fanout
	sessions.Announcer
}

// Server is the device-facing API of docs/DEVICE-API.md and the websocket hub of this
// instance.
type Server struct {
	cfg      Config
	reg      *devices.Registry
	store    Sessions
	signin   *signin.Policy
	log      *slog.Logger
	now      func() time.Time
	origins  map[string]bool
	anyOrig  bool
	metrics  *metrics
	hub      *hub
	sockets  *socketEnv // what every socket of this server is given
	activity *activity
	valid    *validCache // nil: introspection always asks the store
	// tokens caches the device tokens of websocket connects: on while
	// the fan-out watcher is subscribed, a device dropped when its
	// revocation is heard (server.go, watched).
	tokens *devices.TokenCache
	// users caches the users of the session objects shown (welcome, GET
	// /v1/session), kept like tokens; a user dropped when
	// sessions.KindUserChanged is heard.
	users   *userCache
	work    *tasks // the sockets' goroutines, for Shutdown
	marks   *marks // delivered marks and acks, in batches (marks.go)
	router  chi.Router
	handler http.Handler // router behind CORS
	// slots counts the open websockets per client address and in all.
	slots *connlimit.Counter

	// baseCtx is the context of work that outlives a request (socket
	// reads, deliveries); it ends at Shutdown.
	baseCtx    context.Context
	cancelBase context.CancelFunc
}

// New checks cfg and returns a Server. Nothing starts until Run.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil || cfg.Sessions == nil || cfg.SignIn == nil {
		return nil, errors.New("gateway: Registry, Sessions and SignIn are required")
	}
	setDefault(&cfg.AuthTimeout, 10*time.Second)
	setDefault(&cfg.PingEvery, 25*time.Second)
	setDefault(&cfg.PongWait, 60*time.Second)
	setDefault(&cfg.WriteWait, 10*time.Second)
	setDefault(&cfg.CloseGrace, 2*time.Second)
	setDefault(&cfg.MessageRate, DefaultMessageRate)
	setDefault(&cfg.MessageBurst, DefaultMessageBurst)
	setDefault(&cfg.RecheckEvery, 10*time.Second)
	setDefault(&cfg.PresenceEvery, 20*time.Second)
	setDefault(&cfg.PresenceTTL, 60*time.Second)
	setDefault(&cfg.PresenceFlushEvery, 250*time.Millisecond)
	setDefault(&cfg.ActivityEvery, 250*time.Millisecond)
	setDefault(&cfg.DefaultLanguage, "en")
	setDefault(&cfg.IntrospectCache, DefaultIntrospectCache)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = id.New("gw_", time.Now())
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteIP
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:     cfg,
		reg:     cfg.Registry,
		store:   cfg.Sessions,
		signin:  cfg.SignIn,
		log:     cfg.Logger,
		now:     cfg.Now,
		origins: make(map[string]bool),
		work:    newTasks(),
		slots:   connlimit.NewCounter(cfg.MaxSockets, cfg.MaxSocketsPerAddr),
	}
	for _, o := range cfg.AllowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			s.anyOrig = true
		} else if o != "" {
			s.origins[strings.ToLower(o)] = true
		}
	}
	s.activity = newActivity(cfg.ActivityEvery)
	if cfg.IntrospectCache > 0 {
		s.valid = newValidCache(cfg.IntrospectCache)
	}
	s.tokens = devices.NewTokenCache(cfg.Registry, devices.TokenCacheOptions{TTL: cfg.DeviceTokenTTL, Now: cfg.Now})
	s.users = newUserCache(cfg.DeviceTokenTTL, cfg.Now)
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.hub = newHub(s)
	s.marks = &marks{srv: s}
	m, err := newMetrics(cfg.Metrics, s.Sockets)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.sockets = s.socketEnv()
	s.router = s.routes()
	s.handler = s.cors(s.router)
	return s, nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(reqlog.Record) // the request log names the route
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Detail: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Detail: "method not allowed here"})
	})
	r.Post("/v1/enroll", s.handle(s.enroll))
	r.Post("/v1/login", s.handle(s.login))
	r.Post("/v1/pin", s.handle(s.changePIN))
	r.Post("/v1/logout", s.handle(s.logout))
	r.Get("/v1/session", s.handle(s.session))
	r.Post("/v1/introspect", s.handle(s.introspect))
	r.Get("/v1/ws", s.serveWS)
	return r
}

// Handler returns the device endpoints of docs/DEVICE-API.md, with CORS for the
// allowed origins (cors.go). /healthz, /readyz and /metrics belong to
// the caller.
func (s *Server) Handler() http.Handler { return s.handler }

// handle adapts a handler that returns an error: the error is written as
// a problem, and logged when it is the server's fault.
func (s *Server) handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := WriteProblem(w, err)
	if p.Status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
	}
}

// Run runs the instance's background work until ctx ends: the fan-out
// watch that pushes to local sockets (and notes the ends of sessions it
// hears for their custody records), the re-check of its sockets' pending
// logouts, pings, presence refreshes and the activity events. It returns
// nil once every loop has stopped. What the gateway notes in the
// registry (last seen, custody ends) is written by housekeeping's
// flushers.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loops := []func(context.Context){
		func(ctx context.Context) { _ = s.store.Watch(ctx, s.subscribed, s.watched) },
		s.hub.recheckLoop,
		s.hub.pingLoop,
		s.hub.presenceLoop,
		s.activityLoop,
		s.tokenSweepLoop,
	}
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loop(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// tokenSweepLoop drops the device-token cache's expired entries every
// TTL, so that an instance's idle sockets cost it nothing there after it.
func (s *Server) tokenSweepLoop(ctx context.Context) {
	every := s.cfg.DeviceTokenTTL
	if every <= 0 {
		every = devices.DefaultTokenCacheTTL
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tokens.Sweep()
			s.users.sweep()
		}
	}
}

// subscribed is Watch's ready: the introspection and device-token caches
// start afresh and the hub re-reads what its sockets may have missed.
func (s *Server) subscribed(reset bool) {
	s.valid.reset(true)
	if s.cfg.DeviceTokenTTL >= 0 {
		s.tokens.Start()
	}
	s.users.start()
	s.hub.resynced(reset)
}

// watched handles one fan-out event: the introspection and device-token
// caches, the pushes to this instance's sockets, and the end of a session noted for
// its custody record (every instance notes it; the registry keeps the
// first end it hears).
func (s *Server) watched(e sessions.Event) {
	if e.Kind == sessions.KindWarehouseEnded {
		s.warehouseEnded(e.Commands)
		return
	}
	s.valid.event(e)
	switch e.Kind {
	case sessions.KindLost:
		// Revocations may be missed until the watcher is back (ready).
		s.tokens.Stop()
		s.users.stop()
	case sessions.KindUserChanged:
		s.users.drop(e.UserID)
	case sessions.KindDeviceRevoked:
		// Before the hub closes the device's socket: see
		// socket.stillValid.
		s.tokens.Drop(e.DeviceID)
	}
	s.hub.event(e)
	if e.Kind != sessions.KindEnded || e.Command == nil {
		return
	}
	c := e.Command
	end := devices.CustodyEnd{SessionID: c.SessionID, At: c.CreatedAt, Reason: string(c.Reason)}
	if c.By != nil && c.By.DeviceID != "" {
		// Evicted or replaced by a login on that device.
		end.By = devices.DeviceActor(c.By.DeviceID)
	}
	s.reg.NoteCustodyEnd(end)
}

// warehouseEnded applies a whole warehouse's end at once: every
// session leaves the introspection cache, and this instance's sockets
// among the commands' devices are found in a few passes under the hub's
// lock (hub.endedMany) and pushed their logouts. The frames are what the
// devices wait for, so nothing else is done per command: no custody is
// noted, because the caller of the end records the custody ends of all
// its commands with its actor (admin: logoutWarehouse) and, when that
// caller died first, the store's sweep ends what is left with a
// KindEnded event per session, which every instance notes as usual.
// The event may come twice (the Redis store sends it again after the
// records) and KindEnded events may follow (in process): a socket
// pushes each command once.
func (s *Server) warehouseEnded(cmds []sessions.Command) {
	for i := range cmds {
		s.valid.ended(cmds[i].SessionID)
	}
	s.hub.endedMany(cmds)
}

// Watching reports whether this instance's fan-out watcher has
// subscribed (its Watch has called ready). Until then a push published
// elsewhere could miss this instance's sockets (pub/sub is at most
// once), so readiness waits for it.
func (s *Server) Watching() bool { return s.hub.subscribed.Load() }

// Shutdown closes every socket with 1001 (going away) and waits until
// every goroutine of theirs has stopped, clean-up included (acks,
// delivered marks), then marks their devices offline in one batch
// (MarkOffline), so that the caller may close the stores once it
// returns. When ctx ends first, the remaining connections are cut and
// their store calls canceled, Shutdown still waits for those goroutines
// (each then ends promptly), leaves the offline marks to lapse with
// PresenceTTL and returns ctx's error. New sockets are refused from the
// first call.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.hub.shutdown(ctx)
	if err == nil {
		err = s.work.wait(ctx)
	}
	if err == nil {
		s.hub.flushOffline(ctx)
	}
	s.cancelBase()
	if err != nil {
		s.hub.dropAll()
		_ = s.work.wait(context.Background())
	}
	s.sockets.poll.stop()
	return err
}

// Sockets is the number of authenticated sockets this instance holds.
func (s *Server) Sockets() int { return s.hub.count() }

// remoteIP is the host part of the connection's remote address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// opContext bounds one store call made outside a request.
func (s *Server) opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.baseCtx, 5*time.Second)
}
