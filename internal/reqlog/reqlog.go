// Package reqlog carries the route pattern a request matched back out
// to the middleware that logs it: the logger puts a Route in the
// request's context before the routers run, and each chi router that
// uses Record writes the pattern it matched ("/admin/v1/users/{id}")
// into it once its handler has returned. Logs then name the route, not
// the path with its ids, and never the query string.
//
// It imports the standard library and chi only, and starts no goroutine.
package reqlog

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
)

type key struct{}

// Route is where routers write the pattern a request matched. It is
// safe for concurrent use (the console calls the admin API in process,
// at times from several goroutines).
type Route struct{ pattern atomic.Pointer[string] }

// With returns ctx carrying a new Route, and the Route.
func With(ctx context.Context) (context.Context, *Route) {
	rt := &Route{}
	return context.WithValue(ctx, key{}, rt), rt
}

// Pattern is the pattern written last, "" when no router wrote one.
func (rt *Route) Pattern() string {
	if p := rt.pattern.Load(); p != nil {
		return *p
	}
	return ""
}

// Set writes pattern into the Route of r's context, if there is one.
func Set(r *http.Request, pattern string) {
	if rt, ok := r.Context().Value(key{}).(*Route); ok && pattern != "" {
		rt.pattern.Store(&pattern)
	}
}

// Record is a chi middleware (Router.Use): once the route has run, it
// writes the pattern chi matched. A router called in process from
// another handler writes first; the outer one, returning last, wins.
func Record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if rc := chi.RouteContext(r.Context()); rc != nil {
			Set(r, rc.RoutePattern())
		}
	})
}
