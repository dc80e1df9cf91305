package sessions

import (
	"context"
	"time"
)

// EventKind names what a fan-out Event carries. The store publishes
// KindEnded and KindWarning itself; the other kinds are its callers',
// carried as they are (a caller may define kinds of its own).
type EventKind string

const (
	// KindEnded: a session ended; Command is set (the logout queued for
	// the device).
	KindEnded EventKind = "ended"
	// KindWarehouseEnded: EndWarehouse's event for a whole warehouse
	// (WarehouseID), published before the per-session records are
	// written: Commands holds the logout command of every session it is
	// ending (the same ids the device queues carry), so every instance
	// pushes them to its own sockets at once. A backend may publish it
	// again after the records (Redis does), and may or may not publish a
	// KindEnded event per command as well (in process it does; Redis
	// does not, except for the sessions its Sweep ends for an end whose
	// caller died); a watcher treats them alike (one push per command
	// id). The caller of EndWarehouse records the custody ends of its
	// commands: a watcher need not note them from this event.
	KindWarehouseEnded EventKind = "warehouse_ended"
	// KindWarning: a session's absolute end is near; Warning is set.
	KindWarning EventKind = "warning"
	// KindDeviceRevoked: DeviceID's enrollment was revoked (every session
	// of it has ended or is ending).
	KindDeviceRevoked EventKind = "device_revoked"
	// KindUserChanged: user UserID was changed in the registry (names,
	// username, language, warehouse). The admin API publishes it; an
	// instance that keeps users in memory drops that one.
	KindUserChanged EventKind = "user_changed"
	// KindManagerChanged: manager ManagerID, or one of their admin API
	// tokens, was changed in the registry (a token revoked, the manager
	// disabled, deleted, given other roles or a new password). The admin
	// API publishes it; an instance that keeps manager tokens in memory
	// drops that manager's.
	KindManagerChanged EventKind = "manager_changed"
	// KindActivity: something changed in warehouse WarehouseID that the
	// admin console's live pages show (a login, a logout delivered or
	// acknowledged, a device coming online or going offline).
	KindActivity EventKind = "activity"
	// KindLost is never published (Publish refuses it): Watch hands it
	// to its own fn as soon as it knows that events may have been
	// missed (the subscription failed; in process, fn did not keep up
	// with the watcher's buffer). ready follows once it listens again.
	// Whatever a watcher keeps on the strength of the fan-out (the
	// gateway's introspection cache) is to be dropped until then.
	KindLost EventKind = "lost"
)

// Warning says a session ends soon (docs/DEVICE-API.md `warning`, reason expires_soon).
type Warning struct {
	SessionID string    `json:"session_id"`
	DeviceID  string    `json:"device_id"`
	At        time.Time `json:"at"` // when the session ends
}

// Event is one message of the fan-out to every instance.
type Event struct {
	Kind     EventKind `json:"kind"`
	Command  *Command  `json:"command,omitempty"`
	Warning  *Warning  `json:"warning,omitempty"`
	DeviceID string    `json:"device_id,omitempty"`
	// Origin names the instance that published the event, when its kind
	// needs it; Ref is an id of the publisher's own (the gateway: the
	// socket it announces). Its JSON name is the one instances already
	// running use.
	Origin string `json:"origin,omitempty"`
	Ref    string `json:"socket_id,omitempty"`
	// WarehouseID is the warehouse of a KindActivity or a
	// KindWarehouseEnded event.
	WarehouseID string `json:"warehouse_id,omitempty"`
	// UserID is the user of a KindUserChanged event.
	UserID string `json:"user_id,omitempty"`
	// ManagerID is the manager of a KindManagerChanged event.
	ManagerID string `json:"manager_id,omitempty"`
	// Commands are the logout commands of a KindWarehouseEnded event.
	Commands []Command `json:"commands,omitempty"`
}

// DeviceState is what Announce reads of a device.
type DeviceState struct {
	Sessions []Session // live, oldest first (ByDevice)
	Pending  []Command // neither acknowledged nor expired, oldest first (Pending)
}

// PageRequest asks for one page of a warehouse's sessions.
type PageRequest struct {
	After string // last session id of the previous page, "" for the first
	Limit int    // 0 means 100; at most 500
}

// Store is everything a session backend provides: the live sessions,
// their logout commands, device presence, the fan-out between instances
// and the expiry sweep. The Redis and in-process backends implement it
// and pass sessionstest.Run. Consumers take only the small interfaces
// below that they use (Sessions, Commands, Presence, Fanout, Announcer,
// Sweeper).
//
// Errors: every error a Store returns matches one of this package's
// sentinels (ErrNotFound, ErrLimit, ErrInvalid) or ErrUnavailable (a
// server that does not answer, a context that ended), so that callers
// map them in one place and fail closed; Watch returns only its
// context's error. sessionstest checks this against a server that does
// not answer.
type Store interface {
	// Ping reports whether the store answers (readiness).
	Ping(ctx context.Context) error
	Sessions
	Commands
	Presence
	Fanout
	Announcer
	Sweeper
}

// Sessions creates, reads and ends live sessions. Every method that ends
// sessions creates one logout Command per ended session, queues it for
// the device, and publishes a KindEnded Event (EndWarehouse: a
// KindWarehouseEnded event, see there).
type Sessions interface {
	// Create ends the session open on n.DeviceID (ReasonReplaced), then,
	// in one atomic step for the user, ends the oldest-created sessions
	// until there is room under p.Cap (ReasonEvicted), or returns ErrLimit
	// when p.DenyNew, and inserts the new session.
	Create(ctx context.Context, n NewSession, p Policy) (Created, error)
	// Validate returns the live session of a token and counts it as
	// activity (a touch that writes at most once every few seconds).
	// Unknown, ended and expired tokens return ErrNotFound.
	Validate(ctx context.Context, t Token) (Session, error)
	// Session reads a live session by id without touching it.
	Session(ctx context.Context, id string) (Session, error)
	ByUser(ctx context.Context, userID string) ([]Session, error)
	ByDevice(ctx context.Context, deviceID string) ([]Session, error)
	// ByWarehouse lists in session id order, one page at a time, without
	// scanning the keyspace; next is "" on the last page.
	ByWarehouse(ctx context.Context, warehouseID string, p PageRequest) (items []Session, next string, err error)
	// ClearPINChange lifts the pin_change_required confinement.
	ClearPINChange(ctx context.Context, sessionID string) error

	// End ends one session; ErrNotFound if it is not live.
	End(ctx context.Context, sessionID string, r Reason) (Command, error)
	EndUser(ctx context.Context, userID string, r Reason) ([]Command, error)
	EndDevice(ctx context.Context, deviceID string, r Reason) ([]Command, error)
	// EndWarehouse ends every session of a warehouse. It publishes one
	// KindWarehouseEnded event with the commands first, then writes the
	// per-session records (and may publish the event again, or a
	// KindEnded event per command). A session created concurrently with it is
	// either ended (Validate refuses it and its command is queued for
	// its device) or created after it and left live: never refused
	// without a command, never live though created before it.
	EndWarehouse(ctx context.Context, warehouseID string, r Reason) ([]Command, error)
}

// WarehouseStarter is offered by a Store whose warehouse end can answer
// before its per-session records are written (the Redis backend).
// StartEndWarehouse does EndWarehouse up to and including its one
// KindWarehouseEnded event, whose commands it returns: from then on
// Validate refuses every session of the warehouse created before it,
// and Command answers each of those commands (pending) before its
// record exists. finish writes the records and returns the commands
// EndWarehouse would have returned; if it is never called, or fails,
// the store's Sweep writes them within a minute.
type WarehouseStarter interface {
	StartEndWarehouse(ctx context.Context, warehouseID string, r Reason) (cmds []Command, finish func(context.Context) ([]Command, error), err error)
}

// Commands reads the logout commands queued for devices and records
// their delivery and acknowledgement.
type Commands interface {
	// Pending lists the device's commands not yet acknowledged and not
	// expired, oldest first.
	Pending(ctx context.Context, deviceID string) ([]Command, error)
	// PendingMany is Pending for many devices in a few round trips (a
	// periodic re-check of many devices at once). Devices with nothing
	// pending are absent from the map.
	PendingMany(ctx context.Context, deviceIDs []string) (map[string][]Command, error)
	Command(ctx context.Context, id string) (Command, error)
	// Delivered marks a command sent to its device (the first time only).
	Delivered(ctx context.Context, id string) error
	// Ack records the device's acknowledgement; ErrNotFound when the
	// command does not exist or belongs to another device. An
	// acknowledgement proves delivery: a command not yet marked delivered
	// is marked delivered at the same time.
	Ack(ctx context.Context, deviceID, commandID string) error
	// DeliveredMany is Delivered for many commands at once, in a few
	// round trips (an instance's delivered marks, batched after the
	// frames are out): every id Delivered would mark is marked, an id
	// Delivered would answer ErrNotFound for is skipped. An error says
	// the store failed and the batch may be marked in part; marking is
	// idempotent (the first time is kept), so the caller sends the
	// whole batch again.
	DeliveredMany(ctx context.Context, ids []string) error
	// AckMany is Ack for many acknowledgements at once, in a few round
	// trips: every one Ack would record is recorded (and its command
	// taken out of its device's queue), one Ack would answer ErrNotFound
	// for (an unknown command, another device's) is skipped. Errors as
	// DeliveredMany's.
	AckMany(ctx context.Context, acks []Ack) error
}

// Ack is one device's acknowledgement of one of its commands (AckMany).
type Ack struct {
	DeviceID  string
	CommandID string
}

// Presence records which instance holds a live connection of a device.
type Presence interface {
	// MarkOnline records that origin holds each device's connection, for
	// ttl (refreshed in batches); MarkOffline removes each device's mark
	// that origin still holds, so that a late batch from the instance a
	// device left never removes the mark of the instance it moved to.
	// Both take a batch: the Redis backend makes one round trip of each
	// (on Cluster, one pipeline). Online answers for many devices at once.
	MarkOnline(ctx context.Context, origin string, deviceIDs []string, ttl time.Duration) error
	MarkOffline(ctx context.Context, origin string, deviceIDs []string) error
	Online(ctx context.Context, deviceIDs []string) (map[string]bool, error)
}

// Fanout carries events to every instance.
type Fanout interface {
	// Publish sends an event to every watcher on every instance.
	Publish(ctx context.Context, e Event) error
	// Watch calls fn for every event published by any instance until ctx
	// ends. It reconnects by itself; it returns only ctx's error. fn must
	// not block for long.
	//
	// Each time it has subscribed (the first time and after every lost
	// subscription) it calls ready, when not nil, before fn hears any
	// event published since: from then on nothing published is lost to
	// it, but what was published while it was not subscribed is (the
	// fan-out is at most once), so the watcher re-reads from the store
	// what it may have missed. reset says the store has lost its data
	// since the previous subscription (a Redis restarted empty): every
	// session and queued command is gone. ready and fn are called on
	// one goroutine, never at once, and must not block for long.
	//
	// When it finds that events may have been lost (the subscription
	// failed, or fn did not keep up), it calls fn with a KindLost event
	// at once, before it tries to subscribe again.
	Watch(ctx context.Context, ready func(reset bool), fn func(Event)) error
}

// Announcer tells the other instances that a device has come online and
// reads what the device must be told, at once.
type Announcer interface {
	// Announce publishes e, then reads e.DeviceID's live sessions (as
	// ByDevice) and pending commands (as Pending). The Redis backend does
	// all of it in one round trip (two on Cluster, when the device has a
	// session or a queued command).
	Announce(ctx context.Context, e Event) (DeviceState, error)
}

// Sweeper ends what has expired.
type Sweeper interface {
	// Sweep ends sessions whose idle or absolute end has passed
	// (ReasonIdle, ReasonExpired) and publishes due warnings (5 minutes
	// before the absolute end, once per session). It looks only at
	// sessions that are due, and is safe to run on every instance at once.
	Sweep(ctx context.Context) (ended int, err error)
}

// WarningLead is how long before the absolute end a warning is due.
const WarningLead = 5 * time.Minute
