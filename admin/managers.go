package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/signin"
)

// Who manages managers: an admin manages every account and grants any
// role. A user_manager may create, read, change, unlock and delete the
// accounts whose roles are all mobile_manager on warehouses where the
// user_manager holds user_manager, and grant only such roles. Everyone
// may read and change their own names, email and password (not their own
// roles or status) and no one deletes their own account. Only an admin
// sets another manager's password; everyone changing their own gives the
// current one, and every password change ends the account's other
// sign-ins (admin tokens, and so console sessions).

// manageable reports whether p may manage account m (other than itself).
func (p *principal) manageable(m devices.Manager) bool {
	if p.admin {
		return true
	}
	return m.ID != p.managerID && len(m.Roles) > 0 && p.grantable(m.Roles)
}

// grantable reports whether p may give roles to an account.
func (p *principal) grantable(roles []devices.Role) bool {
	if p.admin {
		return true
	}
	for _, r := range roles {
		if r.Role != devices.RoleMobileManager || !p.userWH[r.WarehouseID] {
			return false
		}
	}
	return len(roles) > 0
}

// refuseManager audits and answers a refusal about account m: 403 when
// one of its warehouses is visible to the caller, 404 otherwise.
func (a *API) refuseManager(r *http.Request, subject string, roles []devices.Role) error {
	p := principalFrom(r.Context())
	for _, role := range roles {
		if role.WarehouseID != "" && p.visible(role.WarehouseID) {
			a.denied(r, subject, role.WarehouseID, http.StatusForbidden)
			return errForbidden
		}
	}
	a.denied(r, subject, "", http.StatusNotFound)
	return errNotFound
}

// checkGrant refuses roles the caller may not grant: 404 for a warehouse
// outside the caller's roles, 403 otherwise.
func (a *API) checkGrant(r *http.Request, subject string, roles []devices.Role) error {
	p := principalFrom(r.Context())
	if p.grantable(roles) {
		return nil
	}
	for _, role := range roles {
		if role.WarehouseID != "" && !p.visible(role.WarehouseID) {
			a.denied(r, subject, role.WarehouseID, http.StatusNotFound)
			return errNotFound
		}
	}
	a.denied(r, subject, "", http.StatusForbidden)
	return errForbidden
}

func (a *API) loadManager(r *http.Request, allowSelf bool) (devices.Manager, error) {
	id := chi.URLParam(r, "id")
	m, err := a.reg.Manager(r.Context(), id)
	if err != nil {
		return devices.Manager{}, fmt.Errorf("read manager %s: %w", id, err)
	}
	p := principalFrom(r.Context())
	if p.manageable(m) || (allowSelf && m.ID == p.managerID) {
		return m, nil
	}
	return devices.Manager{}, a.refuseManager(r, devices.ManagerActor(m.ID), m.Roles)
}

func (a *API) listManagers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := principalFrom(r.Context())
	after, size, err := pageQuery(r)
	if err != nil {
		return err
	}
	f := devices.ManagerFilter{Role: devices.RoleName(q.Get("role")), Page: devices.Page{After: after, Limit: size}}
	switch f.Role {
	case "", devices.RoleAdmin, devices.RoleUserManager, devices.RoleMobileManager:
	default:
		return invalid("role", "enum", "role must be admin, user_manager or mobile_manager")
	}
	if wh := q.Get("warehouse_id"); wh != "" || !p.admin {
		if f.WarehouseIDs, err = a.scopeFilter(r, capUsers, wh); err != nil {
			return err
		}
	}
	if !p.admin {
		if f.Role != "" && f.Role != devices.RoleMobileManager {
			return writeJSON(w, http.StatusOK, Page[devices.Manager]{Items: []devices.Manager{}})
		}
		f.Role = devices.RoleMobileManager
	}
	items := []devices.Manager{}
	next := ""
	for scan := 0; scan < maxFilterScans; scan++ {
		ms, err := a.reg.Managers(r.Context(), f)
		if err != nil {
			return fmt.Errorf("list managers: %w", err)
		}
		next = ""
		for i, m := range ms {
			if !p.manageable(m) && m.ID != p.managerID {
				continue
			}
			items = append(items, m)
			if len(items) == size {
				if i < len(ms)-1 || len(ms) == f.Limit {
					next = pageToken(m.ID)
				}
				return writeJSON(w, http.StatusOK, Page[devices.Manager]{Items: items, NextPageToken: next})
			}
		}
		if len(ms) < f.Limit {
			break
		}
		f.After = ms[len(ms)-1].ID
		next = pageToken(f.After)
		if p.admin {
			break
		}
	}
	return writeJSON(w, http.StatusOK, Page[devices.Manager]{Items: items, NextPageToken: next})
}

func (a *API) createManager(w http.ResponseWriter, r *http.Request) error {
	var in devices.ManagerInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	if err := a.checkGrant(r, "manager:new", in.Roles); err != nil {
		return err
	}
	if in.Password == "" {
		return a.inviteManager(w, r, in)
	}
	m, err := a.reg.CreateManager(r.Context(), principalFrom(r.Context()).actor, in)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	w.Header().Set("Location", BasePath+"/managers/"+m.ID)
	return writeJSON(w, http.StatusCreated, CreatedManager{Manager: m})
}

func (a *API) getManager(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadManager(r, true)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

// ManagerPatchRequest is the body of PATCH /admin/v1/managers/{id}: the
// changes, and the current password when a manager changes their own.
type ManagerPatchRequest struct {
	devices.ManagerPatch
	// CurrentPassword is required when the caller changes their own
	// password, and ignored otherwise.
	CurrentPassword *string `json:"current_password"`
}

func (a *API) patchManager(w http.ResponseWriter, r *http.Request) error {
	var in ManagerPatchRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	m, err := a.loadManager(r, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := principalFrom(ctx)
	self := m.ID == p.managerID
	if self && !p.admin && (in.Roles != nil || in.Status != nil) {
		a.denied(r, devices.ManagerActor(m.ID), "", http.StatusForbidden)
		return errForbidden
	}
	if in.Roles != nil {
		if err := a.checkGrant(r, devices.ManagerActor(m.ID), *in.Roles); err != nil {
			return err
		}
	}
	if in.Password != nil {
		if err := a.checkPasswordChange(r, m, self, in.CurrentPassword); err != nil {
			return err
		}
	}
	m, err = a.reg.UpdateManager(ctx, p.actor, m.ID, in.ManagerPatch)
	if err != nil {
		return fmt.Errorf("update manager: %w", err)
	}
	switch {
	case in.Password != nil && self:
		// A new password ends the account's other sign-ins; the one
		// that changed it stays.
		if err := a.reg.RevokeOtherManagerTokens(ctx, m.ID, p.token); err != nil {
			return fmt.Errorf("update manager: end other sign-ins: %w", err)
		}
	case in.Password != nil, in.Status != nil && *in.Status != devices.ManagerActive:
		// A new password or a disabled account ends the account's
		// admin sessions.
		if err := a.reg.RevokeManagerTokens(ctx, m.ID, ""); err != nil {
			return fmt.Errorf("update manager: end sign-ins: %w", err)
		}
	}
	return writeJSON(w, http.StatusOK, m)
}

// checkPasswordChange decides whether the caller may set m's password:
// only an admin sets another manager's (403, audited, for anyone else),
// and everyone changing their own proves the current one first (a
// throttled check, as a sign-in).
func (a *API) checkPasswordChange(r *http.Request, m devices.Manager, self bool, current *string) error {
	p := principalFrom(r.Context())
	if !self {
		if !p.admin {
			a.denied(r, devices.ManagerActor(m.ID), "", http.StatusForbidden)
			return &problem.Error{Status: http.StatusForbidden, Code: codeForbidden, Detail: "only an admin sets another manager's password"}
		}
		return nil
	}
	if current == nil || *current == "" {
		return invalid("current_password", "required", "your current password is required to change it")
	}
	err := a.signin.CheckManagerPassword(r.Context(), signin.PasswordCheck{Email: m.Email, Password: *current, ClientIP: a.clientIP(r)})
	if errors.Is(err, devices.ErrInvalidCredentials) || errors.Is(err, devices.ErrDisabled) {
		return invalid("current_password", "wrong", "the current password is not right")
	}
	return err
}

func (a *API) deleteManager(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadManager(r, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := principalFrom(ctx)
	if m.ID == p.managerID {
		return conflict("you cannot delete your own account")
	}
	if err := a.reg.DeleteManager(ctx, p.actor, m.ID); err != nil {
		return fmt.Errorf("delete manager %s: %w", m.ID, err)
	}
	if err := a.reg.RevokeManagerTokens(ctx, m.ID, ""); err != nil {
		a.log.ErrorContext(ctx, "revoke manager tokens", "manager_id", m.ID, "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// unlockManager clears the sign-in throttle of a manager's email.
func (a *API) unlockManager(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadManager(r, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := a.signin.UnlockManager(ctx, m); err != nil {
		return fmt.Errorf("unlock manager %s: %w", m.ID, err)
	}
	a.record(ctx, devices.Event{Actor: principalFrom(ctx).actor, Action: "manager.unlock", Subject: devices.ManagerActor(m.ID)})
	return writeJSON(w, http.StatusOK, m)
}

// me answers who is calling.
func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.managerID == "" {
		return writeJSON(w, http.StatusOK, Me{Actor: p.actor, Admin: true})
	}
	m, err := a.reg.Manager(r.Context(), p.managerID)
	if err != nil {
		return fmt.Errorf("read manager %s: %w", p.managerID, err)
	}
	return writeJSON(w, http.StatusOK, Me{Actor: p.actor, Admin: p.admin, Manager: &m})
}

// Me is the caller: a manager, or a service key (manager null).
type Me struct {
	Actor   string           `json:"actor"`
	Admin   bool             `json:"admin"`
	Manager *devices.Manager `json:"manager"`
}
