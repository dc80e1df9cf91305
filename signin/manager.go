package signin

import (
	"context"
	"errors"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/throttle"
)

// ManagerLogin is a manager's sign-in to the admin API
// (POST /admin/v1/login).
type ManagerLogin struct {
	Email, Password string
	// ClientIP is the address the request came from: the throttle source.
	ClientIP string
}

// ManagerSession is a signed-in manager and their token (shown once).
type ManagerSession struct {
	Manager   devices.Manager
	Token     devices.Token
	ExpiresAt time.Time
}

// ManagerLogin takes an admin sign-in through the order: the client
// address's rate (AddressRate), claim (the email), check, hash, count, audit, issue the manager token. The source
// is the client address with AddressLimits, the same "ip:" source as
// enrollment, so both share the delays of an (email, address) pair and
// the lock of an email. A refused check is audited
// (manager.login.throttled), once per delay or lock (auditRefusal).
func (p *Policy) ManagerLogin(ctx context.Context, in ManagerLogin) (ManagerSession, error) {
	if err := p.limitAddress(ctx, kindManager, in.ClientIP); err != nil {
		return ManagerSession{}, err
	}
	// From here on, a client that hangs up changes nothing: the attempt
	// is checked, hashed, counted and audited as if it had stayed.
	ctx, cancel := Decided(ctx)
	defer cancel()
	a, err := p.passwordAttempt(ctx, kindManager, in.Email, in.ClientIP)
	if err != nil {
		return ManagerSession{}, err
	}
	subject := auditSubject(a.Subject)
	a.refused = func(d throttle.Decision) devices.Event {
		return devices.Event{Actor: devices.ActorSystem, Action: "manager.login.throttled", Subject: subject,
			Details: map[string]string{"verdict": string(d.Verdict), "remote_addr": in.ClientIP}}
	}
	release, _, err := p.begin(ctx, a)
	if err != nil {
		return ManagerSession{}, err
	}
	defer release()
	var m devices.Manager
	ctx, hcancel, err := p.hash(ctx, a.kind, func(ctx context.Context) (err error) {
		m, err = p.reg.AuthenticateManager(ctx, in.Email, in.Password)
		return err
	})
	if errors.Is(err, ErrBusy) {
		return ManagerSession{}, err
	}
	defer hcancel()
	addr := map[string]string{"remote_addr": in.ClientIP}
	if err := p.settle(ctx, a, err, "address:"+in.ClientIP,
		func() devices.Event {
			return devices.Event{Actor: devices.ActorSystem, Action: "manager.login.failure", Subject: subject, Details: addr}
		},
		func() devices.Event {
			return devices.Event{Actor: devices.ActorSystem, Action: "manager.login.disabled", Subject: subject, Details: addr}
		}); err != nil {
		return ManagerSession{}, err
	}
	tok, mt, err := p.reg.IssueManagerToken(ctx, m.ID)
	if err != nil {
		return ManagerSession{}, unavailable("issue manager token", err)
	}
	p.audit(ctx, devices.Event{Actor: devices.ManagerActor(m.ID), Action: "manager.login", Subject: devices.ManagerActor(m.ID), Details: addr})
	return ManagerSession{Manager: m, Token: tok, ExpiresAt: mt.ExpiresAt}, nil
}

// passwordAttempt is a manager's password attempt from a client address
// (enrollment, admin sign-in), under the organisation's limits for an
// address. It claims the email only: managers behind one NAT address
// sign in at once.
func (p *Policy) passwordAttempt(ctx context.Context, k kind, email, clientIP string) (attempt, error) {
	set, err := p.reg.Settings(ctx)
	if err != nil {
		return attempt{}, unavailable("settings", err)
	}
	return attempt{
		kind:    k,
		Attempt: throttle.Attempt{Subject: ManagerSubject(email), Source: AddressSource(clientIP)},
		limits:  AddressLimits(Limits(set.Throttle)),
	}, nil
}
