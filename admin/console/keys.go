package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// keysData is the service keys page; Created is the key just made,
// shown this once (never in a cookie or a URL).
type keysData struct {
	Keys    admin.Page[devices.ServiceKey]
	Created *admin.CreatedServiceKey
	Next    string
}

func (c *Console) serviceKeys(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.renderKeys(w, r, s, http.StatusOK, view{}, nil)
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, s *session, status int, v view, created *admin.CreatedServiceKey) error {
	d := &keysData{Created: created}
	path := "/service-keys?page_size=100"
	if p := r.URL.Query().Get("page"); p != "" {
		path += "&page_token=" + url.QueryEscape(p)
	}
	if err := c.do(r.Context(), r, s.token, "GET", path, nil, &d.Keys); err != nil {
		return err
	}
	if d.Keys.NextPageToken != "" {
		d.Next = "/service-keys?page=" + url.QueryEscape(d.Keys.NextPageToken)
	}
	v.Title, v.Nav, v.S, v.Data = "Service keys", "keys", s, d
	return c.render(w, r, status, "keys", v)
}

func (c *Console) createServiceKey(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	var out admin.CreatedServiceKey
	err := c.do(r.Context(), r, s.token, "POST", "/service-keys",
		admin.CreateServiceKeyRequest{Name: r.PostForm.Get("name"), Scope: devices.Scope(r.PostForm.Get("scope"))}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusUnauthorized {
		return c.renderKeys(w, r, s, ae.Status, view{Error: problemMessage(ae), Fields: ae.fieldErrors(), Form: r.PostForm}, nil)
	}
	if err != nil {
		return err
	}
	return c.renderKeys(w, r, s, http.StatusCreated, view{}, &out)
}

func (c *Console) revokeServiceKey(w http.ResponseWriter, r *http.Request, s *session) error {
	err := c.do(r.Context(), r, s.token, "DELETE", "/service-keys/"+url.PathEscape(r.PathValue("id")), nil, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		c.redirect(w, r, "/service-keys", flash{Kind: "error", Text: problemMessage(ae)})
		return nil
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, "/service-keys", flash{Kind: "ok", Text: "Key revoked: backends using it are refused from now on."})
	return nil
}
