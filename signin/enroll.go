package signin

import (
	"context"
	"errors"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/throttle"
)

// Enrollment is a mobile manager's enrollment of a handheld with their
// email and password (POST /v1/enroll).
type Enrollment struct {
	Email, Password string
	// ClientIP is the address the request came from: the throttle source.
	ClientIP string
	// Device is what the handheld says of itself, and the warehouse.
	Device devices.EnrollInput
	// Replaced, when not nil, is called with the id of the registration
	// a re-enrollment of the same serial replaced (on the decided
	// context), to end its sessions and close its socket.
	Replaced func(ctx context.Context, deviceID string)
}

// Enrolled is the new registration and its device token (shown once).
type Enrolled struct {
	Manager devices.Manager
	Device  devices.Device
	Token   devices.Token
}

// Enroll takes an enrollment through the order: the client address's
// rate (AddressRate), claim (the email),
// check, hash, count, audit, then the warehouse, the role and the
// registration. The source is the client address with AddressLimits: an
// address is never quarantined. An unknown warehouse is a
// *devices.ValidationError naming warehouse_id for any manager whose
// password is right (whatever their roles); no mobile_manager (or admin)
// role there is ErrForbidden.
func (p *Policy) Enroll(ctx context.Context, in Enrollment) (Enrolled, error) {
	emailKey, err := devices.EmailKey(in.Email)
	if err != nil {
		return Enrolled{}, err // a *ValidationError naming "email"
	}
	if err := p.limitAddress(ctx, kindEnroll, in.ClientIP); err != nil {
		return Enrolled{}, err
	}
	// From here on, a client that hangs up changes nothing (ManagerLogin).
	ctx, cancel := Decided(ctx)
	defer cancel()
	a, err := p.passwordAttempt(ctx, kindEnroll, in.Email, in.ClientIP)
	if err != nil {
		return Enrolled{}, err
	}
	a.refused = func(d throttle.Decision) devices.Event {
		return devices.Event{Actor: devices.ActorSystem, Action: "enroll.throttled", Subject: auditSubject(a.Subject),
			Details: map[string]string{"verdict": string(d.Verdict), "remote_addr": in.ClientIP}}
	}
	release, _, err := p.begin(ctx, a)
	if err != nil {
		return Enrolled{}, err
	}
	defer release()
	var m devices.Manager
	ctx, hcancel, err := p.hash(ctx, a.kind, func(ctx context.Context) (err error) {
		m, err = p.reg.AuthenticateManager(ctx, in.Email, in.Password)
		return err
	})
	if errors.Is(err, ErrBusy) {
		return Enrolled{}, err
	}
	defer hcancel()
	// A failed enrollment's audit event names no warehouse: the one in
	// the request is typed by a caller who did not prove they may enroll
	// there (it may not even exist), and must not place the event in
	// that warehouse's log.
	failure := func(reason, subject string) devices.Event {
		return devices.Event{Actor: devices.ActorSystem, Action: "enroll.failure", Subject: subject,
			Details: map[string]string{"reason": reason, "remote_addr": in.ClientIP}}
	}
	if err := p.settle(ctx, a, err, "address:"+in.ClientIP,
		func() devices.Event { return failure("invalid_credentials", "email:"+emailKey) },
		func() devices.Event { return failure("account_disabled", devices.ManagerActor(m.ID)) }); err != nil {
		return Enrolled{}, err
	}

	// An unknown warehouse is 400 for every authenticated manager,
	// whatever their roles: the check comes before the role check, so a
	// mobile manager who mistypes the warehouse is told so rather than
	// refused. Only a manager whose password is right gets this far.
	unknown := &devices.ValidationError{Fields: []devices.FieldError{{Field: "warehouse_id", Code: "unknown", Message: "no such warehouse"}}}
	if _, err := p.reg.Warehouse(ctx, in.Device.WarehouseID); errors.Is(err, devices.ErrNotFound) {
		return Enrolled{}, unknown
	} else if err != nil {
		return Enrolled{}, unavailable("warehouse", err)
	}
	if !mayEnroll(m, in.Device.WarehouseID) {
		p.audit(ctx, failure("forbidden", devices.ManagerActor(m.ID)))
		return Enrolled{}, ErrForbidden
	}
	d, tok, replaced, err := p.reg.Enroll(ctx, m.ID, in.Device)
	switch {
	case errors.Is(err, devices.ErrInvalid):
		return Enrolled{}, err
	case errors.Is(err, devices.ErrNotFound):
		return Enrolled{}, unknown
	case err != nil:
		return Enrolled{}, unavailable("enroll", err)
	}
	if replaced != nil && in.Replaced != nil {
		in.Replaced(ctx, replaced.ID)
	}
	return Enrolled{Manager: m, Device: d, Token: tok}, nil
}

// mayEnroll reports whether m holds admin, or mobile_manager on the
// warehouse.
func mayEnroll(m devices.Manager, warehouseID string) bool {
	for _, r := range m.Roles {
		if r.Role == devices.RoleAdmin || r.Role == devices.RoleMobileManager && r.WarehouseID == warehouseID {
			return true
		}
	}
	return false
}
