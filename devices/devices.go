package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/token"
)

// DeviceStatus is the state of one enrollment.
type DeviceStatus string

const (
	DeviceActive  DeviceStatus = "active"
	DeviceRevoked DeviceStatus = "revoked" // revoked by an admin or replaced by a re-enrollment
)

// Device is one enrollment of a handheld. Re-enrolling a serial revokes
// the old record and creates a new one, so a device id names exactly one
// credential.
type Device struct {
	ID          string `json:"id"`
	Serial      string `json:"serial"` // unique among active devices
	WarehouseID string `json:"warehouse_id"`
	Label       string `json:"label"`
	Model       string `json:"model"`
	OSVersion   string `json:"os_version"`
	AppVersion  string `json:"app_version"` // the last version the device reported (enrollment, then logins)
	// EnrolledAppVersion is the version the device reported when a
	// manager enrolled it; logins never change it (VersionBelow).
	EnrolledAppVersion string       `json:"enrolled_app_version"`
	EnrolledBy         string       `json:"enrolled_by"` // manager id
	EnrolledAt         time.Time    `json:"enrolled_at"`
	LastSeenAt         *time.Time   `json:"last_seen_at,omitempty"`
	Status             DeviceStatus `json:"status"`
	RevokedAt          *time.Time   `json:"revoked_at,omitempty"`
	TokenHash          string       `json:"-"` // Token.Hash() of the device token
}

// Enroll registers a handheld for managerID, who must already have been
// authorised by the caller. The device gets a new id and a new device
// token (shown once). A serial that was enrolled is replaced: the store
// revokes the old record in the same transaction, and it is returned so
// that the caller ends its sessions; a "device.revoke" event with reason
// "re_enrolled" is then appended for it.
func (r *Registry) Enroll(ctx context.Context, managerID string, in EnrollInput) (d Device, tok Token, replaced *Device, err error) {
	if strings.TrimSpace(managerID) == "" {
		return Device{}, "", nil, fieldProblem("manager_id", "required", "the enrolling manager is required")
	}
	v := &ValidationError{}
	whID := strings.TrimSpace(in.WarehouseID)
	if err := r.warehouseExists(ctx, v, "warehouse_id", whID); err != nil {
		return Device{}, "", nil, fmt.Errorf("enroll: %w", err)
	}
	d = r.checkDevice(v, in)
	if err := v.Err(); err != nil {
		return Device{}, "", nil, err
	}
	now := r.clock()
	tok = token.New(DeviceTokenPrefix)
	d.ID = id.New("dev_", now)
	d.WarehouseID = whID
	d.EnrolledBy = managerID
	d.EnrolledAt = now
	d.Status = DeviceActive
	d.TokenHash = tok.Hash()
	ev := event(now, ManagerActor(managerID), "device.enroll", DeviceActor(d.ID))
	ev.WarehouseID = whID
	ev.DeviceID = d.ID
	ev.Details = map[string]string{"serial": d.Serial}
	replaced, err = r.store.EnrollDevice(ctx, d, ev)
	if err != nil {
		return Device{}, "", nil, fmt.Errorf("enroll %s: %w", d.Serial, err)
	}
	if replaced != nil {
		r.auditReplaced(ctx, now, ManagerActor(managerID), *replaced, d.ID)
	}
	return d, tok, replaced, nil
}

// AuthenticateDevice finds the device a token belongs to. Unknown or
// malformed tokens return ErrInvalidCredentials; a revoked device is
// returned with its status, for the caller to refuse.
func (r *Registry) AuthenticateDevice(ctx context.Context, tok Token) (Device, error) {
	if _, ok := token.Parse(DeviceTokenPrefix, tok.Reveal()); !ok {
		return Device{}, ErrInvalidCredentials
	}
	d, err := r.store.DeviceByTokenHash(ctx, tok.Hash())
	if errors.Is(err, ErrNotFound) {
		return Device{}, ErrInvalidCredentials
	}
	if err != nil {
		return Device{}, fmt.Errorf("authenticate device: %w", err)
	}
	return d, nil
}

// Device returns one device record.
func (r *Registry) Device(ctx context.Context, id string) (Device, error) {
	d, err := r.store.Device(ctx, id)
	if err != nil {
		return Device{}, fmt.Errorf("device %s: %w", id, err)
	}
	return d, nil
}

// Devices lists devices.
func (r *Registry) Devices(ctx context.Context, f DeviceFilter) ([]Device, error) {
	ds, err := r.store.Devices(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return ds, nil
}

// UpdateDevice applies p (the label).
func (r *Registry) UpdateDevice(ctx context.Context, actor, id string, p DevicePatch) (Device, error) {
	if err := checkActor(actor); err != nil {
		return Device{}, err
	}
	v := &ValidationError{}
	var label string
	if p.Label != nil {
		label = checkText(v, "label", *p.Label, false, maxDeviceField)
	}
	if err := v.Err(); err != nil {
		return Device{}, err
	}
	if p.Label == nil {
		return r.Device(ctx, id)
	}
	now := r.clock()
	d, err := r.store.UpdateDevice(ctx, id, func(d *Device) (Event, error) {
		if p.Label != nil {
			d.Label = label
		}
		ev := event(now, actor, "device.update", DeviceActor(d.ID))
		ev.WarehouseID = d.WarehouseID
		ev.DeviceID = d.ID
		ev.Details = map[string]string{"fields": "label"}
		return ev, nil
	})
	if err != nil {
		return Device{}, fmt.Errorf("update device %s: %w", id, err)
	}
	return d, nil
}

// RevokeDevice ends an enrollment: its token stops working. Revoking a
// revoked device changes nothing. The caller ends its sessions and
// closes its socket.
func (r *Registry) RevokeDevice(ctx context.Context, actor, id string) (Device, error) {
	if err := checkActor(actor); err != nil {
		return Device{}, err
	}
	now := r.clock()
	d, err := r.store.UpdateDevice(ctx, id, func(d *Device) (Event, error) {
		if d.Status == DeviceRevoked {
			return Event{}, errUnchanged
		}
		d.Status = DeviceRevoked
		at := now
		d.RevokedAt = &at
		ev := event(now, actor, "device.revoke", DeviceActor(d.ID))
		ev.WarehouseID = d.WarehouseID
		ev.DeviceID = d.ID
		ev.Details = map[string]string{"reason": "revoked"}
		return ev, nil
	})
	if errors.Is(err, errUnchanged) {
		d, err = r.store.Device(ctx, id)
	}
	if err != nil {
		return Device{}, fmt.Errorf("revoke device %s: %w", id, err)
	}
	return d, nil
}
