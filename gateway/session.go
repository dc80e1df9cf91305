package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// sessionView is the session object of GET /v1/session and of the
// websocket's welcome. pin_change_required is an addition to docs/DEVICE-API.md.
type sessionView struct {
	SessionID         string    `json:"session_id"`
	User              userView  `json:"user"`
	DeviceID          string    `json:"device_id"`
	CreatedAt         time.Time `json:"created_at"`
	ExpiresAt         time.Time `json:"expires_at"`
	IdleExpiresAt     time.Time `json:"idle_expires_at"`
	PINChangeRequired bool      `json:"pin_change_required"`
}

// viewSession builds the session object. The user's names and language
// come from the registry; when it cannot answer, the object carries what
// the session itself knows (id, username, warehouse), because the
// session's validity was decided by the session store already.
func (s *Server) viewSession(ctx context.Context, sess sessions.Session) sessionView {
	v := sessionView{
		SessionID:         sess.ID,
		DeviceID:          sess.DeviceID,
		CreatedAt:         sess.CreatedAt.UTC(),
		ExpiresAt:         sess.ExpiresAt.UTC(),
		IdleExpiresAt:     sess.IdleExpiresAt().UTC(),
		PINChangeRequired: sess.PINChangeRequired,
	}
	v.User = s.viewUser(s.sessionUser(ctx, sess))
	return v
}

// sessionUser is the user of a session object: from this instance's
// cache (usercache.go), else from the registry, which the cache keeps.
func (s *Server) sessionUser(ctx context.Context, sess sessions.Session) devices.User {
	u, gen, ok := s.users.get(sess.UserID)
	if ok {
		return u
	}
	u, err := s.reg.User(ctx, sess.UserID)
	if err != nil {
		if !errors.Is(err, devices.ErrNotFound) {
			s.log.Warn("read user for a session view", slog.String("user_id", sess.UserID), slog.Any("err", err))
		}
		return devices.User{ID: sess.UserID, Username: sess.Username, WarehouseID: sess.WarehouseID}
	}
	s.users.put(u, gen)
	return u
}

// session is GET /v1/session. Validation counts as activity.
func (s *Server) session(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.authSession(r, false)
	if err != nil {
		return err
	}
	s.reg.Seen(sess.DeviceID, "")
	writeJSON(w, http.StatusOK, s.viewSession(r.Context(), sess))
	return nil
}

// logout is POST /v1/logout: the session ends with reason logout, and
// its command is queued and pushed like any other end.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sess, err := s.authSession(r, true)
	if err != nil {
		return err
	}
	s.reg.Seen(sess.DeviceID, "")
	// The token was valid: the end and its audit event finish even if
	// the client disconnects now.
	ctx, cancel := signin.Decided(ctx)
	defer cancel()
	_, err = s.store.End(ctx, sess.ID, sessions.ReasonLogout)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		// Ended meanwhile by something else: the token is dead either way.
	case err != nil:
		return unavailable(fmt.Errorf("end session: %w", err))
	}
	// This instance refuses the token at once, not only once the
	// fan-out brings the end back.
	s.valid.ended(sess.ID)
	s.audit(ctx, devices.Event{Actor: devices.UserActor(sess.UserID), Action: "logout", Subject: devices.UserActor(sess.UserID),
		WarehouseID: sess.WarehouseID, DeviceID: sess.DeviceID,
		Details: map[string]string{"session_id": sess.ID, "reason": string(sessions.ReasonLogout)}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changePIN is POST /v1/pin: the user's own change, through signin's
// order like a login (a wrong current PIN counts as a failure).
func (s *Server) changePIN(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sess, err := s.authSession(r, true)
	if err != nil {
		return err
	}
	s.reg.Seen(sess.DeviceID, "")
	var req pinRequest
	if err := decodeRequest(w, r, &req); err != nil {
		return err
	}
	set, err := s.reg.EffectiveSettings(ctx, sess.WarehouseID)
	if err != nil {
		return unavailable(fmt.Errorf("settings of %s: %w", sess.WarehouseID, err))
	}
	err = s.signin.ChangePIN(ctx, signin.PINChange{Session: sess, Settings: set, Current: req.CurrentPIN, New: req.NewPIN})
	var ve *devices.ValidationError
	switch {
	case errors.As(err, &ve):
		for i := range ve.Fields {
			if ve.Fields[i].Field == "pin" {
				ve.Fields[i].Field = "new_pin"
			}
		}
		return err
	case errors.Is(err, devices.ErrNotFound):
		return errInvalidToken // the user is gone (purged)
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
