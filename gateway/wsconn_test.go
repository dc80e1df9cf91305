package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSConnFrames: the socket's own writer puts out RFC 6455 server
// frames (FIN set, not masked, the length in 7, 7+16 or 7+64 bits) over
// a real TCP connection; a control payload over 125 bytes is refused
// without writing; after a close frame every write fails with
// websocket.ErrCloseSent, as gorilla's did.
func TestWSConnFrames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newWSConn(server)
	defer c.Close()
	deadline := func() time.Time { return time.Now().Add(10 * time.Second) }
	client.SetReadDeadline(deadline())

	// readFrame reads one frame as a client does.
	readFrame := func() (op byte, payload []byte) {
		t.Helper()
		var h [2]byte
		if _, err := io.ReadFull(client, h[:]); err != nil {
			t.Fatalf("read header: %v", err)
		}
		if h[0]&0x80 == 0 || h[0]&0x70 != 0 {
			t.Fatalf("first byte %#x: want FIN and no reserved bits", h[0])
		}
		if h[1]&0x80 != 0 {
			t.Fatalf("server frame masked")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(client, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
			if n < 126 {
				t.Fatalf("16-bit length %d: want the shortest form", n)
			}
		case 127:
			var b [8]byte
			io.ReadFull(client, b[:])
			n = binary.BigEndian.Uint64(b[:])
			if n <= 0xffff {
				t.Fatalf("64-bit length %d: want the shortest form", n)
			}
		}
		payload = make([]byte, n)
		if _, err := io.ReadFull(client, payload); err != nil {
			t.Fatalf("read payload of %d: %v", n, err)
		}
		return h[0] & 0x0f, payload
	}

	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70_000} {
		msg := bytes.Repeat([]byte{'x'}, n)
		go func() {
			if err := c.WriteText(msg, deadline()); err != nil {
				t.Errorf("WriteText(%d bytes) = %v", n, err)
			}
		}()
		op, got := readFrame()
		if op != opText || !bytes.Equal(got, msg) {
			t.Fatalf("frame of %d bytes: op %#x, %d bytes; want text, the same bytes", n, op, len(got))
		}
	}
	if err := c.WriteControl(opPing, bytes.Repeat([]byte{'p'}, 126), deadline()); !errors.Is(err, errControlTooLong) {
		t.Fatalf("WriteControl(126-byte ping) = %v; want errControlTooLong", err)
	}
	if err := c.WriteControl(opPong, []byte("hi"), deadline()); err != nil {
		t.Fatal(err)
	}
	if op, got := readFrame(); op != opPong || string(got) != "hi" {
		t.Fatalf("pong: op %#x payload %q; the 126-byte ping must not have been written", op, got)
	}
	closeMsg := websocket.FormatCloseMessage(closeRevoked, "device revoked")
	if err := c.WriteControl(opClose, closeMsg, deadline()); err != nil {
		t.Fatal(err)
	}
	if op, got := readFrame(); op != opClose || !bytes.Equal(got, closeMsg) {
		t.Fatalf("close: op %#x payload %q", op, got)
	}
	if err := c.WriteText([]byte("late"), deadline()); !errors.Is(err, websocket.ErrCloseSent) {
		t.Fatalf("WriteText after close = %v; want ErrCloseSent", err)
	}
	if err := c.WriteControl(opPong, nil, deadline()); !errors.Is(err, websocket.ErrCloseSent) {
		t.Fatalf("WriteControl after close = %v; want ErrCloseSent", err)
	}
}

// TestWSConnWriteFailureSticks: once a write fails (here its deadline
// passes against a peer that does not read), every later write fails
// with the same error instead of writing half a stream.
func TestWSConnWriteFailureSticks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newWSConn(server)
	defer c.Close()
	big := make([]byte, 1<<20)
	var first error
	for range 256 { // the kernel's buffers fill within a few MB
		if first = c.WriteText(big, time.Now().Add(50*time.Millisecond)); first != nil {
			break
		}
	}
	var ne net.Error
	if !errors.As(first, &ne) || !ne.Timeout() {
		t.Fatalf("write to a peer that does not read = %v; want a timeout", first)
	}
	if err := c.WriteControl(opPong, nil, time.Now().Add(10*time.Second)); err != first {
		t.Fatalf("write after the failure = %v; want %v again", err, first)
	}
}
