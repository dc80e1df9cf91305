package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// token is an HS256 JWT for user sub, as Centrifugo's
// client.token.hmac_secret_key verifies it.
func token(secret, sub string, exp time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp.Unix()})
	body := head + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}

// reply is what the server sends: a command's reply (id), a push, or an
// empty ping ({}).
type reply struct {
	ID      uint32          `json:"id"`
	Error   *replyError     `json:"error"`
	Connect *connectResult  `json:"connect"`
	Push    *push           `json:"push"`
	Raw     json.RawMessage `json:"-"`
}

type replyError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type connectResult struct {
	Client string                     `json:"client"`
	Subs   map[string]json.RawMessage `json:"subs"`
	Ping   int                        `json:"ping"`
	Pong   bool                       `json:"pong"`
}

type push struct {
	Channel string `json:"channel"`
	Pub     *struct {
		Data json.RawMessage `json:"data"`
	} `json:"pub"`
}

// peerConn is one connected client.
type peerConn struct {
	conn *websocket.Conn
	pong bool
	subs []string
	wmu  sync.Mutex
}

// dialPeer connects to url as user sub from d and waits for the connect
// reply, within timeout.
func dialPeer(ctx context.Context, d *websocket.Dialer, url, secret, sub string, timeout time.Duration) (*peerConn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, res, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, res.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
		_ = conn.SetWriteDeadline(dl)
	}
	cmd := fmt.Sprintf(`{"id":1,"connect":{"token":%q,"name":"benchpeer"}}`, token(secret, sub, time.Now().Add(24*time.Hour)))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send connect: %w", err)
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("read connect reply: %w", err)
		}
		for _, r := range parseReplies(data) {
			if r.ID != 1 {
				continue
			}
			if r.Error != nil {
				conn.Close()
				return nil, fmt.Errorf("connect refused: %d %s", r.Error.Code, r.Error.Message)
			}
			if r.Connect == nil {
				conn.Close()
				return nil, errors.New("connect reply without a result")
			}
			_ = conn.SetReadDeadline(time.Time{})
			_ = conn.SetWriteDeadline(time.Time{})
			p := &peerConn{conn: conn, pong: r.Connect.Pong}
			for ch := range r.Connect.Subs {
				p.subs = append(p.subs, ch)
			}
			return p, nil
		}
	}
}

// parseReplies splits a frame into its replies (Centrifugo's JSON
// protocol may batch them, one per line).
func parseReplies(data []byte) []reply {
	var out []reply
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var r reply
		if json.Unmarshal([]byte(line), &r) == nil {
			r.Raw = json.RawMessage(line)
			out = append(out, r)
		}
	}
	return out
}

// readLoop reads until the connection ends: pings ({}) are answered with
// a pong ({}) when the server asked for them, pushes go to onPush.
func (p *peerConn) readLoop(onPush func(push)) error {
	for {
		_, data, err := p.conn.ReadMessage()
		if err != nil {
			return err
		}
		for _, r := range parseReplies(data) {
			switch {
			case r.Push != nil:
				if onPush != nil {
					onPush(*r.Push)
				}
			case r.ID == 0 && string(r.Raw) == "{}" && p.pong:
				p.wmu.Lock()
				_ = p.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				err := p.conn.WriteMessage(websocket.TextMessage, []byte("{}"))
				p.wmu.Unlock()
				if err != nil {
					return err
				}
			}
		}
	}
}

func (p *peerConn) close() {
	p.wmu.Lock()
	_ = p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	p.wmu.Unlock()
	p.conn.Close()
}

// dialer is a websocket dialer from source (an address on loopback; ""
// for any), with small buffers as a handheld's client would have.
func dialer(source string) (*websocket.Dialer, error) {
	d := &websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			return nil, fmt.Errorf("-source %q is not an IP address", source)
		}
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 15 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	return d, nil
}
