package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/sessions"
)

const (
	// readLimit is the largest message a device may send (docs/DEVICE-API.md: 1009
	// beyond it).
	readLimit = 4096
	// maxQueue is how many frames may wait for a socket that does not
	// read; one more and the socket is dropped, so that a stuck device
	// never holds memory or anyone else up.
	maxQueue = 64
	// maxEarly bounds the logouts held for a socket between its
	// registration and its welcome.
	maxEarly = 256
	// maxSent is how many of the last logouts queued on a socket it
	// remembers, so that one pushed both live and by a re-check goes
	// out once.
	maxSent = 64
)

// How a logout reached a socket, for the pushes metric.
type pushPath uint8

const (
	pushLive    pushPath = iota // from the fan-out
	pushQueued                  // from the queue, right after welcome
	pushRecheck                 // from the queue, by a re-check of a live socket (recheck.go)
)

func (p pushPath) String() string {
	switch p {
	case pushLive:
		return "live"
	case pushRecheck:
		return "recheck"
	}
	return "queued"
}

// The default message limits of a device socket, counted after its auth
// message. A device sends an ack per logout it is given: a few a shift,
// and a backlog of queued ones right after welcome, which the burst
// covers. 6 a minute sustained, 20 at once.
const (
	DefaultMessageRate  = 0.1 // per second
	DefaultMessageBurst = 20
)

// socketState is where a socket is in its life; it only moves forward.
type socketState uint8

const (
	stateNew     socketState = iota // upgraded, not yet welcomed: pushes wait in early
	stateReady                      // welcome is queued: pushes go out
	stateClosing                    // a close frame is queued: nothing more goes out
	stateDead                       // the connection is closed
)

type frameKind uint8

const (
	frameText frameKind = iota
	framePing
	frameClose
)

// outFrame is one frame waiting for the socket's writer.
type outFrame struct {
	kind frameKind
	data []byte
	code int               // frameClose
	cmd  *sessions.Command // a logout: marked delivered once written
	path pushPath          // how it came: live, queued at welcome, re-check
	what string            // metric label: logout, warning
}

// socket is one device connection. Its reader runs only while the
// connection has input (poll.go); its writer is started when a frame is queued
// and ends when the queue is empty, so that an idle socket costs no
// goroutine, no read buffer and no write buffer.
type socket struct {
	env  *socketEnv
	conn *wsConn
	slot uint32 // which ping tick pings it

	// addr is the client address whose socket slot this socket holds
	// (Server.slots), given back once by release.
	addr     netip.Addr
	released atomic.Bool

	// Set by the reader before registration; read-only afterwards.
	deviceID    string
	warehouseID string // the device's, for the activity notes
	// id is time-ordered to the nanosecond (newSocketID): of two sockets
	// of a device, the one registered later has the larger id.
	id string
	// registered is when the socket was registered, by the injected
	// clock: a socket announced by another instance replaces this one
	// if this one is older than socketRace, whatever the ids say.
	registered time.Time

	// Reader goroutine only: the token buckets of the messages and of
	// the pings the device sends (each with MessageRate and
	// MessageBurst), and whether a ping went over its bucket.
	msgs, pings bucket
	pingFlood   bool
	in          *inbound // input not yet acted on (inbound.go); nil when none

	// The poller's (poll.go): the descriptor, whether the socket is in
	// the poller, whether a handler is reading it, whether it has ended.
	fd                  int32
	polled, busy, ended atomic.Bool

	lastHeard atomic.Int64 // unix nanoseconds of the last message or pong

	mu       sync.Mutex
	queue    []outFrame
	writing  bool
	early    []sessions.Command // logouts pushed before welcome
	sent     []string           // ids of the last maxSent logouts queued, oldest first
	state    socketState
	closedBy int // the close code we sent, 0 if none
}

// socketEnv is what a socket needs of the instance that holds it: its
// limits and clock, the goroutines Shutdown waits for, the close metric,
// and the calls a socket makes when its slot is given back, a frame it
// pushed is written, the device acknowledges a logout, and its reader
// ends. One per Server, shared by its sockets: a socket reaches nothing
// else of the server.
type socketEnv struct {
	now          func() time.Time
	pongWait     time.Duration
	pingEvery    time.Duration
	writeWait    time.Duration
	closeGrace   time.Duration
	messageRate  float64
	messageBurst int
	work         *tasks
	closed       *prometheus.CounterVec // by close code
	release      func(addr netip.Addr)
	written      func(f outFrame)
	acked        func(s *socket, commandID string)
	finished     func(s *socket)
	poll         *poller // the sockets' reader (poll.go), stopped by Shutdown
}

// socketEnv is the environment of this server's sockets.
func (s *Server) socketEnv() *socketEnv {
	return &socketEnv{
		now:          s.now,
		pongWait:     s.cfg.PongWait,
		pingEvery:    s.cfg.PingEvery,
		writeWait:    s.cfg.WriteWait,
		closeGrace:   s.cfg.CloseGrace,
		messageRate:  s.cfg.MessageRate,
		messageBurst: s.cfg.MessageBurst,
		work:         s.work,
		closed:       s.metrics.socketsClosed,
		release:      s.slots.Release,
		written:      s.written,
		acked:        s.acked,
		finished:     s.finishSocket,
		poll:         &poller{},
	}
}

func newSocket(env *socketEnv, conn *wsConn, addr netip.Addr) *socket {
	s := &socket{
		env:   env,
		conn:  conn,
		addr:  addr,
		msgs:  bucket{tokens: float64(env.messageBurst), refill: env.now()},
		pings: bucket{tokens: float64(env.messageBurst), refill: env.now()},
	}
	// Heard now: a ping tick between welcome (the socket is ready) and
	// startReading would otherwise find it silent since 1970 and drop it
	// (seen as sockets cut a quarter of a second after welcome while
	// 10,000 connected).
	s.heard()
	return s
}

// release gives the socket's slot back to the caps (once).
func (s *socket) release() {
	if s.released.CompareAndSwap(false, true) {
		s.env.release(s.addr)
	}
}

// newSocketID is "ws_", the wall-clock time in nanoseconds as 16 hex
// digits, then 32 random bits: ids sort by time across instances (to
// their clocks' skew), and two sockets opened within a millisecond on one
// instance still sort in order.
func newSocketID(now time.Time) string {
	var raw [12]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(raw[8:])
	var id [3 + 2*len(raw)]byte // one allocation per connect, the string
	copy(id[:], "ws_")
	hex.Encode(id[3:], raw[:])
	return string(id[:])
}

// enqueueLocked queues f and starts the writer if it is not running.
// bounded applies the queue limit (pushes); the welcome batch is not
// bounded. s.mu must be held.
func (s *socket) enqueueLocked(f outFrame, bounded bool) {
	if s.state >= stateClosing {
		return
	}
	if bounded && len(s.queue) >= maxQueue {
		s.dropLocked()
		return
	}
	if f.kind == frameClose {
		s.state = stateClosing
		s.closedBy = f.code
	}
	s.queue = append(s.queue, f)
	if !s.writing {
		s.writing = true
		s.env.work.add()
		go s.writeLoop()
	}
}

// dropLocked cuts the connection without a close handshake: the device
// stopped reading. The reader then fails and cleans up. s.mu must be held.
func (s *socket) dropLocked() {
	if s.state == stateDead {
		return
	}
	s.state = stateDead
	s.queue = nil
	s.env.closed.WithLabelValues("dropped").Inc()
	if s.polled.Load() {
		// No reader is blocked on the connection to notice: end it
		// here, out of the poller first (its descriptor is reused once
		// closed).
		s.env.poll.remove(s)
		_ = s.conn.Close()
		go s.endReading()
		return
	}
	_ = s.conn.Close()
}

// close queues a close frame with code; the reader ends when the peer
// answers it or CloseGrace has passed.
func (s *socket) close(code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state >= stateClosing {
		return
	}
	if len(s.queue) >= maxQueue {
		s.dropLocked()
		return
	}
	s.enqueueLocked(outFrame{kind: frameClose, code: code, data: websocket.FormatCloseMessage(code, text)}, false)
}

// deliver pushes a logout (live from the fan-out, or found by a
// re-check) unless this socket has queued it already. Only a revocation
// (or a re-enrollment) ends sessions with device_revoked: the socket
// closes with 4403 after the logout frame even if the KindDeviceRevoked
// event itself is lost (the fan-out is at most once). It reports whether
// the logout was new to the socket.
func (s *socket) deliver(c sessions.Command, path pushPath) bool {
	fresh := s.pushLogout(c, path)
	if c.Reason == sessions.ReasonDeviceRevoked {
		s.close(closeRevoked, "device revoked")
	}
	return fresh
}

// pushLogout sends a logout command pushed by the fan-out or a re-check,
// once per socket; false when the socket had it already. The frame is
// encoded only once it is known to be new here (a warehouse logout's
// event comes twice: the second finds every frame queued).
func (s *socket) pushLogout(c sessions.Command, path pushPath) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateNew {
		if len(s.early) < maxEarly {
			s.early = append(s.early, c)
		}
		return true
	}
	if s.sentLocked(c.ID) {
		return false
	}
	s.enqueueLocked(outFrame{kind: frameText, data: logoutJSON(c), cmd: &c, path: path, what: msgLogout}, true)
	return true
}

// sentLocked reports whether the logout id was queued on this socket
// already, and remembers it if not. s.mu must be held.
func (s *socket) sentLocked(id string) bool {
	if slices.Contains(s.sent, id) {
		return true
	}
	if len(s.sent) == maxSent {
		s.sent = slices.Delete(s.sent, 0, 1)
	}
	s.sent = append(s.sent, id)
	return false
}

// pushWarning sends a warning frame; it is dropped before welcome, whose
// session object says when the session ends anyway.
func (s *socket) pushWarning(w sessions.Warning) {
	data := warningJSON(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateReady {
		s.enqueueLocked(outFrame{kind: frameText, data: data, path: pushLive, what: msgWarning}, true)
	}
}

// ping queues a ping, or drops a socket whose peer has been silent too
// long (a dead peer) or whose queue is full (a peer that stopped reading).
// A socket is checked once per PingEvery, so it is dropped when silent
// for more than PongWait-PingEvery: a dead peer goes within PongWait,
// while a live one answers every ping well inside the limit.
func (s *socket) ping(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateNew {
		return
	}
	limit := max(s.env.pongWait-s.env.pingEvery, s.env.pingEvery)
	if s.silentFor(now) > limit {
		s.dropLocked()
		return
	}
	s.enqueueLocked(outFrame{kind: framePing}, true)
}

// welcome queues the welcome frame, then a logout for every queued
// command and every command pushed since registration, each once, oldest
// first. With writeHere, when no writer runs, no goroutine is started
// for them: welcome reports true and the caller must write them
// (writeLoop, counted in the work). runSocket has a goroutine already,
// so that a connect starts no writer of its own.
func (s *socket) welcome(v *sessionView, pending []sessions.Command, writeHere bool) (mustWrite bool) {
	hello := welcomeJSON(s.deviceID, v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if writeHere && !s.writing && s.state < stateClosing {
		s.writing, mustWrite = true, true
	}
	s.enqueueLocked(outFrame{kind: frameText, data: hello}, false)
	for _, list := range [][]sessions.Command{pending, s.early} {
		for i := range list {
			c := list[i]
			if s.sentLocked(c.ID) {
				continue
			}
			s.enqueueLocked(outFrame{kind: frameText, data: logoutJSON(c), cmd: &c, path: pushQueued, what: msgLogout}, false)
		}
	}
	s.early = nil
	if s.state == stateNew {
		s.state = stateReady
	}
	return mustWrite
}

// writeLoop writes queued frames, each under a write deadline, until the
// queue is empty. A write that fails or times out drops the connection.
func (s *socket) writeLoop() {
	defer s.env.work.done()
	for {
		s.mu.Lock()
		if s.state == stateDead || len(s.queue) == 0 {
			s.writing = false
			s.queue = nil
			s.mu.Unlock()
			return
		}
		f := s.queue[0]
		s.queue[0] = outFrame{}
		s.queue = s.queue[1:]
		s.mu.Unlock()

		deadline := time.Now().Add(s.env.writeWait)
		var err error
		switch f.kind {
		case frameText:
			err = s.conn.WriteText(f.data, deadline)
		case framePing:
			err = s.conn.WriteControl(opPing, nil, deadline)
		case frameClose:
			err = s.conn.WriteControl(opClose, f.data, deadline)
			s.env.closed.WithLabelValues(strconv.Itoa(f.code)).Inc()
			// Wait for the peer's answer no longer than CloseGrace.
			_ = s.conn.SetReadDeadline(time.Now().Add(s.env.closeGrace))
			s.graceTimer()
		}
		if err != nil {
			s.mu.Lock()
			s.dropLocked()
			s.writing = false
			s.mu.Unlock()
			return
		}
		if f.what != "" {
			s.env.written(f)
		}
	}
}

// bucket is a token bucket: tokens refill at a rate up to a burst.
type bucket struct {
	tokens float64
	refill time.Time
}

// take refills b to now and takes a token, if there is one.
func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if d := now.Sub(b.refill); d > 0 {
		b.tokens = min(b.tokens+d.Seconds()*rate, float64(burst))
		b.refill = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// allowMessage takes a token from the message-rate bucket.
func (s *socket) allowMessage() bool {
	return s.msgs.take(s.env.now(), s.env.messageRate, s.env.messageBurst)
}

// onPing answers a ping the device sent with its pong, as gorilla's
// default handler does, within a bucket of its own with the message
// limits: pings are not the protocol's (the server pings), but client
// libraries send them to keep a socket alive, and each costs a write.
// One over the bucket ends the read with errPingFlood.
func (s *socket) onPing(data string) error {
	if !s.pings.take(s.env.now(), s.env.messageRate, s.env.messageBurst) {
		s.pingFlood = true
		return errPingFlood
	}
	s.heard()
	err := s.conn.WriteControl(opPong, []byte(data), time.Now().Add(s.env.writeWait))
	var ne net.Error
	if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) {
		return nil // as gorilla's default: the reader sees the end
	}
	return err
}

var errPingFlood = errors.New("gateway: too many pings")

// heard notes that the peer sent something (a message or a pong). The
// ping loop drops a socket not heard from for PongWait; keeping this a
// single store, rather than a read deadline set from the reader, keeps
// the idle reader's stack small.
func (s *socket) heard() { s.lastHeard.Store(time.Now().UnixNano()) }

// silentFor is how long the peer has said nothing.
func (s *socket) silentFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, s.lastHeard.Load()))
}

// closeAndLinger queues a close frame, then reads and discards what the
// peer still sends until it closes or CloseGrace has passed, so that the
// close frame is not lost to a reset.
func (s *socket) closeAndLinger(code int, text string) {
	s.close(code, text)
	s.linger()
}

func (s *socket) linger() {
	nc := s.conn.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(s.env.closeGrace))
	_, _ = io.CopyN(io.Discard, nc, 1<<20)
}

// handle acts on one message from the device. Only ack means anything
// after authentication; a message it cannot parse or does not know is
// answered with nothing (it has counted toward the rate limit).
func (s *socket) handle(data []byte) {
	defer s.env.work.done()
	msg, err := parseClientMessage(data)
	if err != nil {
		return
	}
	if msg.Type == msgAck && msg.CommandID != "" {
		s.ack(msg.CommandID)
	}
}

func (s *socket) ack(commandID string) { s.env.acked(s, commandID) }

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
