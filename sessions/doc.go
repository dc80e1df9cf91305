// Package sessions owns live sessions: create with the per-user cap,
// validate and touch, idle and absolute expiry, lists, ends (one, per
// user, per device, per warehouse), logout commands with their delivery
// and acknowledgement, and the fan-out of events to every gateway
// instance. The sign-in failure counters live in package throttle.
//
// The backends live in sessions/redis (production, many instances) and
// sessions/memory (the embedded default, one instance); both pass the
// conformance suite in sessions/sessionstest.
//
// It imports the standard library only: never devices, gateway, admin or
// a Redis client. Background work (Watch, Sweep loops) is run by the
// caller, which owns those goroutines.
package sessions
