package gateway

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// The opening handshake of a device socket (RFC 6455 4.2.2), done here
// rather than by gorilla's Upgrader, for two reasons. The socket drops
// gorilla's Conn at once (wsconn.go), so each upgrade made one only to
// throw it away with its read buffer (garbage on every connect). And the
// answer is held until the socket's first frame, so that a device
// authenticated by its header gets the 101 and welcome in one write (one
// system call, one segment) instead of two: the same bytes, in the same
// order, only later by the announce's round trip. A device that
// authenticates with its first message must see the 101 before it sends
// it, so there the answer goes out at once (runSocket).
//
// The checks and the refusals are gorilla's (TestHandshakeAsGorilla
// compares them): 400 when the Connection, Upgrade, Sec-WebSocket-Version
// or Sec-WebSocket-Key header is not a websocket's, 405 for a method
// other than GET, 503 when the connection cannot be taken over; a
// request read with data behind it (frames sent before any answer could
// be read) is cut without an answer. The
// answer has gorilla's bytes: no subprotocol, no extension, no other
// header.

// handshakeAnswer is the 101 answer of an upgrade: answerHead, the
// 28-character accept key, and the two line ends.
type handshakeAnswer [len(answerHead) + acceptLen + 4]byte

const (
	answerHead = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
	acceptLen  = 28 // base64 of a SHA-1
	keyLen     = 24 // base64 of the 16 random bytes of Sec-WebSocket-Key
	// wsGUID is RFC 6455's, appended to the key for the accept key.
	wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// errDataBeforeAnswer is a handshake read with data behind it: frames
// sent before any answer could be read. The connection is cut, as
// gorilla does.
var errDataBeforeAnswer = errors.New("gateway: client sent data before the handshake's answer")

// handshakeStatus checks r as gorilla's Upgrader does (with every origin
// allowed: serveWS checks Origin before) and returns the key, or the
// status of the refusal.
func handshakeStatus(r *http.Request) (key string, status int) {
	if !websocket.IsWebSocketUpgrade(r) {
		return "", http.StatusBadRequest
	}
	if r.Method != http.MethodGet {
		return "", http.StatusMethodNotAllowed
	}
	if !hasToken(r.Header["Sec-Websocket-Version"], "13") {
		return "", http.StatusBadRequest
	}
	key = r.Header.Get("Sec-Websocket-Key")
	if !validKey(key) {
		return "", http.StatusBadRequest
	}
	return key, 0
}

// hasToken reports whether a comma-separated header holds token (any
// case, spaces and tabs around it allowed).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(item, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// validKey reports whether key is the base64 of 16 bytes.
func validKey(key string) bool {
	if len(key) != keyLen {
		return false
	}
	var b [18]byte // base64.StdEncoding.DecodedLen(keyLen)
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// upgrade answers a refused handshake with a problem, or takes the
// connection over and returns it with the 101 answer, not yet written.
func upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *handshakeAnswer, error) {
	key, status := handshakeStatus(r)
	if status != 0 {
		err := &Error{Status: status, Code: CodeInvalidRequest, Detail: "not a websocket handshake"}
		WriteProblem(w, err)
		return nil, nil, err
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		err := &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Err: errors.New("response does not implement http.Hijacker")}
		WriteProblem(w, err)
		return nil, nil, err
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		// The connection could not be taken over: the device tries
		// again later (503 carries Retry-After).
		WriteProblem(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Err: err})
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		_ = nc.Close()
		return nil, nil, errDataBeforeAnswer
	}
	return nc, answerTo(key), nil
}

// answerTo is the 101 answer to a handshake with key.
func answerTo(key string) *handshakeAnswer {
	var in [keyLen + len(wsGUID)]byte
	copy(in[copy(in[:], key):], wsGUID)
	sum := sha1.Sum(in[:])
	a := new(handshakeAnswer)
	n := copy(a[:], answerHead)
	base64.StdEncoding.Encode(a[n:n+acceptLen], sum[:])
	copy(a[n+acceptLen:], "\r\n\r\n")
	return a
}
