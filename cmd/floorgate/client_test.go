package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// This file is a small client of docs/DEVICE-API.md for the end-to-end tests: the
// admin calls that set a floor up, enrollment and login on the device
// API, and a device websocket.

// The first admin of the end-to-end tests, set through the environment.
const (
	e2eAdminEmail    = "ops@example.com"
	e2eAdminPassword = "Warehouse-Floor-42"
)

// call sends method url with body as JSON and bearer (when not empty),
// fails t unless the answer has status want, and decodes it into out
// (when not nil). Neither the bearer nor the body appear in a failure.
func call(t *testing.T, method, url, bearer string, body, out any, want int) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("%s %s: encode body: %v", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %.300s; want %d", method, url, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %.300s: %v", method, url, data, err)
		}
	}
}

// floor is what setUpFloor creates through the admin API: a warehouse,
// a mobile manager of it, and a user of it who may sign in at once.
type floor struct {
	adminToken                    string
	warehouseID                   string
	managerEmail, managerPassword string
	userID, username, pin         string
}

// setUpFloor signs the first admin in on in and creates the floor.
func setUpFloor(t *testing.T, in *instance) floor {
	t.Helper()
	f := floor{managerEmail: "mia@example.com", managerPassword: "Dock-Scanner-Mia-7", username: "jsmith", pin: "4821"}
	var login struct {
		Token string `json:"token"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/login", "",
		map[string]string{"email": e2eAdminEmail, "password": e2eAdminPassword}, &login, http.StatusOK)
	f.adminToken = login.Token

	var wh struct {
		ID string `json:"id"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/warehouses", f.adminToken,
		map[string]string{"name": "Dock North", "code": "DN1"}, &wh, http.StatusCreated)
	f.warehouseID = wh.ID

	call(t, "POST", in.AdminURL+"/admin/v1/managers", f.adminToken, map[string]any{
		"email": f.managerEmail, "first_name": "Mia", "last_name": "Berg", "password": f.managerPassword,
		"roles": []map[string]string{{"role": "mobile_manager", "warehouse_id": f.warehouseID}},
	}, nil, http.StatusCreated)

	var user struct {
		ID string `json:"id"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/users", f.adminToken, map[string]any{
		"username": f.username, "first_name": "Jo", "last_name": "Smith", "pin": f.pin,
		"warehouse_id": f.warehouseID, "pin_change_required": false,
	}, &user, http.StatusCreated)
	f.userID = user.ID
	if f.warehouseID == "" || f.userID == "" {
		t.Fatalf("set-up answered warehouse %q, user %q; want ids", f.warehouseID, f.userID)
	}
	return f
}

// device is an enrolled handheld.
type device struct {
	ID, Token, Serial string
}

// enroll enrolls a handheld with serial through the gateway of in, as
// the floor's mobile manager.
func (f floor) enroll(t *testing.T, in *instance, serial string) device {
	t.Helper()
	var out struct {
		DeviceID    string `json:"device_id"`
		DeviceToken string `json:"device_token"`
		WarehouseID string `json:"warehouse_id"`
	}
	call(t, "POST", in.GatewayURL+"/v1/enroll", "", map[string]any{
		"email": f.managerEmail, "password": f.managerPassword, "warehouse_id": f.warehouseID,
		"device": map[string]string{"serial": serial, "model": "TC52", "os_version": "13",
			"app_version": "4.2.0", "label": "Scanner " + serial},
	}, &out, http.StatusCreated)
	if out.DeviceID == "" || !strings.HasPrefix(out.DeviceToken, "fgd_") || out.WarehouseID != f.warehouseID {
		t.Fatalf("enroll %s = device %q, warehouse %q (token prefix ok: %v); want an id, an fgd_ token and warehouse %q",
			serial, out.DeviceID, out.WarehouseID, strings.HasPrefix(out.DeviceToken, "fgd_"), f.warehouseID)
	}
	return device{ID: out.DeviceID, Token: out.DeviceToken, Serial: serial}
}

// loggedIn is the part of the POST /v1/login answer the tests check.
type loggedIn struct {
	SessionID string `json:"session_id"`
	Evicted   []struct {
		SessionID string `json:"session_id"`
		DeviceID  string `json:"device_id"`
	} `json:"evicted"`
}

// login signs the floor's user in on d through the gateway of in.
func (f floor) login(t *testing.T, in *instance, d device) loggedIn {
	t.Helper()
	var out loggedIn
	call(t, "POST", in.GatewayURL+"/v1/login", d.Token,
		map[string]string{"username": f.username, "pin": f.pin}, &out, http.StatusOK)
	if out.SessionID == "" {
		t.Fatalf("login on device %s answered no session_id", d.ID)
	}
	return out
}

// waitAcked reads GET /admin/v1/commands/{id} until it is acked, at most
// 100 times over about 5 s (the ack is recorded after the frame is read,
// so the first read may come before it).
func (f floor) waitAcked(t *testing.T, in *instance, commandID string) {
	t.Helper()
	var cmd struct {
		CommandID   string `json:"command_id"`
		Status      string `json:"status"`
		CreatedAt   string `json:"created_at"`
		DeliveredAt string `json:"delivered_at"`
		AckedAt     string `json:"acked_at"`
	}
	for range 100 {
		call(t, "GET", in.AdminURL+"/admin/v1/commands/"+commandID, f.adminToken, nil, &cmd, http.StatusOK)
		if cmd.Status == "acked" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cmd.Status != "acked" || cmd.CommandID != commandID || cmd.CreatedAt == "" || cmd.DeliveredAt == "" || cmd.AckedAt == "" {
		t.Fatalf("GET /admin/v1/commands/%s = %+v; want status acked with created_at, delivered_at and acked_at", commandID, cmd)
	}
}

// frame is one server-to-device message of docs/DEVICE-API.md.
type frame struct {
	Type      string          `json:"type"`
	DeviceID  string          `json:"device_id"`
	Session   json.RawMessage `json:"session"`
	CommandID string          `json:"command_id"`
	SessionID string          `json:"session_id"`
	Reason    string          `json:"reason"`
	At        string          `json:"at"`
	By        *struct {
		DeviceID    string `json:"device_id"`
		WarehouseID string `json:"warehouse_id"`
		At          string `json:"at"`
	} `json:"by"`
}

// socket is a device websocket, read by the test goroutine only.
type socket struct {
	conn *websocket.Conn
	name string
}

// dial opens the websocket of d on the gateway of in, with the device
// token in the Authorization header. It is closed at t's cleanup.
func dial(t *testing.T, in *instance, d device, name string) *socket {
	t.Helper()
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := dialer.Dial("ws://"+in.Gateway+"/v1/ws", http.Header{"Authorization": {"Bearer " + d.Token}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial /v1/ws: %v (status %d)", name, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return &socket{conn: conn, name: name}
}

// next reads one frame within timeout. A close from the server is
// returned as a *websocket.CloseError.
func (s *socket) next(timeout time.Duration) (frame, error) {
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	typ, data, err := s.conn.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	var f frame
	if typ != websocket.TextMessage {
		return frame{}, fmt.Errorf("message of type %d; want a text frame", typ)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return frame{}, fmt.Errorf("frame %.200q is not JSON: %v", data, err)
	}
	return f, nil
}

// expect reads the next frame within timeout and fails t unless it has
// type typ.
func (s *socket) expect(t *testing.T, timeout time.Duration, typ string) frame {
	t.Helper()
	f, err := s.next(timeout)
	if err != nil {
		t.Fatalf("%s: read, waiting for %s: %v", s.name, typ, err)
	}
	if f.Type != typ {
		t.Fatalf("%s: got frame %+v; want type %s", s.name, f, typ)
	}
	return f
}

// welcome reads the welcome frame of device d.
func (s *socket) welcome(t *testing.T, d device) frame {
	t.Helper()
	f := s.expect(t, 5*time.Second, "welcome")
	if f.DeviceID != d.ID {
		t.Fatalf("%s: welcome for device %q; want %q", s.name, f.DeviceID, d.ID)
	}
	return f
}

// expectClose reads until the server closes the socket, within timeout,
// and fails t unless the close code is code.
func (s *socket) expectClose(t *testing.T, timeout time.Duration, code int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for range 10 { // a few frames may still be queued before the close
		f, err := s.next(time.Until(deadline))
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			if ce.Code != code {
				t.Fatalf("%s: closed with %d %q; want %d", s.name, ce.Code, ce.Text, code)
			}
			return
		case err != nil:
			t.Fatalf("%s: read, waiting for close %d: %v", s.name, code, err)
		default:
			t.Logf("%s: frame %+v before the close", s.name, f)
		}
	}
	t.Fatalf("%s: 10 frames and no close; want close %d", s.name, code)
}

// ack acknowledges a logout command.
func (s *socket) ack(t *testing.T, commandID string) {
	t.Helper()
	s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := s.conn.WriteJSON(map[string]string{"type": "ack", "command_id": commandID}); err != nil {
		t.Fatalf("%s: ack %s: %v", s.name, commandID, err)
	}
}

// checkLogout fails t unless f is a logout of session sessionID with
// reason and an RFC 3339 at.
func checkLogout(t *testing.T, f frame, sessionID, reason string) {
	t.Helper()
	if f.Type != "logout" || f.CommandID == "" || f.SessionID != sessionID || f.Reason != reason || !isTime(f.At) {
		t.Fatalf("frame %+v; want logout of session %s with a command_id, reason %s and an RFC 3339 at", f, sessionID, reason)
	}
}

func isTime(s string) bool {
	ts, err := time.Parse(time.RFC3339, s)
	return err == nil && !ts.IsZero()
}
