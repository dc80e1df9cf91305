// Package housekeeping owns the background upkeep of the stores that no
// request owns: the expiry sweep of sessions (sessions.Sweeper), the
// registry's last-seen and custody flushers (what the gateway notes in
// memory, written in batches), the reconciler (the sessions that
// outlived a suspension, a deletion, a device revocation or a PIN reset,
// when ending them failed at the time), the purge (users past their
// restore window, custody records past their retention) and the audit
// chain's sealer.
//
// cmd/floorgate builds one Keeper per instance and runs Keeper.Run
// beside the gateway and the admin API; every part is safe to run on
// every instance at once. It sits beside the two HTTP packages, one
// layer above the stores: it imports devices and sessions (and the
// Prometheus client), never signin, gateway, admin, cmd or a driver.
//
// Goroutines: New starts none. Run is a blocking method its caller runs
// and stops with ctx; it runs its loops in goroutines of its own and
// returns once every one has stopped (the flushers write once more).
package housekeeping
