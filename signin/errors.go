package signin

import (
	"errors"
	"fmt"
	"time"
)

// Errors of a sign-in. The registry's (devices.ErrInvalidCredentials,
// devices.ErrDisabled) and the session store's (sessions.ErrLimit) pass
// through as they are.
var (
	// ErrThrottled: the subject is locked or the (subject, source) pair
	// must wait; the error is a *ThrottledError with the wait.
	ErrThrottled = errors.New("too many attempts")
	// ErrQuarantined: the device is quarantined until a manager unlocks it.
	ErrQuarantined = errors.New("the device is quarantined")
	// ErrInFlight: another attempt for the same subject (or device) is
	// between its check and its count on this instance.
	ErrInFlight = errors.New("another attempt is in progress")
	// ErrBusy: no hashing slot came free in time.
	ErrBusy = errors.New("no hashing slot is free")
	// ErrWrongWarehouse: the PIN was right, but the user belongs to another
	// warehouse than the device.
	ErrWrongWarehouse = errors.New("the account belongs to another warehouse")
	// ErrDeviceRevoked: the device was revoked while the login was being
	// decided; the device's token no longer works.
	ErrDeviceRevoked = errors.New("the device was revoked")
	// ErrForbidden: the password was right, but the manager may not enroll
	// devices in that warehouse.
	ErrForbidden = errors.New("the manager may not enroll devices here")
	// ErrUnavailable: a store the decision needs (the throttle, the
	// registry, the session store) did not answer; nothing was assumed.
	ErrUnavailable = errors.New("sign-in unavailable")
)

// LockedWait is the wait a refusal names for a lock that lasts until
// someone lifts it (the throttle says 0).
const LockedWait = time.Hour

// ThrottledError is ErrThrottled with the wait before the next attempt.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts: retry after %s", e.RetryAfter)
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// unavailable marks err as ErrUnavailable, with what was being done.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}
