package devices

import (
	"context"
	"errors"
	"fmt"

	"github.com/floorgate/floorgate/internal/id"
)

// LoginStart is what a PIN login writes once its session exists, and
// what it expects to read again: the custody record of the session, the
// PIN hash and count of badge changes the PIN was checked against, and
// the audit events of its success, appended only when the device and
// the user are still as the login found them.
type LoginStart struct {
	Custody Custody
	// PINHash and BadgeChanges are the user's as read before the hash.
	PINHash      string
	BadgeChanges int64
	// Badge: the user was named by a badge, so a change of their badge
	// since (BadgeChanges) refuses the login.
	Badge bool
	// Success are the events of a login that stands (login.success and
	// the ends it caused). ID and At are filled in when empty.
	Success []Event
}

// LoginReread is the device and the user as read after the custody
// record was written.
type LoginReread struct {
	DeviceStatus      DeviceStatus // "" when the device is gone
	DeviceWarehouseID string
	UserFound         bool
	UserStatus        UserStatus
	UserWarehouseID   string
	PINHash           string
	BadgeChanges      int64
	// Audited is true when the success events were appended (or, on a
	// store that is not a LoginStarter, when their append was tried: a
	// failure is logged, the decision it records is taken).
	Audited bool
}

// What changed while a login hashed (LoginReread.Changed).
const (
	LoginUserGone       = "user_gone"
	LoginDeviceRevoked  = "device_revoked"
	LoginUserDeleted    = "user_deleted"
	LoginUserSuspended  = "user_suspended"
	LoginPINReset       = "pin_reset"
	LoginBadgeChanged   = "badge_changed"
	LoginWrongWarehouse = "wrong_warehouse"
)

// Changed says what refuses the login in, in this order: the user gone,
// the device no longer active (or gone), the user deleted or not active,
// the PIN hash changed, the badge changed (badge logins), the user in
// another warehouse than the device; "" when nothing did. The stores
// that append the success events in the statement that re-reads
// (LoginStarter) apply the same rule.
func (st LoginReread) Changed(in LoginStart) string {
	switch {
	case !st.UserFound:
		return LoginUserGone
	case st.DeviceStatus != DeviceActive:
		return LoginDeviceRevoked
	case st.UserStatus == UserDeleted:
		return LoginUserDeleted
	case st.UserStatus != UserActive:
		return LoginUserSuspended
	case st.PINHash != in.PINHash:
		return LoginPINReset
	case in.Badge && st.BadgeChanges != in.BadgeChanges:
		return LoginBadgeChanged
	case st.UserWarehouseID != st.DeviceWarehouseID:
		return LoginWrongWarehouse
	}
	return ""
}

// LoginStarter is a Store that writes a login's custody record, reads
// its device and user again and appends its success events when
// LoginReread.Changed finds nothing, in one statement. The user is read
// under a lock that the user's updates wait for (and that waits for
// them), so that a badge change either is seen here or comes after the
// custody record is committed, and then finds it; a custody record of
// the session already there is kept (as StartCustody). It is optional:
// Registry.StartLogin makes the same steps one by one on other stores.
type LoginStarter interface {
	StartLogin(ctx context.Context, in LoginStart) (LoginReread, error)
}

// StartLogin writes the custody record of a login's session, then reads
// its device and user again, and appends in.Success when nothing
// changed (LoginReread.Changed): one statement on a LoginStarter store,
// four otherwise. An error means the login cannot stand (fail closed):
// the re-read failed, or the custody record of a badge login could not
// be written (a badge session without its record could not be ended
// when the badge is replaced). A PIN login's record that cannot be
// written is logged, and the login goes on. An audit append that fails
// is logged (Audited false): the decision it records is taken.
func (r *Registry) StartLogin(ctx context.Context, in LoginStart) (LoginReread, error) {
	c := in.Custody
	if c.SessionID == "" || c.DeviceID == "" || c.UserID == "" || c.WarehouseID == "" {
		return LoginReread{}, fieldProblem("session_id", "required", "a custody record names its session, device, user and warehouse")
	}
	if c.Method == "" {
		c.Method = MethodPIN
	}
	if c.StartedAt.IsZero() {
		c.StartedAt = r.clock()
	}
	c.EndedAt, c.EndReason, c.EndedBy = nil, "", ""
	in.Custody = c
	evs, err := r.stamp(in.Success)
	if err != nil {
		return LoginReread{}, err
	}
	in.Success = evs
	if ls, ok := r.store.(LoginStarter); ok {
		st, err := ls.StartLogin(ctx, in)
		if err != nil {
			return LoginReread{}, fmt.Errorf("start login of %s: %w", c.SessionID, err)
		}
		return st, nil
	}
	return r.startLoginSteps(ctx, in)
}

// startLoginSteps is StartLogin one statement at a time: the custody
// record, then the device and the user, then the events.
func (r *Registry) startLoginSteps(ctx context.Context, in LoginStart) (LoginReread, error) {
	c := in.Custody
	if err := r.store.StartCustody(ctx, c); err != nil && !errors.Is(err, ErrExists) {
		if c.Method == MethodBadge {
			return LoginReread{}, fmt.Errorf("start custody of %s: %w", c.SessionID, err)
		}
		r.log.Error("record custody", "session_id", c.SessionID, "err", err)
	}
	d, err := r.store.Device(ctx, c.DeviceID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return LoginReread{}, fmt.Errorf("re-read device %s: %w", c.DeviceID, err)
	}
	st := LoginReread{DeviceStatus: d.Status, DeviceWarehouseID: d.WarehouseID}
	u, err := r.store.User(ctx, c.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return LoginReread{}, fmt.Errorf("re-read user %s: %w", c.UserID, err)
	default:
		st.UserFound, st.UserStatus, st.UserWarehouseID, st.PINHash, st.BadgeChanges = true, u.Status, u.WarehouseID, u.PINHash, u.BadgeChanges
	}
	if st.Changed(in) != "" || len(in.Success) == 0 {
		return st, nil
	}
	if err := r.store.AppendEvents(ctx, in.Success...); err != nil {
		r.log.Error("audit record failed", "type", in.Success[0].Action, "err", err)
	}
	st.Audited = true
	return st, nil
}

// stamp fills in the ID and At of events as Record does, and refuses
// one without an actor or an action.
func (r *Registry) stamp(evs []Event) ([]Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	now := r.clock()
	out := make([]Event, len(evs))
	for i, ev := range evs {
		if ev.Actor == "" || ev.Action == "" {
			return nil, fieldProblem("type", "required", "an event names its actor and its action")
		}
		if ev.At.IsZero() {
			ev.At = now
		}
		if ev.ID == "" {
			ev.ID = id.New("evt_", ev.At)
		}
		out[i] = ev
	}
	return out, nil
}
