// Package throttle owns the sign-in failure counters: per (subject,
// source) delays, per-subject timed and hard locks, per-source
// quarantines and the per-warehouse spray alarm, the leases that keep
// one attempt in flight per key across instances (Claim), and token
// buckets shared by every instance (Take: the per-address rate). It decides from the
// counters and the Limits it is given; what a subject or a source is, and
// which limits apply, is the signin package's business.
//
// The backends live in throttle/redis (production, many instances) and
// throttle/memory (the embedded default, one instance); both pass the
// conformance suite in throttle/throttletest.
//
// It imports the standard library only: never devices, sessions,
// gateway, admin or a Redis client. It starts no goroutine.
package throttle
