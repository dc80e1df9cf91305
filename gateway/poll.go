package gateway

import (
	"io"
	"sync"
	"syscall"
	"time"
)

// A socket's reader. Where the connection has a file descriptor and the
// system a readiness poller (Linux: epoll, poll_linux.go), an idle socket
// holds no goroutine: the instance's poller starts one when the
// connection is readable, which reads what is there without blocking,
// acts on every whole frame (consume) and gives the socket back to the
// poller. Elsewhere a goroutine per socket blocks in read.

// readChunk is how much one readiness event reads at most: a whole
// message of readLimit and its header, from a buffer that is pooled, not
// the socket's.
const readChunk = readLimit + maxFrameHeader

var readBufs = sync.Pool{New: func() any { return new([readChunk]byte) }}

// startReading hands the socket, registered and welcomed, to its reader.
// The caller has counted it in the instance's work: endReading (or the
// blocking reader's end) gives it back.
func (s *socket) startReading() {
	s.heard()
	// Read before the poller has the socket: from then on s.in is its
	// handlers'.
	pending := s.in != nil // input read with the auth message
	if p := s.env.poll; p.start() {
		if rc := s.rawConn(); rc != nil && p.add(s, rc) {
			s.mu.Lock()
			closing := s.state >= stateClosing
			s.mu.Unlock()
			if closing {
				// A close frame was queued before the poller had the
				// socket: CloseGrace ends it if the device does not.
				s.graceTimer()
			}
			if pending {
				s.env.work.add()
				go s.onReadable()
			}
			return
		}
	}
	go s.readLoop()
}

// rawConn is the connection's descriptor, nil if it has none (TLS).
func (s *socket) rawConn() syscall.RawConn {
	sc, ok := s.conn.NetConn().(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// onReadable runs when the poller found the connection readable (or the
// socket had input already): one at a time per socket.
func (s *socket) onReadable() {
	defer s.env.work.done()
	if s.ended.Load() || !s.busy.CompareAndSwap(false, true) {
		return
	}
	err := s.readReady()
	s.busy.Store(false) // before re-arming: the next event must find it free
	if err != nil || !s.env.poll.arm(s) {
		s.endReading()
	}
}

// readReady reads what the connection holds, without blocking, and acts
// on every whole frame.
func (s *socket) readReady() error {
	rc := s.rawConn()
	if rc == nil {
		return io.ErrClosedPipe
	}
	buf := readBufs.Get().(*[readChunk]byte)
	defer readBufs.Put(buf)
	n, rerr := 0, error(nil)
	err := rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf[:])
		return true // never wait: the poller says when there is more
	})
	switch {
	case err != nil:
		return err
	case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
		n = 0
	case rerr != nil:
		return rerr
	case n == 0:
		return io.EOF
	}
	if n > 0 {
		if s.in == nil {
			s.in = &inbound{buf: buf[:n]}
		} else {
			s.in.buf = append(s.in.buf, buf[:n]...)
		}
	}
	if s.in == nil {
		return nil
	}
	err = s.consume()
	s.compact() // what is left must not point into buf
	return err
}

// endReading takes the socket from the poller and cleans up, once.
func (s *socket) endReading() {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	s.env.poll.remove(s)
	s.env.finished(s)
	s.env.work.done()
}

// graceTimer ends a polled socket CloseGrace after its close frame went
// out, if the device has not answered it by then (a blocking reader has
// a read deadline for this).
func (s *socket) graceTimer() {
	if s.polled.Load() {
		time.AfterFunc(s.env.closeGrace, s.endReading)
	}
}

// readLoop is the blocking reader: a goroutine for the socket's life.
func (s *socket) readLoop() {
	defer s.env.work.done() // after finished: Shutdown waits for the clean-up
	defer s.env.finished(s)
	// Liveness is the ping loop's: no read deadline, unless a close frame
	// was queued before this goroutine started, whose CloseGrace deadline
	// must stand.
	s.mu.Lock()
	if s.state < stateClosing {
		_ = s.conn.SetReadDeadline(time.Time{})
	}
	s.mu.Unlock()
	nc := s.conn.NetConn()
	var chunk [512]byte
	for {
		if s.in != nil {
			if err := s.consume(); err != nil {
				return
			}
			s.compact()
		}
		n, err := nc.Read(chunk[:])
		if n > 0 {
			if s.in == nil {
				s.in = &inbound{}
			}
			s.in.buf = append(s.in.buf, chunk[:n]...)
		}
		if err != nil && n == 0 {
			return
		}
	}
}
