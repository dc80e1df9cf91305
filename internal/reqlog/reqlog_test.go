package reqlog_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/internal/reqlog"
)

func TestRecord(t *testing.T) {
	inner := chi.NewRouter()
	inner.Use(reqlog.Record)
	inner.Get("/api/things/{id}", func(w http.ResponseWriter, r *http.Request) {})
	// A net/http mux whose page calls the chi router in process, as the
	// console calls the admin API; it writes its own pattern last.
	outer := http.NewServeMux()
	outer.HandleFunc("GET /page/{name}", func(w http.ResponseWriter, r *http.Request) {
		req := httptest.NewRequestWithContext(r.Context(), "GET", "/api/things/7?secret=x", nil)
		inner.ServeHTTP(httptest.NewRecorder(), req)
		reqlog.Set(r, r.Pattern)
	})
	inner.Get("/plain", func(w http.ResponseWriter, r *http.Request) {})

	for _, tt := range []struct {
		h    http.Handler
		path string
		want string
	}{
		{inner, "/api/things/42?token=abc", "/api/things/{id}"},
		{outer, "/page/users", "GET /page/{name}"},
		{inner, "/nowhere", ""},
	} {
		ctx, rt := reqlog.With(t.Context())
		tt.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", tt.path, nil))
		if got := rt.Pattern(); got != tt.want {
			t.Errorf("GET %s: pattern %q; want %q", tt.path, got, tt.want)
		}
	}
	// Without a Route in the context, Record does nothing.
	inner.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/plain", nil))
}
