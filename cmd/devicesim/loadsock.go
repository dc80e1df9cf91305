package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// loadDevice is one enrolled handheld of a load run, as the setup mode
// writes it.
type loadDevice struct {
	Index         int    `json:"index"`
	DeviceID      string `json:"device_id"`
	DeviceToken   string `json:"device_token"`
	WarehouseID   string `json:"warehouse_id"`
	WarehouseCode string `json:"warehouse_code"`
	Username      string `json:"username"`
}

func readLoadDevices(path string) ([]loadDevice, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devices file: %w", err)
	}
	var out []loadDevice
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("devices file %s: %w", path, err)
	}
	return out, nil
}

func writeLoadDevices(path string, d []loadDevice) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sliceRange is d[from:from+count], checked.
func sliceRange(d []loadDevice, from, count int) ([]loadDevice, error) {
	if count <= 0 {
		count = len(d) - from
	}
	if from < 0 || from+count > len(d) {
		return nil, fmt.Errorf("devices %d..%d: the file holds %d", from, from+count, len(d))
	}
	return d[from : from+count], nil
}

// loadDialer opens light websockets (1 KiB buffers) from a chosen
// loopback source address, so that several processes do not share one
// address's ephemeral ports.
func loadDialer(source string) (*websocket.Dialer, error) {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			return nil, fmt.Errorf("-source %q is not an IP address", source)
		}
		nd.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: 15 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
	}, nil
}

// welcomeFrame is the part of welcome a load socket reads.
type welcomeFrame struct {
	Type     string `json:"type"`
	DeviceID string `json:"device_id"`
	Session  *struct {
		SessionID string `json:"session_id"`
	} `json:"session"`
}

// dialWelcome opens a socket and waits for its first frame, which must be
// welcome. token may be empty (a bare server).
func dialWelcome(ctx context.Context, d *websocket.Dialer, gateway, token string, timeout time.Duration) (*websocket.Conn, welcomeFrame, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	conn, res, err := d.DialContext(ctx, wsURL(gateway), h)
	if err != nil {
		if res != nil {
			return nil, welcomeFrame{}, fmt.Errorf("dial: %w (status %d)", err, res.StatusCode)
		}
		return nil, welcomeFrame{}, fmt.Errorf("dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	_, data, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, welcomeFrame{}, fmt.Errorf("read welcome: %w", err)
	}
	conn.SetReadDeadline(time.Time{})
	var w welcomeFrame
	if err := json.Unmarshal(data, &w); err != nil || w.Type != "welcome" {
		conn.Close()
		return nil, welcomeFrame{}, fmt.Errorf("first frame is not welcome: %.120s", data)
	}
	return conn, w, nil
}

// closeCode is the close code of a read error, 0 if it is not a close.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
