package console

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

//go:embed templates static
var files embed.FS

// Config configures the console. API is required.
type Config struct {
	// API is the admin API's handler (admin.API.Handler()); the console
	// calls it in process for every read and action.
	API http.Handler
	// Feed carries the fan-out events to the live pages; nil: they
	// refresh on RefreshEvery only.
	Feed *Feed
	// Logger receives one record per failure that stops here;
	// slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Secure reports whether a request reached us over TLS, directly or
	// through a trusted proxy that says so: the session cookie is then
	// Secure. nil: r.TLS != nil.
	Secure func(r *http.Request) bool
	// RefreshEvery is how often a live page refreshes without an event
	// (15s). Coalesce is how long a live page waits after an event for
	// more before it refetches (50ms).
	RefreshEvery time.Duration
	Coalesce     time.Duration
	// MaxUpload bounds a CSV import's upload (8 MiB).
	MaxUpload int64
}

// Console serves the admin console.
type Console struct {
	cfg     Config
	api     http.Handler
	log     *slog.Logger
	now     func() time.Time
	pages   *pages
	handler http.Handler
	static  http.Handler
}

// New checks cfg and returns a Console.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil {
		return nil, errors.New("console: API is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Secure == nil {
		cfg.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = 15 * time.Second
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 50 * time.Millisecond
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 8 << 20
	}
	ps, err := parsePages()
	if err != nil {
		return nil, err
	}
	staticFS, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, api: cfg.API, log: cfg.Logger, now: cfg.Now, pages: ps, static: http.FileServerFS(staticFS)}
	mux := http.NewServeMux()
	for _, rt := range c.routes() {
		mux.Handle(rt.Method+" "+rt.Path, c.wrap(rt))
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r)
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(c.crossOrigin))
	c.handler = securityHeaders(cop.Handler(mux))
	return c, nil
}

// Handler serves every console page. Mount it at "/" beside the admin
// API's /admin/v1/ (Mount does both).
func (c *Console) Handler() http.Handler { return c.handler }

// Mount returns the admin listener's handler: /admin/v1/ to the API,
// everything else to the console.
func (c *Console) Mount(apiPrefix string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(apiPrefix+"/", c.api)
	mux.Handle("/", c.handler)
	return mux
}

// contentSecurityPolicy allows our own files only: no inline script or
// style, no frames, forms posting to us only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every console answer carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.ServeHTTP(w, r)
	})
}

// crossOrigin answers a state-changing request from another site.
func (c *Console) crossOrigin(w http.ResponseWriter, r *http.Request) {
	c.log.WarnContext(r.Context(), "console refused a cross-origin request", "method", r.Method, "path", r.URL.Path, "remote_addr", r.RemoteAddr)
	c.renderError(w, r, http.StatusForbidden, "This request came from another site and was refused. Nothing was changed.")
}
