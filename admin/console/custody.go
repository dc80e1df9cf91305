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

// custodyData is the custody page: the records, their pages and export,
// and, for one warehouse, the report (signed in past a time, not seen).
type custodyData struct {
	Records     admin.Page[devices.Custody]
	Next, First string
	Export      string
	Report      *admin.CustodyReport
}

// custodyFilters turns the page's filters into the API's (times typed as
// UTC date-times, as on the audit page).
func custodyFilters(q url.Values) (url.Values, map[string]string) {
	api := url.Values{}
	bad := map[string]string{}
	for k, apiK := range map[string]string{"device": "device_id", "user": "user_id", "method": "method", "warehouse": "warehouse_id"} {
		if v := q.Get(k); v != "" {
			api.Set(apiK, v)
		}
	}
	for _, k := range []string{"from", "to", "open_at"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, err := parseWhen(v)
		if err != nil {
			bad[k] = "must be a date and time, e.g. 2025-01-31T08:00"
			continue
		}
		api.Set(k, t.UTC().Format(time.RFC3339))
	}
	return api, bad
}

func (c *Console) custody(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	api, bad := custodyFilters(q)
	d := &custodyData{}
	v := view{Title: "Device custody", Nav: "custody", S: s, Data: d, Form: q}
	if len(bad) > 0 {
		v.Error, v.Fields = "Check the filters: nothing was searched.", bad
		return c.render(w, r, http.StatusBadRequest, "custody", v)
	}
	own := url.Values{}
	for _, k := range []string{"device", "user", "method", "warehouse", "from", "to", "open_at", "not_seen_hours"} {
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
	err := c.do(r.Context(), r, s.token, "GET", "/custody?"+list.Encode(), nil, &d.Records)
	if wh := q.Get("warehouse"); err == nil && wh != "" {
		rq := url.Values{"warehouse_id": {wh}}
		if x := api.Get("open_at"); x != "" {
			rq.Set("at", x)
		}
		if x := q.Get("not_seen_hours"); x != "" {
			rq.Set("not_seen_hours", x)
		}
		d.Report = &admin.CustodyReport{}
		err = c.do(r.Context(), r, s.token, "GET", "/custody/report?"+rq.Encode(), nil, d.Report)
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		v.Error, v.Fields = problemMessage(ae), ae.fieldErrors()
		return c.render(w, r, ae.Status, "custody", v)
	}
	if err != nil {
		return err
	}
	d.First = "/custody?" + own.Encode()
	d.Export = "/custody/export?" + own.Encode()
	if d.Records.NextPageToken != "" {
		next := url.Values{"page": {d.Records.NextPageToken}}
		for k, x := range own {
			next[k] = x
		}
		d.Next = "/custody?" + next.Encode()
	}
	return c.render(w, r, http.StatusOK, "custody", v)
}

func (c *Console) exportCustody(w http.ResponseWriter, r *http.Request, s *session) error {
	api, bad := custodyFilters(r.URL.Query())
	if len(bad) > 0 {
		return &formError{msg: "Check the filters: a time is not a date and time. Nothing was exported."}
	}
	return c.download(w, r, s.token, "/custody/export?"+api.Encode())
}
