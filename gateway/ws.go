package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/connlimit"
	"github.com/floorgate/floorgate/internal/problem"
	"github.com/floorgate/floorgate/sessions"
)

// queryTokenParams are refused on GET /v1/ws: a token never travels in a
// URL, where proxies and logs would keep it.
var queryTokenParams = []string{"token", "device_token", "access_token"}

// tokenPrefixes are the prefixes of every Floorgate credential: a query
// string holding one, under any parameter name, is refused too.
var tokenPrefixes = []string{devices.DeviceTokenPrefix, sessions.TokenPrefix, devices.ServiceKeyPrefix, devices.ManagerTokenPrefix}

// queryToken names the query parameter that carries a token, or "query"
// when a token prefix appears anywhere in the raw query; "" when none.
func queryToken(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	q := r.URL.Query()
	for _, k := range queryTokenParams {
		if q.Has(k) {
			return k
		}
	}
	// The raw query and its decoded values both, so that neither a
	// malformed query nor an escaped prefix ("fgd%5F") slips through.
	texts := []string{r.URL.RawQuery}
	for _, vs := range q {
		texts = append(texts, vs...)
	}
	for _, t := range texts {
		t = strings.ToLower(t)
		for _, p := range tokenPrefixes {
			if strings.Contains(t, p) {
				return "query"
			}
		}
	}
	return ""
}

// originAllowed reports whether a browser origin is on the allow-list.
func (s *Server) originAllowed(origin string) bool {
	return s.anyOrig || s.origins[strings.ToLower(strings.TrimRight(origin, "/"))]
}

// serveWS is GET /v1/ws. Refusals that can be decided before the upgrade
// (a token in the query, a foreign Origin, a store that cannot answer)
// are problem responses; after it, close codes. A socket authenticated
// by its header is registered and welcomed by the handler itself (an
// announce's round trip), then handed to its reader; one that waits for
// an auth message is handed to a goroutine of its own at once, so that
// net/http's per-request buffers and goroutine are released meanwhile.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if k := queryToken(r); k != "" {
		WriteProblem(w, invalidFields(problem.FieldError{Field: k, Code: "not_allowed",
			Message: "tokens are refused in the query string: send Authorization: Bearer or an auth message"}))
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
		WriteProblem(w, &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: "origin not allowed"})
		return
	}
	if s.hub.isClosing() {
		WriteProblem(w, errGoingAway)
		return
	}
	// A slot of the caps before any store call: a flood of upgrades
	// from one address is refused here, cheaply, and the device told
	// when to try again.
	addr := connlimit.Key(s.cfg.ClientIP(r))
	if reason := s.slots.Acquire(addr); reason != "" {
		s.metrics.socketRefusals.WithLabelValues(reason).Inc()
		WriteProblem(w, socketsFull(reason))
		return
	}
	var (
		auth socketAuth
		code int
	)
	if r.Header.Get("Authorization") != "" {
		auth.token = bearer(r)
		d, gen, err := s.socketDevice(r.Context(), auth.token)
		switch {
		case err == nil:
			auth.dev, auth.gen = &d, gen
		case errors.Is(err, errInvalidToken) && d.ID != "":
			code = closeRevoked
		case errors.Is(err, errInvalidToken):
			code = closeInvalidToken
		default:
			s.slots.Release(addr)
			s.fail(w, r, err)
			return
		}
	}
	nc, answer, err := upgrade(w, r)
	if err != nil {
		s.slots.Release(addr)
		return // answered, or cut (upgrade.go)
	}
	// The answer goes out with the socket's first frame (upgrade.go);
	// the socket reads and writes its frames itself (wsconn.go,
	// inbound.go).
	sock := newSocket(s.sockets, newHeldWSConn(nc, answer), addr)
	s.work.add()
	if auth.dev == nil && code == 0 {
		// It waits for an auth message, up to AuthTimeout: net/http's
		// goroutine and the request's buffers are let go meanwhile.
		go s.runSocket(sock, auth, code)
		return
	}
	// Decided by the header: the announce's round trip, then the
	// handler returns. One goroutine fewer per connect.
	s.runSocket(sock, auth, code)
}

// socketAuth is how a socket was authenticated: the device, the token it
// showed and the token cache's generation before the lookup (see
// stillValid).
type socketAuth struct {
	dev   *devices.Device
	token string
	gen   uint64
}

// socketDevice authenticates a socket's device token through this
// instance's token cache. It returns the cache's generation as it was
// before the lookup.
func (s *Server) socketDevice(ctx context.Context, raw string) (devices.Device, uint64, error) {
	gen := s.tokens.Generation()
	d, err := s.deviceByTokenWith(ctx, raw, s.tokens.AuthenticateDevice)
	return d, gen, err
}

// socketRetry is the Retry-After of an upgrade refused by the caps.
const socketRetry = 10 * time.Second

// errGoingAway refuses an upgrade once Shutdown has begun.
var errGoingAway = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
	Detail: "this instance is stopping: connect again", RetryAfter: time.Second}

// socketsFull is the refusal of an upgrade over a cap.
func socketsFull(reason string) error {
	detail := "this instance holds as many sockets as it may: try again later"
	if reason == connlimit.ReasonAddress {
		detail = "too many sockets from your address: try again later"
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Detail: detail, RetryAfter: socketRetry}
}

// runSocket authenticates the socket (unless the header did), registers it,
// writes welcome, then hands the connection to its reader (poll.go).
// Whichever of the two ends last cleans up.
func (s *Server) runSocket(sock *socket, auth socketAuth, code int) {
	defer s.work.done()
	if !s.hub.attach(sock) {
		sock.closeAndLinger(closeGoingAway, "server going away")
		_ = sock.conn.Close()
		sock.release()
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			s.finishSocket(sock)
		}
	}()
	if code != 0 {
		sock.closeAndLinger(code, closeText(code))
		return
	}
	if auth.dev == nil {
		// The device sends its auth message once it has the answer to
		// its handshake: that cannot wait for a first frame.
		if err := sock.conn.flushHeld(time.Now().Add(s.cfg.WriteWait)); err != nil {
			return
		}
		auth, code = s.authenticateSocket(sock)
		if auth.dev == nil {
			if code != 0 {
				sock.closeAndLinger(code, closeText(code))
			}
			return
		}
	}
	dev := auth.dev
	sock.deviceID = dev.ID
	sock.warehouseID = dev.WarehouseID
	sock.id = newSocketID(time.Now())
	sock.registered = s.now()
	s.reg.Seen(dev.ID, "")
	old, ok := s.hub.register(sock)
	if !ok {
		sock.closeAndLinger(closeGoingAway, "server going away")
		return
	}
	if old != nil {
		old.close(closeReplaced, "replaced by a newer socket")
	}
	if code := s.stillValid(auth); code != 0 {
		sock.closeAndLinger(code, closeText(code))
		return
	}
	mustWrite, err := s.greet(sock)
	if err != nil {
		s.log.Warn("socket welcome failed", slog.String("device_id", dev.ID), slog.Any("err", err))
		sock.closeAndLinger(closeGoingAway, "unavailable")
		return
	}
	// The reader runs only while the connection has input (poll.go): an
	// idle socket holds no goroutine (see doc.go, Memory).
	handedOff = true
	if mustWrite {
		// welcome, and the queued logouts behind it, from this
		// goroutine: no writer is started for them.
		s.work.add()
		sock.writeLoop()
	}
	s.work.add()
	sock.startReading()
}

// authenticateSocket waits AuthTimeout for the first message, which must be
// {"type":"auth","device_token":"fgd_…"}. It returns the device, or the
// close code to send (0: the connection is gone already).
func (s *Server) authenticateSocket(sock *socket) (socketAuth, int) {
	data, err := sock.readMessage(time.Now().Add(s.cfg.AuthTimeout))
	switch {
	case isTimeout(err):
		return socketAuth{}, closeAuthTimeout
	case errors.Is(err, websocket.ErrReadLimit):
		sock.linger() // gorilla has sent 1009
		return socketAuth{}, 0
	case err != nil:
		return socketAuth{}, 0
	}
	msg, err := parseClientMessage(data)
	if err != nil || msg.Type != msgAuth {
		return socketAuth{}, closeInvalidToken
	}
	ctx, cancel := s.opContext()
	defer cancel()
	d, gen, err := s.socketDevice(ctx, msg.DeviceToken)
	switch {
	case err == nil:
		return socketAuth{dev: &d, token: msg.DeviceToken, gen: gen}, 0
	case errors.Is(err, errInvalidToken) && d.ID != "":
		return socketAuth{}, closeRevoked
	case errors.Is(err, errInvalidToken):
		return socketAuth{}, closeInvalidToken
	}
	s.log.Warn("socket authentication failed", slog.Any("err", err))
	return socketAuth{}, closeGoingAway
}

// stillValid closes the race between the token cache and a revocation:
// when the cache has dropped anything since this socket's lookup (a
// device revoked or re-enrolled, a lost subscription), the revocation
// may have been heard after the lookup and before the socket was
// registered, where it closed nothing; so the registry is asked again.
// It returns the close code to send, 0 when the socket may go on.
func (s *Server) stillValid(auth socketAuth) int {
	if s.tokens.Generation() == auth.gen {
		return 0
	}
	ctx, cancel := s.opContext()
	defer cancel()
	d, err := s.deviceByToken(ctx, auth.token)
	switch {
	case err == nil && d.ID == auth.dev.ID:
		return 0
	case err == nil, errors.Is(err, errInvalidToken) && d.ID == "":
		return closeInvalidToken
	case errors.Is(err, errInvalidToken):
		return closeRevoked
	}
	s.log.Warn("socket re-authentication failed", slog.Any("err", err))
	return closeGoingAway
}

// greet announces the socket to the other instances and reads the
// device's session and its pending logouts in one store call (one Redis
// round trip: sessions.Announcer), then has the presence table told,
// then queues welcome. Presence is not needed for welcome: it is marked
// by the next pass, in batches shared with the sockets that connect
// meanwhile (hub.online), instead of a call per connect; it is queued
// before welcome so that a device that has its welcome is sure to be in
// that pass. It reports whether the caller is to write the frames
// queued (socket.welcome).
func (s *Server) greet(sock *socket) (mustWrite bool, err error) {
	ctx, cancel := s.opContext()
	defer cancel()
	st, err := s.store.Announce(ctx, sessions.Event{Kind: kindSocketOpened, DeviceID: sock.deviceID, Origin: s.cfg.InstanceID, Ref: sock.id})
	if err != nil {
		return false, fmt.Errorf("announce socket: %w", err)
	}
	var view *sessionView
	if cur := latest(st.Sessions); cur != nil {
		v := s.viewSession(ctx, *cur)
		view = &v
	}
	s.hub.online(sock)
	return sock.welcome(view, st.Pending, true), nil
}

// latest is the most recently created session of a list.
func latest(list []sessions.Session) *sessions.Session {
	var cur *sessions.Session
	for i := range list {
		if cur == nil || list[i].CreatedAt.After(cur.CreatedAt) {
			cur = &list[i]
		}
	}
	return cur
}

// finishSocket cleans up after the socket's reader: the connection is
// closed, the socket leaves the table, and the device is queued to go
// offline (hub.flushOffline, every PresenceFlushEvery) unless a newer
// socket of it is held here.
func (s *Server) finishSocket(sock *socket) {
	sock.mu.Lock()
	if sock.state != stateDead {
		sock.state = stateDead
		sock.queue = nil
		_ = sock.conn.Close()
	}
	sock.mu.Unlock()
	sock.release()
	s.hub.detach(sock)
}

func closeText(code int) string {
	switch code {
	case closeInvalidToken:
		return "invalid device token"
	case closeRevoked:
		return "device revoked"
	case closeAuthTimeout:
		return "authentication timeout"
	case closeReplaced:
		return "replaced by a newer socket"
	case closePolicy:
		return "policy violation"
	}
	return "server going away"
}

// acked queues the device's acknowledgement of a logout (marks.go).
func (s *Server) acked(sock *socket, commandID string) {
	s.activity.note(sock.warehouseID)
	s.marks.ackMark(sessions.Ack{DeviceID: sock.deviceID, CommandID: commandID})
}
