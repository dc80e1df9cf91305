package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// Device custody: who had which device from when to when, and how each
// session ended (docs/ADMIN.md). A manager sees the records of the
// warehouses their roles cover.

var custodyFilterParams = []param{
	{Name: "warehouse_id", Type: "string"},
	{Name: "device_id", Type: "string"},
	{Name: "user_id", Type: "string"},
	{Name: "method", Type: "string", Enum: []string{devices.MethodPIN, devices.MethodBadge}, Description: "how the session was signed in"},
	{Name: "from", Type: "string", Format: "date-time", Description: "sessions not ended by this time (RFC 3339)"},
	{Name: "to", Type: "string", Format: "date-time", Description: "sessions begun before this time (RFC 3339)"},
	{Name: "open_at", Type: "string", Format: "date-time", Description: "sessions open at this time: still signed in past it"},
}

// custodyFilter reads the custody filters and the page; empty says the
// caller sees no warehouse (the answer is an empty list).
func (a *API) custodyFilter(r *http.Request) (f devices.CustodyFilter, empty bool, err error) {
	q := r.URL.Query()
	after, size, err := pageQuery(r)
	if err != nil {
		return f, false, err
	}
	f = devices.CustodyFilter{DeviceID: q.Get("device_id"), UserID: q.Get("user_id"), Method: q.Get("method"), Limit: size}
	if after != "" {
		c, err := devices.ParseCustodyCursor(after)
		if err != nil {
			return f, false, invalid("page_token", "malformed", "page_token is not one this API issued")
		}
		f.After = &c
	}
	switch f.Method {
	case "", devices.MethodPIN, devices.MethodBadge:
	default:
		return f, false, invalid("method", "enum", "method must be pin or badge")
	}
	if f.From, err = queryTime(r, "from"); err != nil {
		return f, false, err
	}
	if f.To, err = queryTime(r, "to"); err != nil {
		return f, false, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, false, invalid("to", "out_of_range", "to must be after from")
	}
	openAt, err := queryTime(r, "open_at")
	if err != nil {
		return f, false, err
	}
	if !openAt.IsZero() {
		f.OpenAt = &openAt
	}
	f.WarehouseIDs, empty, err = a.readScope(r, q.Get("warehouse_id"))
	return f, empty, err
}

// custodyNext is the page token after a page of custody records.
func custodyNext(cs []devices.Custody, size int) string {
	if len(cs) == 0 {
		return ""
	}
	return nextToken(len(cs), size, devices.CustodyCursorOf(cs[len(cs)-1]).String())
}

func (a *API) listCustody(w http.ResponseWriter, r *http.Request) error {
	f, empty, err := a.custodyFilter(r)
	if err != nil {
		return err
	}
	if empty {
		return writeJSON(w, http.StatusOK, Page[devices.Custody]{Items: []devices.Custody{}})
	}
	cs, err := a.reg.Custody(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list custody: %w", err)
	}
	return writeJSON(w, http.StatusOK, Page[devices.Custody]{Items: cs, NextPageToken: custodyNext(cs, f.Limit)})
}

// custodyCSVHeader is the header of the custody export.
var custodyCSVHeader = []string{"session_id", "device_id", "user_id", "warehouse_id", "method", "started_at", "ended_at", "end_reason", "ended_by"}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// exportCustody streams the filtered records as CSV, newest first, one
// flush per page read. page_token and page_size are ignored.
func (a *API) exportCustody(w http.ResponseWriter, r *http.Request) error {
	f, empty, err := a.custodyFilter(r)
	if err != nil {
		return err
	}
	f.After, f.Limit = nil, maxPageSize
	ctx := r.Context()
	var cs []devices.Custody
	if !empty {
		// The first page is read before the status line, so that an
		// outage still answers 503.
		if cs, err = a.reg.Custody(ctx, f); err != nil {
			return fmt.Errorf("export custody: %w", err)
		}
	}
	cw := startCSV(w, "custody-"+a.now().UTC().Format("20060102T150405Z")+".csv")
	_ = cw.Write(custodyCSVHeader)
	for page := 0; page < maxExportPages; page++ {
		for _, c := range cs {
			_ = cw.Write([]string{c.SessionID, c.DeviceID, c.UserID, c.WarehouseID, c.Method, rfc3339(&c.StartedAt), rfc3339(c.EndedAt), c.EndReason, c.EndedBy})
		}
		cw.Flush()
		flush(w)
		if len(cs) < f.Limit {
			return nil
		}
		cur := devices.CustodyCursorOf(cs[len(cs)-1])
		f.After = &cur
		if cs, err = a.reg.Custody(ctx, f); err != nil {
			a.log.ErrorContext(ctx, "custody export cut short", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	return nil
}

// CustodyReport is a warehouse's custody at a time: the sessions still
// open then (who was signed in on which device past that time), and the
// devices not seen for a number of hours. Each list holds at most 500;
// its *_more flag says there are more (page on with GET /custody?open_at
// and GET /devices?not_seen_since).
type CustodyReport struct {
	WarehouseID  string            `json:"warehouse_id"`
	At           time.Time         `json:"at"`
	SignedIn     []devices.Custody `json:"signed_in"`
	SignedInMore bool              `json:"signed_in_more"`
	NotSeenHours int               `json:"not_seen_hours"`
	NotSeenSince time.Time         `json:"not_seen_since"`
	NotSeen      []devices.Device  `json:"not_seen"`
	NotSeenMore  bool              `json:"not_seen_more"`
}

// maxNotSeenHours bounds not_seen_hours: a year.
const maxNotSeenHours = 8760

func (a *API) custodyReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	wh := q.Get("warehouse_id")
	if wh == "" {
		return invalid("warehouse_id", "required", "warehouse_id is required")
	}
	at, err := queryTime(r, "at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = a.now().UTC()
	}
	hours := 24
	if s := q.Get("not_seen_hours"); s != "" {
		n, convErr := strconv.Atoi(s)
		if convErr != nil || n < 1 || n > maxNotSeenHours {
			return invalid("not_seen_hours", "out_of_range", "not_seen_hours must be a whole number from 1 to 8760")
		}
		hours = n
	}
	if err := a.authorize(r, capSessions, wh, devices.WarehouseSubject(wh)); err != nil {
		return err
	}
	ctx := r.Context()
	rep := CustodyReport{WarehouseID: wh, At: at, NotSeenHours: hours, NotSeenSince: a.now().UTC().Add(-time.Duration(hours) * time.Hour)}
	cs, err := a.reg.Custody(ctx, devices.CustodyFilter{WarehouseIDs: []string{wh}, OpenAt: &at, Limit: maxPageSize})
	if err != nil {
		return fmt.Errorf("custody report: %w", err)
	}
	rep.SignedIn, rep.SignedInMore = cs, len(cs) == maxPageSize
	ds, err := a.reg.Devices(ctx, devices.DeviceFilter{WarehouseIDs: []string{wh}, NotSeenSince: &rep.NotSeenSince, Page: devices.Page{Limit: maxPageSize}})
	if err != nil {
		return fmt.Errorf("custody report: %w", err)
	}
	if ds == nil {
		ds = []devices.Device{}
	}
	rep.NotSeen, rep.NotSeenMore = ds, len(ds) == maxPageSize
	return writeJSON(w, http.StatusOK, rep)
}
