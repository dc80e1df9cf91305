package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// listPageSize is the page size of the console's lists.
const listPageSize = 50

// usersData is the users list.
type usersData struct {
	Users              admin.Page[devices.User]
	Q, Warehouse, Stat string
	Page               string
	Next, First        string // URLs of the next and first page
	Export             string
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := &usersData{Q: q.Get("q"), Warehouse: q.Get("warehouse"), Stat: q.Get("status"), Page: q.Get("page")}
	filter := url.Values{}
	for k, v := range map[string]string{"q": d.Q, "warehouse_id": d.Warehouse, "status": d.Stat} {
		if v != "" {
			filter.Set(k, v)
		}
	}
	api := url.Values{"page_size": {strconv.Itoa(listPageSize)}}
	for k, v := range filter {
		api[k] = v
	}
	if d.Page != "" {
		api.Set("page_token", d.Page)
	}
	err := c.do(r.Context(), r, s.token, "GET", "/users?"+api.Encode(), nil, &d.Users)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		return c.render(w, r, ae.Status, "users", view{Title: "Users", Nav: "users", S: s, Data: d, Error: problemMessage(ae)})
	}
	if err != nil {
		return err
	}
	own := url.Values{}
	for k, v := range map[string]string{"q": d.Q, "warehouse": d.Warehouse, "status": d.Stat} {
		if v != "" {
			own.Set(k, v)
		}
	}
	d.First = "/users?" + own.Encode()
	if d.Users.NextPageToken != "" {
		next := url.Values{"page": {d.Users.NextPageToken}}
		for k, v := range own {
			next[k] = v
		}
		d.Next = "/users?" + next.Encode()
	}
	d.Export = "/users/export?" + own.Encode()
	return c.render(w, r, http.StatusOK, "users", view{Title: "Users", Nav: "users", S: s, Data: d})
}

// userForm is the new-user form's data.
type userForm struct {
	Warehouses []devices.Warehouse // where the manager may create users
	Suggested  string
}

func (c *Console) userWarehouses(r *http.Request, s *session) ([]devices.Warehouse, error) {
	whs, err := c.loadWarehouses(r.Context(), r, s)
	if err != nil {
		return nil, err
	}
	var out []devices.Warehouse
	for _, w := range whs {
		if u, _ := s.roles(w.ID); u {
			out = append(out, w)
		}
	}
	return out, nil
}

func (c *Console) newUser(w http.ResponseWriter, r *http.Request, s *session) error {
	whs, err := c.userWarehouses(r, s)
	if err != nil {
		return err
	}
	form := url.Values{"pin_change_required": {"1"}}
	if wh := r.URL.Query().Get("warehouse"); wh != "" {
		form.Set("warehouse_id", wh)
	}
	return c.render(w, r, http.StatusOK, "user_new", view{Title: "New user", Nav: "users", S: s, Form: form, Data: userForm{Warehouses: whs}})
}

// checked reads a checkbox sent with a hidden "0" before it.
func checked(vals []string) bool { return slices.Contains(vals, "1") }

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	whs, err := c.userWarehouses(r, s)
	if err != nil {
		return err
	}
	again := func(status int, msg string, fields map[string]string, suggested string) error {
		return c.render(w, r, status, "user_new", view{Title: "New user", Nav: "users", S: s, Form: f, Error: msg, Fields: fields,
			Data: userForm{Warehouses: whs, Suggested: suggested}})
	}
	if f.Get("username") == "" && f.Get("first_name") != "" {
		// Without JavaScript, an empty username asks for a suggestion:
		// the form comes back with it filled in, nothing created.
		var chk admin.UsernameCheck
		q := url.Values{"first_name": {f.Get("first_name")}, "last_name": {f.Get("last_name")}}
		err := c.do(r.Context(), r, s.token, "GET", "/users/username?"+q.Encode(), nil, &chk)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			return again(ae.Status, problemMessage(ae), ae.fieldErrors(), "")
		}
		if err != nil {
			return err
		}
		f.Set("username", chk.Username)
		return again(http.StatusOK, "", nil, chk.Username)
	}
	change := checked(f["pin_change_required"])
	body := admin.CreateUserRequest{
		Username: f.Get("username"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"), PIN: f.Get("pin"),
		WarehouseID: f.Get("warehouse_id"), EmployeeID: f.Get("employee_id"), Language: f.Get("language"), PINChangeRequired: &change,
	}
	var u devices.User
	err = c.do(r.Context(), r, s.token, "POST", "/users", body, &u)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		return again(ae.Status, problemMessage(ae), withPIN(ae), "")
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/users/"+url.PathEscape(u.ID), flash{Kind: "ok", Text: "User " + u.Username + " created."})
	return nil
}

// withPIN is the problem's field errors, with a weak PIN named on the
// pin field.
func withPIN(ae *apiError) map[string]string {
	m := ae.fieldErrors()
	if ae.Code == "weak_pin" {
		m["pin"] = ae.Detail
	}
	if ae.Code == "conflict" {
		m["username"] = ae.Detail
	}
	return m
}

// usernameCheck answers the new-user form's script: a suggestion or a
// check, as JSON.
func (c *Console) usernameCheck(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	api := url.Values{}
	for _, k := range []string{"username", "first_name", "last_name"} {
		if v := q.Get(k); v != "" {
			api.Set(k, v)
		}
	}
	var chk admin.UsernameCheck
	err := c.do(r.Context(), r, s.token, "GET", "/users/username?"+api.Encode(), nil, &chk)
	out := map[string]any{}
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		retryAfter(w.Header(), ae)
		w.WriteHeader(ae.Status)
		out["message"] = problemMessage(ae)
	case err != nil:
		return err
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		out["username"], out["available"], out["suggested"] = chk.Username, chk.Available, chk.Suggested
		switch {
		case chk.Problem != nil:
			out["message"] = chk.Problem.Message
		case chk.Available:
			out["message"] = "“" + chk.Username + "” is free."
		default:
			out["message"] = "“" + chk.Username + "” is taken."
		}
	}
	return json.NewEncoder(w).Encode(out)
}

// userData is a user's page.
type userData struct {
	User     devices.User
	Sessions []admin.SessionView
	Audit    []devices.Event
	Badge    admin.BadgeView
	CanEdit  bool
}

func (c *Console) user(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderUser(w, r, s, http.StatusOK, view{})
}

// renderUser renders a user's page, with v's message, fields and form
// when a change was refused.
func (c *Console) renderUser(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	ctx := r.Context()
	id := r.PathValue("id")
	d := &userData{}
	if err := c.do(ctx, r, s.token, "GET", "/users/"+url.PathEscape(id), nil, &d.User); err != nil {
		return err
	}
	var ss admin.Page[admin.SessionView]
	if err := c.do(ctx, r, s.token, "GET", "/sessions?user_id="+url.QueryEscape(id), nil, &ss); err == nil {
		d.Sessions = ss.Items
	}
	var ev admin.Page[devices.Event]
	if err := c.do(ctx, r, s.token, "GET", "/audit?page_size=20&subject="+url.QueryEscape("user:"+id), nil, &ev); err == nil {
		d.Audit = ev.Items
	}
	if err := c.do(ctx, r, s.token, "GET", "/users/"+url.PathEscape(id)+"/badge", nil, &d.Badge); err != nil {
		d.Badge = admin.BadgeView{}
	}
	d.CanEdit = d.User.Status != devices.UserDeleted
	if v.Form == nil {
		v.Form = url.Values{"username": {d.User.Username}, "first_name": {d.User.FirstName}, "last_name": {d.User.LastName},
			"employee_id": {d.User.EmployeeID}, "language": {d.User.Language}, "warehouse_id": {d.User.WarehouseID}}
	}
	v.Title, v.Nav, v.S, v.Data = "User "+d.User.Username, "users", s, d
	return c.render(w, r, status, "user", v)
}

func (c *Console) editUser(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	patch := map[string]any{}
	for _, k := range []string{"username", "first_name", "last_name", "employee_id", "language", "warehouse_id"} {
		if vs, ok := f[k]; ok {
			patch[k] = vs[0]
		}
	}
	var out admin.UserActionResponse
	err := c.do(r.Context(), r, s.token, "PATCH", "/users/"+url.PathEscape(r.PathValue("id")), patch, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound {
		return c.renderUser(w, r, s, ae.Status, view{Error: problemMessage(ae), Fields: withPIN(ae), Form: f})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/users/"+url.PathEscape(out.User.ID), flash{Kind: "ok", Text: "Saved.", Commands: out.CommandIDs})
	return nil
}

// userActionText is what each lifecycle action says when it is done.
var userActionText = map[string]string{
	"suspend":  "Suspended; their sessions are ending.",
	"activate": "Active again.",
	"delete":   "Deleted. It can be restored for 30 days.",
	"restore":  "Restored.",
	"unlock":   "Unlocked: the PIN throttles are cleared.",
	"logout":   "Logged out everywhere.",
	// The badge's answer carries command_ids and sessions_pending too.
	"badge/remove": "Badge removed: the sessions it opened are ending.",
}

// userAction serves a lifecycle button: the API call, then back to the
// user's page with its result (or its refusal) at the top.
func (c *Console) userAction(action string) handlerFunc {
	method, suffix := "POST", "/"+action
	switch action {
	case "delete":
		method, suffix = "DELETE", ""
	case "badge/remove":
		method, suffix = "DELETE", "/badge"
	}
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		id := r.PathValue("id")
		var out admin.UserActionResponse
		err := c.do(r.Context(), r, s.token, method, "/users/"+url.PathEscape(id)+suffix, nil, &out)
		var ae *apiError
		if errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusForbidden || ae.Status == http.StatusBadRequest) {
			c.redirect(w, r, "/users/"+url.PathEscape(id), flash{Kind: "error", Text: problemMessage(ae)})
			return nil
		}
		if err != nil {
			return err
		}
		text := userActionText[action]
		if out.SessionsPending {
			text += " Their sessions could not be ended yet: they will be within a minute."
		}
		c.redirect(w, r, "/users/"+url.PathEscape(id), flash{Kind: "ok", Text: text, Commands: out.CommandIDs})
		return nil
	}
}

func (c *Console) resetPIN(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	change := checked(r.PostForm["pin_change_required"])
	var out admin.UserActionResponse
	err := c.do(r.Context(), r, s.token, "POST", "/users/"+url.PathEscape(r.PathValue("id"))+"/reset-pin",
		admin.ResetPINRequest{PIN: r.PostForm.Get("pin"), PINChangeRequired: &change}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound {
		fields := withPIN(ae)
		return c.renderUser(w, r, s, ae.Status, view{Error: "The PIN was not changed. " + problemMessage(ae), Fields: fields})
	}
	if err != nil {
		return err
	}
	text := "New PIN set."
	if change {
		text += " The user chooses their own at the next sign-in."
	}
	c.redirect(w, r, "/users/"+url.PathEscape(out.User.ID), flash{Kind: "ok", Text: text, Commands: out.CommandIDs})
	return nil
}

func (c *Console) exportUsers(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	api := url.Values{}
	for k, v := range map[string]string{"q": q.Get("q"), "warehouse_id": q.Get("warehouse"), "status": q.Get("status")} {
		if v != "" {
			api.Set(k, v)
		}
	}
	return c.download(w, r, s.token, "/users/export?"+api.Encode())
}

// exportData downloads a user's or a manager's data (admins; the API
// refuses anyone else and audits the download) as the API's JSON
// attachment; base is "/users/" or "/managers/".
func (c *Console) exportData(base string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		return c.download(w, r, s.token, base+url.PathEscape(r.PathValue("id"))+"/data-export")
	}
}

// setBadge sets or replaces the user's badge from the badge form; the
// value is never shown back, not even in a refused form.
func (c *Console) setBadge(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	id := r.PathValue("id")
	var out admin.BadgeActionResponse
	err := c.do(r.Context(), r, s.token, "PUT", "/users/"+url.PathEscape(id)+"/badge", admin.SetBadgeRequest{Badge: r.PostForm.Get("badge")}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound {
		return c.renderUser(w, r, s, ae.Status, view{Error: "The badge was not changed. " + problemMessage(ae), Fields: ae.fieldErrors()})
	}
	if err != nil {
		return err
	}
	text := "Badge set."
	if out.Replaced {
		text = "Badge replaced: the sessions the old badge opened are ending."
	}
	c.redirect(w, r, "/users/"+url.PathEscape(id), flash{Kind: "ok", Text: text, Commands: out.CommandIDs})
	return nil
}
