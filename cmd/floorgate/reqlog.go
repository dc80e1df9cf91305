package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/reqlog"
)

// routeLibraryLogs sends the libraries' own logging through log, so that
// every line on stderr is JSON: go-redis's (one logger per process, at
// warn) here; pgx's through devices/postgres's Options.Logger; net/http's
// and Prometheus's through their ErrorLog.
func routeLibraryLogs(log *slog.Logger) {
	goredis.SetLogger(redisLogger{log.With("component", "go-redis")})
}

// redisLogger is go-redis's Logging over slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// signInRoutes are the routes whose 401, 403 and 429 answers are refused
// sign-ins, logged at info.
var signInRoutes = map[string]bool{
	"/v1/login": true, "/v1/pin": true, "/v1/enroll": true, "/admin/v1/login": true,
}

// maxLoggedPath bounds the path logged for a request no route matched.
const maxLoggedPath = 100

// consoleRoute is the route logged for every console page, with its path.
const consoleRoute = "console"

// consolePages names the console's pages in the request log: a page
// calls the admin API in process, on the page's context, and the API's
// route would otherwise be logged for the page.
func consolePages(mount http.Handler, apiPrefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mount.ServeHTTP(w, r)
		if !strings.HasPrefix(r.URL.Path, apiPrefix+"/") {
			reqlog.Set(r, consoleRoute)
		}
	})
}

// logRequests logs each request of a listener at debug level (method,
// route pattern, status, duration; the path only for a console page or
// when no route matched, and never the query string or a header), and
// each refused sign-in at
// info level with its problem code (never what was typed).
func logRequests(log *slog.Logger, listener string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, rt := reqlog.With(r.Context())
		lw := &logWriter{ResponseWriter: w}
		start := time.Now()
		h.ServeHTTP(lw, r.WithContext(ctx))
		took := time.Since(start)
		status := lw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := rt.Pattern()
		refused := signInRoutes[route] && (status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests)
		debug := log.Enabled(ctx, slog.LevelDebug)
		if !debug && !refused {
			return
		}
		attrs := []slog.Attr{
			slog.String("listener", listener), slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", status), slog.Float64("duration_ms", float64(took.Microseconds())/1000),
			slog.String("remote_addr", r.RemoteAddr),
		}
		if route == "" || route == consoleRoute {
			p := r.URL.Path
			if len(p) > maxLoggedPath {
				p = p[:maxLoggedPath]
			}
			attrs = append(attrs, slog.String("path", p))
		}
		if debug {
			log.LogAttrs(ctx, slog.LevelDebug, "request", attrs...)
		}
		if refused {
			attrs = append(attrs, slog.String("code", lw.code()))
			log.LogAttrs(ctx, slog.LevelInfo, "sign-in refused", attrs...)
		}
	})
}

// logWriter remembers the status and the start of a problem body (for
// its code). It keeps the writer's Flush and Hijack (websockets).
type logWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

// maxSniff bounds how much of an error answer logWriter keeps.
const maxSniff = 512

func (w *logWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && len(w.body) < maxSniff {
		w.body = append(w.body, p[:min(len(p), maxSniff-len(w.body))]...)
	}
	return w.ResponseWriter.Write(p)
}

// code is the problem code of the answer, "" when it has none.
func (w *logWriter) code() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(w.body, &p)
	return p.Code
}

func (w *logWriter) FlushError() error { return http.NewResponseController(w.ResponseWriter).Flush() }

func (w *logWriter) Flush() { _ = w.FlushError() }

func (w *logWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *logWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
