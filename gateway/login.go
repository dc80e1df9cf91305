package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
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

// usernameSubject is the throttle subject of a typed username: its
// normalised key, known user or not. A name that cannot be normalised
// cannot exist, but is still throttled under its trimmed lower case so
// that it costs an attacker the same as any other.
func usernameSubject(username string) string {
	if key, err := devices.NormalizeUsername(username); err == nil {
		return key
	}
	s := strings.ToLower(strings.TrimSpace(username))
	if len(s) > maxField {
		s = s[:maxField]
	}
	return s
}

// login is POST /v1/login. The order is fixed: the device token, the
// body, the app version, the throttle, then the hash in the bounded
// pool; refusals that need the right PIN (account_disabled,
// wrong_warehouse) come only after it.
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

	limits := limitsOf(set.Throttle)
	attempt := throttle.Attempt{Subject: usernameSubject(req.Username), Source: dev.ID, WarehouseID: dev.WarehouseID}
	done, err := s.claimAttempt(attempt, true)
	if err != nil {
		outcome = outcomeThrottled
		return err
	}
	defer done()
	if err := s.checkThrottle(ctx, attempt, limits); err != nil {
		var ge *Error
		if errors.As(err, &ge) && ge.Code == CodeDeviceQuarantined {
			outcome = outcomeQuarantined
		} else if ge != nil && ge.Code == CodeTooManyAttempts {
			outcome = outcomeThrottled
		}
		return err
	}

	release, err := s.acquireHash(ctx)
	if err != nil {
		outcome = outcomeBusy
		return err
	}
	user, err := s.reg.AuthenticateUser(ctx, req.Username, req.PIN)
	release()
	// The hash has decided: what follows (the failure count or the
	// throttle reset, the session, the audit) must not be cut short by a
	// client that disconnects.
	ctx, cancel := s.decided(ctx)
	defer cancel()

	failure := func(reason string, subject string) devices.Event {
		return devices.Event{Actor: devices.DeviceActor(dev.ID), Action: "login.failure", Subject: subject,
			WarehouseID: dev.WarehouseID, DeviceID: dev.ID, Details: map[string]string{"reason": reason}}
	}
	switch {
	case errors.Is(err, devices.ErrInvalidCredentials):
		if ferr := s.countFailure(ctx, attempt, limits, devices.DeviceActor(dev.ID)); ferr != nil {
			return ferr
		}
		outcome = outcomeBadCredentials
		s.audit(ctx, failure(outcomeBadCredentials, "username:"+attempt.Subject))
		return devices.ErrInvalidCredentials
	case errors.Is(err, devices.ErrDisabled):
		s.succeed(ctx, attempt)
		outcome = outcomeDisabled
		s.audit(ctx, failure(outcomeDisabled, devices.UserActor(user.ID)))
		return devices.ErrDisabled
	case err != nil:
		return unavailable(fmt.Errorf("authenticate user: %w", err))
	}
	s.succeed(ctx, attempt)
	if user.WarehouseID != dev.WarehouseID {
		outcome = outcomeWrongWarehouse
		s.audit(ctx, failure(outcomeWrongWarehouse, devices.UserActor(user.ID)))
		return &Error{Status: http.StatusForbidden, Code: CodeWrongWarehouse, Detail: "this account belongs to another warehouse than the device"}
	}

	created, err := s.store.Create(ctx, sessions.NewSession{
		UserID:            user.ID,
		Username:          user.Username,
		DeviceID:          dev.ID,
		WarehouseID:       dev.WarehouseID,
		PINChangeRequired: user.PINChangeRequired,
	}, policyOf(set))
	if errors.Is(err, sessions.ErrLimit) {
		outcome = outcomeSessionLimit
		s.audit(ctx, failure(outcomeSessionLimit, devices.UserActor(user.ID)))
		return sessions.ErrLimit
	}
	if err != nil {
		return unavailable(fmt.Errorf("create session: %w", err))
	}
	outcome = outcomeSuccess
	s.activity.note(dev.WarehouseID)
	resp := loginResponse{
		SessionToken:      created.Token.Reveal(),
		SessionID:         created.Session.ID,
		ExpiresAt:         created.Session.ExpiresAt.UTC(),
		PINChangeRequired: created.Session.PINChangeRequired,
		User:              s.viewUser(user),
		Evicted:           []evictedView{},
	}
	details := map[string]string{"session_id": created.Session.ID}
	for _, c := range created.Ended {
		if c.Reason == sessions.ReasonEvicted {
			resp.Evicted = append(resp.Evicted, evictedView{SessionID: c.SessionID, DeviceID: c.DeviceID})
		}
	}
	if n := len(resp.Evicted); n > 0 {
		details["evicted"] = strconv.Itoa(n)
	}
	evs := []devices.Event{{Actor: devices.UserActor(user.ID), Action: "login.success", Subject: devices.UserActor(user.ID),
		WarehouseID: dev.WarehouseID, DeviceID: dev.ID, Details: details}}
	// The sessions this login ended (replaced on this device, evicted
	// beyond the cap) are logouts with a reason: each is audited.
	for _, c := range created.Ended {
		evs = append(evs, devices.Event{Actor: devices.UserActor(user.ID), Action: "sessions.end", Subject: devices.UserActor(c.UserID),
			WarehouseID: c.WarehouseID, DeviceID: c.DeviceID,
			Details: map[string]string{"reason": string(c.Reason), "session_id": c.SessionID, "command_id": c.ID, "count": "1"}})
	}
	s.audit(ctx, evs...)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// policyOf is the session policy of the settings in force.
func policyOf(set devices.Settings) sessions.Policy {
	capN := set.SessionCap
	if capN < 1 {
		capN = 1
	}
	return sessions.Policy{
		Cap:      capN,
		DenyNew:  set.CapPolicy == devices.DenyNew,
		Idle:     time.Duration(set.IdleTimeoutS) * time.Second,
		Absolute: time.Duration(set.AbsoluteTimeoutS) * time.Second,
	}
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
