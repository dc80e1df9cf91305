package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
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

// userView is the user object of API.md's login and session responses.
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

	dev, err := s.authDevice(r)
	if err != nil {
		return err
	}
	var req loginRequest
	if err := decodeRequest(w, r, &req); err != nil {
		outcome = outcomeInvalid
		return err
	}
	appVersion := dev.AppVersion
	if req.AppVersion != "" {
		appVersion = req.AppVersion
	}
	s.reg.Seen(dev.ID, req.AppVersion)

	set, err := s.reg.EffectiveSettings(ctx, dev.WarehouseID)
	if err != nil {
		return unavailable(fmt.Errorf("settings of %s: %w", dev.WarehouseID, err))
	}
	if set.MinAppVersion != "" && compareVersions(appVersion, set.MinAppVersion) < 0 {
		outcome = outcomeOldApp
		return &Error{Status: http.StatusUpgradeRequired, Code: CodeAppVersionUnsupported,
			Detail: "this app version is below the warehouse's minimum " + set.MinAppVersion}
	}

	res, err := s.signin.Login(ctx, signin.Login{Device: dev, Settings: set, Username: req.Username, PIN: req.PIN})
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

// compareVersions compares dotted version numbers ("4.2.0" < "4.10"):
// missing parts count as 0, and anything after the leading digits of a
// part ("0-beta") is ignored. An empty or unreadable version is below
// every other, so that a device that does not say its version is held to
// the minimum.
func compareVersions(a, b string) int {
	pa, oka := versionParts(a)
	pb, okb := versionParts(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return -1
	case !okb:
		return 1
	}
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

func versionParts(v string) ([]int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if v == "" {
		return nil, false
	}
	var parts []int
	for p := range strings.SplitSeq(v, ".") {
		n, digits := 0, 0
		for digits < len(p) && p[digits] >= '0' && p[digits] <= '9' && digits < 9 {
			n = n*10 + int(p[digits]-'0')
			digits++
		}
		if digits == 0 {
			if len(parts) == 0 {
				return nil, false
			}
			break
		}
		parts = append(parts, n)
		if digits < len(p) {
			break // "0-beta": the rest does not count
		}
		if len(parts) == 8 {
			break
		}
	}
	return parts, true
}
