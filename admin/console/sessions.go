package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/floorgate/floorgate/admin"
)

// sessionsData is the live sessions of one warehouse.
type sessionsData struct {
	Warehouse   string
	Sessions    admin.Page[admin.SessionView]
	Next, First string
}

func (c *Console) sessions(w http.ResponseWriter, r *http.Request, s *session) error {
	whs, err := c.loadWarehouses(r.Context(), r, s)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := &sessionsData{Warehouse: q.Get("warehouse")}
	if d.Warehouse == "" && len(whs) > 0 {
		d.Warehouse = whs[0].ID
	}
	if d.Warehouse == "" {
		return c.render(w, r, http.StatusOK, "sessions", view{Title: "Sessions", Nav: "sessions", S: s, Data: d})
	}
	api := url.Values{"warehouse_id": {d.Warehouse}, "page_size": {strconv.Itoa(listPageSize)}}
	if p := q.Get("page"); p != "" {
		api.Set("page_token", p)
	}
	err = c.do(r.Context(), r, s.token, "GET", "/sessions?"+api.Encode(), nil, &d.Sessions)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		return c.render(w, r, ae.Status, "sessions", view{Title: "Sessions", Nav: "sessions", S: s, Data: d, Error: problemMessage(ae)})
	}
	if err != nil {
		return err
	}
	d.First = "/sessions?warehouse=" + url.QueryEscape(d.Warehouse)
	if d.Sessions.NextPageToken != "" {
		d.Next = d.First + "&page=" + url.QueryEscape(d.Sessions.NextPageToken)
	}
	return c.render(w, r, http.StatusOK, "sessions", view{Title: "Sessions", Nav: "sessions", S: s, Data: d})
}

func (c *Console) endSession(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	back := localPath(r.PostForm.Get("back"))
	var out admin.CommandIDsResponse
	err := c.do(r.Context(), r, s.token, "DELETE", "/sessions/"+url.PathEscape(r.PathValue("id")), nil, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		c.redirect(w, r, back, flash{Kind: "error", Text: "That session has ended already."})
		return nil
	}
	if err != nil {
		return err
	}
	c.redirect(w, r, back, flash{Kind: "ok", Text: "The session is ending.", Commands: out.CommandIDs})
	return nil
}
