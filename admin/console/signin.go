package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// cookieName is the session cookie: it holds the manager token.
const cookieName = "fg_console"

// session is the signed-in manager of one request.
type session struct {
	token string
	me    admin.Me
	// warehouses the manager's roles cover (read once per request).
	warehouses []devices.Warehouse
	whLoaded   bool
}

// Email is the signed-in manager's email ("" for a service key).
func (s *session) Email() string {
	if s.me.Manager == nil {
		return ""
	}
	return s.me.Manager.Email
}

// IsAdmin reports whether the manager is an organisation-wide admin.
func (s *session) IsAdmin() bool { return s.me.Admin }

// ManagesUsers and ManagesDevices are for the templates.
func (s *session) ManagesUsers() bool   { return s.managesUsers() }
func (s *session) ManagesDevices() bool { return s.managesDevices() }

// CanUsers and CanDevices report the manager's roles on warehouse id.
func (s *session) CanUsers(id string) bool   { u, _ := s.roles(id); return u }
func (s *session) CanDevices(id string) bool { _, d := s.roles(id); return d }

// admin reports whether the manager is an organisation-wide admin.
func (s *session) admin() bool { return s.me.Admin }

// roles returns what the manager holds on warehouse id.
func (s *session) roles(id string) (users, devs bool) {
	if s.me.Admin {
		return true, true
	}
	if s.me.Manager == nil {
		return false, false
	}
	for _, r := range s.me.Manager.Roles {
		if r.WarehouseID != id {
			continue
		}
		switch r.Role {
		case devices.RoleUserManager:
			users = true
		case devices.RoleMobileManager:
			devs = true
		}
	}
	return users, devs
}

// managesUsers reports whether the manager is an admin or a user
// manager somewhere.
func (s *session) managesUsers() bool {
	if s.me.Admin {
		return true
	}
	if s.me.Manager != nil {
		for _, r := range s.me.Manager.Roles {
			if r.Role == devices.RoleUserManager {
				return true
			}
		}
	}
	return false
}

// managesDevices reports whether the manager is an admin or a mobile
// manager somewhere.
func (s *session) managesDevices() bool {
	if s.me.Admin {
		return true
	}
	if s.me.Manager != nil {
		for _, r := range s.me.Manager.Roles {
			if r.Role == devices.RoleMobileManager {
				return true
			}
		}
	}
	return false
}

// loadSession reads the cookie and asks the API who it is: nil when
// there is no cookie or the API refuses its token.
func (c *Console) loadSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || !strings.HasPrefix(ck.Value, devices.ManagerTokenPrefix) || len(ck.Value) > 200 {
		return nil, nil
	}
	s := &session{token: ck.Value}
	if err := c.do(r.Context(), r, s.token, "GET", "/me", nil, &s.me); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return nil, nil
		}
		return nil, err
	}
	return s, nil
}

// loadWarehouses reads the warehouses the manager's roles cover (the
// first 500, by id), once per request.
func (c *Console) loadWarehouses(ctx context.Context, r *http.Request, s *session) ([]devices.Warehouse, error) {
	if s.whLoaded {
		return s.warehouses, nil
	}
	var p admin.Page[devices.Warehouse]
	if err := c.do(ctx, r, s.token, "GET", "/warehouses?page_size=500", nil, &p); err != nil {
		return nil, err
	}
	s.warehouses, s.whLoaded = p.Items, true
	return s.warehouses, nil
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/", Expires: expires, MaxAge: max(1, int(time.Until(expires).Seconds())),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.cfg.Secure(r),
	})
}

func (c *Console) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.cfg.Secure(r)})
}

// localPath returns p when it is a path on this site ("/users?q=a"),
// else "/": a sign-in never sends anyone elsewhere.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

type signinForm struct {
	Next    string
	Email   string
	Message string
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request, _ *session) error {
	if s, err := c.loadSession(r); err == nil && s != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	f := signinForm{Next: localPath(r.URL.Query().Get("next"))}
	switch r.URL.Query().Get("m") {
	case "out":
		f.Message = "You are signed out."
	case "ended":
		f.Message = "Your session ended. Sign in again."
	}
	return c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Data: f})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request, _ *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := signinForm{Next: localPath(r.PostForm.Get("next")), Email: r.PostForm.Get("email")}
	var out admin.LoginResponse
	err := c.do(r.Context(), r, "", "POST", "/login", admin.LoginRequest{Email: f.Email, Password: r.PostForm.Get("password")}, &out)
	var ae *apiError
	if errors.As(err, &ae) {
		v := view{Title: "Sign in", Data: f, Error: signinMessage(ae), Fields: ae.fieldErrors()}
		retryAfter(w.Header(), ae)
		return c.render(w, r, ae.Status, "signin", v)
	}
	if err != nil {
		return err
	}
	c.setCookie(w, r, out.Token, out.ExpiresAt)
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
	return nil
}

// signinMessage says why a sign-in failed, in the words of the problem.
func signinMessage(ae *apiError) string {
	switch ae.Code {
	case "invalid_credentials":
		return "Wrong email or password."
	case "too_many_attempts":
		if ae.RetryAfter > 0 {
			return fmt.Sprintf("Too many attempts. Try again in %s.", humanSeconds(ae.RetryAfter))
		}
		return "Too many attempts. Try again later."
	case "account_disabled":
		return "This account is disabled. Ask an admin."
	case "invalid_request":
		return "Enter your email and password."
	}
	return problemMessage(ae)
}

func humanSeconds(s int) string {
	d := time.Duration(s) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", s)
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", (s+59)/60)
	}
	return fmt.Sprintf("%d hours", (s+3599)/3600)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.do(r.Context(), r, s.token, "POST", "/logout", nil, nil); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			return err
		}
	}
	c.clearCookie(w, r)
	http.Redirect(w, r, "/signin?m=out", http.StatusSeeOther)
	return nil
}
