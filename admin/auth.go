package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

// principal is who is calling: a manager with roles, or a service key
// with scope admin (which may do what an admin may).
type principal struct {
	actor     string // audit actor: manager:<id> or service_key:<id>
	managerID string // "" for a service key
	admin     bool
	userWH    map[string]bool // warehouses where the caller is user_manager
	mobileWH  map[string]bool // warehouses where the caller is mobile_manager
	token     devices.Token   // the manager token, for logout
}

type principalKey struct{}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

func managerPrincipal(m devices.Manager, tok devices.Token) *principal {
	p := &principal{actor: devices.ManagerActor(m.ID), managerID: m.ID, userWH: map[string]bool{}, mobileWH: map[string]bool{}, token: tok}
	for _, r := range m.Roles {
		switch r.Role {
		case devices.RoleAdmin:
			p.admin = true
		case devices.RoleUserManager:
			p.userWH[r.WarehouseID] = true
		case devices.RoleMobileManager:
			p.mobileWH[r.WarehouseID] = true
		}
	}
	return p
}

// visible reports whether the caller's roles cover warehouse w at all.
func (p *principal) visible(w string) bool { return p.admin || p.userWH[w] || p.mobileWH[w] }

// visibleIDs lists the warehouses the caller sees; nil means all (admin).
func (p *principal) visibleIDs() []string {
	if p.admin {
		return nil
	}
	ids := make([]string, 0, len(p.userWH)+len(p.mobileWH))
	for w := range p.userWH {
		ids = append(ids, w)
	}
	for w := range p.mobileWH {
		if !p.userWH[w] {
			ids = append(ids, w)
		}
	}
	slices.Sort(ids)
	return ids
}

func keys(m map[string]bool) []string {
	ids := make([]string, 0, len(m))
	for w := range m {
		ids = append(ids, w)
	}
	slices.Sort(ids)
	return ids
}

// capability is what an action needs on a warehouse.
type capability int

const (
	capAdmin    capability = iota // organisation-wide admin only
	capUsers                      // user_manager on the warehouse
	capDevices                    // mobile_manager on the warehouse
	capSessions                   // either role on the warehouse
)

// can reports whether p holds c on warehouse w.
func (p *principal) can(c capability, w string) bool {
	switch {
	case p.admin:
		return true
	case c == capUsers:
		return p.userWH[w]
	case c == capDevices:
		return p.mobileWH[w]
	case c == capSessions:
		return p.visible(w)
	}
	return false
}

// authorize decides whether the caller may act with c on a record of
// warehouse w named subject: nil, or a 404 when the warehouse is outside
// the caller's roles, or a 403 when it is inside but the role does not
// allow the action. Every refusal is audited.
func (a *API) authorize(r *http.Request, c capability, w, subject string) error {
	p := principalFrom(r.Context())
	if p.can(c, w) {
		return nil
	}
	if c == capAdmin || p.visible(w) {
		a.denied(r, subject, w, http.StatusForbidden)
		return errForbidden
	}
	a.denied(r, subject, w, http.StatusNotFound)
	return errNotFound
}

// requireAdmin refuses (403, audited) anyone but an admin.
func (a *API) requireAdmin(r *http.Request, subject string) error {
	return a.authorize(r, capAdmin, "", subject)
}

// denied records an authz.denied audit event for a refused request.
func (a *API) denied(r *http.Request, subject, warehouseID string, status int) {
	p := principalFrom(r.Context())
	a.metrics.denied.Inc()
	details := map[string]string{"method": r.Method, "route": routePattern(r), "status": fmt.Sprint(status)}
	if subject == "" {
		subject = "route:" + routePattern(r)
	}
	a.record(r.Context(), devices.Event{Actor: p.actor, Action: "authz.denied", Subject: subject, WarehouseID: warehouseID, Details: details})
}

// record appends audit events; a failure is logged, not returned,
// because it comes after the decision it records.
func (a *API) record(ctx context.Context, evs ...devices.Event) {
	if err := a.reg.Record(ctx, evs...); err != nil {
		a.log.ErrorContext(ctx, "audit record failed", "action", evs[0].Action, "err", err)
	}
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return r.URL.Path
}

// authenticate reads the bearer: a manager token (fgm_) or a service key
// (fgk_) with scope admin.
func (a *API) authenticate(ctx context.Context, r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, errInvalidToken
	}
	raw = strings.TrimSpace(raw)
	switch {
	case strings.HasPrefix(raw, devices.ManagerTokenPrefix):
		tok, ok := devices.ParseToken(devices.ManagerTokenPrefix, raw)
		if !ok {
			return nil, errInvalidToken
		}
		m, err := a.reg.AuthenticateManagerToken(ctx, tok)
		if err != nil {
			return nil, authError(err)
		}
		return managerPrincipal(m, tok), nil
	case strings.HasPrefix(raw, devices.ServiceKeyPrefix):
		tok, ok := devices.ParseToken(devices.ServiceKeyPrefix, raw)
		if !ok {
			return nil, errInvalidToken
		}
		k, err := a.reg.AuthenticateServiceKey(ctx, tok)
		if err != nil {
			return nil, authError(err)
		}
		if k.Scope != devices.ScopeAdmin {
			return nil, errInvalidToken
		}
		return &principal{actor: devices.ServiceKeyActor(k.ID), admin: true}, nil
	}
	return nil, errInvalidToken
}

// authError keeps store outages as 503 and turns every other failure to
// authenticate into 401 invalid_token.
func authError(err error) error {
	if errors.Is(err, devices.ErrUnavailable) {
		return err
	}
	if errors.Is(err, devices.ErrInvalidCredentials) || errors.Is(err, devices.ErrNotFound) || errors.Is(err, devices.ErrDisabled) {
		return errInvalidToken
	}
	return fmt.Errorf("authenticate bearer: %w", err)
}

// LoginRequest is the body of POST /admin/v1/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse answers a successful sign-in. The token is shown once; it
// ends after 15 minutes unused or 12 hours after sign-in.
type LoginResponse struct {
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	Manager   devices.Manager `json:"manager"`
}

// limits turns the registry's throttle settings into the session store's.
func limits(t devices.Throttle) throttle.Limits {
	t = t.WithDefaults()
	sec := func(s int) time.Duration { return time.Duration(s) * time.Second }
	return throttle.Limits{
		PairFreeFailures: t.PairFreeFailures,
		PairMaxDelay:     sec(t.PairMaxDelayS),
		UserFailures:     t.UserFailures,
		UserWindow:       sec(t.UserWindowS),
		UserLock:         sec(t.UserLockS),
		UserHardFailures: t.UserHardFailures,
		DeviceFailures:   t.DeviceFailures,
		DeviceWindow:     sec(t.DeviceWindowS),
		SprayUsers:       t.SprayUsers,
		SprayWindow:      sec(t.SprayWindowS),
	}
}

// addressLimits are the limits of a sign-in whose throttle source is a
// client address, not a device. Many people share an address (a NAT, a
// proxy), and a source quarantine lasts until someone unlocks it, which
// no one can do for an address: one colleague typing wrong passwords for
// made-up emails would lock everybody behind the address out, for good.
// So the per-source quarantine is off (DeviceFailures 0 turns it off in
// every throttle.Throttle) and so is the spray alarm (it needs a
// warehouse). What stays: the growing delays per (email, address), the
// timed lock per email across addresses, and the consecutive-failure lock
// of an email that an admin lifts with POST /managers/{id}/unlock.
func addressLimits(l throttle.Limits) throttle.Limits {
	l.DeviceFailures, l.DeviceWindow = 0, 0
	l.SprayUsers, l.SprayWindow = 0, 0
	return l
}

// addressSource is the throttle source of a client address. The "ip:"
// prefix keeps address counters apart from device ids and from the bare
// addresses that older versions quarantined (those quarantines never
// expire, and they no longer apply).
func addressSource(addr string) string { return "ip:" + addr }

// maxEmailInput bounds the email a sign-in reads (RFC 5321 allows 254
// characters): a longer one is no account, and must not become a
// throttle key.
const maxEmailInput = 320

// inflight holds the throttle subjects whose sign-in is between its
// throttle check and its failure count on this instance.
type inflight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// take claims key; false when it is held already.
func (f *inflight) take(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, held := f.keys[key]; held {
		return false
	}
	if f.keys == nil {
		f.keys = map[string]struct{}{}
	}
	f.keys[key] = struct{}{}
	return true
}

func (f *inflight) release(key string) {
	f.mu.Lock()
	delete(f.keys, key)
	f.mu.Unlock()
}

// managerSubject is the throttle subject of a manager's email.
func managerSubject(email string) string { return "mgr:" + emailKey(email) }

// emailKey is devices.EmailKey, or the trimmed lower-case input when it
// is not an email address (its sign-in fails anyway, throttled the same).
func emailKey(email string) string {
	if k, err := devices.EmailKey(email); err == nil {
		return k
	}
	return strings.ToLower(strings.TrimSpace(email))
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var in LoginRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	var fields []FieldError
	if strings.TrimSpace(in.Email) == "" {
		fields = append(fields, FieldError{Field: "email", Code: "required", Message: "email is required"})
	}
	if in.Password == "" {
		fields = append(fields, FieldError{Field: "password", Code: "required", Message: "password is required"})
	}
	if len(in.Email) > maxEmailInput {
		fields = append(fields, FieldError{Field: "email", Code: "too_long", Message: fmt.Sprintf("email has at most %d characters", maxEmailInput)})
	}
	if len(fields) > 0 {
		return &problem.Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Detail: "email and password are required", Fields: fields}
	}
	ctx := r.Context()
	settings, err := a.reg.Settings(ctx)
	if err != nil {
		return fmt.Errorf("login: settings: %w", err)
	}
	lim := addressLimits(limits(settings.Throttle))
	addr := a.clientIP(r)
	att := throttle.Attempt{Subject: managerSubject(in.Email), Source: addressSource(addr)}
	// One attempt per email at a time on this instance: the throttle
	// counts a failure only after the hash, so parallel guesses would all
	// pass the check before the first one is counted.
	if !a.signingIn.take(att.Subject) {
		return &problem.Error{Status: http.StatusTooManyRequests, Code: codeTooManyAttempts, Detail: "another sign-in of this account is under way; try again", RetryAfter: time.Second}
	}
	defer a.signingIn.release(att.Subject)
	d, err := a.throttle.Check(ctx, att, lim)
	if err != nil {
		return fmt.Errorf("login: throttle check: %w", errors.Join(sessions.ErrUnavailable, err))
	}
	if d.Verdict != throttle.Allow {
		a.record(ctx, devices.Event{Actor: devices.ActorSystem, Action: "manager.login.throttled", Subject: "email:" + emailKey(in.Email),
			Details: map[string]string{"verdict": string(d.Verdict), "remote_addr": addr}})
		return tooMany(d, lim)
	}
	m, err := a.reg.AuthenticateManager(ctx, in.Email, in.Password)
	switch {
	case errors.Is(err, devices.ErrInvalidCredentials):
		if _, ferr := a.throttle.Fail(ctx, att, lim); ferr != nil {
			a.log.ErrorContext(ctx, "throttle fail count", "remote_addr", addr, "err", ferr)
		}
		a.record(ctx, devices.Event{Actor: devices.ActorSystem, Action: "manager.login.failure", Subject: "email:" + emailKey(in.Email),
			Details: map[string]string{"remote_addr": addr}})
		return devices.ErrInvalidCredentials
	case errors.Is(err, devices.ErrDisabled):
		a.record(ctx, devices.Event{Actor: devices.ActorSystem, Action: "manager.login.disabled", Subject: "email:" + emailKey(in.Email),
			Details: map[string]string{"remote_addr": addr}})
		return err
	case err != nil:
		return fmt.Errorf("login: %w", err)
	}
	if err := a.throttle.Succeed(ctx, att); err != nil {
		a.log.ErrorContext(ctx, "throttle succeed", "remote_addr", addr, "err", err)
	}
	tok, mt, err := a.reg.IssueManagerToken(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("login: issue token: %w", err)
	}
	a.record(ctx, devices.Event{Actor: devices.ManagerActor(m.ID), Action: "manager.login", Subject: devices.ManagerActor(m.ID),
		Details: map[string]string{"remote_addr": addr}})
	return writeJSON(w, http.StatusOK, LoginResponse{Token: tok.Reveal(), ExpiresAt: mt.ExpiresAt, Manager: m})
}

// tooMany answers a throttle verdict: 429 with the wait. A lock until
// unlocked (RetryAfter 0) suggests the timed lock's length.
func tooMany(d throttle.Decision, lim throttle.Limits) error {
	wait := d.RetryAfter
	if wait <= 0 {
		wait = lim.UserLock
	}
	if wait <= 0 {
		wait = time.Hour
	}
	return &problem.Error{Status: http.StatusTooManyRequests, Code: codeTooManyAttempts, Detail: "try again later", RetryAfter: wait}
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.managerID == "" {
		return &problem.Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Detail: "a service key has no session to end; revoke it with DELETE /admin/v1/service-keys/{id}"}
	}
	if err := a.reg.RevokeManagerTokens(r.Context(), p.managerID, p.token); err != nil {
		return fmt.Errorf("logout manager %s: %w", p.managerID, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ManagerThrottleSubject is the sign-in throttle subject of a manager's
// email, for tools that lift a lock outside the API (floorgate admin
// reset-password).
func ManagerThrottleSubject(email string) string { return managerSubject(email) }
