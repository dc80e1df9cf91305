package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// The board routes answer what a warehouse's live board shows: the
// tiles (summary), who holds which device (holders) and the logout
// commands not yet acknowledged (commands). Each needs either role on
// the warehouse, like its sessions.

// WarehouseSummary counts a warehouse's active devices by state.
type WarehouseSummary struct {
	WarehouseID string `json:"warehouse_id"`
	Devices     int    `json:"devices"`     // active (enrolled, not revoked)
	InUse       int    `json:"in_use"`      // a user is signed in on it
	OnlineFree  int    `json:"online_free"` // holds a socket, nobody signed in
	Offline     int    `json:"offline"`     // holds no socket
	// NotSeen counts devices offline and not seen for NotSeenHours or
	// more (never seen included).
	NotSeen      int    `json:"not_seen"`
	NotSeenHours int    `json:"not_seen_hours"`
	Quarantined  int    `json:"quarantined"`
	BelowMin     int    `json:"below_min_version"`
	MinVersion   string `json:"min_app_version"`
	Sessions     int    `json:"sessions"`
	// Unacked counts the logout commands of the warehouse's devices
	// neither acknowledged nor expired.
	Unacked int `json:"unacked_commands"`
	// Partial is true when the warehouse has more than
	// Config.MaxSummaryDevices devices: the counts cover the first ones.
	Partial bool      `json:"partial,omitempty"`
	At      time.Time `json:"at"`
}

// Holder is one row of who holds which device: a live session with its
// device and its user.
type Holder struct {
	Session SessionView     `json:"session"`
	Device  *devices.Device `json:"device"` // nil when the device record is gone
	User    *HolderUser     `json:"user"`   // nil when the user record is gone
	Online  bool            `json:"online"`
}

// HolderUser is the part of a user the board shows to both roles: who
// to look for on the floor.
type HolderUser struct {
	ID         string             `json:"id"`
	Username   string             `json:"username"`
	FirstName  string             `json:"first_name"`
	LastName   string             `json:"last_name"`
	EmployeeID string             `json:"employee_id,omitempty"`
	Status     devices.UserStatus `json:"status"`
}

const (
	// defaultMaxSummaryDevices bounds the devices one summary reads.
	defaultMaxSummaryDevices = 100000
	// defaultNotSeenHours is the summary's "not seen for" default.
	defaultNotSeenHours = 24
	// summaryWorkers bounds the store calls one summary runs at once.
	summaryWorkers = 16
)

func (a *API) warehouseSummary(w http.ResponseWriter, r *http.Request) error {
	hours := defaultNotSeenHours
	if s := r.URL.Query().Get("not_seen_hours"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 24*365 {
			return invalid("not_seen_hours", "out_of_range", "not_seen_hours must be a whole number from 1 to 8760")
		}
		hours = n
	}
	wh, err := a.warehouseFor(r, capSessions)
	if err != nil {
		return err
	}
	ctx := r.Context()
	eff, err := a.reg.EffectiveSettings(ctx, wh.ID)
	if err != nil {
		return fmt.Errorf("summary of warehouse %s: %w", wh.ID, err)
	}
	now := a.now()
	sum := WarehouseSummary{WarehouseID: wh.ID, NotSeenHours: hours, MinVersion: eff.MinAppVersion, At: now.UTC()}
	cutoff := now.Add(-time.Duration(hours) * time.Hour)

	inUse := map[string]bool{}
	sp := sessions.PageRequest{Limit: maxPageSize}
	for range a.cfg.MaxSummaryDevices/maxPageSize + 1 {
		list, next, err := a.sess.ByWarehouse(ctx, wh.ID, sp)
		if err != nil {
			return fmt.Errorf("summary sessions: %w", err)
		}
		for _, s := range list {
			inUse[s.DeviceID] = true
		}
		sum.Sessions += len(list)
		if next == "" {
			break
		}
		sp.After = next
	}

	f := devices.DeviceFilter{WarehouseIDs: []string{wh.ID}, Status: devices.DeviceActive, Page: devices.Page{Limit: min(maxPageSize, a.cfg.MaxSummaryDevices)}}
	for {
		ds, err := a.reg.Devices(ctx, f)
		if err != nil {
			return fmt.Errorf("summary devices: %w", err)
		}
		if err := a.countDevices(ctx, &sum, ds, inUse, cutoff); err != nil {
			return err
		}
		if len(ds) < f.Limit {
			break
		}
		if sum.Devices >= a.cfg.MaxSummaryDevices {
			sum.Partial = true
			break
		}
		f.After = ds[len(ds)-1].ID
	}
	return writeJSON(w, http.StatusOK, sum)
}

// countDevices adds one page of devices to sum: presence in one call,
// quarantines and queued commands on a few goroutines.
func (a *API) countDevices(ctx context.Context, sum *WarehouseSummary, ds []devices.Device, inUse map[string]bool, cutoff time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	online, err := a.sess.Online(ctx, ids)
	if err != nil {
		return fmt.Errorf("summary presence: %w", err)
	}
	quarantined := make([]bool, len(ds))
	unacked := make([]int, len(ds))
	err = parallel(ctx, len(ds), func(ctx context.Context, i int) error {
		q, err := a.signin.DeviceQuarantined(ctx, ds[i].ID)
		if err != nil {
			return err
		}
		cmds, err := a.sess.Pending(ctx, ds[i].ID)
		if err != nil {
			return err
		}
		quarantined[i], unacked[i] = q, len(cmds)
		return nil
	})
	if err != nil {
		return fmt.Errorf("summary devices: %w", err)
	}
	for i, d := range ds {
		sum.Devices++
		switch {
		case inUse[d.ID]:
			sum.InUse++
		case online[d.ID]:
			sum.OnlineFree++
		}
		if !online[d.ID] {
			sum.Offline++
		}
		if !online[d.ID] && (d.LastSeenAt == nil || d.LastSeenAt.Before(cutoff)) {
			sum.NotSeen++
		}
		if quarantined[i] {
			sum.Quarantined++
		}
		if d.VersionBelow("", sum.MinVersion) {
			sum.BelowMin++
		}
		sum.Unacked += unacked[i]
	}
	return nil
}

// parallel runs fn(i) for i in [0, n) on at most summaryWorkers
// goroutines and returns the first error; it stops starting new calls
// once one has failed.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(n, summaryWorkers) {
		wg.Go(func() {
			for {
				mu.Lock()
				if first != nil || next >= n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// defaultBoardPage is the page size of holders and commands.
const defaultBoardPage = 50

// boardPage reads page_token and page_size with defaultBoardPage as the
// default size.
func boardPage(r *http.Request) (string, int, error) {
	after, size, err := pageQuery(r)
	if err != nil {
		return "", 0, err
	}
	if r.URL.Query().Get("page_size") == "" {
		size = defaultBoardPage
	}
	return after, size, nil
}

func (a *API) warehouseHolders(w http.ResponseWriter, r *http.Request) error {
	after, size, err := boardPage(r)
	if err != nil {
		return err
	}
	wh, err := a.warehouseFor(r, capSessions)
	if err != nil {
		return err
	}
	ctx := r.Context()
	list, next, err := a.sess.ByWarehouse(ctx, wh.ID, sessions.PageRequest{After: after, Limit: size})
	if err != nil {
		return fmt.Errorf("holders of warehouse %s: %w", wh.ID, err)
	}
	items := make([]Holder, len(list))
	ids := make([]string, len(list))
	for i, s := range list {
		items[i].Session = sessionView(s)
		ids[i] = s.DeviceID
	}
	online, err := a.sess.Online(ctx, ids)
	if err != nil {
		return fmt.Errorf("holders presence: %w", err)
	}
	err = parallel(ctx, len(items), func(ctx context.Context, i int) error {
		h := &items[i]
		h.Online = online[h.Session.DeviceID]
		d, err := a.reg.Device(ctx, h.Session.DeviceID)
		switch {
		case err == nil:
			h.Device = &d
		case !errors.Is(err, devices.ErrNotFound):
			return err
		}
		u, err := a.reg.User(ctx, h.Session.UserID)
		switch {
		case err == nil:
			h.User = &HolderUser{ID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, EmployeeID: u.EmployeeID, Status: u.Status}
		case !errors.Is(err, devices.ErrNotFound):
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("holders of warehouse %s: %w", wh.ID, err)
	}
	return writeJSON(w, http.StatusOK, Page[Holder]{Items: items, NextPageToken: pageToken(next)})
}

// warehouseCommands lists the logout commands of the warehouse's
// devices that are neither acknowledged nor expired, device by device
// in device id order (oldest command first within a device). A page
// reads up to page_size devices: it may hold fewer commands than
// page_size, or none, and still have a next page.
func (a *API) warehouseCommands(w http.ResponseWriter, r *http.Request) error {
	after, size, err := boardPage(r)
	if err != nil {
		return err
	}
	wh, err := a.warehouseFor(r, capSessions)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ds, err := a.reg.Devices(ctx, devices.DeviceFilter{WarehouseIDs: []string{wh.ID}, Status: devices.DeviceActive, Page: devices.Page{After: after, Limit: size}})
	if err != nil {
		return fmt.Errorf("commands of warehouse %s: %w", wh.ID, err)
	}
	per := make([][]sessions.Command, len(ds))
	err = parallel(ctx, len(ds), func(ctx context.Context, i int) error {
		cmds, err := a.sess.Pending(ctx, ds[i].ID)
		per[i] = cmds
		return err
	})
	if err != nil {
		return fmt.Errorf("commands of warehouse %s: %w", wh.ID, err)
	}
	now := a.now()
	items := []CommandView{}
	for _, cmds := range per {
		for _, c := range cmds {
			items = append(items, commandView(c, now))
		}
	}
	last := ""
	if len(ds) > 0 {
		last = ds[len(ds)-1].ID
	}
	return writeJSON(w, http.StatusOK, Page[CommandView]{Items: items, NextPageToken: nextToken(len(ds), size, last)})
}
