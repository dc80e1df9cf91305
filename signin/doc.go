// Package signin is Floorgate's one sign-in policy: every way of proving
// a secret (a PIN on a device, POST /v1/login; a manager's password to
// enroll a device, POST /v1/enroll; a manager's password on the admin
// API, POST /admin/v1/login; and the user's own PIN change, POST /v1/pin)
// goes through it, so that a fix to sign-in is made once.
//
// # What it owns
//
//   - The limits: Limits maps the registry's throttle settings to the
//     throttle's, and AddressLimits turns off what must not apply to a
//     client address (the source quarantine, which no one can lift for an
//     address, and the spray alarm, which needs a warehouse).
//   - The key formats of the throttle. Every subject and source has a
//     namespace no typed input can reach: subjects u:<username key> and
//     m:<email key>, sources d:<device id> and ip:<address>. A PIN login
//     with the username "m:boss@example.com" counts against u:m:boss…,
//     never against the manager.
//   - The in-flight claim: across every instance sharing the throttle's
//     store, one attempt at a time per subject (and per device for PINs),
//     from the throttle check to the failure count, so that parallel
//     guesses cannot all pass the check before the first failure is
//     counted. It is a lease (throttle.Claim, ClaimTTL) that a crashed
//     instance's attempt leaves for at most 15 s. A second one is
//     ErrInFlight.
//   - The address rate of enrollment and admin sign-in (AddressRate),
//     before any store call or hash.
//   - The bounded hashing pool (Pool): at most Workers hashes at once,
//     with a bounded share for enrollment and for admin sign-in (Shares);
//     an attempt that finds no slot within its wait is ErrBusy instead of
//     queuing until everything times out.
//   - The order, the same for every kind:
//     claim → check → hash → count → audit → issue.
//     A PIN login reads its user after the check and before it takes a
//     hashing slot, so that the slot is held for the hash alone; the
//     pool admits at most its slots and a quarter more (at least one
//     more) to that read at once
//     (Pool.admit), within the same wait.
//     Refusals that need the right secret (account disabled, wrong
//     warehouse, no role) come only after the hash. Every step after the
//     hash (the failure count or the reset, the audit, issuing the
//     session, the token or the enrollment) runs on a context the client
//     cannot cancel (bounded by DecidedWait), so that a client that hangs
//     up cannot undo half a decision.
//   - Fail closed: a check or a failure count the throttle cannot make is
//     ErrUnavailable (503 on both listeners), never a guess.
//
// Errors are this package's sentinels (ErrThrottled with a
// *ThrottledError, ErrQuarantined, ErrInFlight, ErrBusy,
// ErrWrongWarehouse, ErrForbidden, ErrUnavailable) or the registry's and
// the session store's (devices.ErrInvalidCredentials, ErrDisabled,
// sessions.ErrLimit, validation errors): each HTTP package maps them in
// its one table.
//
// It imports devices, sessions and throttle (never gateway, admin or a
// driver), and starts no goroutine.
package signin
