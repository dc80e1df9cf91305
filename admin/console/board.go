package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
)

// boardData is what the board shows for one warehouse.
type boardData struct {
	Warehouse  devices.Warehouse
	Summary    admin.WarehouseSummary
	Holders    admin.Page[admin.Holder]
	Page       string // page_token of this page of holders
	Hours      int
	CanDevices bool   // revoke and unlock (mobile_manager or admin)
	CanUsers   bool   // the user's page (user_manager or admin)
	Live       string // the events URL of this board
	Self       string // this board's URL, to come back to after an action
}

// boardQuery reads warehouse, page and hours; hours is checked by the
// API.
func boardQuery(r *http.Request) (wh, page string, hours int) {
	q := r.URL.Query()
	hours = 24
	if h, err := strconv.Atoi(q.Get("hours")); err == nil && h > 0 && h <= 8760 {
		hours = h
	}
	return q.Get("warehouse"), q.Get("page"), hours
}

func (c *Console) board(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	whs, err := c.loadWarehouses(ctx, r, s)
	if err != nil {
		return err
	}
	id, page, hours := boardQuery(r)
	if len(whs) == 0 {
		return c.render(w, r, http.StatusOK, "board", view{Title: "Board", Nav: "board", S: s, Data: (*boardData)(nil)})
	}
	var wh *devices.Warehouse
	for i := range whs {
		if whs[i].ID == id || (id == "" && i == 0) {
			wh = &whs[i]
			break
		}
	}
	if wh == nil {
		return &apiError{Status: http.StatusNotFound, Problem: admin.Problem{Problem: problem.Problem{Code: "not_found"}}}
	}
	d := &boardData{Warehouse: *wh, Page: page, Hours: hours}
	d.CanUsers, d.CanDevices = s.roles(wh.ID)
	q := url.Values{"warehouse": {wh.ID}, "hours": {strconv.Itoa(hours)}}
	if page != "" {
		q.Set("page", page)
	}
	d.Self = "/board?" + q.Encode()
	d.Live = "/board/events?" + q.Encode()
	if err := c.loadBoard(ctx, r, s, d); err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "board", view{Title: "Board · " + wh.Name, Nav: "board", S: s, Data: d})
}

// loadBoard reads the summary and a page of holders at once.
func (c *Console) loadBoard(ctx context.Context, r *http.Request, s *session, d *boardData) error {
	var wg sync.WaitGroup
	var sumErr, holdErr error
	base := "/warehouses/" + url.PathEscape(d.Warehouse.ID)
	d.Summary, d.Holders = admin.WarehouseSummary{}, admin.Page[admin.Holder]{}
	wg.Go(func() {
		sumErr = c.do(ctx, r, s.token, "GET", base+"/summary?not_seen_hours="+strconv.Itoa(d.Hours), nil, &d.Summary)
	})
	wg.Go(func() {
		holdErr = c.do(ctx, r, s.token, "GET", base+"/holders?page_token="+url.QueryEscape(d.Page), nil, &d.Holders)
	})
	wg.Wait()
	if sumErr != nil {
		return sumErr
	}
	return holdErr
}

// boardEvents streams the board's tiles and holders table.
func (c *Console) boardEvents(w http.ResponseWriter, r *http.Request, s *session) error {
	id, page, hours := boardQuery(r)
	if id == "" {
		return &formError{msg: "Which warehouse? The board's events need ?warehouse=."}
	}
	d := &boardData{Warehouse: devices.Warehouse{ID: id}, Page: page, Hours: hours}
	d.CanUsers, d.CanDevices = s.roles(id)
	q := url.Values{"warehouse": {id}, "hours": {strconv.Itoa(hours)}}
	if page != "" {
		q.Set("page", page)
	}
	d.Self = "/board?" + q.Encode()
	// The first read answers 404 outside the manager's scope before the
	// stream starts.
	if err := c.loadBoard(r.Context(), r, s, d); err != nil {
		return err
	}
	if _, err := c.loadWarehouses(r.Context(), r, s); err != nil {
		return err
	}
	return c.live(w, r, liveSource{
		relevant: func(e sessions.Event) bool {
			switch e.Kind {
			case sessions.KindActivity:
				return e.WarehouseID == id
			case sessions.KindEnded:
				return e.Command != nil && e.Command.WarehouseID == id
			case sessions.KindDeviceRevoked:
				return true
			}
			return false
		},
		render: func(ctx context.Context) (map[string]string, error) {
			if err := c.loadBoard(ctx, r, s, d); err != nil {
				return nil, err
			}
			v := view{S: s, Data: d}
			out := map[string]string{}
			for _, part := range []string{"tiles", "holders"} {
				html, err := c.fragment("board", part, v)
				if err != nil {
					return nil, err
				}
				out[part] = html
			}
			return out, nil
		},
	})
}

// warehouseLogoutConfirm asks before every session of a warehouse ends.
func (c *Console) warehouseLogoutConfirm(w http.ResponseWriter, r *http.Request, s *session) error {
	var wh admin.WarehouseView
	if err := c.do(r.Context(), r, s.token, "GET", "/warehouses/"+url.PathEscape(r.PathValue("id")), nil, &wh); err != nil {
		return err
	}
	var sum admin.WarehouseSummary
	_ = c.do(r.Context(), r, s.token, "GET", "/warehouses/"+url.PathEscape(wh.ID)+"/summary", nil, &sum)
	return c.render(w, r, http.StatusOK, "confirm_logout", view{Title: "Log out everyone", Nav: "board", S: s,
		Data: struct {
			Warehouse admin.WarehouseView
			Sessions  int
		}{wh, sum.Sessions}})
}

func (c *Console) warehouseLogout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	id := r.PathValue("id")
	if r.PostForm.Get("confirm") != "yes" {
		c.redirect(w, r, "/warehouses/"+url.PathEscape(id)+"/logout", flash{Kind: "error", Text: "Tick the box to confirm: every session in the warehouse will end. Nothing was changed."})
		return nil
	}
	var out admin.CommandIDsResponse
	if err := c.do(r.Context(), r, s.token, "POST", "/warehouses/"+url.PathEscape(id)+"/logout", nil, &out); err != nil {
		return err
	}
	target := "/board?warehouse=" + url.QueryEscape(id)
	if len(out.CommandIDs) > maxFlashCommands {
		target = "/commands?warehouse=" + url.QueryEscape(id)
	}
	c.redirect(w, r, target, flash{Kind: "ok", Text: "Every session in the warehouse is ending: " + strconv.Itoa(len(out.CommandIDs)) + " logout commands sent.", Commands: out.CommandIDs})
	return nil
}
