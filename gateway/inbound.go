package gateway

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// A device socket's input is read here, not by gorilla: gorilla's reader
// blocks a goroutine until the next frame, and an idle socket would then
// hold a goroutine (and its stack, 4 KiB) for its whole life. Frames are
// parsed from bytes the socket already has, so that input can be read
// only when the connection is readable (poll_linux.go) and a socket
// between frames holds no goroutine and no read buffer. The handshake is
// upgrade.go's; frames are written by wsconn.go.

// WebSocket opcodes (RFC 6455, 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxFrameHeader is the longest frame header a client sends: 2 bytes, 8
// of extended length, 4 of mask key.
const maxFrameHeader = 14

// inbound is the input a socket has read but not yet acted on: the start
// of a frame, and the fragments of a data message. nil while the socket
// is between messages.
type inbound struct {
	buf  []byte // bytes of the next frame(s)
	frag []byte // payloads of the data message so far
	open bool   // a fragmented data message is in progress
}

// errProtocol is a client frame that breaks RFC 6455; the socket answers
// it with close 1002, as gorilla does.
type errProtocol string

func (e errProtocol) Error() string { return "gateway: websocket protocol: " + string(e) }

// errPeerClosed is a close frame from the device, answered already.
var errPeerClosed = errors.New("gateway: device closed the socket")

// frame is one parsed client frame, its payload unmasked in place.
type frame struct {
	op      byte
	fin     bool
	payload []byte
}

// parseFrame parses the frame at the start of b. n is 0 when b does not
// hold the whole frame yet. A frame whose payload would take a data
// message past limit is refused as soon as its header is read
// (websocket.ErrReadLimit), as gorilla does, so no more than limit bytes
// of a message are ever held.
func parseFrame(b []byte, sofar, limit int) (f frame, n int, err error) {
	if len(b) < 2 {
		return f, 0, nil
	}
	if b[0]&0x70 != 0 {
		return f, 0, errProtocol("unexpected reserved bits")
	}
	f.fin = b[0]&0x80 != 0
	f.op = b[0] & 0x0f
	if b[1]&0x80 == 0 {
		return f, 0, errProtocol("client frame not masked")
	}
	length, h := uint64(b[1]&0x7f), 2
	switch length {
	case 126:
		if len(b) < 4 {
			return f, 0, nil
		}
		length, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return f, 0, nil
		}
		length, h = binary.BigEndian.Uint64(b[2:]), 10
		if length>>63 != 0 {
			return f, 0, errProtocol("bad frame length")
		}
	}
	switch f.op {
	case opClose, opPing, opPong:
		if !f.fin || length > 125 {
			return f, 0, errProtocol("bad control frame")
		}
	case opContinuation, opText, opBinary:
		if length > uint64(limit-sofar) {
			return f, 0, websocket.ErrReadLimit
		}
	default:
		return f, 0, errProtocol("unknown opcode")
	}
	if len(b) < h+4 {
		return f, 0, nil
	}
	key := b[h : h+4]
	h += 4
	if uint64(len(b)-h) < length {
		return f, 0, nil
	}
	f.payload = b[h : h+int(length)]
	for i := range f.payload {
		f.payload[i] ^= key[i&3]
	}
	return f, h + int(length), nil
}

// nextFrame takes the next whole frame from in. A data message's
// fragments are gathered: it returns a data frame only when the message
// is whole, with the message as its payload. ok is false when more input
// is needed.
func (in *inbound) nextFrame(limit int) (f frame, ok bool, err error) {
	for {
		f, n, err := parseFrame(in.buf, len(in.frag), limit)
		if err != nil || n == 0 {
			return frame{}, false, err
		}
		in.buf = in.buf[n:]
		switch f.op {
		case opClose, opPing, opPong:
			return f, true, nil
		case opContinuation:
			if !in.open {
				return frame{}, false, errProtocol("continuation after final message frame")
			}
		default:
			if in.open {
				return frame{}, false, errProtocol("message start before final message frame")
			}
		}
		if f.fin && !in.open {
			return f, true, nil // the common case: one frame, no copy
		}
		if !in.open {
			in.frag = make([]byte, 0, len(f.payload))
			in.open = true
		}
		in.frag = append(in.frag, f.payload...)
		if f.fin {
			// handle reads text and binary alike: the opcode of the
			// first fragment is not kept.
			msg := frame{op: opText, fin: true, payload: in.frag}
			in.frag, in.open = nil, false
			return msg, true, nil
		}
	}
}

func (in *inbound) empty() bool { return len(in.buf) == 0 && !in.open }

// closeCodeOf is the code of a close frame's payload.
func closeCodeOf(payload []byte) int {
	if len(payload) < 2 {
		return websocket.CloseNoStatusReceived
	}
	return int(binary.BigEndian.Uint16(payload))
}

// validCloseCode is gorilla's rule for a close code a peer may send.
func validCloseCode(code int) bool {
	switch code {
	case websocket.CloseNoStatusReceived:
		return true // no payload
	case 1004, websocket.CloseAbnormalClosure, websocket.CloseTLSHandshake:
		return false
	}
	if code >= 1000 && code <= 1014 {
		return true
	}
	return code >= 3000 && code <= 4999
}

// answerClose answers a device's close frame as gorilla's default close
// handler does (the same code, no text), or with 1002 when the frame is
// malformed; the socket then ends.
func (s *socket) answerClose(payload []byte) error {
	code := closeCodeOf(payload)
	if !validCloseCode(code) {
		return s.protocolError(errProtocol("bad close code"))
	}
	if len(payload) > 2 && !utf8.Valid(payload[2:]) {
		return s.protocolError(errProtocol("invalid utf8 payload in close frame"))
	}
	_ = s.conn.WriteControl(opClose, websocket.FormatCloseMessage(code, ""), time.Now().Add(s.env.writeWait))
	return errPeerClosed
}

// protocolError answers a frame that breaks the protocol with 1002, as
// gorilla does, and returns err.
func (s *socket) protocolError(err errProtocol) error {
	msg := websocket.FormatCloseMessage(websocket.CloseProtocolError, string(err))
	_ = s.conn.WriteControl(opClose, msg, time.Now().Add(s.env.writeWait))
	return err
}

// tooBig answers a message over readLimit with 1009, as gorilla does.
func (s *socket) tooBig() error {
	msg := websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "")
	_ = s.conn.WriteControl(opClose, msg, time.Now().Add(s.env.writeWait))
	return websocket.ErrReadLimit
}

// inputError answers a parse error (1002 or 1009) and returns it.
func (s *socket) inputError(err error) error {
	var pe errProtocol
	if errors.As(err, &pe) {
		return s.protocolError(pe)
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return s.tooBig()
	}
	return err
}

// readMessage reads, blocking until deadline, the device's next data
// message, answering pings and closes as gorilla's default handlers do
// (the auth message: the socket's reader has not started). Bytes read
// past the message stay in s.in for the reader.
func (s *socket) readMessage(deadline time.Time) ([]byte, error) {
	nc := s.conn.NetConn()
	if err := nc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	if s.in == nil {
		s.in = &inbound{}
	}
	var chunk [512]byte
	for {
		f, ok, err := s.in.nextFrame(readLimit)
		if err != nil {
			return nil, s.inputError(err)
		}
		if ok {
			switch f.op {
			case opClose:
				return nil, s.answerClose(f.payload)
			case opPing:
				_ = s.conn.WriteControl(opPong, f.payload, time.Now().Add(s.env.writeWait))
			case opPong:
			default:
				msg := append([]byte(nil), f.payload...)
				s.compact()
				return msg, nil
			}
			continue
		}
		n, err := nc.Read(chunk[:])
		if n > 0 {
			s.in.buf = append(s.in.buf, chunk[:n]...)
		}
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// compact drops s.in when nothing is pending, and copies what is, so that
// the buffer a read used is not held.
func (s *socket) compact() {
	if s.in == nil {
		return
	}
	if s.in.empty() {
		s.in = nil
		return
	}
	s.in.buf = append([]byte(nil), s.in.buf...)
}

// consume acts on every whole frame in s.in: a pong or a message is heard
// from the device, a ping is answered (within its bucket), a close is
// answered, a message is handled (within its bucket). It returns a
// non-nil error when the socket is to end, after any close frame it
// needs was sent (or queued, with the close-grace linger done).
func (s *socket) consume() error {
	for {
		f, ok, err := s.in.nextFrame(readLimit)
		if err != nil {
			err = s.inputError(err)
			if errors.Is(err, websocket.ErrReadLimit) {
				s.env.closed.WithLabelValues(strconv.Itoa(closeTooBig)).Inc()
				s.mu.Lock()
				s.state = max(s.state, stateClosing)
				s.mu.Unlock()
				s.linger()
			}
			return err
		}
		if !ok {
			return nil
		}
		switch f.op {
		case opClose:
			return s.answerClose(f.payload)
		case opPing:
			if err := s.onPing(string(f.payload)); err != nil {
				if s.pingFlood {
					s.closeAndLinger(closePolicy, "too many pings")
				}
				return err
			}
		case opPong:
			s.heard()
		default:
			s.heard()
			if !s.allowMessage() {
				s.closeAndLinger(closePolicy, "too many messages")
				return errPolicy
			}
			s.env.work.add()
			s.handle(f.payload)
		}
	}
}

var errPolicy = errors.New("gateway: socket over its message limit")
