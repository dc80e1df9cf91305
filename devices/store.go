package devices

import (
	"context"
	"time"
)

// Page asks for one page of a list in keyset order. After is the last id
// of the previous page ("" for the first); Limit is at most 500 (0 means
// 100).
type Page struct {
	After string
	Limit int
}

// WarehouseFilter narrows a warehouse list. IDs, when not nil, restricts
// the list to those warehouses (the caller's scope).
type WarehouseFilter struct {
	IDs []string
	Page
}

// ManagerFilter narrows a manager list.
type ManagerFilter struct {
	// Role, when set, keeps managers holding that role (on any warehouse,
	// or on one of WarehouseIDs when that is not nil).
	Role         RoleName
	WarehouseIDs []string
	Page
}

// UserFilter narrows a user list. Users are listed by id (creation order).
type UserFilter struct {
	WarehouseIDs []string   // nil: all warehouses
	Status       UserStatus // "": active and suspended (deleted only when asked)
	Q            string     // case-insensitive prefix of username, first or last name, or employee id
	UpdatedSince *time.Time // changed at or after this time
	Page
}

// DeviceFilter narrows a device list.
type DeviceFilter struct {
	WarehouseIDs []string
	Status       DeviceStatus // "": active only
	AppVersion   string       // exact match
	NotSeenSince *time.Time   // last seen before this time, or never
	Page
}

// EventFilter narrows the audit log, newest first.
type EventFilter struct {
	Actor        string
	Subject      string
	Action       string // "login.failure", or a prefix ending in "." such as "user."
	WarehouseIDs []string
	From, To     time.Time // zero: open
	Page
}

// DeviceSeen is one batched last-seen update.
type DeviceSeen struct {
	DeviceID   string
	At         time.Time
	AppVersion string // "" leaves it as it is
}

// Store keeps the registry. The PostgreSQL and SQLite backends implement
// it and pass devicestest.Run. A Store only stores: every rule lives in
// Registry. Each mutation that takes an Event appends it in the same
// transaction, so an admin change and its audit row commit together or
// not at all. Update methods read the record, call fn, and write it back
// atomically (row lock or serialised transaction); when fn returns an
// error nothing is written and that error is returned.
//
// Errors: apart from fn's own, every error a Store returns matches one of
// this package's sentinels (ErrNotFound, ErrExists, ErrInvalid) or
// ErrUnavailable (a database that does not answer, a context that ended,
// an error the backend does not know), never a driver type, so that
// callers map them in one place and fail closed. devicestest checks this
// against a closed store and an ended context.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	// Settings returns the organisation settings, DefaultSettings() when
	// none were saved.
	Settings(ctx context.Context) (Settings, error)
	UpdateSettings(ctx context.Context, fn func(*Settings) (Event, error)) (Settings, error)

	CreateWarehouse(ctx context.Context, w Warehouse, ev Event) error
	UpdateWarehouse(ctx context.Context, id string, fn func(*Warehouse) (Event, error)) (Warehouse, error)
	Warehouse(ctx context.Context, id string) (Warehouse, error)
	WarehouseByCode(ctx context.Context, code string) (Warehouse, error)
	Warehouses(ctx context.Context, f WarehouseFilter) ([]Warehouse, error)

	CreateManager(ctx context.Context, m Manager, ev Event) error
	UpdateManager(ctx context.Context, id string, fn func(*Manager) (Event, error)) (Manager, error)
	// DeleteManager removes the account and its roles; audit rows stay.
	DeleteManager(ctx context.Context, id string, ev Event) error
	Manager(ctx context.Context, id string) (Manager, error)
	// ManagerByEmail looks up by EmailKey(email).
	ManagerByEmail(ctx context.Context, emailKey string) (Manager, error)
	Managers(ctx context.Context, f ManagerFilter) ([]Manager, error)

	// CreateUsers inserts all of users and their events, or none: any
	// unique conflict returns ErrExists and writes nothing.
	CreateUsers(ctx context.Context, users []User, evs []Event) error
	UpdateUser(ctx context.Context, id string, fn func(*User) (Event, error)) (User, error)
	User(ctx context.Context, id string) (User, error)
	// UserByUsername looks up by UsernameKey, deleted users included.
	UserByUsername(ctx context.Context, key string) (User, error)
	UserByEmployeeID(ctx context.Context, employeeID string) (User, error)
	// UsersHolding returns, in no particular order and each once, the
	// users (deleted ones included) whose UsernameKey is one of keys or
	// whose EmployeeID is one of employeeIDs ("" matches nobody): an
	// import's look-up of the values it would take, by index, whatever
	// the number of users.
	UsersHolding(ctx context.Context, keys, employeeIDs []string) ([]User, error)
	Users(ctx context.Context, f UserFilter) ([]User, error)
	// PurgeUsers removes every user deleted before cutoff (personal data
	// and PIN hash gone, the username free again), appending event(u) for
	// each, and returns how many it removed. Running it twice removes
	// nothing the second time.
	PurgeUsers(ctx context.Context, cutoff time.Time, event func(User) Event) (int, error)

	// EnrollDevice inserts d. When an active device has the same serial,
	// it is revoked (status, revoked_at) in the same transaction and
	// returned as replaced.
	EnrollDevice(ctx context.Context, d Device, ev Event) (replaced *Device, err error)
	UpdateDevice(ctx context.Context, id string, fn func(*Device) (Event, error)) (Device, error)
	Device(ctx context.Context, id string) (Device, error)
	DeviceByTokenHash(ctx context.Context, hash string) (Device, error)
	Devices(ctx context.Context, f DeviceFilter) ([]Device, error)
	// TouchDevices applies a batch of last-seen updates; no audit.
	TouchDevices(ctx context.Context, seen []DeviceSeen) error

	CreateServiceKey(ctx context.Context, k ServiceKey, ev Event) error
	UpdateServiceKey(ctx context.Context, id string, fn func(*ServiceKey) (Event, error)) (ServiceKey, error)
	ServiceKey(ctx context.Context, id string) (ServiceKey, error)
	ServiceKeyByHash(ctx context.Context, hash string) (ServiceKey, error)
	ServiceKeys(ctx context.Context, p Page) ([]ServiceKey, error)
	// TouchServiceKey sets last_used_at; no audit.
	TouchServiceKey(ctx context.Context, id string, at time.Time) error

	// Manager tokens are the admin API's bearer tokens, kept by hash.
	CreateManagerToken(ctx context.Context, t ManagerToken) error
	ManagerToken(ctx context.Context, hash string) (ManagerToken, error)
	TouchManagerToken(ctx context.Context, hash string, at time.Time) error
	// ManagerTokensOf lists the tokens of managerID still stored
	// (expired ones until they are purged), newest first, at most 1,000.
	ManagerTokensOf(ctx context.Context, managerID string) ([]ManagerToken, error)
	// DeleteManagerTokens removes one token (hash != "") or all of a
	// manager's tokens (hash == "").
	DeleteManagerTokens(ctx context.Context, managerID, hash string) error
	// DeleteOtherManagerTokens removes every token of managerID but the
	// one with keepHash (all of them when keepHash is "").
	DeleteOtherManagerTokens(ctx context.Context, managerID, keepHash string) error

	// Enrollment tokens are kept by the hash of their token.
	CreateEnrollmentToken(ctx context.Context, t EnrollmentToken, ev Event) error
	UpdateEnrollmentToken(ctx context.Context, id string, fn func(*EnrollmentToken) (Event, error)) (EnrollmentToken, error)
	EnrollmentToken(ctx context.Context, id string) (EnrollmentToken, error)
	EnrollmentTokens(ctx context.Context, f EnrollmentTokenFilter) ([]EnrollmentToken, error)
	// EnrollWithToken spends a use of the token with hash and enrolls a
	// device, in one transaction: it locks the token (ErrNotFound when
	// no token has that hash) and calls fn, which changes the token and
	// returns the device to enroll and the events to append; then it
	// saves the token, enrolls the device as EnrollDevice does (the
	// replaced registration is returned) and appends the events. When fn
	// fails, nothing is written and its error is returned. Concurrent
	// uses of one token are serialised.
	EnrollWithToken(ctx context.Context, hash string, fn func(*EnrollmentToken) (Device, []Event, error)) (EnrollmentToken, Device, *Device, error)

	// Badges are kept by Key (an HMAC of the value), one per user, each
	// key held by one user.
	Badge(ctx context.Context, userID string) (Badge, error)
	// UserByBadge returns the holder of the badge with key (ErrNotFound
	// when nobody holds it).
	UserByBadge(ctx context.Context, key string) (User, error)
	// SetBadge locks user b.UserID (ErrNotFound when there is none),
	// calls fn with it (when fn fails, nothing is written and its error
	// is returned), then gives the user b, replacing the badge they had,
	// and appends fn's event. A key held by another user is ErrExists.
	// replaced says the user had a badge with another key. A key other
	// than the user's (a first badge included) adds one to the user's
	// BadgeChanges in the same transaction.
	SetBadge(ctx context.Context, b Badge, fn func(User) (Event, error)) (replaced bool, err error)
	// AddBadges gives each user of bs (each named once) their first
	// badge, in one transaction: it reads each user (ErrNotFound when
	// one is missing), calls fn with it (when fn fails, nothing is
	// written and its error is returned), inserts the badges, adds one
	// to each user's BadgeChanges and appends fn's events. A user who
	// has a badge, or a key another user holds, is ErrExists, and
	// nothing is written.
	AddBadges(ctx context.Context, bs []Badge, fn func(User) (Event, error)) error
	// RemoveBadge removes the user's badge (ErrNotFound when they have
	// none), adds one to the user's BadgeChanges and appends fn's event,
	// as SetBadge does.
	RemoveBadge(ctx context.Context, userID string, fn func(User) (Event, error)) error

	// StartCustody inserts a custody record without an end (ErrExists
	// when its session already has one).
	StartCustody(ctx context.Context, c Custody) error
	// EndCustody fills in, for each end, what its session's record does
	// not hold yet: the time and reason when it has no end, the actor
	// when it has none. Sessions without a record are skipped.
	EndCustody(ctx context.Context, ends []CustodyEnd) error
	// Custody lists records as CustodyFilter says, newest first.
	Custody(ctx context.Context, f CustodyFilter) ([]Custody, error)
	// PurgeCustody removes the records that ended before cutoff, and
	// those without an end that began before it.
	PurgeCustody(ctx context.Context, cutoff time.Time) (int, error)

	// Manager links (invitations, password resets) are kept by the hash
	// of their token. CreateManagerLink inserts l and appends ev, after
	// revoking (RevokedAt = l.CreatedAt) the manager's links of the same
	// kind that are neither used nor revoked, in one transaction; a
	// missing manager is ErrNotFound.
	CreateManagerLink(ctx context.Context, l ManagerLink, ev Event) error
	ManagerLinkByHash(ctx context.Context, hash string) (ManagerLink, error)
	// ManagerLinks lists a manager's links by id (oldest first).
	ManagerLinks(ctx context.Context, managerID string) ([]ManagerLink, error)
	// RevokeManagerLinks revokes the manager's links of kind that are
	// neither used nor revoked and returns how many; ev is appended when
	// that is more than 0.
	RevokeManagerLinks(ctx context.Context, managerID, kind string, at time.Time, ev Event) (int, error)
	// UseManagerLink locks the link with hash (ErrNotFound when none)
	// and its manager and calls fn, which changes both and returns the
	// events to append; then, in the same transaction, it saves the link
	// (UsedAt, RevokedAt) and the manager (password hash, status,
	// UpdatedAt), revokes the manager's other links that are neither used
	// nor revoked (RevokedAt = the link's UsedAt), deletes every manager
	// token of the manager and appends the events. When fn fails, nothing
	// is written and its error is returned. Concurrent uses of one link
	// are serialised.
	UseManagerLink(ctx context.Context, hash string, fn func(*ManagerLink, *Manager) ([]Event, error)) (ManagerLink, Manager, error)

	AppendEvents(ctx context.Context, evs ...Event) error
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// SealAudit chains (Chain) up to limit of the rows not in the audit
	// chain yet, oldest id first, after the head, which it holds until
	// it commits, so that concurrent sealers make one chain; it returns
	// how many rows it chained. Sealing is the one change the stores
	// allow to an audit row, once.
	SealAudit(ctx context.Context, limit int) (int, error)
	// AuditHead reports the chain's head and the rows not sealed yet.
	AuditHead(ctx context.Context) (ChainHead, error)
	// AuditChain lists the chained rows after seq afterSeq in chain
	// order, at most limit of them, as they are stored.
	AuditChain(ctx context.Context, afterSeq int64, limit int) ([]ChainedEvent, error)
}
