package gateway

import (
	"net/http"
	"strconv"
)

// CORS of the device API, for handheld apps that run in a browser on
// another origin than Floorgate's (docs/PROTOCOL.md, "Browser apps").
// Only the origins of -allowed-origins get CORS headers; any other
// origin gets none, so the browser keeps its page from reading the
// answer. Tokens travel in the Authorization header, never in cookies,
// so credentials mode is never allowed. The admin listener has no CORS
// at all: it is never served by this handler.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type"
	// corsExpose lets a browser app read the answers' Retry-After (429,
	// 503) and WWW-Authenticate (401 invalid_token).
	corsExpose = "Retry-After, WWW-Authenticate"
	// corsMaxAge is how long a browser may cache a preflight's answer.
	corsMaxAge = 10 * 60
)

// cors answers the preflight of an allowed origin and adds the CORS
// headers to the answers it gets; it lets everything else through
// untouched (a preflight of another origin meets the router's 405).
func (s *Server) cors(next http.Handler) http.Handler {
	if !s.anyOrig && len(s.origins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The answer depends on Origin whenever an allow-list is set.
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" || !s.originAllowed(origin) || r.URL.Path == "/v1/ws" {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExpose)
		next.ServeHTTP(w, r)
	})
}
