package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
	"github.com/floorgate/floorgate/sessions"
)

// bearer returns the credential of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// deviceByToken authenticates a raw device token. Malformed, unknown and
// revoked tokens are errInvalidToken (revoked ones also return the
// device, so that a socket can close with 4403); a store failure is 503.
func (s *Server) deviceByToken(ctx context.Context, raw string) (devices.Device, error) {
	return s.deviceByTokenWith(ctx, raw, s.reg.AuthenticateDevice)
}

// deviceByTokenWith is deviceByToken through the lookup auth (the
// registry, or this instance's token cache for sockets).
func (s *Server) deviceByTokenWith(ctx context.Context, raw string, auth func(context.Context, devices.Token) (devices.Device, error)) (devices.Device, error) {
	tok, ok := token.Parse(devices.DeviceTokenPrefix, raw)
	if !ok {
		return devices.Device{}, errInvalidToken
	}
	d, err := auth(ctx, tok)
	switch {
	case errors.Is(err, devices.ErrInvalidCredentials), errors.Is(err, devices.ErrNotFound):
		return devices.Device{}, errInvalidToken
	case err != nil:
		return devices.Device{}, unavailable(err)
	case d.Status != devices.DeviceActive:
		return d, errInvalidToken
	}
	return d, nil
}

// authSession validates the session token of a request; this counts as
// activity. allowPINChange lets a session confined by pin_change_required
// through (POST /v1/pin and /v1/logout only).
func (s *Server) authSession(r *http.Request, allowPINChange bool) (sessions.Session, error) {
	tok, ok := sessions.ParseToken(bearer(r))
	if !ok {
		return sessions.Session{}, errInvalidToken
	}
	sess, err := s.store.Validate(r.Context(), tok)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return sessions.Session{}, errInvalidToken
	case err != nil:
		return sessions.Session{}, unavailable(err)
	}
	if sess.PINChangeRequired && !allowPINChange {
		return sess, errPINChange
	}
	return sess, nil
}
