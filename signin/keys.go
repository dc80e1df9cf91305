package signin

import (
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/throttle"
)

// The namespaces of throttle keys. A key is its namespace and the
// normalised value; no typed input can produce another namespace's key,
// because the namespace is added here, never read from input.
const (
	userNS    = "u:"
	managerNS = "m:"
	deviceNS  = "d:"
	addressNS = "ip:"
	// enrollTokenNS: the subject of enrollment-token attempts is the
	// client address, since a wrong token names no account.
	enrollTokenNS = "et:"
)

// maxKeyInput bounds the part of a typed name that becomes a key, so that
// nothing huge reaches the throttle's store.
const maxKeyInput = 320

// UserSubject is the throttle subject of a typed username: u: and its
// normalised key, known user or not. A name that cannot be normalised
// cannot exist, but is throttled under its trimmed lower case so that it
// costs an attacker the same as any other.
func UserSubject(username string) string {
	if key, err := devices.NormalizeUsername(username); err == nil {
		return userNS + key
	}
	return userNS + fallbackKey(username)
}

// ManagerSubject is the throttle subject of a typed email: m: and its
// key (devices.EmailKey), or its trimmed lower case when it is not an
// email address (its sign-in fails anyway, throttled the same).
func ManagerSubject(email string) string {
	if key, err := devices.EmailKey(email); err == nil {
		return managerNS + key
	}
	return managerNS + fallbackKey(email)
}

// DeviceSource is the throttle source of a device.
func DeviceSource(deviceID string) string { return deviceNS + deviceID }

// AddressSource is the throttle source of a client address (enrollment
// and admin sign-in: there is no device). Addresses quarantined under
// their bare form by older versions no longer apply.
func AddressSource(addr string) string { return addressNS + addr }

// EnrollTokenSubject is the throttle subject of an enrollment-token
// attempt from a client address: et:<address>.
func EnrollTokenSubject(addr string) string { return enrollTokenNS + fallbackKey(addr) }

func fallbackKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > maxKeyInput {
		s = s[:maxKeyInput]
	}
	return s
}

// auditSubject is how an audit event names a throttle subject:
// username:<key>, email:<key> or address:<address>.
func auditSubject(subject string) string {
	if key, ok := strings.CutPrefix(subject, managerNS); ok {
		return "email:" + key
	}
	if addr, ok := strings.CutPrefix(subject, enrollTokenNS); ok {
		return "address:" + addr
	}
	return "username:" + strings.TrimPrefix(subject, userNS)
}

// Limits turns the registry's throttle settings into the throttle's
// limits; zero fields take devices.DefaultThrottle (Throttle.WithDefaults).
// It is the one place where settings become limits.
func Limits(t devices.Throttle) throttle.Limits {
	t = t.WithDefaults()
	sec := func(s int) time.Duration { return time.Duration(s) * time.Second }
	return throttle.Limits{
		PairFreeFailures: t.PairFreeFailures,
		PairMaxDelay:     sec(t.PairMaxDelayS),
		UserFailures:     t.UserFailures,
		UserWindow:       sec(t.UserWindowS),
		UserLock:         sec(t.UserLockS),
		// No lock is permanent: a colleague (or anyone on the floor
		// network) could trigger it. user_hard_failures is no longer
		// applied; repeated timed locks grow instead, up to MaxUserLock.
		UserHardFailures:  0,
		UserLockMax:       max(MaxUserLock, sec(t.UserLockS)),
		SpareCleanSources: true,
		DeviceFailures:    t.DeviceFailures,
		DeviceWindow:      sec(t.DeviceWindowS),
		SprayUsers:        t.SprayUsers,
		SprayWindow:       sec(t.SprayWindowS),
		SprayHold:         SprayHold,
	}
}

// SprayHold is how long a warehouse's spray alarm (spray_users distinct
// usernames failing within spray_window_s) tightens the limits of every
// PIN sign-in in that warehouse (throttle.Tighten): pair_free_failures,
// user_failures and device_failures halve, a user's lock lasts twice as
// long. The alarm is raised, audited and logged at most once per hold.
const SprayHold = time.Hour

// MaxUserLock is the longest a repeated timed lock of a user or a
// manager grows to (each lasts twice the one before).
const MaxUserLock = 4 * time.Hour

// AddressLimits are the limits of a sign-in whose source is a client
// address, not a device. Many people share an address (a NAT, a proxy),
// and a source quarantine lasts until someone unlocks it, which no one can
// do for an address: one colleague typing wrong passwords for made-up
// emails would lock everybody behind it out for good. So the source
// quarantine is off (DeviceFailures 0 turns it off in every throttle),
// and so is the spray alarm (it needs a warehouse). What stays: the
// rate per address (AddressRate), the growing delays per (email,
// address), and the timed lock per email across addresses, which grows
// when repeated, always ends, and does not hold against an address that
// has not failed for that email: a manager under attack still signs in
// from where they are.
func AddressLimits(l throttle.Limits) throttle.Limits {
	l.DeviceFailures, l.DeviceWindow = 0, 0
	l.SprayUsers, l.SprayWindow, l.SprayHold = 0, 0, 0
	return l
}
