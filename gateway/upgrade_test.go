package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rfcKey and rfcAccept are RFC 6455's example (1.3).
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// TestHandshakeAsGorilla: the gateway's own handshake refuses what
// gorilla's Upgrader refused, with the same status, and takes what it
// took (gorilla then fails on the recorder, which cannot be hijacked: 500).
func TestHandshakeAsGorilla(t *testing.T) {
	t.Parallel()
	valid := func() *http.Request {
		r := httptest.NewRequest("GET", "/v1/ws", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", rfcKey)
		return r
	}
	with := func(k, v string) func(*http.Request) {
		return func(r *http.Request) {
			if v == "" {
				r.Header.Del(k)
				return
			}
			r.Header.Set(k, v)
		}
	}
	tests := []struct {
		name   string
		change func(*http.Request)
	}{
		{"valid", func(*http.Request) {}},
		{"connection list", with("Connection", "keep-alive, Upgrade")},
		{"connection lower case", with("Connection", "upgrade")},
		{"no connection", with("Connection", "")},
		{"connection close", with("Connection", "close")},
		{"upgrade mixed case", with("Upgrade", "WebSocket")},
		{"no upgrade", with("Upgrade", "")},
		{"upgrade h2c", with("Upgrade", "h2c")},
		{"method post", func(r *http.Request) { r.Method = "POST" }},
		{"no version", with("Sec-WebSocket-Version", "")},
		{"version 8", with("Sec-WebSocket-Version", "8")},
		{"version list", with("Sec-WebSocket-Version", "8, 13")},
		{"version spaced", with("Sec-WebSocket-Version", " 13 ")},
		{"version 13 twice", func(r *http.Request) { r.Header["Sec-Websocket-Version"] = []string{"8", "13"} }},
		{"no key", with("Sec-WebSocket-Key", "")},
		{"short key", with("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==")},
		{"key not base64", with("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!!!")},
		{"key of 17 bytes", with("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=")},
		{"key of 18 bytes", with("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAA")},
		{"key unpadded", with("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.change(r)
			gorillaStatus := 0
			up := websocket.Upgrader{
				CheckOrigin: func(*http.Request) bool { return true },
				Error:       func(_ http.ResponseWriter, _ *http.Request, status int, _ error) { gorillaStatus = status },
			}
			if _, err := up.Upgrade(httptest.NewRecorder(), r, nil); err == nil {
				t.Fatal("gorilla upgraded a recorder")
			}
			_, got := handshakeStatus(r)
			want := gorillaStatus
			if want == http.StatusInternalServerError {
				want = 0 // gorilla took the handshake and failed to hijack
			}
			if got != want {
				t.Errorf("status %d; gorilla's %d", got, gorillaStatus)
			}
		})
	}
}

// TestHandshakeAnswerBytes: the 101 answer is, byte for byte, the one
// gorilla's Upgrader writes (read from a gorilla server over TCP), and
// its accept key is RFC 6455's for the RFC's key.
func TestHandshakeAnswerBytes(t *testing.T) {
	t.Parallel()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r, nil); err == nil {
			c.Close()
		}
	}))
	defer ts.Close()
	nc, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(frameWait))
	req := "GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + rfcKey + "\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	gorillas, err := io.ReadAll(nc) // gorilla's server closes right after
	if err != nil {
		t.Fatal(err)
	}
	ours := answerTo(rfcKey)
	if !bytes.Equal(ours[:], gorillas) {
		t.Errorf("answer\n%q\ngorilla's\n%q", ours[:], gorillas)
	}
	if !bytes.Contains(ours[:], []byte("\r\nSec-WebSocket-Accept: "+rfcAccept+"\r\n\r\n")) {
		t.Errorf("answer %q: want accept key %s", ours[:], rfcAccept)
	}
}

// writeCounter is a connection that records its writes.
type writeCounter struct {
	net.Conn
	writes [][]byte
}

func (c *writeCounter) Write(b []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(b))
	return len(b), nil
}

func (c *writeCounter) SetWriteDeadline(time.Time) error { return nil }

// TestHeldAnswerOneWrite: a held handshake answer goes out in the same
// write as the first frame, before it, and only once; flushHeld writes
// it alone, once.
func TestHeldAnswerOneWrite(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Minute)
	a := answerTo(rfcKey)
	frame := func(payload string) []byte { return append([]byte{0x80 | opText, byte(len(payload))}, payload...) }

	wc := &writeCounter{}
	c := newHeldWSConn(wc, a)
	if err := c.WriteText([]byte(`{"type":"welcome"}`), deadline); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteText([]byte("next"), deadline); err != nil {
		t.Fatal(err)
	}
	if len(wc.writes) != 2 {
		t.Fatalf("%d writes; want 2", len(wc.writes))
	}
	if want := append(bytes.Clone(a[:]), frame(`{"type":"welcome"}`)...); !bytes.Equal(wc.writes[0], want) {
		t.Errorf("first write %q; want the answer and the frame %q", wc.writes[0], want)
	}
	if want := frame("next"); !bytes.Equal(wc.writes[1], want) {
		t.Errorf("second write %q; want the frame alone %q", wc.writes[1], want)
	}

	wc = &writeCounter{}
	c = newHeldWSConn(wc, a)
	for range 2 {
		if err := c.flushHeld(deadline); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteText([]byte("next"), deadline); err != nil {
		t.Fatal(err)
	}
	if len(wc.writes) != 2 || !bytes.Equal(wc.writes[0], a[:]) || !bytes.Equal(wc.writes[1], frame("next")) {
		t.Errorf("writes %q; want the answer alone, then the frame", wc.writes)
	}
}

// TestWelcomeWithAnswer: over the network, a device authenticated by its
// header reads gorilla's 101 answer, then welcome as the next bytes; one
// that authenticates with its first message gets the answer before it
// sends anything (else it could not send it).
func TestWelcomeWithAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-7100")
	handshake := func(auth string) (net.Conn, *bufio.Reader) {
		t.Helper()
		nc, err := net.Dial("tcp", strings.TrimPrefix(h.ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(frameWait))
		req := "GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + rfcKey + "\r\n" + auth + "\r\n"
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		a := answerTo(rfcKey)
		got := make([]byte, len(a))
		if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, a[:]) {
			t.Fatalf("answer %q, %v; want %q", got, err, a[:])
		}
		return nc, br
	}
	readText := func(br *bufio.Reader) map[string]any {
		t.Helper()
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 0x80|opText || hdr[1] >= 126 {
			t.Fatalf("frame header %#x, %v; want a short text frame", hdr, err)
		}
		payload := make([]byte, hdr[1])
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("frame %q: %v", payload, err)
		}
		return m
	}

	_, br := handshake("Authorization: Bearer " + d.token + "\r\n")
	if w := readText(br); w["type"] != "welcome" || w["device_id"] != d.id {
		t.Errorf("after the answer %v; want welcome of %s", w, d.id)
	}

	nc, br := handshake("")
	msg := []byte(`{"type":"auth","device_token":"` + d.token + `"}`)
	mask := [4]byte{1, 2, 3, 4}
	frame := append([]byte{0x80 | opText, 0x80 | byte(len(msg))}, mask[:]...)
	for i, b := range msg {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	if w := readText(br); w["type"] != "welcome" || w["device_id"] != d.id {
		t.Errorf("after the auth message %v; want welcome of %s", w, d.id)
	}
}
