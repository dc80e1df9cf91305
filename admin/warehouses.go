package admin

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
)

// WarehouseView is a warehouse; a single read adds the settings in force
// there (the organisation's with the warehouse's overrides applied).
type WarehouseView struct {
	devices.Warehouse
	EffectiveSettings *devices.Settings `json:"effective_settings,omitempty"`
}

func (a *API) listWarehouses(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	after, size, err := pageQuery(r)
	if err != nil {
		return err
	}
	f := devices.WarehouseFilter{IDs: p.visibleIDs(), Page: devices.Page{After: after, Limit: size}}
	if f.IDs != nil && len(f.IDs) == 0 {
		return writeJSON(w, http.StatusOK, Page[devices.Warehouse]{Items: []devices.Warehouse{}})
	}
	ws, err := a.reg.Warehouses(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list warehouses: %w", err)
	}
	last := ""
	if len(ws) > 0 {
		last = ws[len(ws)-1].ID
	}
	if ws == nil {
		ws = []devices.Warehouse{}
	}
	return writeJSON(w, http.StatusOK, Page[devices.Warehouse]{Items: ws, NextPageToken: nextToken(len(ws), size, last)})
}

func (a *API) createWarehouse(w http.ResponseWriter, r *http.Request) error {
	var in devices.WarehouseInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	if err := a.requireAdmin(r, "warehouse:new"); err != nil {
		return err
	}
	wh, err := a.reg.CreateWarehouse(r.Context(), principalFrom(r.Context()).actor, in)
	if err != nil {
		return fmt.Errorf("create warehouse: %w", err)
	}
	w.Header().Set("Location", BasePath+"/warehouses/"+wh.ID)
	return writeJSON(w, http.StatusCreated, WarehouseView{Warehouse: wh})
}

func (a *API) getWarehouse(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	wh, err := a.warehouseFor(r, capSessions)
	if err != nil {
		return err
	}
	eff, err := a.reg.EffectiveSettings(ctx, wh.ID)
	if err != nil {
		return fmt.Errorf("settings of warehouse %s: %w", wh.ID, err)
	}
	return writeJSON(w, http.StatusOK, WarehouseView{Warehouse: wh, EffectiveSettings: &eff})
}

// patchWarehouse changes name, code or settings overrides: admins only.
// A settings object replaces the warehouse's overrides as a whole (send
// {} to clear them); the change is in force from the next login.
func (a *API) patchWarehouse(w http.ResponseWriter, r *http.Request) error {
	var in devices.WarehousePatch
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	ctx := r.Context()
	wh, err := a.warehouseFor(r, capAdmin)
	if err != nil {
		return err
	}
	updated, err := a.reg.UpdateWarehouse(ctx, principalFrom(ctx).actor, wh.ID, in)
	if err != nil {
		return fmt.Errorf("update warehouse %s: %w", wh.ID, err)
	}
	wh = updated
	eff, err := a.reg.EffectiveSettings(ctx, wh.ID)
	if err != nil {
		return fmt.Errorf("settings of warehouse %s: %w", wh.ID, err)
	}
	return writeJSON(w, http.StatusOK, WarehouseView{Warehouse: wh, EffectiveSettings: &eff})
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := a.reg.Settings(r.Context())
	if err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	return writeJSON(w, http.StatusOK, s)
}

// patchSettings changes the organisation defaults: admins only. Fields
// left out stay as they are; a throttle object replaces the limits as a
// whole.
func (a *API) patchSettings(w http.ResponseWriter, r *http.Request) error {
	var in devices.SettingsOverride
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	if err := a.requireAdmin(r, "settings"); err != nil {
		return err
	}
	s, err := a.reg.UpdateSettings(r.Context(), principalFrom(r.Context()).actor, in)
	if err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	return writeJSON(w, http.StatusOK, s)
}

// warehouseFor reads the warehouse named by the path's {id} and checks
// that the caller holds c on it (outside the caller's scope: 404, audited).
func (a *API) warehouseFor(r *http.Request, c capability) (devices.Warehouse, error) {
	id := chi.URLParam(r, "id")
	wh, err := a.reg.Warehouse(r.Context(), id)
	if err != nil {
		return devices.Warehouse{}, fmt.Errorf("read warehouse %s: %w", id, err)
	}
	if err := a.authorize(r, c, wh.ID, devices.WarehouseSubject(wh.ID)); err != nil {
		return devices.Warehouse{}, err
	}
	return wh, nil
}
