package gateway

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// Message types of docs/DEVICE-API.md.
const (
	msgWelcome = "welcome"
	msgLogout  = "logout"
	msgWarning = "warning"
	msgAuth    = "auth"
	msgAck     = "ack"
)

// Close codes of docs/DEVICE-API.md.
const (
	closeInvalidToken = 4401
	closeRevoked      = 4403
	closeAuthTimeout  = 4408
	closeReplaced     = 4409
	closeGoingAway    = 1001 // websocket.CloseGoingAway
	closePolicy       = 1008 // websocket.ClosePolicyViolation
	closeTooBig       = 1009 // websocket.CloseMessageTooBig
)

// clientMessage is any message a device sends: auth (first, when the
// header did not carry the token) or ack.
type clientMessage struct {
	Type        string `json:"type"`
	CommandID   string `json:"command_id"`
	DeviceToken string `json:"device_token"`
}

var errNoType = errors.New("message has no type")

// parseClientMessage decodes one text frame. The gateway answers nothing
// to a message it cannot parse or does not know: it only counts toward
// the rate limit.
func parseClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return clientMessage{}, err
	}
	if m.Type == "" {
		return clientMessage{}, errNoType
	}
	return m, nil
}

type welcomeFrame struct {
	Type     string       `json:"type"`
	DeviceID string       `json:"device_id"`
	Session  *sessionView `json:"session"` // null when the device has none
}

type byView struct {
	DeviceID    string    `json:"device_id"`
	WarehouseID string    `json:"warehouse_id"`
	At          time.Time `json:"at"`
}

type logoutFrame struct {
	Type      string          `json:"type"`
	CommandID string          `json:"command_id"`
	SessionID string          `json:"session_id"`
	Reason    sessions.Reason `json:"reason"`
	At        time.Time       `json:"at"`
	By        *byView         `json:"by,omitempty"`
}

type warningFrame struct {
	Type      string    `json:"type"`
	SessionID string    `json:"session_id"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// logoutJSON is the logout frame of a command: at is when the session
// ended; by names the login that ended it, for evicted and replaced.
func logoutJSON(c sessions.Command) []byte {
	f := logoutFrame{Type: msgLogout, CommandID: c.ID, SessionID: c.SessionID, Reason: c.Reason, At: c.CreatedAt.UTC()}
	if c.By != nil && (c.Reason == sessions.ReasonEvicted || c.Reason == sessions.ReasonReplaced) {
		f.By = &byView{DeviceID: c.By.DeviceID, WarehouseID: c.By.WarehouseID, At: c.By.At.UTC()}
	}
	b, _ := json.Marshal(f)
	return b
}

func warningJSON(w sessions.Warning) []byte {
	b, _ := json.Marshal(warningFrame{Type: msgWarning, SessionID: w.SessionID, Reason: "expires_soon", At: w.At.UTC()})
	return b
}

// welcomeJSON is json.Marshal of the welcome frame, written out by hand:
// through encoding/json, with its three times through their
// MarshalJSON and its check of their output, it was the largest part of
// the CPU a signed-in connect costs more than one without a session
// (docs/BENCHMARKS.md section 5). The bytes are json.Marshal's
// (TestWelcomeJSONAsMarshal): a string that needs escaping goes through
// json.Marshal.
func welcomeJSON(deviceID string, v *sessionView) []byte {
	if v != nil && !(jsonYear(v.CreatedAt) && jsonYear(v.ExpiresAt) && jsonYear(v.IdleExpiresAt)) {
		b, _ := json.Marshal(welcomeFrame{Type: msgWelcome, DeviceID: deviceID, Session: v})
		return b
	}
	if v == nil {
		b := make([]byte, 0, 96) // a device id of 30 bytes takes 71
		b = append(b, `{"type":"`+msgWelcome+`","device_id":`...)
		b = appendJSONString(b, deviceID)
		return append(b, `,"session":null}`...)
	}
	b := make([]byte, 0, 512) // about 450 with the ids of today
	b = append(b, `{"type":"`+msgWelcome+`","device_id":`...)
	b = appendJSONString(b, deviceID)
	b = append(b, `,"session":`...)
	b = append(b, `{"session_id":`...)
	b = appendJSONString(b, v.SessionID)
	b = append(b, `,"user":{"id":`...)
	b = appendJSONString(b, v.User.ID)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, v.User.Username)
	b = append(b, `,"first_name":`...)
	b = appendJSONString(b, v.User.FirstName)
	b = append(b, `,"last_name":`...)
	b = appendJSONString(b, v.User.LastName)
	b = append(b, `,"warehouse_id":`...)
	b = appendJSONString(b, v.User.WarehouseID)
	b = append(b, `,"language":`...)
	b = appendJSONString(b, v.User.Language)
	b = append(b, `},"device_id":`...)
	b = appendJSONString(b, v.DeviceID)
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, v.CreatedAt)
	b = append(b, `,"expires_at":`...)
	b = appendJSONTime(b, v.ExpiresAt)
	b = append(b, `,"idle_expires_at":`...)
	b = appendJSONTime(b, v.IdleExpiresAt)
	b = append(b, `,"pin_change_required":`...)
	b = strconv.AppendBool(b, v.PINChangeRequired)
	return append(b, "}}"...)
}

// appendJSONString appends s as encoding/json writes it: as it is, in
// quotes, when no byte of it needs escaping (printable ASCII but for the
// quote, the backslash and the HTML characters encoding/json escapes);
// else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonYear reports whether t's MarshalJSON takes its year.
func jsonYear(t time.Time) bool { y := t.Year(); return y >= 0 && y <= 9999 }

// appendJSONTime appends t as its MarshalJSON does (RFC 3339 with
// nanoseconds, in quotes), for a year jsonYear takes.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
