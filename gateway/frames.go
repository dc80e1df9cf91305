package gateway

import (
	"encoding/json"
	"errors"
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

func welcomeJSON(deviceID string, v *sessionView) []byte {
	b, _ := json.Marshal(welcomeFrame{Type: msgWelcome, DeviceID: deviceID, Session: v})
	return b
}
