package console

import (
	"net/http"
	"net/url"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// custodyData is the custody page: the records, their pages and export,
// and, for one warehouse, the report (signed in past a time, not seen).
type custodyData struct {
	Records admin.Page[devices.Custody]
	listLinks
	Report *admin.CustodyReport
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
	for _, k := range timeFilters(q, api, "from", "to", "open_at") {
		bad[k] = "must be a date and time, e.g. 2025-01-31T08:00"
	}
	return api, bad
}

// custodyPage is the device custody page.
var custodyPage = listPage{name: "custody", title: "Device custody", path: "/custody", filters: custodyFilters,
	keys: []string{"device", "user", "method", "warehouse", "from", "to", "open_at", "not_seen_hours"}}

func (c *Console) custody(w http.ResponseWriter, r *http.Request, s *session) error {
	d := &custodyData{}
	return c.serveList(w, r, s, custodyPage, d, &d.listLinks, func(q, api, list url.Values) (string, error) {
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
		return d.Records.NextPageToken, err
	})
}

func (c *Console) exportCustody(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.exportList(w, r, s, custodyPage)
}
