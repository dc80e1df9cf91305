package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
	"github.com/floorgate/floorgate/sessions"
)

type introspectResponse struct {
	Active      bool       `json:"active"`
	SessionID   string     `json:"session_id,omitempty"`
	UserID      string     `json:"user_id,omitempty"`
	Username    string     `json:"username,omitempty"`
	WarehouseID string     `json:"warehouse_id,omitempty"`
	DeviceID    string     `json:"device_id,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

var inactive = introspectResponse{Active: false}

// introspect is POST /v1/introspect, the hot path of backends. The
// service key is authenticated through the registry's cache (no database
// read per call); the session token through this instance's cache of
// live sessions (validcache.go) or else the session store, which counts
// it as activity. A well-formed request is always answered 200:
// with the session, or {"active":false} for a token that is malformed,
// unknown, ended, or confined to a PIN change (it may not be used for
// anything else). A store that cannot answer is 503, never a guess.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	tok, ok := token.Parse(devices.ServiceKeyPrefix, bearer(r))
	if !ok {
		return errInvalidToken
	}
	key, err := s.reg.AuthenticateServiceKey(ctx, tok)
	switch {
	case errors.Is(err, devices.ErrInvalidCredentials), errors.Is(err, devices.ErrNotFound):
		return errInvalidToken
	case err != nil:
		return unavailable(fmt.Errorf("authenticate service key: %w", err))
	case key.Scope != devices.ScopeIntrospect && key.Scope != devices.ScopeAdmin:
		return errForbidden
	}
	var req introspectRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	st, ok := sessions.ParseToken(req.Token)
	if !ok {
		writeJSON(w, http.StatusOK, inactive)
		return nil
	}
	hash := st.Hash()
	if answer, ok := s.valid.get(hash, s.now()); ok {
		writeAnswer(w, answer)
		return nil
	}
	// The entry's age counts from before the read: the store's answer
	// is not newer than that.
	from, asked := s.valid.start(), s.now()
	sess, err := s.store.Validate(ctx, st)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		writeJSON(w, http.StatusOK, inactive)
		return nil
	case err != nil:
		return unavailable(fmt.Errorf("validate session: %w", err))
	case sess.PINChangeRequired:
		writeJSON(w, http.StatusOK, inactive)
		return nil
	}
	answer := activeAnswer(sess)
	s.valid.put(hash, sess, answer, from, asked)
	writeAnswer(w, answer)
	return nil
}

// activeAnswer is the body of an introspection that found sess live,
// encoded once (the cache keeps it): the bytes writeJSON would write.
func activeAnswer(sess sessions.Session) []byte {
	exp := sess.ExpiresAt.UTC()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(introspectResponse{ // strings and a time: cannot fail
		Active:      true,
		SessionID:   sess.ID,
		UserID:      sess.UserID,
		Username:    sess.Username,
		WarehouseID: sess.WarehouseID,
		DeviceID:    sess.DeviceID,
		ExpiresAt:   &exp,
	})
	return b.Bytes()
}

// writeAnswer writes an encoded 200 answer with writeJSON's headers.
func writeAnswer(w http.ResponseWriter, answer []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(answer) // the client went away: nothing left to tell it
}
