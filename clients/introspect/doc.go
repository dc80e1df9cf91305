// Package introspect lets a backend that serves the apps on the handhelds
// check the Floorgate session token of every request.
//
// A [Client] asks Floorgate's POST /v1/introspect whether a session token
// is active, authenticated with a service key (scope introspect).
// [Client.Middleware] wraps a net/http handler: it reads the bearer
// session token of each request, introspects it, and either calls the
// handler with the [Session] in the request's context ([FromContext]) or
// answers itself: 401 invalid_token when the session is not active, 503
// unavailable when Floorgate cannot be reached or cannot answer. It fails
// closed: no request reaches the handler unless Floorgate said active.
//
// There is no cache: every request is one introspection, so a forced
// logout takes effect on the next request.
//
// The package speaks to Floorgate over the network only and imports
// nothing of Floorgate's own packages (layout_test.go keeps it so). It
// starts no goroutines.
package introspect
