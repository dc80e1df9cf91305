package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// Login outcomes, the label of the logins metric and the result of the
// audit events.
const (
	outcomeSuccess        = "success"
	outcomeBadCredentials = "invalid_credentials"
	outcomeDisabled       = "account_disabled"
	outcomeWrongWarehouse = "wrong_warehouse"
	outcomeThrottled      = "throttled"
	outcomeQuarantined    = "device_quarantined"
	outcomeOldApp         = "app_version_unsupported"
	outcomeSessionLimit   = "session_limit"
	outcomeBusy           = "busy"
	outcomeInvalid        = "invalid_request"
	outcomeError          = "error"
)

type loginResponse struct {
	SessionToken      string        `json:"session_token"`
	SessionID         string        `json:"session_id"`
	ExpiresAt         time.Time     `json:"expires_at"`
	PINChangeRequired bool          `json:"pin_change_required"`
	User              userView      `json:"user"`
	Evicted           []evictedView `json:"evicted"`
}

type evictedView struct {
	SessionID string `json:"session_id"`
	DeviceID  string `json:"device_id"`
}

// userView is the user object of docs/DEVICE-API.md's login and session responses.
type userView struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	WarehouseID string `json:"warehouse_id"`
	Language    string `json:"language"`
}

func (s *Server) viewUser(u devices.User) userView {
	lang := u.Language
	if lang == "" {
		lang = s.cfg.DefaultLanguage
	}
	return userView{ID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, WarehouseID: u.WarehouseID, Language: lang}
}

// login is POST /v1/login: the device token, the body and the app
// version here, then signin's order (claim, throttle check, hash in the
// bounded pool, count, audit, the session); refusals that need the right
// PIN (account_disabled, wrong_warehouse) come only after the hash.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	outcome := outcomeError
	defer func() { s.metrics.logins.WithLabelValues(outcome).Inc() }()

	// The device through this instance's token cache (the one websocket
	// connects use: a revocation heard on the fan-out drops it, and it is
	// off while the fan-out may be missed). A device revoked meanwhile
	// is refused by the re-check once the session exists, which reads
	// the device again (signin.Policy.Login).
	dev, err := s.deviceByTokenWith(ctx, bearer(r), s.tokens.AuthenticateDevice)
	if err != nil {
		return err
	}
	var req loginRequest
	if err := decodeRequest(w, r, &req); err != nil {
		outcome = outcomeInvalid
		return err
	}
	s.reg.Seen(dev.ID, req.AppVersion)

	set, err := s.reg.EffectiveSettings(ctx, dev.WarehouseID)
	if err != nil {
		return unavailable(fmt.Errorf("settings of %s: %w", dev.WarehouseID, err))
	}
	// The lower of the claimed and the enrolled version counts: a claim
	// cannot lift a device enrolled with an older app (devices.Device.VersionBelow).
	if dev.VersionBelow(req.AppVersion, set.MinAppVersion) {
		outcome = outcomeOldApp
		return &Error{Status: http.StatusUpgradeRequired, Code: CodeAppVersionUnsupported,
			Detail: "this app version is below the warehouse's minimum " + set.MinAppVersion}
	}

	res, err := s.signin.Login(ctx, signin.Login{Device: dev, Settings: set, Username: req.Username, Badge: req.Badge, PIN: req.PIN})
	outcome = loginOutcome(err)
	if err != nil {
		return err
	}
	s.activity.note(dev.WarehouseID)
	resp := loginResponse{
		SessionToken:      res.Created.Token.Reveal(),
		SessionID:         res.Created.Session.ID,
		ExpiresAt:         res.Created.Session.ExpiresAt.UTC(),
		PINChangeRequired: res.Created.Session.PINChangeRequired,
		User:              s.viewUser(res.User),
		Evicted:           []evictedView{},
	}
	for _, c := range res.Created.Ended {
		s.valid.ended(c.SessionID) // at once here; the fan-out tells the others
		if c.Reason == sessions.ReasonEvicted {
			resp.Evicted = append(resp.Evicted, evictedView{SessionID: c.SessionID, DeviceID: c.DeviceID})
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// loginOutcome is the logins metric's label of a sign-in's result.
func loginOutcome(err error) string {
	switch {
	case err == nil:
		return outcomeSuccess
	case errors.Is(err, devices.ErrInvalidCredentials):
		return outcomeBadCredentials
	case errors.Is(err, devices.ErrDisabled):
		return outcomeDisabled
	case errors.Is(err, signin.ErrWrongWarehouse):
		return outcomeWrongWarehouse
	case errors.Is(err, signin.ErrThrottled), errors.Is(err, signin.ErrInFlight):
		return outcomeThrottled
	case errors.Is(err, signin.ErrQuarantined):
		return outcomeQuarantined
	case errors.Is(err, sessions.ErrLimit):
		return outcomeSessionLimit
	case errors.Is(err, signin.ErrBusy):
		return outcomeBusy
	}
	return outcomeError
}
