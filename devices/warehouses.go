package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
)

// Warehouse is one site. Users and devices belong to exactly one.
type Warehouse struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Code      string           `json:"code"` // unique, case-insensitive; stored upper-case
	Settings  SettingsOverride `json:"settings"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// maxCodeLength bounds a warehouse code.
const maxCodeLength = 32

// WarehouseCode returns the stored form of a warehouse code (trimmed and
// upper-cased), or a *ValidationError (field "code"): 1 to 32 of A-Z,
// 0-9, '-' and '_'.
func WarehouseCode(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	switch {
	case c == "":
		return "", fieldProblem("code", "required", "code is required")
	case len(c) > maxCodeLength:
		return "", fieldProblem("code", "too_long", "code has at most 32 characters")
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return "", fieldProblem("code", "invalid", "code has only letters A-Z, digits, '-' and '_'")
		}
	}
	return c, nil
}

// checkCode is WarehouseCode recording into v.
func checkCode(v *ValidationError, code string) string {
	c, err := WarehouseCode(code)
	v.Merge(err)
	return c
}

// checkOverride validates a warehouse's overrides laid over the
// organisation settings; fields are reported as "settings.<name>".
func (r *Registry) checkOverride(ctx context.Context, v *ValidationError, o SettingsOverride) error {
	org, err := r.store.Settings(ctx)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	validateSettings(v, "settings.", o.Apply(org))
	return nil
}

// CreateWarehouse validates in (name, unique code stored upper-case,
// settings overrides) and creates the warehouse. A taken code returns
// ErrExists.
func (r *Registry) CreateWarehouse(ctx context.Context, actor string, in WarehouseInput) (Warehouse, error) {
	if err := checkActor(actor); err != nil {
		return Warehouse{}, err
	}
	v := &ValidationError{}
	name := checkText(v, "name", in.Name, true, maxNameLength)
	code := checkCode(v, in.Code)
	if err := r.checkOverride(ctx, v, in.Settings); err != nil {
		return Warehouse{}, fmt.Errorf("create warehouse: %w", err)
	}
	if err := v.Err(); err != nil {
		return Warehouse{}, err
	}
	now := r.clock()
	w := Warehouse{
		ID:        id.New("wh_", now),
		Name:      name,
		Code:      code,
		Settings:  in.Settings,
		CreatedAt: now,
		UpdatedAt: now,
	}
	ev := event(now, actor, "warehouse.create", WarehouseSubject(w.ID))
	ev.WarehouseID = w.ID
	ev.Details = map[string]string{"code": code, "name": name}
	if err := r.store.CreateWarehouse(ctx, w, ev); err != nil {
		return Warehouse{}, fmt.Errorf("create warehouse %s: %w", code, err)
	}
	return w, nil
}

// UpdateWarehouse applies p. A code taken by another warehouse returns
// ErrExists.
func (r *Registry) UpdateWarehouse(ctx context.Context, actor, id string, p WarehousePatch) (Warehouse, error) {
	if err := checkActor(actor); err != nil {
		return Warehouse{}, err
	}
	v := &ValidationError{}
	var name, code string
	var fields []string
	if p.Name != nil {
		name = checkText(v, "name", *p.Name, true, maxNameLength)
		fields = append(fields, "name")
	}
	if p.Code != nil {
		code = checkCode(v, *p.Code)
		fields = append(fields, "code")
	}
	if p.Settings != nil {
		if err := r.checkOverride(ctx, v, *p.Settings); err != nil {
			return Warehouse{}, fmt.Errorf("update warehouse %s: %w", id, err)
		}
		fields = append(fields, "settings")
	}
	if err := v.Err(); err != nil {
		return Warehouse{}, err
	}
	if len(fields) == 0 {
		return r.Warehouse(ctx, id)
	}
	now := r.clock()
	w, err := r.store.UpdateWarehouse(ctx, id, func(w *Warehouse) (Event, error) {
		if p.Name != nil {
			w.Name = name
		}
		if p.Code != nil {
			w.Code = code
		}
		if p.Settings != nil {
			w.Settings = *p.Settings
		}
		w.UpdatedAt = now
		ev := event(now, actor, "warehouse.update", WarehouseSubject(w.ID))
		ev.WarehouseID = w.ID
		ev.Details = map[string]string{"fields": strings.Join(fields, ",")}
		return ev, nil
	})
	if err != nil {
		return Warehouse{}, fmt.Errorf("update warehouse %s: %w", id, err)
	}
	return w, nil
}

// Warehouse returns one warehouse.
func (r *Registry) Warehouse(ctx context.Context, id string) (Warehouse, error) {
	w, err := r.store.Warehouse(ctx, id)
	if err != nil {
		return Warehouse{}, fmt.Errorf("warehouse %s: %w", id, err)
	}
	return w, nil
}

// WarehouseByCode finds a warehouse by its code, in any case.
func (r *Registry) WarehouseByCode(ctx context.Context, code string) (Warehouse, error) {
	c, err := WarehouseCode(code)
	if err != nil {
		return Warehouse{}, fmt.Errorf("warehouse by code: %w", ErrNotFound)
	}
	w, err := r.store.WarehouseByCode(ctx, c)
	if err != nil {
		return Warehouse{}, fmt.Errorf("warehouse by code %s: %w", c, err)
	}
	return w, nil
}

// Warehouses lists warehouses.
func (r *Registry) Warehouses(ctx context.Context, f WarehouseFilter) ([]Warehouse, error) {
	ws, err := r.store.Warehouses(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list warehouses: %w", err)
	}
	return ws, nil
}

// warehouseExists records a problem in v when id is empty or names no
// warehouse; other store errors are returned.
func (r *Registry) warehouseExists(ctx context.Context, v *ValidationError, field, id string) error {
	if strings.TrimSpace(id) == "" {
		v.Add(field, "required", field+" is required")
		return nil
	}
	_, err := r.store.Warehouse(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		v.Add(field, "unknown", "there is no such warehouse")
		return nil
	case err != nil:
		return fmt.Errorf("warehouse %s: %w", id, err)
	}
	return nil
}
