package introspect

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type contextKey struct{}

// FromContext returns the session that Middleware put in ctx.
func FromContext(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(contextKey{}).(Session)
	return s, ok
}

// NewContext returns a copy of ctx carrying s, as Middleware does.
func NewContext(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}

// sessionPrefix starts every session token.
const sessionPrefix = "fgs_"

// Middleware checks the session token of each request (the header
// "Authorization: Bearer fgs_…") and calls next only when Floorgate says
// it is active, with the Session in the request's context. Otherwise it
// answers itself with an application/problem+json body:
//
//   - 401 invalid_token (and WWW-Authenticate) when the header is
//     missing, is not a session token, or the session is not active;
//   - 503 unavailable (and Retry-After) when Floorgate cannot be reached,
//     is too slow, answers 5xx, or refuses this client's service key.
//
// log receives one line per 503 (never a token); nil means slog.Default.
func (c *Client) Middleware(log *slog.Logger, next http.Handler) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			writeProblem(w, http.StatusUnauthorized, "invalid_token", "a session token is required", 0)
			return
		}
		s, err := c.Introspect(r.Context(), token)
		var ue *UnavailableError
		switch {
		case errors.Is(err, ErrInactive):
			writeProblem(w, http.StatusUnauthorized, "invalid_token", "the session is not active: sign in again", 0)
		case errors.As(err, &ue):
			log.Warn("introspection failed; answering 503", slog.String("path", r.URL.Path), slog.Any("err", err))
			writeProblem(w, http.StatusServiceUnavailable, "unavailable", "sessions cannot be checked now: try again later", ue.RetryAfter)
		case err != nil:
			log.Error("introspection failed; answering 503", slog.String("path", r.URL.Path), slog.Any("err", err))
			writeProblem(w, http.StatusServiceUnavailable, "unavailable", "sessions cannot be checked now: try again later", 0)
		default:
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), s)))
		}
	})
}

// bearer returns the session token of r's Authorization header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(token, sessionPrefix) {
		return "", false
	}
	return token, true
}

// writeProblem writes an RFC 9457 problem with Floorgate's code.
func writeProblem(w http.ResponseWriter, status int, code, detail string, retry time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case http.StatusServiceUnavailable:
		secs := int(retry.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail,
	})
}
