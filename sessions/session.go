package sessions

import (
	"errors"
	"time"
)

// Sentinel errors. Backends translate driver errors into these.
var (
	// ErrNotFound: no such session or command, or the token is unknown,
	// ended or expired.
	ErrNotFound = errors.New("not found")
	// ErrLimit: policy deny_new and the user is at the cap.
	ErrLimit = errors.New("session limit reached")
	// ErrInvalid: the call breaks the contract (a session without a user
	// or a device, a policy without a cap or a lifetime).
	ErrInvalid = errors.New("invalid session request")
	// ErrUnavailable: the store cannot be reached, or the call's context
	// ended first. Callers fail closed.
	ErrUnavailable = errors.New("session store unavailable")
)

// Reason says why a session ended: the `reason` of docs/DEVICE-API.md's logout message.
type Reason string

const (
	ReasonLogout        Reason = "logout"
	ReasonReplaced      Reason = "replaced"
	ReasonEvicted       Reason = "evicted"
	ReasonAdmin         Reason = "admin"
	ReasonUserSuspended Reason = "user_suspended"
	ReasonUserDeleted   Reason = "user_deleted"
	ReasonPINReset      Reason = "pin_reset"
	ReasonDeviceRevoked Reason = "device_revoked"
	ReasonExpired       Reason = "expired"
	ReasonIdle          Reason = "idle"
)

// Session is one signed-in user on one device.
type Session struct {
	ID                string        `json:"session_id"`
	UserID            string        `json:"user_id"`
	Username          string        `json:"username"`
	DeviceID          string        `json:"device_id"`
	WarehouseID       string        `json:"warehouse_id"`
	CreatedAt         time.Time     `json:"created_at"`
	LastActiveAt      time.Time     `json:"last_active_at"`
	ExpiresAt         time.Time     `json:"expires_at"` // absolute end
	IdleTimeout       time.Duration `json:"-"`
	PINChangeRequired bool          `json:"pin_change_required"`
}

// IdleExpiresAt is when the session ends if it stays unused.
func (s Session) IdleExpiresAt() time.Time { return s.LastActiveAt.Add(s.IdleTimeout) }

// EndsAt is the earlier of the idle and the absolute end.
func (s Session) EndsAt() time.Time {
	if i := s.IdleExpiresAt(); i.Before(s.ExpiresAt) {
		return i
	}
	return s.ExpiresAt
}

// NewSession is what a login asks for.
type NewSession struct {
	UserID            string
	Username          string
	DeviceID          string
	WarehouseID       string
	PINChangeRequired bool
}

// Policy is the cap and the lifetimes in force for a login.
type Policy struct {
	Cap      int  // at least 1
	DenyNew  bool // true: refuse at the cap (ErrLimit); false: evict the oldest
	Idle     time.Duration
	Absolute time.Duration
}

// By names the login that ended a session (`by` of docs/DEVICE-API.md) for reasons
// evicted and replaced.
type By struct {
	DeviceID    string    `json:"device_id"`
	WarehouseID string    `json:"warehouse_id"`
	At          time.Time `json:"at"`
}

// CommandTTL is how long a logout command is kept for its device when it
// is not acknowledged.
const CommandTTL = 24 * time.Hour

// Command is a logout command: made whenever a session ends, queued for
// the device until acknowledged or CommandTTL has passed.
type Command struct {
	ID          string     `json:"command_id"`
	SessionID   string     `json:"session_id"`
	UserID      string     `json:"user_id"`
	DeviceID    string     `json:"device_id"`
	WarehouseID string     `json:"warehouse_id"`
	Reason      Reason     `json:"reason"`
	By          *By        `json:"by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	AckedAt     *time.Time `json:"acked_at,omitempty"`
}

// CommandStatus values of docs/DEVICE-API.md.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusAcked     = "acked"
	StatusExpired   = "expired"
)

// Status is the command's state at now.
func (c Command) Status(now time.Time) string {
	switch {
	case c.AckedAt != nil:
		return StatusAcked
	case !now.Before(c.CreatedAt.Add(CommandTTL)):
		return StatusExpired
	case c.DeliveredAt != nil:
		return StatusDelivered
	}
	return StatusPending
}

// Created is what Create returns.
type Created struct {
	Session Session
	Token   Token
	// Ended lists the sessions this login ended: the device's previous
	// session (ReasonReplaced) and the user's oldest beyond the cap
	// (ReasonEvicted), each with its logout command.
	Ended []Command
}
