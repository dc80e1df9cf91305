// Package gateway serves the device protocol of API.md: POST /v1/enroll,
// /v1/login, /v1/pin, /v1/logout, /v1/introspect, GET /v1/session and the
// websocket GET /v1/ws; it holds this instance's table of device sockets
// and pushes logouts, warnings and revocations to them. /healthz, /readyz
// and /metrics belong to cmd/floorgate.
//
// # What it owns
//
//   - The HTTP contract: every status, code and field of API.md. Errors
//     become RFC 9457 problems through one table, ProblemOf (the problem
//     type, writer and decoder are internal/problem's, shared with the
//     admin API); a 5xx body never carries an error's text; an error it
//     does not know is 503 unavailable (fail closed).
//   - Request bodies: at most 16 KiB, one JSON object of valid UTF-8,
//     declared as application/json (or not declared), required fields
//     checked, each problem named in errors[]. Unknown fields are ignored,
//     so that a newer app can talk to an older server (fields may be
//     added, API.md). Login also accepts an optional app_version, the
//     app's version now; without it the version recorded at enrollment
//     is compared with the warehouse's minimum, and an empty or
//     unreadable version counts as below any minimum.
//   - Sign-in (login, PIN change, enrollment): the device token, the
//     body and (login) the app version here, then the signin package's
//     order: claim, throttle check, hash in the shared pool, count,
//     audit, issue. Manager sign-in for enrollment is throttled with the
//     client address as the source (Config.ClientIP behind a proxy).
//   - Introspection: answered from the session store and the registry's
//     service-key cache, no database read per call. A session confined to
//     a PIN change introspects as {"active":false}: it may be used for
//     nothing but /v1/pin and /v1/logout.
//
// # Sockets
//
// Refused before the upgrade, as problems: a token in the query string
// (400: the parameters token, device_token, access_token, or any value
// holding a Floorgate token prefix), an Origin not on the allow-list (403), a registry that cannot
// answer (503). After it, close codes: 4401 bad token, 4403 revoked, 4408
// no auth message within AuthTimeout, 4409 replaced by a newer socket of
// the device (on this instance or another: KindSocketOpened carries a
// socket id time-ordered to the nanosecond: a socket registered more
// than socketRace before the announcement closes, and of two sockets
// within socketRace the smaller id closes, so clock skew between
// instances cannot keep an old socket open), 4403 also when a session
// of the device ends with reason device_revoked (a backstop for a lost
// revocation event), 1008 more than
// MessageRate messages per second beyond a burst of MessageBurst, 1009 a
// message over 4 KiB, 1001 on Shutdown, or when the session store cannot
// answer at connect (reconnect later). Before welcome a connect makes
// three store calls: the socket's announcement (KindSocketOpened), the
// device's sessions (then the user of the newest, for the session view)
// and its queued commands. Presence is not among them: Run marks the
// sockets welcomed since its last pass every PresenceFlushEvery, all in
// one MarkOnline, and a socket that closes while its batch is in flight
// is marked offline after the batch has landed. A message the gateway cannot parse
// or does not know (anything but ack after authentication) is answered
// with nothing; it only counts toward the rate limit.
//
// welcome is always the first frame; logouts pushed between registration
// and welcome are held and sent after it, with the queued ones
// (Sessions.Pending), each once. Every logout frame written is marked
// delivered. Push latency is measured for live pushes only (from the
// command's creation to the frame written); queued ones are counted
// apart.
//
// # Goroutines
//
// Run owns the instance's loops until its context ends: the fan-out watch
// (Sessions.Watch, delivering events to local sockets without blocking),
// the expiry sweep (every SweepEvery), pings (PingEvery, spread over 25
// ticks, which also drop peers silent for PongWait), presence (the
// sockets welcomed since the last pass every PresenceFlushEvery, and
// every socket in batches every PresenceEvery) and the registry's
// last-seen flusher. Each socket has one reader goroutine for its life
// (started when the HTTP handler returns, so net/http's buffers go) and
// a writer goroutine only while frames are queued: writes carry a
// WriteWait deadline, and a socket with more than 64 frames waiting is cut,
// so a device that stops reading never holds up another. Each message a
// device sends is handled in a short-lived goroutine. Shutdown closes
// every socket with 1001 and waits for every goroutine of theirs (run,
// reader and its clean-up, writer, message handlers, presence batches),
// so that no store call (an ack, a delivered mark, MarkOffline) follows
// it and the caller may close the stores.
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
// An idle socket holds its reader's stack (4 KiB: gorilla's blocking read
// is deeper than the 2 KiB minimum), the websocket connection with a
// 256-byte read buffer (devices send messages under 100 bytes), no write
// buffer (a shared sync.Pool lends one per write) and a small socket
// record; no timer (liveness is the ping loop's). BenchmarkIdleSocketMemory
// measures it: about 7.8 KiB of RSS per socket after pings (8.8 KiB with
// a 1 KiB read buffer).
//
// # Imports
//
// The standard library, chi, gorilla/websocket, the Prometheus client,
// signin, devices, sessions and internal/problem; never admin, cmd, the
// throttle (only through signin) or a database or Redis driver.
package gateway
