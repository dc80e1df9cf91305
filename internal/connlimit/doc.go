// Package connlimit keeps one client, or a crowd of them, from taking
// every file the process may open: it caps what is open at once per
// client address and in all, and refuses the excess at once with an HTTP
// 503 that carries Retry-After, so that a well-behaved device backs off
// instead of retrying in a loop.
//
//   - Listener wraps a net.Listener: each accepted connection holds a
//     slot of its peer address and one of the listener until it is
//     closed (a hijacked websocket keeps its slot until the socket
//     closes). A connection over either cap is answered with a fixed
//     503 problem (code unavailable) and closed without reaching
//     net/http, so a refusal costs no goroutine of the server and no
//     request parsing.
//   - Counter is the same bookkeeping for anything else (the gateway's
//     open websockets, counted by the client address that net/http's
//     caller decides, a trusted proxy's header included).
//
// An address is an IPv4 address, or the /64 prefix of an IPv6 one: a
// single IPv6 host is usually given a whole /64, and a cap per /128
// would not hold it.
//
// A refusal lingers for a moment after the answer (reading what the
// client had sent, at most LingerMax at once), so that the client reads
// the 503 rather than a connection reset.
//
// It imports the standard library only. The only goroutines it starts
// are those lingering refusals, each bounded in time.
package connlimit
