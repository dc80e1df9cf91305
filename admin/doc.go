// Package admin is the admin REST API of Floorgate, served under
// /admin/v1 on the admin listener, and its OpenAPI 3.1 document
// (GET /admin/v1/openapi.json).
//
// It owns: the manager sign-in endpoint (its policy, throttle and hashing
// pool are the signin package's, shared with the gateway) and bearer
// authentication (manager tokens and service keys with scope admin), the
// authorization of every admin action by role and warehouse, the HTTP
// handlers for warehouses, managers, mobile users (with CSV import and
// export), devices, sessions, logout commands, settings, service keys and
// the audit log, its table from errors to problems (the problem document,
// the writer and the body decoder are internal/problem's), and the
// reconciler that repairs what a half-finished suspend, delete, device
// revocation, re-enrollment or PIN reset left behind.
//
// Work that spans the registry and the session store (suspend a user, end
// their sessions) is done here, in the order that fails safe: the
// registry first, then the sessions; the reconciler in Run ends any
// session a failed second step left live.
//
// It imports the standard library, chi, the Prometheus client, signin,
// devices, sessions and internal/problem. It must never import gateway
// (nor gateway admin: the two HTTP packages are siblings), the throttle
// (only through signin), nor a database or Redis driver.
//
// Manager tokens are checked through a per-instance cache
// (devices.ManagerTokenCache, Config.ManagerTokenCache) that is on only
// while the caller feeds the API the fan-out (Subscribed, Watched); every
// change the registry reports to a manager or their tokens drops them
// here and, through sessions.KindManagerChanged, on every instance
// (managercache.go).
//
// Goroutines: Handler starts none; an import hashes PINs on a bounded
// pool of goroutines that end before its handler returns. Run is a
// blocking method the caller runs in its own goroutine: it sends the
// queued forgot-password mails until ctx ends. The reconciler, the purge
// and the audit sealer run in package housekeeping.
package admin
