package signin

import (
	"context"
	"errors"

	"github.com/floorgate/floorgate/devices"
)

// PasswordCheck is a signed-in manager proving their current password
// before they change it (PATCH /admin/v1/managers/{id} on their own
// account).
type PasswordCheck struct {
	Email, Password string
	// ClientIP is the address the request came from: the throttle source.
	ClientIP string
}

// CheckManagerPassword takes a current-password check through the same
// order as a manager sign-in (claim, check, hash, count, audit), under
// the same throttle keys: a stolen console session cannot guess the
// password faster than a sign-in could. A wrong password is
// devices.ErrInvalidCredentials, counted and audited
// (manager.password.failure); a refused check is a *ThrottledError.
func (p *Policy) CheckManagerPassword(ctx context.Context, in PasswordCheck) error {
	a, err := p.passwordAttempt(ctx, kindManager, in.Email, in.ClientIP)
	if err != nil {
		return err
	}
	subject := auditSubject(a.Subject)
	release, _, err := p.begin(ctx, a)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel, err := p.hash(ctx, a.kind, func(ctx context.Context) error {
		_, err := p.reg.AuthenticateManager(ctx, in.Email, in.Password)
		return err
	})
	if errors.Is(err, ErrBusy) {
		return err
	}
	defer cancel()
	addr := map[string]string{"remote_addr": in.ClientIP}
	return p.settle(ctx, a, err, "address:"+in.ClientIP,
		func() devices.Event {
			return devices.Event{Actor: devices.ActorSystem, Action: "manager.password.failure", Subject: subject, Details: addr}
		},
		func() devices.Event {
			return devices.Event{Actor: devices.ActorSystem, Action: "manager.login.disabled", Subject: subject, Details: addr}
		})
}
