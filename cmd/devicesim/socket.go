package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// By is the `by` object of a logout frame.
type By struct {
	DeviceID    string `json:"device_id"`
	WarehouseID string `json:"warehouse_id"`
	At          string `json:"at"`
}

// Frame is one server-to-device message of docs/DEVICE-API.md.
type Frame struct {
	Type      string          `json:"type"`
	DeviceID  string          `json:"device_id"`
	Session   json.RawMessage `json:"session"`
	CommandID string          `json:"command_id"`
	SessionID string          `json:"session_id"`
	Reason    string          `json:"reason"`
	At        string          `json:"at"`
	By        *By             `json:"by"`

	Received time.Time `json:"-"` // when the frame was read off the socket
}

// Closed is the error Next returns once the server has closed the socket.
type Closed struct {
	Code int
	Text string
}

func (c *Closed) Error() string { return fmt.Sprintf("socket closed with %d %q", c.Code, c.Text) }

// Socket is one device websocket. A reader goroutine turns frames into a
// channel so that callers can wait with a timeout.
type Socket struct {
	conn   *websocket.Conn
	frames chan Frame
	done   chan struct{}
	err    error // set before done is closed

	wmu sync.Mutex
}

var dialer = &websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   1024,
	WriteBufferSize:  1024,
}

func wsURL(gateway string) string {
	u := strings.Replace(gateway, "https://", "wss://", 1)
	u = strings.Replace(u, "http://", "ws://", 1)
	return u + "/v1/ws"
}

// Dial opens a socket. With header true the device token travels in the
// Authorization header; otherwise it is sent as the first message.
// An empty token opens a socket that never authenticates.
func Dial(ctx context.Context, gateway, token string, header bool, extra http.Header) (*Socket, *http.Response, error) {
	h := http.Header{}
	for k, v := range extra {
		h[k] = v
	}
	if header && token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	conn, res, err := dialer.DialContext(ctx, wsURL(gateway), h)
	if err != nil {
		return nil, res, err
	}
	s := &Socket{conn: conn, frames: make(chan Frame, 64), done: make(chan struct{})}
	if !header && token != "" {
		if err := s.Send(map[string]string{"type": "auth", "device_token": token}); err != nil {
			conn.Close()
			return nil, res, err
		}
	}
	go s.read()
	return s, res, nil
}

func (s *Socket) read() {
	defer close(s.done)
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				s.err = &Closed{Code: ce.Code, Text: ce.Text}
			} else {
				s.err = err
			}
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			s.err = fmt.Errorf("frame is not JSON: %v: %.200s", err, data)
			return
		}
		f.Received = time.Now()
		select {
		case s.frames <- f:
		default:
			s.err = errors.New("client fell behind: 64 frames unread")
			return
		}
	}
}

// Next returns the next frame, or the close (as *Closed) or error that
// ended the socket, or a timeout error.
func (s *Socket) Next(timeout time.Duration) (Frame, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-s.frames:
		return f, nil
	case <-s.done:
		select {
		case f := <-s.frames:
			return f, nil
		default:
		}
		return Frame{}, s.err
	case <-t.C:
		return Frame{}, fmt.Errorf("no frame within %v", timeout)
	}
}

// Frames is the channel of frames, for callers that select on many sockets.
func (s *Socket) Frames() <-chan Frame { return s.frames }

// Done is closed when the socket has ended; Err then says why.
func (s *Socket) Done() <-chan struct{} { return s.done }

// Err is why the socket ended (valid after Done is closed).
func (s *Socket) Err() error { return s.err }

// Send writes one JSON message.
func (s *Socket) Send(v any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteJSON(v)
}

// SendRaw writes one text frame as is.
func (s *Socket) SendRaw(data []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteMessage(websocket.TextMessage, data)
}

// Ack acknowledges a logout command.
func (s *Socket) Ack(commandID string) error {
	return s.Send(map[string]string{"type": "ack", "command_id": commandID})
}

// Close closes the socket from the device side.
func (s *Socket) Close() {
	s.wmu.Lock()
	s.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	s.wmu.Unlock()
	s.conn.Close()
}
