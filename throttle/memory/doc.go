// Package memory is the in-process throttle.Throttle: the embedded
// default for one Floorgate instance with no Redis. It passes the
// conformance suite in throttle/throttletest.
//
// Locks: one mutex over all its counters, which serialises failure
// counting per subject (and everything else): a sign-in is gated by a
// password hash of tens of milliseconds, so the counters are never the
// bottleneck. Counters idle past Options.Forget are dropped lazily by
// the calls that meet them. It never fails, and starts no goroutine.
//
// It imports the standard library and package throttle only.
package memory
