package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame is a frame as a device sends it: masked.
func clientFrame(op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, 0, 0)
		binary.BigEndian.PutUint16(out[2:], uint16(n))
	default:
		out = append(out, 0x80|127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(out[2:], uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// TestInboundFrames: whole frames come out, split input waits for the
// rest, fragments are gathered around a control frame, and what breaks
// the protocol or the read limit is refused before its payload is held.
func TestInboundFrames(t *testing.T) {
	t.Parallel()
	msg := clientFrame(opText, true, []byte(`{"type":"ack","command_id":"c1"}`))
	in := &inbound{}
	for i := range msg { // one byte at a time
		in.buf = append(in.buf, msg[i])
		f, ok, err := in.nextFrame(readLimit)
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if ok != (i == len(msg)-1) {
			t.Fatalf("byte %d of %d: ok = %v", i, len(msg), ok)
		}
		if ok && string(f.payload) != `{"type":"ack","command_id":"c1"}` {
			t.Fatalf("payload %q", f.payload)
		}
	}
	if !in.empty() {
		t.Fatalf("input left: %v", in.buf)
	}

	// Fragments with a ping between them, then a pong.
	var b []byte
	b = append(b, clientFrame(opText, false, []byte("hel"))...)
	b = append(b, clientFrame(opPing, true, []byte("p"))...)
	b = append(b, clientFrame(opContinuation, false, []byte("lo "))...)
	b = append(b, clientFrame(opContinuation, true, []byte("there"))...)
	b = append(b, clientFrame(opPong, true, nil)...)
	in = &inbound{buf: b}
	var got []string
	for {
		f, ok, err := in.nextFrame(readLimit)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(rune('0'+f.op))+":"+string(f.payload))
	}
	want := []string{"9:p", "1:hello there", ":"}
	want[2] = string(rune('0'+opPong)) + ":"
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("frames %q; want %q", got, want)
	}

	// A 16-bit length.
	big := make([]byte, 300)
	in = &inbound{buf: clientFrame(opBinary, true, big)}
	if f, ok, err := in.nextFrame(readLimit); err != nil || !ok || len(f.payload) != 300 {
		t.Fatalf("300-byte frame: %d bytes, %v, %v", len(f.payload), ok, err)
	}

	var pe errProtocol
	for name, tc := range map[string]struct {
		in       []byte
		tooBig   bool
		protocol bool
	}{
		"unmasked":               {in: []byte{0x81, 0x01, 'x'}, protocol: true},
		"reserved bits":          {in: append([]byte{0xc1}, clientFrame(opText, true, []byte("x"))[1:]...), protocol: true},
		"unknown opcode":         {in: clientFrame(0x3, true, nil), protocol: true},
		"long control frame":     {in: clientFrame(opPing, true, make([]byte, 126)), protocol: true},
		"fragmented control":     {in: clientFrame(opPing, false, nil), protocol: true},
		"lone continuation":      {in: clientFrame(opContinuation, true, []byte("x")), protocol: true},
		"start inside a message": {in: append(clientFrame(opText, false, []byte("a")), clientFrame(opText, true, []byte("b"))...), protocol: true},
		// Only the header has come: refused before the payload.
		"over the limit":           {in: clientFrame(opText, true, make([]byte, readLimit+1))[:8], tooBig: true},
		"over the limit in pieces": {in: append(clientFrame(opText, false, make([]byte, readLimit)), clientFrame(opContinuation, true, []byte("x"))...), tooBig: true},
	} {
		in := &inbound{buf: tc.in}
		_, _, err := in.nextFrame(readLimit)
		if tc.tooBig != errors.Is(err, websocket.ErrReadLimit) || tc.protocol != errors.As(err, &pe) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// FuzzInboundFrames: whatever bytes a device sends, in whatever pieces,
// the frame reader never panics, never holds more of a data message than
// its limit, hands out control frames of at most 125 bytes and data
// messages of at most the limit; and a message a device sends in
// fragments, with a ping between them, comes out whole and unchanged.
func FuzzInboundFrames(f *testing.F) {
	const limit = 64
	f.Add(clientFrame(opText, true, []byte(`{"type":"ack","command_id":"c1"}`)), uint8(0), []byte("hello"))
	f.Add(append(clientFrame(opText, false, []byte("hel")), clientFrame(opContinuation, true, []byte("lo"))...), uint8(3), []byte{})
	f.Add(clientFrame(opText, true, make([]byte, 300)), uint8(7), make([]byte, limit))
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(1), []byte("x"))
	f.Fuzz(func(t *testing.T, raw []byte, piece uint8, msg []byte) {
		size := int(piece%32) + 1
		in := &inbound{}
	feed:
		for start := 0; start < len(raw); start += size {
			in.buf = append(in.buf, raw[start:min(start+size, len(raw))]...)
			for {
				fr, ok, err := in.nextFrame(limit)
				if err != nil {
					var pe errProtocol
					if !errors.As(err, &pe) && !errors.Is(err, websocket.ErrReadLimit) {
						t.Fatalf("error %v is neither a protocol error nor the read limit", err)
					}
					break feed
				}
				if len(in.frag) > limit {
					t.Fatalf("holds %d bytes of a message; limit %d", len(in.frag), limit)
				}
				if !ok {
					break
				}
				switch fr.op {
				case opClose, opPing, opPong:
					if len(fr.payload) > 125 {
						t.Fatalf("control frame of %d bytes", len(fr.payload))
					}
				default:
					if len(fr.payload) > limit {
						t.Fatalf("message of %d bytes; limit %d", len(fr.payload), limit)
					}
				}
			}
		}

		if len(msg) > limit {
			msg = msg[:limit]
		}
		cut1, cut2 := len(msg)/3, 2*len(msg)/3
		var b []byte
		b = append(b, clientFrame(opBinary, false, msg[:cut1])...)
		b = append(b, clientFrame(opPing, true, []byte("p"))...)
		b = append(b, clientFrame(opContinuation, false, msg[cut1:cut2])...)
		b = append(b, clientFrame(opContinuation, true, msg[cut2:])...)
		in = &inbound{}
		var got []frame
		for start := 0; start < len(b); start += size {
			in.buf = append(in.buf, b[start:min(start+size, len(b))]...)
			for {
				fr, ok, err := in.nextFrame(limit)
				if err != nil {
					t.Fatalf("fragmented message of %d bytes: %v", len(msg), err)
				}
				if !ok {
					break
				}
				fr.payload = append([]byte(nil), fr.payload...)
				got = append(got, fr)
			}
		}
		if len(got) != 2 || got[0].op != opPing || string(got[0].payload) != "p" || string(got[1].payload) != string(msg) {
			t.Fatalf("frames %+v; want the ping, then the message %q", got, msg)
		}
		if !in.empty() {
			t.Fatalf("input left after the message: %v", in.buf)
		}
	})
}

// TestIdleSocketsHoldNoGoroutine: welcomed sockets with nothing to read
// or write hold no goroutine of the gateway (the poller reads them when
// they have input), and are still served: a ping from each is answered.
// Not parallel, so that no other test's sockets are counted.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	h := newHarness(t)
	var conns []*websocket.Conn
	for i := range 8 {
		c, _ := h.connect(h.ts.URL, h.enroll(fmt.Sprintf("IDLE-%d", i)))
		conns = append(conns, c)
	}
	if got := h.srv.Sockets(); got != len(conns) {
		t.Fatalf("Sockets() = %d; want %d", got, len(conns))
	}
	var left []string
	for range 200 {
		left = left[:0]
		for _, g := range gatewayGoroutines() {
			if strings.Contains(g, "floorgate/gateway.(*socket)") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("%d socket goroutines with %d idle sockets:\n%s", len(left), len(conns), strings.Join(left, "\n\n"))
	}
	for i, c := range conns {
		pong := make(chan struct{})
		c.SetPongHandler(func(string) error { close(pong); return nil })
		if err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(frameWait)); err != nil {
			t.Fatalf("socket %d: ping: %v", i, err)
		}
		// The pong handler runs inside a read.
		_ = c.SetReadDeadline(time.Now().Add(frameWait))
		go func() { _, _, _ = c.ReadMessage() }()
		select {
		case <-pong:
		case <-time.After(frameWait):
			t.Fatalf("socket %d: no pong from an idle socket", i)
		}
	}
}
