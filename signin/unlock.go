package signin

import (
	"context"

	"github.com/floorgate/floorgate/devices"
)

// UnlockUser clears every throttle counter and lock of a user's
// username (POST /admin/v1/users/{id}/unlock).
func (p *Policy) UnlockUser(ctx context.Context, u devices.User) error {
	subject := UserSubject(u.Username)
	if u.UsernameKey != "" {
		subject = userNS + u.UsernameKey
	}
	if err := p.throttle.UnlockSubject(ctx, subject); err != nil {
		return unavailable("unlock user", err)
	}
	return nil
}

// UnlockManager clears every throttle counter and lock of a manager's
// email (POST /admin/v1/managers/{id}/unlock).
func (p *Policy) UnlockManager(ctx context.Context, m devices.Manager) error {
	if err := p.throttle.UnlockSubject(ctx, ManagerSubject(m.Email)); err != nil {
		return unavailable("unlock manager", err)
	}
	return nil
}

// UnlockDevice lifts a device's quarantine and clears its counters
// (POST /admin/v1/devices/{id}/unlock).
func (p *Policy) UnlockDevice(ctx context.Context, deviceID string) error {
	if err := p.throttle.UnlockSource(ctx, DeviceSource(deviceID)); err != nil {
		return unavailable("unlock device", err)
	}
	return nil
}

// DeviceQuarantined reports whether a device is quarantined.
func (p *Policy) DeviceQuarantined(ctx context.Context, deviceID string) (bool, error) {
	q, err := p.throttle.Quarantined(ctx, DeviceSource(deviceID))
	if err != nil {
		return false, unavailable("read quarantine", err)
	}
	return q, nil
}
