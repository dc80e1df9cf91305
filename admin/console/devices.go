package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// devicesData is the devices list.
type devicesData struct {
	Devices                 admin.Page[admin.DeviceView]
	Warehouse, Stat, Online string
	Next, First             string
}

func (c *Console) devices(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := &devicesData{Warehouse: q.Get("warehouse"), Stat: q.Get("status"), Online: q.Get("online")}
	own := url.Values{}
	api := url.Values{"page_size": {strconv.Itoa(listPageSize)}}
	for _, kv := range [][3]string{{"warehouse", "warehouse_id", d.Warehouse}, {"status", "status", d.Stat}, {"online", "online", d.Online}} {
		if kv[2] != "" {
			own.Set(kv[0], kv[2])
			api.Set(kv[1], kv[2])
		}
	}
	if p := q.Get("page"); p != "" {
		api.Set("page_token", p)
	}
	err := c.do(r.Context(), r, s.token, "GET", "/devices?"+api.Encode(), nil, &d.Devices)
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusForbidden) {
		return c.render(w, r, ae.Status, "devices", view{Title: "Devices", Nav: "devices", S: s, Data: d, Error: problemMessage(ae)})
	}
	if err != nil {
		return err
	}
	d.First = "/devices?" + own.Encode()
	if d.Devices.NextPageToken != "" {
		next := url.Values{"page": {d.Devices.NextPageToken}}
		for k, v := range own {
			next[k] = v
		}
		d.Next = "/devices?" + next.Encode()
	}
	return c.render(w, r, http.StatusOK, "devices", view{Title: "Devices", Nav: "devices", S: s, Data: d})
}

// deviceData is a device's page.
type deviceData struct {
	Device admin.DeviceView
	Audit  []devices.Event
}

func (c *Console) device(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderDevice(w, r, s, http.StatusOK, view{})
}

func (c *Console) renderDevice(w http.ResponseWriter, r *http.Request, s *session, status int, v view) error {
	id := r.PathValue("id")
	d := &deviceData{}
	if err := c.do(r.Context(), r, s.token, "GET", "/devices/"+url.PathEscape(id), nil, &d.Device); err != nil {
		return err
	}
	var ev admin.Page[devices.Event]
	if err := c.do(r.Context(), r, s.token, "GET", "/audit?page_size=20&subject="+url.QueryEscape("device:"+id), nil, &ev); err == nil {
		d.Audit = ev.Items
	}
	if v.Form == nil {
		v.Form = url.Values{"label": {d.Device.Label}}
	}
	v.Title, v.Nav, v.S, v.Data = "Device "+d.Device.Label, "devices", s, d
	return c.render(w, r, status, "device", v)
}

func (c *Console) editDevice(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	label := r.PostForm.Get("label")
	var out admin.DeviceView
	err := c.do(r.Context(), r, s.token, "PATCH", "/devices/"+url.PathEscape(r.PathValue("id")), map[string]any{"label": label}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusNotFound {
		return c.renderDevice(w, r, s, ae.Status, view{Error: problemMessage(ae), Fields: ae.fieldErrors(), Form: r.PostForm})
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/devices/"+url.PathEscape(out.ID), flash{Kind: "ok", Text: "Label saved."})
	return nil
}

var deviceActionText = map[string]string{
	"logout": "The device's session is ending.",
	"revoke": "Revoked: its sessions end and it must be enrolled again.",
	"unlock": "Unlocked: the device may take PINs again.",
}

// deviceAction serves the device buttons (also the board's row
// actions): back to the page named by the form's "back", or the device.
func (c *Console) deviceAction(action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		if err := r.ParseForm(); err != nil {
			return badForm(err)
		}
		id := r.PathValue("id")
		back := "/devices/" + url.PathEscape(id)
		if b := r.PostForm.Get("back"); b != "" {
			back = localPath(b)
		}
		var out struct {
			CommandIDs []string `json:"command_ids"`
		}
		err := c.do(r.Context(), r, s.token, "POST", "/devices/"+url.PathEscape(id)+"/"+action, nil, &out)
		var ae *apiError
		if errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusForbidden || ae.Status == http.StatusBadRequest) {
			c.redirect(w, r, back, flash{Kind: "error", Text: problemMessage(ae)})
			return nil
		}
		if err != nil {
			return err
		}
		c.redirect(w, r, back, flash{Kind: "ok", Text: deviceActionText[action], Commands: out.CommandIDs})
		return nil
	}
}
