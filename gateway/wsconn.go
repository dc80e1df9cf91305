package gateway

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is a device socket's connection once upgraded: the network
// connection and the server's side of writing frames. The handshake is
// the gateway's own (upgrade.go), the socket reads its frames itself
// (inbound.go), and writing a server frame (RFC 6455 5.2: not masked,
// here never fragmented) is a header and the payload. gorilla's Conn,
// its 125-byte read buffer, its write lock and handlers cost an idle
// socket about 0.8 KiB of heap (the heap profile of 10,000 idle sockets,
// docs/BENCHMARKS.md section 1) for nothing it used, and every connect
// made them. The writes keep gorilla's rules: one
// frame at a time, a write deadline per frame, a control payload of at
// most 125 bytes, and once a close frame went out or a write failed,
// every later write fails (with websocket.ErrCloseSent, or that error).
// The handshake's answer may be held (upgrade.go) and goes out in the
// same write as the first frame.
type wsConn struct {
	nc   net.Conn
	mu   sync.Mutex       // one frame at a time
	err  error            // set by a failed write or a close frame; guarded by mu
	held *handshakeAnswer // the upgrade's answer, not yet written; guarded by mu
}

func newWSConn(nc net.Conn) *wsConn { return &wsConn{nc: nc} }

// newHeldWSConn is a connection whose handshake answer a is written
// with its first frame.
func newHeldWSConn(nc net.Conn, a *handshakeAnswer) *wsConn { return &wsConn{nc: nc, held: a} }

// flushHeld writes the held handshake answer now, if it has not gone
// out yet: a device that authenticates with its first message waits for
// it.
func (c *wsConn) flushHeld(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil || c.err != nil {
		return c.err
	}
	return c.writeLocked(c.held[:], deadline)
}

// NetConn is the network connection.
func (c *wsConn) NetConn() net.Conn { return c.nc }

// Close closes the network connection without a close frame.
func (c *wsConn) Close() error { return c.nc.Close() }

// SetReadDeadline sets the network connection's read deadline.
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// errControlTooLong is a control payload over 125 bytes (RFC 6455 5.5).
var errControlTooLong = errors.New("gateway: control frame payload over 125 bytes")

// writeBufs lends the buffer a frame is put together in.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledWrite is the largest buffer given back to writeBufs.
const maxPooledWrite = 16 << 10

// WriteText writes one text message as a single frame.
func (c *wsConn) WriteText(data []byte, deadline time.Time) error {
	return c.write(opText, data, deadline)
}

// WriteControl writes a ping, pong or close frame.
func (c *wsConn) WriteControl(op byte, data []byte, deadline time.Time) error {
	if len(data) > maxControlPayload {
		return errControlTooLong
	}
	return c.write(op, data, deadline)
}

// maxControlPayload is the longest payload of a control frame.
const maxControlPayload = 125

func (c *wsConn) write(op byte, data []byte, deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	bp := writeBufs.Get().(*[]byte)
	b := (*bp)[:0]
	if c.held != nil {
		b = append(b, c.held[:]...)
	}
	b = append(b, 0x80|op) // FIN: never fragmented
	switch n := len(data); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, data...)
	defer func() {
		if cap(b) <= maxPooledWrite {
			*bp = b[:0]
			writeBufs.Put(bp)
		}
	}()
	if err := c.writeLocked(b, deadline); err != nil {
		return err
	}
	if op == opClose {
		c.err = websocket.ErrCloseSent
	}
	return nil
}

// writeLocked writes b under deadline; the first failure sticks, and
// the held answer counts as written once a write went out. c.mu must be
// held.
func (c *wsConn) writeLocked(b []byte, deadline time.Time) error {
	c.held = nil
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		c.err = err
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		c.err = err
		return err
	}
	return nil
}
