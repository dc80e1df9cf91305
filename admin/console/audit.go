package console

import (
	"net/http"
	"net/url"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
)

// auditData is the audit log page.
type auditData struct {
	Events admin.Page[devices.Event]
	listLinks
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
	for _, k := range timeFilters(q, api, "from", "to") {
		bad[k] = k + " must be a date and time, e.g. 2025-01-31T08:00"
	}
	return api, bad
}

// auditPage is the audit log page.
var auditPage = listPage{name: "audit", title: "Audit log", path: "/audit", filters: auditFilters,
	keys: []string{"actor", "subject", "type", "warehouse", "from", "to"}}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, s *session) error {
	d := &auditData{}
	return c.serveList(w, r, s, auditPage, d, &d.listLinks, func(_, _, list url.Values) (string, error) {
		err := c.do(r.Context(), r, s.token, "GET", "/audit?"+list.Encode(), nil, &d.Events)
		return d.Events.NextPageToken, err
	})
}

func (c *Console) exportAudit(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.exportList(w, r, s, auditPage)
}
