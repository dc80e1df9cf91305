package devices

import (
	"context"
	"fmt"
	"time"

	"github.com/floorgate/floorgate/internal/id"
)

// Event is one audit record. Events are append-only: the stores refuse to
// change or remove them. They carry ids, not names, so that purging a
// user leaves only a pseudonymous id behind.
type Event struct {
	ID          string            `json:"id"`
	At          time.Time         `json:"at"`
	Actor       string            `json:"actor"`   // "manager:<id>", "service_key:<id>", "device:<id>", "user:<id>", "system"
	Action      string            `json:"type"`    // e.g. "user.create", "login.failure"
	Subject     string            `json:"subject"` // "user:<id>", "device:<id>", "warehouse:<id>", ...
	WarehouseID string            `json:"warehouse_id,omitempty"`
	DeviceID    string            `json:"device_id,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
}

// Audit actions written by the Registry. Callers record their own (such
// as "login.success", "login.failure", "logout") with Record.
//
//	settings.update
//	warehouse.create, warehouse.update
//	manager.create, manager.update, manager.delete, manager.password_rehash
//	user.create, user.update, user.suspend, user.activate, user.delete,
//	user.restore, user.purge, user.pin_reset, user.pin_change, user.pin_rehash
//	device.enroll, device.update, device.revoke
//	service_key.create, service_key.revoke
//	user.badge_set, user.badge_remove
//
// The admin API records user.data_export and manager.data_export (a
// person's data downloaded) itself.
//
// Events carry ids, never names, PINs, passwords or tokens.

// Record appends events, filling in ID and At when they are empty. An
// event needs an Actor and an Action.
func (r *Registry) Record(ctx context.Context, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := r.clock()
	out := make([]Event, len(evs))
	for i, ev := range evs {
		if ev.Actor == "" || ev.Action == "" {
			v := &ValidationError{}
			if ev.Actor == "" {
				v.Add("actor", "required", "an event names its actor")
			}
			if ev.Action == "" {
				v.Add("type", "required", "an event names its action")
			}
			return v
		}
		if ev.At.IsZero() {
			ev.At = now
		}
		if ev.ID == "" {
			ev.ID = id.New("evt_", ev.At)
		}
		out[i] = ev
	}
	if err := r.store.AppendEvents(ctx, out...); err != nil {
		return fmt.Errorf("record %d events: %w", len(out), err)
	}
	return nil
}

// Events lists audit events, newest first.
func (r *Registry) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	evs, err := r.store.Events(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return evs, nil
}
