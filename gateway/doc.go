// Package gateway serves the device listener: the HTTP handlers of
// POST /v1/enroll, /v1/login, /v1/pin, /v1/logout, /v1/introspect,
// GET /v1/session and the websocket GET /v1/ws, this instance's table of
// device sockets, and the pushes of logouts, warnings and revocations to
// them. The protocol itself (paths, codes, fields, frames, close codes)
// is docs/PROTOCOL.md; what the gateway decides where the protocol is
// silent (limits, audit events, metrics) is docs/DEVICE-API.md.
// /healthz, /readyz and /metrics belong to cmd/floorgate.
//
// # What it owns
//
//   - Its table from errors to problems (ProblemOf; the problem type, the
//     writer and the body decoder are internal/problem's, shared with the
//     admin API, docs/ERRORS.md). An error it does not know is 503.
//   - The request bodies of the device protocol (decode.go) and the
//     checks before a sign-in: the device token, the body, the app
//     version. The sign-in itself (claim, throttle, hash, count, audit,
//     issue) is the signin package's (docs/SIGNIN.md).
//   - Introspection, answered from the session store and the registry's
//     service-key cache, with no database read per call.
//   - The session object of welcome and GET /v1/session, whose user
//     (names, language) comes from this instance's cache (usercache.go,
//     kept like the device-token cache, a user dropped by the admin
//     API's sessions.KindUserChanged), so that a signed-in device's
//     reconnect makes no registry read either.
//   - The socket table (hub.go): one socket per device on this instance,
//     and across instances through socket_opened announcements (kindSocketOpened) whose
//     socket ids are time-ordered, so that the newer socket wins even
//     with clock skew (socketRace); pushes from the fan-out; presence in
//     batches.
//   - The websocket handshake (upgrade.go): gorilla's checks and answer,
//     the answer held and written with the socket's first frame (one
//     write with welcome) when the header authenticated the device.
//   - The caps on open sockets (ws.go): MaxSocketsPerAddr from one client
//     address (ClientIP; an IPv6 /64) and MaxSockets in all, each socket
//     holding its slot from the upgrade to its clean-up; an upgrade over
//     either, or after Shutdown has begun, is answered 503 with
//     Retry-After before any store call.
//
// # Goroutines
//
// Run owns the instance's loops until its context ends: the fan-out watch
// (Sessions.Watch, delivering events to local sockets without blocking),
// the re-check (recheck.go: every RecheckEvery and after each resync of
// the watcher, the pending logouts of every socket held, pushed when
// never delivered; after a resync that says the store lost its data,
// every socket closed with 1001), pings (PingEvery, spread over 25
// ticks, which also drop peers silent for PongWait), presence (every
// PresenceFlushEvery, the devices whose sockets closed since the last
// pass offline in one call, then the sockets welcomed since online; and
// every socket in batches every PresenceEvery; one pass at a time, so
// that a device's offline batch never overtakes its online one), the
// activity events and
// the device-token cache's sweep of expired entries (every
// DeviceTokenTTL).
// The expiry sweep and the registry's flushers of what the gateway notes
// (last seen, custody ends) are package housekeeping's. A socket has a
// reader goroutine only while its connection has input: the instance's
// epoll poller (poll_linux.go, started with the first socket, stopped by
// Shutdown) starts one when the connection is readable, which reads what
// is there without blocking, acts on every whole frame (inbound.go parses
// them; wsconn.go writes) and hands the socket back; without epoll (or a
// descriptor) a socket reads in a goroutine of its own. A writer
// goroutine runs only while frames are queued: writes carry a WriteWait
// deadline, and a socket with more than 64 frames waiting is cut, so a
// device that stops reading never holds up another. Written logouts'
// delivered marks and the devices' acks go to the store in batches
// (marks.go): one flusher goroutine at a time, started by the first mark
// when none runs, sends in one DeliveredMany and one AckMany what queued
// while the previous batch was in flight, and sends a refused batch
// again (three tries). Shutdown closes
// every socket with 1001 and waits for every goroutine of theirs (run,
// reader and its clean-up, writer, presence batches, the marks'
// flusher), then marks the devices of the closed sockets offline in one
// batch, so that no store call (an ack, a delivered mark, MarkOffline)
// follows it and the caller may close the stores.
//
// # Contexts
//
// Once a request's answer is decided (the hash has run, a logout's token
// was valid), what must follow (the failure count or the throttle reset,
// the session, the enrollment, the audit events) runs on a context that
// keeps the request's values but not its cancellation (signin.Decided),
// bounded by 5 s:
// a client that disconnects cannot leave a login without its audit
// event. Socket work (acks, delivered marks, presence) runs on the
// server's own context, cancelled only when Shutdown's deadline passes.
//
// # Memory
//
// An idle socket holds no goroutine and no stack (its reader runs only
// while there is input; a 4 KiB stack each when a goroutine blocked in
// gorilla's read), no read buffer (input is read into a pooled buffer),
// no write buffer (a shared sync.Pool lends one per frame), the network
// connection with a write lock (wsconn.go; the handshake is the
// gateway's own, upgrade.go, with no gorilla Conn), a socket record and its hub
// entries; no timer (liveness is the ping loop's). BenchmarkIdleSocketMemory
// measures it: about 2.6 to 3.2 KiB of RSS per socket after pings (8.2 to
// 8.7 KiB with the blocking reader).
//
// # Imports
//
// The standard library, chi, gorilla/websocket, the Prometheus client,
// signin, devices, sessions and internal/problem; never admin, cmd, the
// throttle (only through signin) or a database or Redis driver.
package gateway
