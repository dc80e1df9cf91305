package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// auditData is the audit log page.
type auditData struct {
	Events      admin.Page[devices.Event]
	Next, First string
	Export      string
}

// auditFilters turns the page's filters into the API's: the times are
// typed as local date-times in UTC (a datetime-local field) or RFC 3339.
func auditFilters(q url.Values) (url.Values, map[string]string) {
	api := url.Values{}
	bad := map[string]string{}
	for _, k := range []string{"actor", "subject", "type"} {
		if v := q.Get(k); v != "" {
			api.Set(k, v)
		}
	}
	if v := q.Get("warehouse"); v != "" {
		api.Set("warehouse_id", v)
	}
	for _, k := range []string{"from", "to"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, err := parseWhen(v)
		if err != nil {
			bad[k] = k + " must be a date and time, e.g. 2025-01-31T08:00"
			continue
		}
		api.Set(k, t.UTC().Format(time.RFC3339))
	}
	return api, bad
}

func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	api, bad := auditFilters(q)
	d := &auditData{}
	v := view{Title: "Audit log", Nav: "audit", S: s, Data: d, Form: q}
	if len(bad) > 0 {
		v.Error, v.Fields = "Check the filters: nothing was searched.", bad
		return c.render(w, r, http.StatusBadRequest, "audit", v)
	}
	own := url.Values{}
	for _, k := range []string{"actor", "subject", "type", "warehouse", "from", "to"} {
		if x := q.Get(k); x != "" {
			own.Set(k, x)
		}
	}
	list := url.Values{"page_size": {strconv.Itoa(listPageSize)}}
	for k, x := range api {
		list[k] = x
	}
	if p := q.Get("page"); p != "" {
		list.Set("page_token", p)
	}
	err := c.do(r.Context(), r, s.token, "GET", "/audit?"+list.Encode(), nil, &d.Events)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		v.Error, v.Fields = problemMessage(ae), ae.fieldErrors()
		return c.render(w, r, ae.Status, "audit", v)
	}
	if err != nil {
		return err
	}
	d.First = "/audit?" + own.Encode()
	d.Export = "/audit/export?" + own.Encode()
	if d.Events.NextPageToken != "" {
		next := url.Values{"page": {d.Events.NextPageToken}}
		for k, x := range own {
			next[k] = x
		}
		d.Next = "/audit?" + next.Encode()
	}
	return c.render(w, r, http.StatusOK, "audit", v)
}

func (c *Console) exportAudit(w http.ResponseWriter, r *http.Request, s *session) error {
	api, bad := auditFilters(r.URL.Query())
	if len(bad) > 0 {
		return &formError{msg: "Check the filters: a time is not a date and time. Nothing was exported."}
	}
	return c.download(w, r, s.token, "/audit/export?"+api.Encode())
}
