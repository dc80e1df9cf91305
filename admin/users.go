package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// CreateUserRequest is the body of POST /admin/v1/users.
// pin_change_required defaults to true: the user chooses their own PIN at
// the first sign-in.
type CreateUserRequest struct {
	Username          string `json:"username"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	PIN               string `json:"pin"`
	WarehouseID       string `json:"warehouse_id"`
	EmployeeID        string `json:"employee_id"`
	Language          string `json:"language"`
	PINChangeRequired *bool  `json:"pin_change_required"`
}

// ResetPINRequest is the body of POST /admin/v1/users/{id}/reset-pin.
type ResetPINRequest struct {
	PIN               string `json:"pin"`
	PINChangeRequired *bool  `json:"pin_change_required"` // default true
}

// UserActionResponse answers every change of a user that may end
// sessions. command_ids lists the logout commands created (empty when
// none). sessions_pending is true when the change stands but ending the
// user's sessions failed: after suspend and delete the reconciler ends
// them within a minute; after a PIN reset or a warehouse move call
// POST /users/{id}/logout.
type UserActionResponse struct {
	User            devices.User `json:"user"`
	CommandIDs      []string     `json:"command_ids"`
	SessionsPending bool         `json:"sessions_pending,omitempty"`
}

// loadUser reads a user and checks the caller may act with c on it.
func (a *API) loadUser(r *http.Request, c capability) (devices.User, error) {
	id := chi.URLParam(r, "id")
	u, err := a.reg.User(r.Context(), id)
	if err != nil {
		return devices.User{}, fmt.Errorf("read user %s: %w", id, err)
	}
	if err := a.authorize(r, c, u.WarehouseID, devices.UserActor(u.ID)); err != nil {
		return devices.User{}, err
	}
	return u, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	f, err := a.userFilter(r)
	if err != nil {
		return err
	}
	users, err := a.reg.Users(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	last := ""
	if len(users) > 0 {
		last = users[len(users)-1].ID
	}
	if users == nil {
		users = []devices.User{}
	}
	return writeJSON(w, http.StatusOK, Page[devices.User]{Items: users, NextPageToken: nextToken(len(users), f.Limit, last)})
}

// userFilter reads the list filters (warehouse_id, status, q) and the
// page, narrowed to the warehouses where the caller manages users.
func (a *API) userFilter(r *http.Request) (devices.UserFilter, error) {
	q := r.URL.Query()
	after, size, err := pageQuery(r)
	if err != nil {
		return devices.UserFilter{}, err
	}
	f := devices.UserFilter{Q: strings.TrimSpace(q.Get("q")), Page: devices.Page{After: after, Limit: size}}
	switch s := devices.UserStatus(q.Get("status")); s {
	case "", devices.UserActive, devices.UserSuspended, devices.UserDeleted:
		f.Status = s
	default:
		return f, invalid("status", "enum", "status must be active, suspended or deleted")
	}
	scope, err := a.scopeFilter(r, capUsers, q.Get("warehouse_id"))
	if err != nil {
		return f, err
	}
	f.WarehouseIDs = scope
	return f, nil
}

// scopeFilter returns the warehouse ids a list is narrowed to: the one
// asked for (when the caller holds c there), or every warehouse where the
// caller holds c; nil means all (admin, no filter).
func (a *API) scopeFilter(r *http.Request, c capability, wh string) ([]string, error) {
	p := principalFrom(r.Context())
	if wh != "" {
		if err := a.authorize(r, c, wh, devices.WarehouseSubject(wh)); err != nil {
			return nil, err
		}
		return []string{wh}, nil
	}
	if p.admin {
		return nil, nil
	}
	var ids []string
	switch c {
	case capUsers:
		ids = keys(p.userWH)
	case capDevices:
		ids = keys(p.mobileWH)
	default:
		ids = p.visibleIDs()
	}
	if len(ids) == 0 {
		a.denied(r, "", "", http.StatusForbidden)
		return nil, errForbidden
	}
	return ids, nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var in CreateUserRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if !p.admin {
		if in.WarehouseID == "" {
			return invalid("warehouse_id", "required", "warehouse_id is required")
		}
		if err := a.authorize(r, capUsers, in.WarehouseID, devices.WarehouseSubject(in.WarehouseID)); err != nil {
			return err
		}
	}
	change := true
	if in.PINChangeRequired != nil {
		change = *in.PINChangeRequired
	}
	u, err := a.reg.CreateUser(r.Context(), p.actor, devices.UserInput{
		Username: in.Username, FirstName: in.FirstName, LastName: in.LastName, PIN: in.PIN,
		WarehouseID: in.WarehouseID, EmployeeID: in.EmployeeID, Language: in.Language, PINChangeRequired: change,
	})
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	w.Header().Set("Location", BasePath+"/users/"+u.ID)
	return writeJSON(w, http.StatusCreated, u)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// userPatchRequest is the body of PATCH /users/{id}: devices.UserPatch,
// and status only to say where status changes.
type userPatchRequest struct {
	devices.UserPatch
	Status *string `json:"status"`
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	var req userPatchRequest
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	if req.Status != nil {
		return invalid("status", "read_only", "status changes with POST /users/{id}/suspend, /activate or /restore and DELETE /users/{id}, which also end the user's sessions")
	}
	in := req.UserPatch
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	moved := in.WarehouseID != nil && *in.WarehouseID != u.WarehouseID
	if moved {
		if err := a.authorize(r, capUsers, *in.WarehouseID, devices.WarehouseSubject(*in.WarehouseID)); err != nil {
			return err
		}
	}
	p := principalFrom(r.Context())
	u, err = a.reg.UpdateUser(r.Context(), p.actor, u.ID, in)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	// Every instance drops the user from its cache of the users shown
	// to devices (gateway: welcome and GET /v1/session). When the event
	// is lost, the old names show there for the cache's TTL at most.
	if err := a.sess.Publish(r.Context(), sessions.Event{Kind: sessions.KindUserChanged, UserID: u.ID}); err != nil {
		a.log.WarnContext(r.Context(), "publish user change", "user_id", u.ID, "err", err)
	}
	resp := UserActionResponse{User: u, CommandIDs: []string{}}
	if moved {
		// A user signs in only in their own warehouse: the sessions
		// open in the old one end.
		resp.CommandIDs, resp.SessionsPending = a.endUserSessions(r.Context(), p, u, sessions.ReasonAdmin)
	}
	return writeJSON(w, http.StatusOK, resp)
}

// endUserSessions ends every session of u and records it. A failure is
// logged and reported as pending: the registry change already stands.
func (a *API) endUserSessions(ctx context.Context, p *principal, u devices.User, reason sessions.Reason) ([]string, bool) {
	cmds, err := a.sess.EndUser(ctx, u.ID, reason)
	if err != nil {
		a.log.ErrorContext(ctx, "end user sessions", "user_id", u.ID, "reason", string(reason), "err", err)
		return []string{}, true
	}
	ids := commandIDs(cmds)
	if len(ids) > 0 {
		a.recordEnd(ctx, p.actor, devices.UserActor(u.ID), u.WarehouseID, reason, cmds)
	}
	return ids, false
}

// recordEnd audits sessions ended by an admin action, and writes who
// ended them into their custody records (devices.RecordSessionsEnded:
// finished and retried even if the caller goes away).
func (a *API) recordEnd(ctx context.Context, actor, subject, warehouseID string, reason sessions.Reason, cmds []sessions.Command) {
	a.reg.RecordSessionsEnded(ctx, actor, subject, warehouseID, string(reason), endedSessions(cmds))
}

func endedSessions(cmds []sessions.Command) []devices.EndedSession {
	ended := make([]devices.EndedSession, len(cmds))
	for i, c := range cmds {
		ended[i] = devices.EndedSession{SessionID: c.SessionID, CommandID: c.ID, At: c.CreatedAt, Reason: string(c.Reason)}
	}
	return ended
}

func commandIDs(cmds []sessions.Command) []string {
	ids := make([]string, 0, len(cmds))
	for _, c := range cmds {
		ids = append(ids, c.ID)
	}
	return ids
}

// userLifecycle serves suspend, activate, delete and restore: the
// registry change first, then (suspend, delete) the end of the user's
// sessions, which the reconciler repeats if it fails here.
func (a *API) userLifecycle(change func(ctx context.Context, actor, id string) (devices.User, error), reason sessions.Reason) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := a.loadUser(r, capUsers)
		if err != nil {
			return err
		}
		p := principalFrom(r.Context())
		u, err = change(r.Context(), p.actor, u.ID)
		if err != nil {
			return fmt.Errorf("change user %s: %w", chi.URLParam(r, "id"), err)
		}
		resp := UserActionResponse{User: u, CommandIDs: []string{}}
		if reason != "" {
			resp.CommandIDs, resp.SessionsPending = a.endUserSessions(r.Context(), p, u, reason)
		}
		return writeJSON(w, http.StatusOK, resp)
	}
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	return a.userLifecycle(a.reg.DeleteUser, sessions.ReasonUserDeleted)(w, r)
}

func (a *API) unlockUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	if err := a.signin.UnlockUser(r.Context(), u); err != nil {
		return fmt.Errorf("unlock user %s: %w", u.ID, err)
	}
	p := principalFrom(r.Context())
	a.record(r.Context(), devices.Event{Actor: p.actor, Action: "user.unlock", Subject: devices.UserActor(u.ID), WarehouseID: u.WarehouseID})
	return writeJSON(w, http.StatusOK, UserActionResponse{User: u, CommandIDs: []string{}})
}

func (a *API) logoutUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	cmds, err := a.sess.EndUser(r.Context(), u.ID, sessions.ReasonAdmin)
	if err != nil {
		return fmt.Errorf("log out user %s: %w", u.ID, err)
	}
	ids := commandIDs(cmds)
	a.recordEnd(r.Context(), p.actor, devices.UserActor(u.ID), u.WarehouseID, sessions.ReasonAdmin, cmds)
	return writeJSON(w, http.StatusOK, UserActionResponse{User: u, CommandIDs: ids})
}

func (a *API) resetPIN(w http.ResponseWriter, r *http.Request) error {
	var in ResetPINRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	if in.PIN == "" {
		return invalid("pin", "required", "pin is required")
	}
	u, err := a.loadUser(r, capUsers)
	if err != nil {
		return err
	}
	change := true
	if in.PINChangeRequired != nil {
		change = *in.PINChangeRequired
	}
	p := principalFrom(r.Context())
	u, err = a.reg.ResetPIN(r.Context(), p.actor, u.ID, in.PIN, change)
	if err != nil {
		return fmt.Errorf("reset pin of user %s: %w", chi.URLParam(r, "id"), err)
	}
	resp := UserActionResponse{User: u}
	resp.CommandIDs, resp.SessionsPending = a.endUserSessions(r.Context(), p, u, sessions.ReasonPINReset)
	return writeJSON(w, http.StatusOK, resp)
}
