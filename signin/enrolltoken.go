package signin

import (
	"context"
	"errors"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/throttle"
)

// TokenEnrollment is a handheld's enrollment with an enrollment token
// (POST /v1/enroll with enrollment_token): zero-touch, no manager at the
// device.
type TokenEnrollment struct {
	Token devices.Token
	// WarehouseID, when not empty, must be the token's warehouse.
	WarehouseID string
	// ClientIP is the address the request came from: the throttle's
	// subject and source.
	ClientIP string
	Device   devices.EnrollInput
	// Replaced is called as for Enrollment.
	Replaced func(ctx context.Context, deviceID string)
}

// EnrollWithToken takes a token enrollment through the order: claim
// (the address), check, the token (a store lookup by its SHA-256: there
// is no slow hash to bound), count, audit, then the registration, which
// spends the use in the same transaction. A token is 256 random bits, so
// guessing one is hopeless; what the throttle bounds is how much of the
// store one address may make Floorgate search: wrong tokens count
// against the address (subject et:<address>, source ip:<address>, with
// AddressLimits and no lock that only an admin could lift, since no one
// can lift one for an address), once per attempt. A token that is
// unknown, revoked, used up or expired is devices.ErrInvalidCredentials
// for the device, its reason on record (enroll.failure); one for
// another warehouse than WarehouseID is ErrForbidden. Bad device fields
// are a *devices.ValidationError and spend nothing.
func (p *Policy) EnrollWithToken(ctx context.Context, in TokenEnrollment) (Enrolled, error) {
	set, err := p.reg.Settings(ctx)
	if err != nil {
		return Enrolled{}, unavailable("settings", err)
	}
	limits := AddressLimits(Limits(set.Throttle))
	limits.UserHardFailures = 0
	a := attempt{
		kind:    kindEnrollToken,
		Attempt: throttle.Attempt{Subject: EnrollTokenSubject(in.ClientIP), Source: AddressSource(in.ClientIP)},
		limits:  limits,
	}
	release, _, err := p.begin(ctx, a)
	if err != nil {
		return Enrolled{}, err
	}
	defer release()
	ctx, cancel := Decided(ctx)
	defer cancel()
	_, d, tok, replaced, err := p.reg.EnrollWithToken(ctx, in.Token, devices.TokenEnrollment{
		WarehouseID: in.WarehouseID, Device: in.Device, RemoteAddr: in.ClientIP,
	})
	var refusal *devices.TokenRefusal
	switch {
	case errors.As(err, &refusal):
		subject := "address:" + in.ClientIP
		if refusal.Token.ID != "" {
			subject = devices.EnrollmentTokenSubject(refusal.Token.ID)
		}
		return Enrolled{}, p.settle(ctx, a, devices.ErrInvalidCredentials, "address:"+in.ClientIP, func() devices.Event {
			return devices.Event{Actor: devices.ActorSystem, Action: "enroll.failure", Subject: subject, WarehouseID: refusal.Token.WarehouseID,
				Details: map[string]string{"reason": "token_" + refusal.Reason, "remote_addr": in.ClientIP}}
		}, nil)
	case errors.Is(err, devices.ErrWrongTokenWarehouse):
		// The token was right: the attempt is no guess.
		p.succeed(ctx, a)
		p.audit(ctx, devices.Event{Actor: devices.ActorSystem, Action: "enroll.failure", Subject: "address:" + in.ClientIP,
			Details: map[string]string{"reason": "token_wrong_warehouse", "remote_addr": in.ClientIP}})
		return Enrolled{}, ErrForbidden
	case errors.Is(err, devices.ErrInvalid):
		return Enrolled{}, err
	case err != nil:
		return Enrolled{}, unavailable("enroll with a token", err)
	}
	p.succeed(ctx, a)
	if replaced != nil && in.Replaced != nil {
		in.Replaced(ctx, replaced.ID)
	}
	return Enrolled{Device: d, Token: tok}, nil
}
