package signin

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/throttle"
)

// Login is a user's sign-in with a PIN on a device (POST /v1/login).
type Login struct {
	// Device is the authenticated, active device the PIN was typed on.
	Device devices.Device
	// Settings are the settings in force in the device's warehouse.
	Settings devices.Settings
	// Username and PIN are as typed.
	Username, PIN string
	// Badge, when not empty, is the badge scanned in place of the
	// username: its holder is throttled and audited as their username
	// would be, and an unknown badge as an unknown username.
	Badge string
}

// LoginResult is the signed-in user and the session issued.
type LoginResult struct {
	User    devices.User
	Created sessions.Created
}

// Login takes a PIN sign-in through the order: claim (username and
// device), check, look up the user, hash, count, audit, issue the
// session. The hashing slot is held for the hash alone: the attempt is
// admitted to the pool before its lookup (Pool.admit: at most the slots
// and a quarter more, at least one more, at once), so that a storm
// reaches the registry hardly more than before, and an attempt that
// finds no entry or no slot within the pool's wait is ErrBusy, as
// before. Unknown user, wrong PIN and a
// suspended user with a wrong PIN are all devices.ErrInvalidCredentials
// after the same work (the registry reads the username the same way
// and hashes a dummy). Refusals that need the right PIN come after the
// hash: devices.ErrDisabled, ErrWrongWarehouse, sessions.ErrLimit.
func (p *Policy) Login(ctx context.Context, in Login) (LoginResult, error) {
	dev := in.Device
	method := devices.MethodPIN
	var (
		cand     devices.Candidate
		lookedUp bool
	)
	if in.Badge != "" {
		// The badge's holder names the attempt before its claim; the
		// same read is the user the PIN is checked against (the
		// re-check compares its PIN hash and badge count with a read
		// made after the session exists).
		name, c, err := p.reg.LookupBadge(ctx, in.Badge)
		if err != nil {
			return LoginResult{}, unavailable("badge holder", err)
		}
		in.Username, method, cand, lookedUp = name, devices.MethodBadge, c, true
	}
	a := attempt{
		kind:      kindPIN,
		Attempt:   throttle.Attempt{Subject: UserSubject(in.Username), Source: DeviceSource(dev.ID), WarehouseID: dev.WarehouseID},
		limits:    Limits(in.Settings.Throttle),
		perSource: true,
	}
	a.refused = func(d throttle.Decision) devices.Event {
		return throttledEvent("login.throttled", devices.DeviceActor(dev.ID), auditSubject(a.Subject), dev.WarehouseID, dev.ID, d)
	}
	p.deferSucceed(&a)
	release, _, err := p.begin(ctx, a)
	if err != nil {
		return LoginResult{}, err
	}
	defer release()
	deadline := p.pool.deadline(classDevice)
	leave, err := p.pool.admit(ctx, deadline)
	if err != nil {
		p.metrics.hashBusy.WithLabelValues(string(a.kind)).Inc()
		return LoginResult{}, err
	}
	if !lookedUp {
		if cand, err = p.reg.LookupUser(ctx, in.Username); err != nil {
			leave()
			return LoginResult{}, unavailable("look up user", err)
		}
	}
	var user devices.User
	ctx, cancel, err := p.hashBy(ctx, a.kind, deadline, func(ctx context.Context) (err error) {
		user, err = p.reg.VerifyPIN(ctx, cand, in.PIN)
		return err
	})
	leave()
	if errors.Is(err, ErrBusy) {
		return LoginResult{}, err
	}
	defer cancel()
	failure := func(reason, subject string) devices.Event {
		return devices.Event{Actor: devices.DeviceActor(dev.ID), Action: "login.failure", Subject: subject,
			WarehouseID: dev.WarehouseID, DeviceID: dev.ID, Details: map[string]string{"reason": reason}}
	}
	if err := p.settle(ctx, a, err, devices.DeviceActor(dev.ID),
		func() devices.Event { return failure("invalid_credentials", auditSubject(a.Subject)) },
		func() devices.Event { return failure("account_disabled", devices.UserActor(user.ID)) }); err != nil {
		return LoginResult{}, err
	}
	if user.WarehouseID != dev.WarehouseID {
		p.audit(ctx, failure("wrong_warehouse", devices.UserActor(user.ID)))
		return LoginResult{}, ErrWrongWarehouse
	}

	created, err := p.sessions.Create(ctx, sessions.NewSession{
		UserID:            user.ID,
		Username:          user.Username,
		DeviceID:          dev.ID,
		WarehouseID:       dev.WarehouseID,
		PINChangeRequired: user.PINChangeRequired,
	}, SessionPolicy(in.Settings))
	switch {
	case errors.Is(err, sessions.ErrLimit):
		p.audit(ctx, failure("session_limit", devices.UserActor(user.ID)))
		return LoginResult{}, sessions.ErrLimit
	case err != nil:
		return LoginResult{}, unavailable("create session", err)
	}
	// The success events are written with the custody record and the
	// re-check, when the re-check finds nothing changed.
	details := map[string]string{"session_id": created.Session.ID, "method": method}
	evicted := 0
	for _, c := range created.Ended {
		if c.Reason == sessions.ReasonEvicted {
			evicted++
		}
	}
	if evicted > 0 {
		details["evicted"] = strconv.Itoa(evicted)
	}
	evs := []devices.Event{{Actor: devices.UserActor(user.ID), Action: "login.success", Subject: devices.UserActor(user.ID),
		WarehouseID: dev.WarehouseID, DeviceID: dev.ID, Details: details}}
	// The sessions this login ended (replaced on this device, evicted
	// beyond the cap) are logouts with a reason: each is audited.
	for _, c := range created.Ended {
		evs = append(evs, devices.Event{Actor: devices.UserActor(user.ID), Action: "sessions.end", Subject: devices.UserActor(c.UserID),
			WarehouseID: c.WarehouseID, DeviceID: c.DeviceID,
			Details: map[string]string{"reason": string(c.Reason), "session_id": c.SessionID, "command_id": c.ID, "count": "1"}})
	}
	if err := p.recheck(ctx, devices.LoginStart{
		Custody: devices.Custody{SessionID: created.Session.ID, DeviceID: dev.ID, UserID: user.ID,
			WarehouseID: dev.WarehouseID, Method: method, StartedAt: created.Session.CreatedAt},
		PINHash: user.PINHash, BadgeChanges: user.BadgeChanges, Badge: method == devices.MethodBadge, Success: evs,
	}, failure); err != nil {
		return LoginResult{}, err
	}
	return LoginResult{User: user, Created: created}, nil
}

// recheck records who has the device from now (the session's custody
// record: a badge session that is not recorded could not be ended when
// the badge is replaced, so it does not stand), then re-reads the device
// and the user, and appends in.Success when nothing changed: one
// statement on PostgreSQL (devices.Registry.StartLogin).
//
// An admin call may have revoked the device, suspended or deleted the
// user or reset the PIN while this login hashed: it ended the sessions
// it found, which did not include this one if it was created after. The
// admin call writes the registry before it ends sessions, so either
// this read sees its change, or the session existed when it ended the
// device's or user's sessions. A change ends the session (its token was
// never handed out) and refuses the login.
//
// A badge login also compares the user's count of badge changes with
// the one read with the user its badge named: a badge replaced or
// removed since then ends the sessions it opened by their custody
// records, which this login's may have missed. The read comes after the
// record (or, in one statement, under a lock the badge change waits
// for): either it sees the change, or the change came after the record,
// which it then finds.
func (p *Policy) recheck(ctx context.Context, in devices.LoginStart, failure func(reason, subject string) devices.Event) error {
	var (
		refusal error
		reason  sessions.Reason
		why     string
	)
	sessionID, userID := in.Custody.SessionID, in.Custody.UserID
	st, err := p.reg.StartLogin(ctx, in)
	if err == nil {
		switch st.Changed(in) {
		case "":
			if !st.Audited {
				// The store's rule and Changed disagree (they must not):
				// the login stands, and is audited on its own.
				p.log.Error("login re-check: success not appended by the store", slog.String("session_id", sessionID))
				p.audit(ctx, in.Success...)
			}
			return nil
		case devices.LoginUserGone, devices.LoginUserDeleted:
			refusal, reason, why = devices.ErrDisabled, sessions.ReasonUserDeleted, "account_disabled"
		case devices.LoginDeviceRevoked:
			refusal, reason, why = ErrDeviceRevoked, sessions.ReasonDeviceRevoked, "device_revoked"
		case devices.LoginUserSuspended:
			refusal, reason, why = devices.ErrDisabled, sessions.ReasonUserSuspended, "account_disabled"
		case devices.LoginPINReset:
			refusal, reason, why = devices.ErrInvalidCredentials, sessions.ReasonPINReset, "pin_reset"
		case devices.LoginBadgeChanged:
			// As an unknown badge: the badge scanned is no longer theirs.
			refusal, reason, why = devices.ErrInvalidCredentials, sessions.ReasonAdmin, "badge_changed"
		default: // devices.LoginWrongWarehouse
			refusal, reason, why = ErrWrongWarehouse, sessions.ReasonAdmin, "wrong_warehouse"
		}
	} else {
		// Fail closed: the session is not handed out.
		refusal, reason = unavailable("record custody and re-read device and user", err), sessions.ReasonAdmin
	}
	if _, err := p.sessions.End(context.WithoutCancel(ctx), sessionID, reason); err != nil && !errors.Is(err, sessions.ErrNotFound) {
		p.log.Error("end the session of a login refused late", slog.String("session_id", sessionID), slog.Any("err", err))
		return unavailable("end the session of a login refused late", err)
	}
	if why != "" {
		p.audit(ctx, failure(why, devices.UserActor(userID)))
	}
	return refusal
}

// SessionPolicy is the session policy of the settings in force: the cap
// (at least 1) and what happens at it, and the idle and absolute ends.
func SessionPolicy(set devices.Settings) sessions.Policy {
	return sessions.Policy{
		Cap:      max(set.SessionCap, 1),
		DenyNew:  set.CapPolicy == devices.DenyNew,
		Idle:     time.Duration(set.IdleTimeoutS) * time.Second,
		Absolute: time.Duration(set.AbsoluteTimeoutS) * time.Second,
	}
}

// PINChange is a user's change of their own PIN (POST /v1/pin), made
// with a session of theirs.
type PINChange struct {
	Session  sessions.Session
	Settings devices.Settings // in force in the session's warehouse
	Current  string
	New      string
}

// ChangePIN takes a PIN change through the order of a login (a wrong
// current PIN counts as a failure): claim, check, hash, count, audit,
// then the change and the session's release from its PIN-change
// confinement. The registry's refusals of the new PIN
// (*devices.PolicyError, *devices.ValidationError naming "pin"),
// devices.ErrDisabled and devices.ErrNotFound (the user is gone) pass
// through.
func (p *Policy) ChangePIN(ctx context.Context, in PINChange) error {
	sess := in.Session
	a := attempt{
		kind:      kindPINChange,
		Attempt:   throttle.Attempt{Subject: UserSubject(sess.Username), Source: DeviceSource(sess.DeviceID), WarehouseID: sess.WarehouseID},
		limits:    Limits(in.Settings.Throttle),
		perSource: true,
	}
	a.refused = func(d throttle.Decision) devices.Event {
		return throttledEvent("pin.change_throttled", devices.UserActor(sess.UserID), devices.UserActor(sess.UserID), sess.WarehouseID, sess.DeviceID, d)
	}
	release, _, err := p.begin(ctx, a)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel, err := p.hash(ctx, a.kind, func(ctx context.Context) error {
		_, err := p.reg.ChangePIN(ctx, sess.UserID, in.Current, in.New)
		return err
	})
	if errors.Is(err, ErrBusy) {
		return err
	}
	defer cancel()
	// The new PIN is refused, the user is disabled or gone: nothing to
	// count, nothing changed.
	if errors.Is(err, devices.ErrInvalid) || errors.Is(err, devices.ErrDisabled) || errors.Is(err, devices.ErrNotFound) {
		return err
	}
	if err := p.settle(ctx, a, err, devices.DeviceActor(sess.DeviceID),
		func() devices.Event {
			return devices.Event{Actor: devices.UserActor(sess.UserID), Action: "pin.change_failure", Subject: devices.UserActor(sess.UserID),
				WarehouseID: sess.WarehouseID, DeviceID: sess.DeviceID, Details: map[string]string{"reason": "invalid_credentials"}}
		}, nil); err != nil {
		return err
	}
	if err := p.sessions.ClearPINChange(ctx, sess.ID); err != nil && !errors.Is(err, sessions.ErrNotFound) {
		return unavailable("clear pin change", err)
	}
	return nil
}

// throttledEvent is the audit event of a device sign-in refused by the
// throttle's check: the verdict (delay, user_locked, quarantined) and
// the wait, 0 for a quarantine, and whether a spray alarm's tightened
// limits decided it.
func throttledEvent(action, actor, subject, warehouseID, deviceID string, d throttle.Decision) devices.Event {
	details := map[string]string{"verdict": string(d.Verdict), "retry_after_s": strconv.Itoa(int(d.RetryAfter / time.Second))}
	if d.Tightened {
		details["spray_tightened"] = "true"
	}
	return devices.Event{Actor: actor, Action: action, Subject: subject, WarehouseID: warehouseID, DeviceID: deviceID, Details: details}
}
