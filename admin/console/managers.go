package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// managersData is the managers list.
type managersData struct {
	Managers admin.Page[devices.Manager]
	Next     string
}

func (c *Console) managers(w http.ResponseWriter, r *http.Request, s *session) error {
	d := &managersData{}
	path := "/managers?page_size=" + strconv.Itoa(listPageSize)
	if p := r.URL.Query().Get("page"); p != "" {
		path += "&page_token=" + url.QueryEscape(p)
	}
	if err := c.do(r.Context(), r, s.token, "GET", path, nil, &d.Managers); err != nil {
		return err
	}
	if d.Managers.NextPageToken != "" {
		d.Next = "/managers?page=" + url.QueryEscape(d.Managers.NextPageToken)
	}
	return c.render(w, r, http.StatusOK, "managers", view{Title: "Managers", Nav: "managers", S: s, Data: d})
}

// managerForm is the data of the new and edit forms: the warehouses
// whose roles the signed-in manager may grant. Only an admin grants
// admin and user_manager.
type managerForm struct {
	Manager    *devices.Manager
	Warehouses []devices.Warehouse
	Self       bool
	// Link is an invitation or reset link just issued, shown this once
	// when it was not mailed.
	Link *admin.IssuedLink
}

// rolesOf reads the role checkboxes: role_admin, role_user_manager and
// role_mobile_manager (warehouse ids).
func rolesOf(f url.Values) []devices.Role {
	roles := []devices.Role{}
	if checked(f["role_admin"]) {
		roles = append(roles, devices.Role{Role: devices.RoleAdmin})
	}
	for _, id := range f["role_user_manager"] {
		roles = append(roles, devices.Role{Role: devices.RoleUserManager, WarehouseID: id})
	}
	for _, id := range f["role_mobile_manager"] {
		roles = append(roles, devices.Role{Role: devices.RoleMobileManager, WarehouseID: id})
	}
	return roles
}

// roleForm fills the role checkboxes from roles.
func roleForm(f url.Values, roles []devices.Role) {
	for _, r := range roles {
		switch r.Role {
		case devices.RoleAdmin:
			f.Set("role_admin", "1")
		default:
			f.Add("role_"+string(r.Role), r.WarehouseID)
		}
	}
}

// Has reports whether the form lists value under name (a checkbox).
func (v view) Has(name, value string) bool { return slices.Contains(v.Form[name], value) }

func (c *Console) newManager(w http.ResponseWriter, r *http.Request, s *session) error {
	whs, err := c.loadWarehouses(r.Context(), r, s)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "manager", view{Title: "New manager", Nav: "managers", S: s, Form: url.Values{}, Data: managerForm{Warehouses: whs}})
}

func (c *Console) createManager(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	whs, err := c.loadWarehouses(r.Context(), r, s)
	if err != nil {
		return err
	}
	var m admin.CreatedManager
	err = c.do(r.Context(), r, s.token, "POST", "/managers", devices.ManagerInput{
		Email: f.Get("email"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Password: f.Get("password"), Roles: rolesOf(f),
	}, &m)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		fields := ae.fieldErrors()
		if ae.Code == "conflict" {
			fields["email"] = "another manager has this email"
		}
		return c.render(w, r, ae.Status, "manager", view{Title: "New manager", Nav: "managers", S: s, Form: f, Error: problemMessage(ae) + " Nothing was created.",
			Fields: fields, Data: managerForm{Warehouses: whs}})
	}
	if err != nil {
		return err
	}
	if m.Link != nil {
		return c.renderManagerID(w, r, s, m.ID, http.StatusCreated, view{Data: m.Link})
	}
	c.redirect(w, r, "/managers/"+url.PathEscape(m.ID), flash{Kind: "ok", Text: "Manager " + m.Email + " created."})
	return nil
}

func (c *Console) manager(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderManager(w, r, s, http.StatusOK, view{})
}

func (c *Console) renderManager(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	return c.renderManagerID(w, r, s, r.PathValue("id"), status, v)
}

// renderManagerID shows manager id's page; v.Data may hold a link just
// issued (*admin.IssuedLink), shown this once.
func (c *Console) renderManagerID(w http.ResponseWriter, r *http.Request, s *session, id string, status int, v view) error {
	var m devices.Manager
	if err := c.do(r.Context(), r, s.token, "GET", "/managers/"+url.PathEscape(id), nil, &m); err != nil {
		return err
	}
	link, _ := v.Data.(*admin.IssuedLink)
	whs, err := c.loadWarehouses(r.Context(), r, s)
	if err != nil {
		return err
	}
	if v.Form == nil {
		v.Form = url.Values{"email": {m.Email}, "first_name": {m.FirstName}, "last_name": {m.LastName}, "status": {string(m.Status)}}
		roleForm(v.Form, m.Roles)
	}
	self := s.me.Manager != nil && s.me.Manager.ID == m.ID
	v.Title, v.Nav, v.S, v.Data = "Manager "+m.Email, "managers", s, managerForm{Manager: &m, Warehouses: whs, Self: self, Link: link}
	return c.render(w, r, status, "manager", v)
}

func (c *Console) editManager(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	patch := map[string]any{}
	for _, k := range []string{"email", "first_name", "last_name"} {
		if vs, ok := f[k]; ok {
			patch[k] = vs[0]
		}
	}
	if p := f.Get("password"); p != "" {
		patch["password"] = p
	}
	if f.Has("roles_shown") {
		patch["roles"] = rolesOf(f)
	}
	if st := f.Get("status"); st != "" {
		patch["status"] = st
	}
	err := c.do(r.Context(), r, s.token, "PATCH", "/managers/"+url.PathEscape(r.PathValue("id")), patch, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound {
		fields := ae.fieldErrors()
		if ae.Code == "conflict" {
			fields["email"] = "another manager has this email"
		}
		return c.renderManager(w, r, s, ae.Status, view{Error: problemMessage(ae) + " Nothing was changed.", Fields: fields, Form: f})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/managers/"+url.PathEscape(r.PathValue("id")), flash{Kind: "ok", Text: "Saved."})
	return nil
}

func (c *Console) deleteManager(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	err := c.do(r.Context(), r, s.token, "DELETE", "/managers/"+url.PathEscape(id), nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusForbidden) {
		c.redirect(w, r, "/managers/"+url.PathEscape(id), flash{Kind: "error", Text: problemMessage(ae)})
		return nil
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/managers", flash{Kind: "ok", Text: "Manager deleted; their sign-ins ended."})
	return nil
}

func (c *Console) unlockManager(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	err := c.do(r.Context(), r, s.token, "POST", "/managers/"+url.PathEscape(id)+"/unlock", nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		c.redirect(w, r, "/managers/"+url.PathEscape(id), flash{Kind: "error", Text: problemMessage(ae)})
		return nil
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/managers/"+url.PathEscape(id), flash{Kind: "ok", Text: "Unlocked: the sign-in throttle is cleared."})
	return nil
}

// account is the signed-in manager's own page: names, email, password.
func (c *Console) account(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderAccount(w, r, s, http.StatusOK, view{})
}

func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	if s.me.Manager == nil {
		return &formError{msg: "A service key has no account page."}
	}
	m := s.me.Manager
	if v.Form == nil {
		v.Form = url.Values{"email": {m.Email}, "first_name": {m.FirstName}, "last_name": {m.LastName}}
	}
	v.Title, v.Nav, v.S, v.Data = "Your account", "account", s, m
	return c.render(w, r, status, "account", v)
}

func (c *Console) editAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	if s.me.Manager == nil {
		return &formError{msg: "A service key has no account page."}
	}
	f := r.PostForm
	patch := map[string]any{"email": f.Get("email"), "first_name": f.Get("first_name"), "last_name": f.Get("last_name")}
	if p := f.Get("password"); p != "" {
		if p != f.Get("password2") {
			return c.renderAccount(w, r, s, http.StatusBadRequest, view{Error: "The two passwords differ. Nothing was changed.", Fields: map[string]string{"password2": "type the same password twice"}, Form: f})
		}
		patch["password"] = p
		patch["current_password"] = f.Get("current_password")
	}
	err := c.do(r.Context(), r, s.token, "PATCH", "/managers/"+url.PathEscape(s.me.Manager.ID), patch, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		return c.renderAccount(w, r, s, ae.Status, view{Error: problemMessage(ae) + " Nothing was changed.", Fields: ae.fieldErrors(), Form: f})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/account", flash{Kind: "ok", Text: "Saved."})
	return nil
}
