package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// settingField is one field of the settings forms (the organisation's
// defaults and a warehouse's overrides).
type settingField struct {
	Name, Label, Help string
	Number            bool
	Throttle          bool     // inside the throttle object
	Options           []string // a choice
}

var settingFields = []settingField{
	{Name: "session_cap", Label: "Sessions per user", Help: "1 to 100", Number: true},
	{Name: "cap_policy", Label: "At the cap", Options: []string{"evict_oldest", "deny_new"}},
	{Name: "idle_timeout_s", Label: "Idle timeout (seconds)", Number: true},
	{Name: "absolute_timeout_s", Label: "Absolute timeout (seconds)", Number: true},
	{Name: "pin_min_length", Label: "PIN minimum length", Help: "4 to 12", Number: true},
	{Name: "min_app_version", Label: "Minimum app version", Help: "e.g. 4.2.0; empty for none"},
	{Name: "pair_free_failures", Label: "Free failures per user and device", Number: true, Throttle: true},
	{Name: "pair_max_delay_s", Label: "Longest delay (seconds)", Number: true, Throttle: true},
	{Name: "user_failures", Label: "Failures per user in the window", Number: true, Throttle: true},
	{Name: "user_window_s", Label: "User window (seconds)", Number: true, Throttle: true},
	{Name: "user_lock_s", Label: "User lock (seconds)", Number: true, Throttle: true},
	{Name: "user_hard_failures", Label: "Consecutive failures that lock until unlocked", Number: true, Throttle: true},
	{Name: "device_failures", Label: "Failures per device in the window (quarantine)", Number: true, Throttle: true},
	{Name: "device_window_s", Label: "Device window (seconds)", Number: true, Throttle: true},
	{Name: "spray_users", Label: "Usernames failing in a warehouse (spray alarm)", Number: true, Throttle: true},
	{Name: "spray_window_s", Label: "Spray window (seconds)", Number: true, Throttle: true},
}

// settingsBody reads the settings fields of a form: blank fields are
// left out (inherited, or unchanged), but for the organisation (org) a
// blank minimum app version means none. The throttle object is sent when
// any of its fields is filled (its blank fields take the defaults).
// Numbers that are not whole numbers are named in bad.
func settingsBody(f url.Values, org bool) (body map[string]any, bad map[string]string) {
	body, bad = map[string]any{}, map[string]string{}
	throttle := map[string]any{}
	for _, sf := range settingFields {
		v := strings.TrimSpace(f.Get(sf.Name))
		if v == "" && !(org && sf.Name == "min_app_version") {
			continue
		}
		var val any = v
		if sf.Number {
			n, err := strconv.Atoi(v)
			if err != nil {
				bad[sf.Name] = sf.Label + " must be a whole number"
				continue
			}
			val = n
		}
		if sf.Throttle {
			throttle[sf.Name] = val
		} else {
			body[sf.Name] = val
		}
	}
	if len(throttle) > 0 {
		body["throttle"] = throttle
	}
	return body, bad
}

// settingsForm fills a form from settings (or overrides, as JSON).
func settingsForm(v any) url.Values {
	f := url.Values{}
	var m map[string]any
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &m)
	for _, sf := range settingFields {
		src := m
		if sf.Throttle {
			src, _ = m["throttle"].(map[string]any)
		}
		if x, ok := src[sf.Name]; ok && x != nil {
			switch n := x.(type) {
			case float64:
				f.Set(sf.Name, strconv.FormatInt(int64(n), 10))
			case string:
				f.Set(sf.Name, n)
			}
		}
	}
	return f
}

// settingsData is the organisation settings page.
type settingsData struct {
	Fields   []settingField
	Settings devices.Settings
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderSettings(w, r, s, http.StatusOK, view{})
}

func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	d := &settingsData{Fields: settingFields}
	if err := c.do(r.Context(), r, s.token, "GET", "/settings", nil, &d.Settings); err != nil {
		return err
	}
	if v.Form == nil {
		v.Form = settingsForm(d.Settings)
	}
	v.Title, v.Nav, v.S, v.Data = "Settings", "settings", s, d
	return c.render(w, r, status, "settings", v)
}

func (c *Console) editSettings(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	body, bad := settingsBody(r.PostForm, true)
	if len(bad) > 0 {
		return c.renderSettings(w, r, s, http.StatusBadRequest, view{Error: "Check the fields marked below. Nothing was changed.", Fields: bad, Form: r.PostForm})
	}
	err := c.do(r.Context(), r, s.token, "PATCH", "/settings", body, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		return c.renderSettings(w, r, s, ae.Status, view{Error: problemMessage(ae) + " Nothing was changed.", Fields: settingsFieldErrors(ae), Form: r.PostForm})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/settings", flash{Kind: "ok", Text: "Settings saved: in force from the next sign-in."})
	return nil
}

// settingsFieldErrors names the form's fields from the API's
// ("settings.throttle.user_lock_s" is the form's "user_lock_s").
func settingsFieldErrors(ae *apiError) map[string]string {
	m := map[string]string{}
	for _, f := range ae.Errors {
		name := f.Field
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		if _, ok := m[name]; !ok {
			m[name] = f.Message
		}
	}
	return m
}

// warehousesData is the warehouses page.
type warehousesData struct {
	Warehouses admin.Page[devices.Warehouse]
	Next       string
}

func (c *Console) warehouses(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderWarehouses(w, r, s, http.StatusOK, view{})
}

func (c *Console) renderWarehouses(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	d := &warehousesData{}
	path := "/warehouses?page_size=" + strconv.Itoa(listPageSize)
	if p := r.URL.Query().Get("page"); p != "" {
		path += "&page_token=" + url.QueryEscape(p)
	}
	if err := c.do(r.Context(), r, s.token, "GET", path, nil, &d.Warehouses); err != nil {
		return err
	}
	if d.Warehouses.NextPageToken != "" {
		d.Next = "/warehouses?page=" + url.QueryEscape(d.Warehouses.NextPageToken)
	}
	v.Title, v.Nav, v.S, v.Data = "Warehouses", "warehouses", s, d
	return c.render(w, r, status, "warehouses", v)
}

func (c *Console) createWarehouse(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	var out admin.WarehouseView
	err := c.do(r.Context(), r, s.token, "POST", "/warehouses", map[string]any{"name": r.PostForm.Get("name"), "code": r.PostForm.Get("code")}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		f := ae.fieldErrors()
		if ae.Code == "conflict" {
			f["code"] = "another warehouse has this code"
		}
		return c.renderWarehouses(w, r, s, ae.Status, view{Error: problemMessage(ae) + " Nothing was created.", Fields: f, Form: r.PostForm})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/warehouses/"+url.PathEscape(out.ID), flash{Kind: "ok", Text: "Warehouse " + out.Name + " created."})
	return nil
}

// warehouseData is a warehouse's page.
type warehouseData struct {
	Warehouse admin.WarehouseView
	Fields    []settingField
	Effective url.Values
}

func (c *Console) warehouse(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderWarehouse(w, r, s, http.StatusOK, view{})
}

func (c *Console) renderWarehouse(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	d := &warehouseData{Fields: settingFields}
	if err := c.do(r.Context(), r, s.token, "GET", "/warehouses/"+url.PathEscape(r.PathValue("id")), nil, &d.Warehouse); err != nil {
		return err
	}
	if d.Warehouse.EffectiveSettings != nil {
		d.Effective = settingsForm(*d.Warehouse.EffectiveSettings)
	}
	if v.Form == nil {
		v.Form = settingsForm(d.Warehouse.Settings)
		v.Form.Set("name", d.Warehouse.Name)
		v.Form.Set("code", d.Warehouse.Code)
	}
	v.Title, v.Nav, v.S, v.Data = "Warehouse "+d.Warehouse.Name, "warehouses", s, d
	return c.render(w, r, status, "warehouse", v)
}

func (c *Console) editWarehouse(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := r.PostForm
	overrides, bad := settingsBody(f, false)
	if len(bad) > 0 {
		return c.renderWarehouse(w, r, s, http.StatusBadRequest, view{Error: "Check the fields marked below. Nothing was changed.", Fields: bad, Form: f})
	}
	body := map[string]any{"name": f.Get("name"), "code": f.Get("code"), "settings": overrides}
	err := c.do(r.Context(), r, s.token, "PATCH", "/warehouses/"+url.PathEscape(r.PathValue("id")), body, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound {
		fields := settingsFieldErrors(ae)
		if ae.Code == "conflict" {
			fields["code"] = "another warehouse has this code"
		}
		return c.renderWarehouse(w, r, s, ae.Status, view{Error: problemMessage(ae) + " Nothing was changed.", Fields: fields, Form: f})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/warehouses/"+url.PathEscape(r.PathValue("id")), flash{Kind: "ok", Text: "Saved: in force from the next sign-in there."})
	return nil
}
