// Package console is Floorgate's admin console: the web pages served on
// the admin listener at "/" (everything but /admin/v1, which is the
// admin API), where admins, user managers and mobile managers run their
// warehouses without curl.
//
// # One authorization path
//
// The console reads and changes nothing itself. Every read and every
// action is a request to the admin API's own http.Handler, made in
// process (api.go): it carries the signed-in manager's token, the
// original client address and forwarding headers, and the request id, so
// authentication, per-warehouse roles (404 outside a manager's scope, 403
// inside), validation, throttling, audit and error codes are exactly the
// API's. The route table (routes.go) names, for every console route, the
// admin API routes it calls; a test fails when one of them is not an
// admin API route.
//
// # Pages
//
// Pages are html/template files embedded with go:embed and rendered on
// the server; they work with JavaScript off. One small script of our own
// (static/console.js) adds the live updates (server-sent events), the
// username suggestion as you type and confirmations. No framework, no
// third-party file, nothing from a CDN. To add a page: write its
// template under templates/, its handlers in a file of their own, and its
// entries in the route table (and the menu, menu.go).
//
// # Security
//
// The session cookie holds the manager token (HttpOnly, SameSite=Strict,
// Path=/, Secure when the request came over TLS or through a trusted
// proxy that says so); it expires with the token, whose idle and
// absolute ends the API enforces. State-changing requests pass
// net/http.CrossOriginProtection. Every answer carries a strict
// Content-Security-Policy (no inline script or style), X-Frame-Options
// DENY, Referrer-Policy no-referrer and X-Content-Type-Options nosniff.
// No token ever appears in a URL.
//
// # Live updates
//
// Feed receives the fan-out events this instance hears (cmd/floorgate
// tees the gateway's one watcher into it). A live page (the board, a
// list of logout commands) holds a server-sent-event stream: on an event
// of its warehouse it refetches through the API, coalesced, and pushes
// what changed; a slow timer refreshes it too, in case an event was
// lost.
//
// # Imports and goroutines
//
// It imports the standard library, admin and devices (for the API's JSON
// types) and sessions (for the fan-out Event). It never calls a store or
// the registry. A live stream runs in its request's goroutine until the
// client goes away or Shutdown's context ends; Feed starts none.
package console
