package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/floorgate/floorgate/admin"
)

// handlerFunc serves one console route for a signed-in manager (s is
// nil on public routes). It writes its answer or returns an error that
// fail turns into a page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// route is one entry of the console's route table.
type route struct {
	Method, Path string // a net/http.ServeMux pattern, split
	// API lists the admin API routes the handler calls ("GET
	// /users/{id}", relative to /admin/v1): every read and change goes
	// through them (TestEveryActionHasAnAPIRoute).
	API    []string
	Public bool // served without a signed-in manager
	h      handlerFunc
}

// routes is the console's route table. To add a page, add its routes
// here (and its menu entry in menu.go).
func (c *Console) routes() []route {
	return []route{
		{Method: "GET", Path: "/static/", Public: true, h: c.serveStatic},
		{Method: "GET", Path: "/signin", Public: true, API: []string{"GET /me"}, h: c.signinPage},
		{Method: "POST", Path: "/signin", Public: true, API: []string{"POST /login"}, h: c.signin},
		{Method: "GET", Path: admin.InvitationPath, Public: true, API: []string{"POST /invitation/accept"}, h: c.linkForm(invitationPage)},
		{Method: "POST", Path: admin.InvitationPath, Public: true, API: []string{"POST /invitation/accept"}, h: c.useLink(invitationPage, "/invitation/accept")},
		{Method: "GET", Path: "/forgot-password", Public: true, API: []string{"POST /forgot-password"}, h: c.forgotPage},
		{Method: "POST", Path: "/forgot-password", Public: true, API: []string{"POST /forgot-password"}, h: c.forgotPassword},
		{Method: "GET", Path: admin.ResetPasswordPath, Public: true, API: []string{"POST /password-reset"}, h: c.linkForm(resetPage)},
		{Method: "POST", Path: admin.ResetPasswordPath, Public: true, API: []string{"POST /password-reset"}, h: c.useLink(resetPage, "/password-reset")},
		{Method: "POST", Path: "/signout", API: []string{"POST /logout"}, h: c.signout},
		{Method: "GET", Path: "/{$}", API: []string{"GET /me"}, h: c.home},

		{Method: "GET", Path: "/board", API: []string{"GET /warehouses", "GET /warehouses/{id}/summary", "GET /warehouses/{id}/holders"}, h: c.board},
		{Method: "GET", Path: "/board/events", API: []string{"GET /warehouses/{id}/summary", "GET /warehouses/{id}/holders"}, h: c.boardEvents},
		{Method: "GET", Path: "/warehouses/{id}/logout", API: []string{"GET /warehouses/{id}"}, h: c.warehouseLogoutConfirm},
		{Method: "POST", Path: "/warehouses/{id}/logout", API: []string{"POST /warehouses/{id}/logout"}, h: c.warehouseLogout},
		{Method: "GET", Path: "/commands", API: []string{"GET /commands/{id}", "GET /warehouses/{id}/commands"}, h: c.commands},
		{Method: "GET", Path: "/commands/events", API: []string{"GET /commands/{id}", "GET /warehouses/{id}/commands"}, h: c.commandEvents},

		{Method: "GET", Path: "/users", API: []string{"GET /users"}, h: c.users},
		{Method: "GET", Path: "/users/new", API: []string{"GET /warehouses", "GET /users/username"}, h: c.newUser},
		{Method: "POST", Path: "/users", API: []string{"POST /users"}, h: c.createUser},
		{Method: "GET", Path: "/users/username", API: []string{"GET /users/username"}, h: c.usernameCheck},
		{Method: "GET", Path: "/users/export", API: []string{"GET /users/export"}, h: c.exportUsers},
		{Method: "GET", Path: "/users/import", API: []string{"GET /warehouses"}, h: c.importPage},
		{Method: "POST", Path: "/users/import", API: []string{"POST /users/import"}, h: c.importUsers},
		{Method: "GET", Path: "/users/{id}", API: []string{"GET /users/{id}", "GET /users/{id}/badge", "GET /sessions", "GET /audit"}, h: c.user},
		{Method: "POST", Path: "/users/{id}", API: []string{"PATCH /users/{id}"}, h: c.editUser},
		{Method: "POST", Path: "/users/{id}/suspend", API: []string{"POST /users/{id}/suspend"}, h: c.userAction("suspend")},
		{Method: "POST", Path: "/users/{id}/activate", API: []string{"POST /users/{id}/activate"}, h: c.userAction("activate")},
		{Method: "POST", Path: "/users/{id}/delete", API: []string{"DELETE /users/{id}"}, h: c.userAction("delete")},
		{Method: "POST", Path: "/users/{id}/restore", API: []string{"POST /users/{id}/restore"}, h: c.userAction("restore")},
		{Method: "POST", Path: "/users/{id}/unlock", API: []string{"POST /users/{id}/unlock"}, h: c.userAction("unlock")},
		{Method: "POST", Path: "/users/{id}/logout", API: []string{"POST /users/{id}/logout"}, h: c.userAction("logout")},
		{Method: "POST", Path: "/users/{id}/reset-pin", API: []string{"POST /users/{id}/reset-pin"}, h: c.resetPIN},
		{Method: "POST", Path: "/users/{id}/badge", API: []string{"PUT /users/{id}/badge"}, h: c.setBadge},
		{Method: "GET", Path: "/users/{id}/data-export", API: []string{"GET /users/{id}/data-export"}, h: c.exportData("/users/")},
		{Method: "POST", Path: "/users/{id}/badge/remove", API: []string{"DELETE /users/{id}/badge"}, h: c.userAction("badge/remove")},

		{Method: "GET", Path: "/devices", API: []string{"GET /devices"}, h: c.devices},
		{Method: "GET", Path: "/devices/{id}", API: []string{"GET /devices/{id}", "GET /audit"}, h: c.device},
		{Method: "POST", Path: "/devices/{id}", API: []string{"PATCH /devices/{id}"}, h: c.editDevice},
		{Method: "POST", Path: "/devices/{id}/logout", API: []string{"POST /devices/{id}/logout"}, h: c.deviceAction("logout")},
		{Method: "POST", Path: "/devices/{id}/revoke", API: []string{"POST /devices/{id}/revoke"}, h: c.deviceAction("revoke")},
		{Method: "POST", Path: "/devices/{id}/unlock", API: []string{"POST /devices/{id}/unlock"}, h: c.deviceAction("unlock")},

		{Method: "GET", Path: "/sessions", API: []string{"GET /sessions"}, h: c.sessions},
		{Method: "POST", Path: "/sessions/{id}/end", API: []string{"DELETE /sessions/{id}"}, h: c.endSession},

		{Method: "GET", Path: "/managers", API: []string{"GET /managers"}, h: c.managers},
		{Method: "GET", Path: "/managers/new", API: []string{"GET /warehouses"}, h: c.newManager},
		{Method: "POST", Path: "/managers", API: []string{"POST /managers"}, h: c.createManager},
		{Method: "GET", Path: "/managers/{id}", API: []string{"GET /managers/{id}"}, h: c.manager},
		{Method: "POST", Path: "/managers/{id}", API: []string{"PATCH /managers/{id}"}, h: c.editManager},
		{Method: "POST", Path: "/managers/{id}/delete", API: []string{"DELETE /managers/{id}"}, h: c.deleteManager},
		{Method: "POST", Path: "/managers/{id}/invitation", API: []string{"POST /managers/{id}/invitation", "GET /managers/{id}"}, h: c.resendInvitation},
		{Method: "POST", Path: "/managers/{id}/invitation/revoke", API: []string{"DELETE /managers/{id}/invitation"}, h: c.revokeInvitation},
		{Method: "POST", Path: "/managers/{id}/reset-link", API: []string{"POST /managers/{id}/reset-link", "GET /managers/{id}"}, h: c.sendResetLink},
		{Method: "GET", Path: "/managers/{id}/data-export", API: []string{"GET /managers/{id}/data-export"}, h: c.exportData("/managers/")},
		{Method: "POST", Path: "/managers/{id}/unlock", API: []string{"POST /managers/{id}/unlock"}, h: c.unlockManager},

		{Method: "GET", Path: "/warehouses", API: []string{"GET /warehouses"}, h: c.warehouses},
		{Method: "POST", Path: "/warehouses", API: []string{"POST /warehouses"}, h: c.createWarehouse},
		{Method: "GET", Path: "/warehouses/{id}", API: []string{"GET /warehouses/{id}"}, h: c.warehouse},
		{Method: "POST", Path: "/warehouses/{id}", API: []string{"PATCH /warehouses/{id}"}, h: c.editWarehouse},
		{Method: "GET", Path: "/settings", API: []string{"GET /settings"}, h: c.settings},
		{Method: "POST", Path: "/settings", API: []string{"PATCH /settings"}, h: c.editSettings},

		{Method: "GET", Path: "/enrollment-tokens", API: []string{"GET /enrollment-tokens"}, h: c.enrollmentTokens},
		{Method: "POST", Path: "/enrollment-tokens", API: []string{"POST /enrollment-tokens", "GET /enrollment-tokens"}, h: c.createEnrollmentToken},
		{Method: "POST", Path: "/enrollment-tokens/{id}/revoke", API: []string{"DELETE /enrollment-tokens/{id}"}, h: c.revokeEnrollmentToken},
		{Method: "GET", Path: "/service-keys", API: []string{"GET /service-keys"}, h: c.serviceKeys},
		{Method: "POST", Path: "/service-keys", API: []string{"POST /service-keys"}, h: c.createServiceKey},
		{Method: "POST", Path: "/service-keys/{id}/revoke", API: []string{"DELETE /service-keys/{id}"}, h: c.revokeServiceKey},

		{Method: "GET", Path: "/custody", API: []string{"GET /custody", "GET /custody/report"}, h: c.custody},
		{Method: "GET", Path: "/custody/export", API: []string{"GET /custody/export"}, h: c.exportCustody},
		{Method: "GET", Path: "/audit", API: []string{"GET /audit"}, h: c.audit},
		{Method: "GET", Path: "/audit/export", API: []string{"GET /audit/export"}, h: c.exportAudit},

		{Method: "GET", Path: "/account", API: []string{"GET /me"}, h: c.account},
		{Method: "POST", Path: "/account", API: []string{"PATCH /managers/{id}"}, h: c.editAccount},
	}
}

// wrap turns a route into an http.Handler: the signed-in manager (or a
// redirect to the sign-in page) and the error pages.
func (c *Console) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if !rt.Public {
			var err error
			s, err = c.loadSession(r)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			if s == nil {
				_, had := r.Cookie(cookieName)
				c.toSignin(w, r, had == nil)
				return
			}
		}
		if err := rt.h(w, r, s); err != nil {
			c.fail(w, r, err)
		}
	})
}

// toSignin sends the browser to the sign-in page, back here afterwards
// when this was a page (GET).
func (c *Console) toSignin(w http.ResponseWriter, r *http.Request, ended bool) {
	q := url.Values{}
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		q.Set("next", r.URL.RequestURI())
	}
	if ended {
		q.Set("m", "ended")
		c.clearCookie(w, r)
	}
	target := "/signin"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if r.Header.Get("Accept") == "text/event-stream" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// fail answers an error a handler returned: the API's refusals become
// pages with their message and status; anything else is logged and is
// a 500 that says nothing of it.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var fe *formError
	switch {
	case errors.As(err, &fe):
		c.renderError(w, r, http.StatusBadRequest, fe.msg)
	case errors.As(err, &ae):
		retryAfter(w.Header(), ae)
		switch {
		case ae.Status == http.StatusUnauthorized && ae.Code == "invalid_token":
			c.toSignin(w, r, true)
		case ae.Status == http.StatusNotFound:
			c.renderError(w, r, http.StatusNotFound, "There is no such page, or it is outside the warehouses your roles cover.")
		case ae.Status >= 500:
			c.log.WarnContext(r.Context(), "console: admin API unavailable", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "code", ae.Code)
			c.renderError(w, r, ae.Status, problemMessage(ae))
		default:
			c.renderError(w, r, ae.Status, problemMessage(ae))
		}
	default:
		c.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Something went wrong on our side. Nothing was assumed; try again.")
	}
}

// formError is a request the browser sent that cannot be read as a form.
type formError struct{ msg string }

func (e *formError) Error() string { return e.msg }

func badForm(err error) error {
	return &formError{msg: "The form could not be read (" + err.Error() + "). Nothing was changed."}
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, http.StatusNotFound, "There is no such page.")
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request, _ *session) error {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.StripPrefix("/static", c.static).ServeHTTP(w, r)
	return nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, s *session) error {
	http.Redirect(w, r, "/board", http.StatusSeeOther)
	return nil
}
