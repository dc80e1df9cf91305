package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
)

// DeviceView is a device as the admin API shows it: the registry record,
// whether it holds a socket now, and the session signed in on it.
type DeviceView struct {
	devices.Device
	Online  bool         `json:"online"`
	Session *SessionView `json:"session"`
}

// DeviceActionResponse answers revoke and logout.
type DeviceActionResponse struct {
	Device     DeviceView `json:"device"`
	CommandIDs []string   `json:"command_ids"`
}

// maxFilterScans bounds how many registry pages one list request reads
// when a filter (online) is applied after reading.
const maxFilterScans = 10

func (a *API) loadDevice(r *http.Request, c capability) (devices.Device, error) {
	id := chi.URLParam(r, "id")
	d, err := a.reg.Device(r.Context(), id)
	if err != nil {
		return devices.Device{}, fmt.Errorf("read device %s: %w", id, err)
	}
	if err := a.authorize(r, c, d.WarehouseID, devices.DeviceActor(d.ID)); err != nil {
		return devices.Device{}, err
	}
	return d, nil
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, size, err := pageQuery(r)
	if err != nil {
		return err
	}
	f := devices.DeviceFilter{AppVersion: q.Get("app_version"), Page: devices.Page{After: after, Limit: size}}
	switch s := devices.DeviceStatus(q.Get("status")); s {
	case "", devices.DeviceActive, devices.DeviceRevoked:
		f.Status = s
	default:
		return invalid("status", "enum", "status must be active or revoked")
	}
	online, err := queryBool(r, "online")
	if err != nil {
		return err
	}
	nss, err := queryTime(r, "not_seen_since")
	if err != nil {
		return err
	}
	if !nss.IsZero() {
		f.NotSeenSince = &nss
	}
	if f.WarehouseIDs, err = a.scopeFilter(r, capDevices, q.Get("warehouse_id")); err != nil {
		return err
	}
	ctx := r.Context()
	items := []DeviceView{}
	next := ""
	// Online is known only after reading: read pages until this one is
	// full, the list ends, or maxFilterScans pages were read.
	for scan := 0; scan < maxFilterScans; scan++ {
		ds, err := a.reg.Devices(ctx, f)
		if err != nil {
			return fmt.Errorf("list devices: %w", err)
		}
		views, err := a.deviceViews(ctx, ds)
		if err != nil {
			return err
		}
		next = ""
		for i, v := range views {
			if online != nil && v.Online != *online {
				continue
			}
			items = append(items, v)
			if len(items) == size {
				if i < len(views)-1 || len(ds) == f.Limit {
					next = pageToken(v.ID)
				}
				return writeJSON(w, http.StatusOK, Page[DeviceView]{Items: items, NextPageToken: next})
			}
		}
		if len(ds) < f.Limit {
			break
		}
		f.After = ds[len(ds)-1].ID
		next = pageToken(f.After)
		if online == nil {
			break
		}
	}
	return writeJSON(w, http.StatusOK, Page[DeviceView]{Items: items, NextPageToken: next})
}

// deviceViews adds online and the current session to each device: one
// Online call for all, and the sessions read on a few goroutines.
func (a *API) deviceViews(ctx context.Context, ds []devices.Device) ([]DeviceView, error) {
	views := make([]DeviceView, len(ds))
	if len(ds) == 0 {
		return views, nil
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
		views[i].Device = d
	}
	online, err := a.sess.Online(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("devices online: %w", err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, 8)
	)
	for i := range views {
		views[i].Online = online[views[i].ID]
		if views[i].Status != devices.DeviceActive {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(v *DeviceView) {
			defer func() { <-sem; wg.Done() }()
			ss, err := a.sess.ByDevice(ctx, v.ID)
			if err != nil {
				mu.Lock()
				firstErr = errors.Join(firstErr, err)
				mu.Unlock()
				return
			}
			if len(ss) > 0 {
				sv := sessionView(ss[len(ss)-1])
				v.Session = &sv
			}
		}(&views[i])
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("device sessions: %w", firstErr)
	}
	return views, nil
}

func (a *API) deviceView(ctx context.Context, d devices.Device) (DeviceView, error) {
	vs, err := a.deviceViews(ctx, []devices.Device{d})
	if err != nil {
		return DeviceView{}, err
	}
	return vs[0], nil
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := a.loadDevice(r, capDevices)
	if err != nil {
		return err
	}
	v, err := a.deviceView(r.Context(), d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *API) patchDevice(w http.ResponseWriter, r *http.Request) error {
	var in devices.DevicePatch
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	d, err := a.loadDevice(r, capDevices)
	if err != nil {
		return err
	}
	d, err = a.reg.UpdateDevice(r.Context(), principalFrom(r.Context()).actor, d.ID, in)
	if err != nil {
		return fmt.Errorf("update device: %w", err)
	}
	v, err := a.deviceView(r.Context(), d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// revokeDevice revokes the enrollment, ends the device's sessions and
// tells every instance to close its socket (4403). Revoking a revoked
// device repeats the last two steps, so a call that failed half-way is
// finished by calling it again.
func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := a.loadDevice(r, capDevices)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := principalFrom(ctx)
	if d.Status != devices.DeviceRevoked {
		d, err = a.reg.RevokeDevice(ctx, p.actor, d.ID)
		if err != nil {
			return fmt.Errorf("revoke device: %w", err)
		}
	}
	cmds, err := a.sess.EndDevice(ctx, d.ID, sessions.ReasonDeviceRevoked)
	if err != nil {
		return &problem.Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
			Detail: "the device is revoked but its sessions could not be ended; call revoke again", Err: err}
	}
	ids := commandIDs(cmds)
	if len(ids) > 0 {
		a.recordEnd(ctx, p.actor, devices.DeviceActor(d.ID), d.WarehouseID, sessions.ReasonDeviceRevoked, cmds)
	}
	if err := a.sess.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: d.ID}); err != nil {
		// The gateway refuses the revoked token on its next use anyway.
		a.log.ErrorContext(ctx, "publish device revoked", "device_id", d.ID, "err", err)
	}
	v := DeviceView{Device: d}
	return writeJSON(w, http.StatusOK, DeviceActionResponse{Device: v, CommandIDs: ids})
}

func (a *API) logoutDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := a.loadDevice(r, capDevices)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := principalFrom(ctx)
	cmds, err := a.sess.EndDevice(ctx, d.ID, sessions.ReasonAdmin)
	if err != nil {
		return fmt.Errorf("log out device %s: %w", d.ID, err)
	}
	ids := commandIDs(cmds)
	a.recordEnd(ctx, p.actor, devices.DeviceActor(d.ID), d.WarehouseID, sessions.ReasonAdmin, cmds)
	v, err := a.deviceView(ctx, d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, DeviceActionResponse{Device: v, CommandIDs: ids})
}

func (a *API) unlockDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := a.loadDevice(r, capDevices)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := a.signin.UnlockDevice(ctx, d.ID); err != nil {
		return fmt.Errorf("unlock device %s: %w", d.ID, err)
	}
	a.record(ctx, devices.Event{Actor: principalFrom(ctx).actor, Action: "device.unlock", Subject: devices.DeviceActor(d.ID), WarehouseID: d.WarehouseID, DeviceID: d.ID})
	v, err := a.deviceView(ctx, d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}
