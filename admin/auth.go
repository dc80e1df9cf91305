package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/internal/token"
	"github.com/floorgate/floorgate/signin"
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
		tok, ok := token.Parse(devices.ManagerTokenPrefix, raw)
		if !ok {
			return nil, errInvalidToken
		}
		m, err := a.authenticateManager(ctx, tok)
		if err != nil {
			return nil, authError(err)
		}
		return managerPrincipal(m, tok), nil
	case strings.HasPrefix(raw, devices.ServiceKeyPrefix):
		tok, ok := token.Parse(devices.ServiceKeyPrefix, raw)
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

// maxEmailInput bounds the email a sign-in reads (RFC 5321 allows 254
// characters): a longer one is no account, and must not become a
// throttle key.
const maxEmailInput = 320

// login is POST /admin/v1/login: the body here, then signin's order
// (claim the email, throttle check with the client address as the
// source, hash in the shared pool, count, audit, issue the token).
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var in LoginRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	var f problem.Fields
	f.Required("email", in.Email)
	if in.Password == "" {
		f.Add("password", "required", "password is required")
	}
	f.MaxLen("email", in.Email, maxEmailInput)
	if err := f.Err(); err != nil {
		return err
	}
	ms, err := a.signin.ManagerLogin(r.Context(), signin.ManagerLogin{Email: in.Email, Password: in.Password, ClientIP: a.clientIP(r)})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, LoginResponse{Token: ms.Token.Reveal(), ExpiresAt: ms.ExpiresAt, Manager: ms.Manager})
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
