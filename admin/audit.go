package admin

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// eventFilter reads the audit filters: actor, subject, type (an action,
// or a prefix ending in "."), warehouse_id, from, to, and the page. A
// manager who is not an admin sees the events of the warehouses their
// roles cover.
func (a *API) eventFilter(r *http.Request) (devices.EventFilter, bool, error) {
	q := r.URL.Query()
	after, size, err := pageQuery(r)
	if err != nil {
		return devices.EventFilter{}, false, err
	}
	f := devices.EventFilter{Actor: q.Get("actor"), Subject: q.Get("subject"), Action: q.Get("type"), Page: devices.Page{After: after, Limit: size}}
	if f.From, err = queryTime(r, "from"); err != nil {
		return f, false, err
	}
	if f.To, err = queryTime(r, "to"); err != nil {
		return f, false, err
	}
	var empty bool
	f.WarehouseIDs, empty, err = a.readScope(r, q.Get("warehouse_id"))
	return f, empty, err
}

// readScope is the warehouses a read filtered by warehouse_id wh may
// see: wh when the caller's roles cover it (either role), else all the
// caller's (nil for an admin: every warehouse). empty says the caller
// sees none.
func (a *API) readScope(r *http.Request, wh string) (ids []string, empty bool, err error) {
	p := principalFrom(r.Context())
	switch {
	case wh != "":
		if err := a.authorize(r, capSessions, wh, devices.WarehouseSubject(wh)); err != nil {
			return nil, false, err
		}
		return []string{wh}, false, nil
	case !p.admin:
		ids = p.visibleIDs()
		return ids, len(ids) == 0, nil
	}
	return nil, false, nil
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, empty, err := a.eventFilter(r)
	if err != nil {
		return err
	}
	if empty {
		return writeJSON(w, http.StatusOK, Page[devices.Event]{Items: []devices.Event{}})
	}
	evs, err := a.reg.Events(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list audit: %w", err)
	}
	last := ""
	if len(evs) > 0 {
		last = evs[len(evs)-1].ID
	}
	if evs == nil {
		evs = []devices.Event{}
	}
	return writeJSON(w, http.StatusOK, Page[devices.Event]{Items: evs, NextPageToken: nextToken(len(evs), f.Limit, last)})
}

// auditCSVHeader is the header of the audit export.
var auditCSVHeader = []string{"id", "at", "actor", "type", "subject", "warehouse_id", "device_id", "details"}

// maxExportPages bounds one export: 10,000 pages of 500 rows.
const maxExportPages = 10000

// exportAudit streams the filtered audit log as CSV, newest first, one
// flush per page read. page_token and page_size are ignored.
func (a *API) exportAudit(w http.ResponseWriter, r *http.Request) error {
	f, empty, err := a.eventFilter(r)
	if err != nil {
		return err
	}
	f.After, f.Limit = "", maxPageSize
	ctx := r.Context()
	var first []devices.Event
	if !empty {
		// Read the first page before the status line, so that an
		// outage still answers 503.
		if first, err = a.reg.Events(ctx, f); err != nil {
			return fmt.Errorf("export audit: %w", err)
		}
	}
	cw := startCSV(w, "audit-"+a.now().UTC().Format("20060102T150405Z")+".csv")
	_ = cw.Write(auditCSVHeader)
	evs := first
	for page := 0; page < maxExportPages; page++ {
		for _, e := range evs {
			details := ""
			if len(e.Details) > 0 {
				b, _ := json.Marshal(e.Details)
				details = string(b)
			}
			_ = cw.Write([]string{e.ID, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.WarehouseID, e.DeviceID, details})
		}
		cw.Flush()
		flush(w)
		if len(evs) < f.Limit {
			return nil
		}
		f.After = evs[len(evs)-1].ID
		if evs, err = a.reg.Events(ctx, f); err != nil {
			// The status line is sent: cut the stream short so the
			// client sees an incomplete file, and log it here.
			a.log.ErrorContext(ctx, "audit export cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	return nil
}

// startCSV sends the headers of a CSV download and returns its writer,
// which neutralises every cell (csvsafe.go): no export can forget to.
func startCSV(w http.ResponseWriter, filename string) safeCSV {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	return safeCSV{csv.NewWriter(w)}
}

func flush(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}
