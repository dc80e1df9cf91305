package devices

import "time"

// Warehouse is one site. Users and devices belong to exactly one.
type Warehouse struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Code      string           `json:"code"` // unique, case-insensitive; stored upper-case
	Settings  SettingsOverride `json:"settings"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// Role names.
type RoleName string

const (
	RoleAdmin         RoleName = "admin"          // organisation-wide, everything
	RoleUserManager   RoleName = "user_manager"   // per warehouse: mobile users
	RoleMobileManager RoleName = "mobile_manager" // per warehouse: enroll and unlock devices
)

// Role is one grant. WarehouseID is empty for RoleAdmin and required for
// the others.
type Role struct {
	Role        RoleName `json:"role"`
	WarehouseID string   `json:"warehouse_id,omitempty"`
}

// ManagerStatus is the state of a manager account.
type ManagerStatus string

const (
	ManagerActive   ManagerStatus = "active"
	ManagerDisabled ManagerStatus = "disabled"
)

// Manager is a person who signs in with email and password: admins, user
// managers and mobile managers.
type Manager struct {
	ID           string        `json:"id"`
	Email        string        `json:"email"` // as entered; unique after EmailKey
	FirstName    string        `json:"first_name"`
	LastName     string        `json:"last_name"`
	PasswordHash string        `json:"-"`
	Status       ManagerStatus `json:"status"`
	Roles        []Role        `json:"roles"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// UserStatus is the lifecycle state of a mobile device user.
type UserStatus string

const (
	UserActive    UserStatus = "active"
	UserSuspended UserStatus = "suspended"
	UserDeleted   UserStatus = "deleted" // soft-deleted: restorable for RestoreWindow
)

// RestoreWindow is how long a soft-deleted user can be restored; after it
// the user is purged.
const RestoreWindow = 30 * 24 * time.Hour

// User is a mobile device user: an associate who signs in on a handheld
// with username and PIN.
type User struct {
	ID                string     `json:"id"`
	Username          string     `json:"username"` // as entered (trimmed)
	UsernameKey       string     `json:"-"`        // NormalizeUsername(Username); unique
	FirstName         string     `json:"first_name"`
	LastName          string     `json:"last_name"`
	EmployeeID        string     `json:"employee_id,omitempty"` // unique when not empty
	WarehouseID       string     `json:"warehouse_id"`
	Language          string     `json:"language"` // BCP 47; empty means the organisation's
	PINHash           string     `json:"-"`
	PINChangeRequired bool       `json:"pin_change_required"`
	Status            UserStatus `json:"status"`
	DeletedAt         *time.Time `json:"deleted_at,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// DeviceStatus is the state of one enrollment.
type DeviceStatus string

const (
	DeviceActive  DeviceStatus = "active"
	DeviceRevoked DeviceStatus = "revoked" // revoked by an admin or replaced by a re-enrollment
)

// Device is one enrollment of a handheld. Re-enrolling a serial revokes
// the old record and creates a new one, so a device id names exactly one
// credential.
type Device struct {
	ID          string       `json:"id"`
	Serial      string       `json:"serial"` // unique among active devices
	WarehouseID string       `json:"warehouse_id"`
	Label       string       `json:"label"`
	Model       string       `json:"model"`
	OSVersion   string       `json:"os_version"`
	AppVersion  string       `json:"app_version"`
	EnrolledBy  string       `json:"enrolled_by"` // manager id
	EnrolledAt  time.Time    `json:"enrolled_at"`
	LastSeenAt  *time.Time   `json:"last_seen_at,omitempty"`
	Status      DeviceStatus `json:"status"`
	RevokedAt   *time.Time   `json:"revoked_at,omitempty"`
	TokenHash   string       `json:"-"` // Token.Hash() of the device token
}

// Scope of a service key.
type Scope string

const (
	ScopeIntrospect Scope = "introspect"
	ScopeAdmin      Scope = "admin"
)

// ServiceKey lets a backend call introspect (or automation call the admin
// API). Only the hash of the key is kept.
type ServiceKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      Scope      `json:"scope"`
	Hash       string     `json:"-"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Event is one audit record. Events are append-only: the stores refuse to
// change or remove them. They carry ids, not names, so that purging a
// user leaves only a pseudonymous id behind.
type Event struct {
	ID          string            `json:"id"`
	At          time.Time         `json:"at"`
	Actor       string            `json:"actor"`   // "manager:<id>", "service_key:<id>", "device:<id>", "user:<id>", "system"
	Action      string            `json:"type"`    // e.g. "user.create", "login.failure"
	Subject     string            `json:"subject"` // "user:<id>", "device:<id>", "warehouse:<id>", ...
	WarehouseID string            `json:"warehouse_id,omitempty"`
	DeviceID    string            `json:"device_id,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
}

// ManagerToken is a signed-in admin console or API session of a manager.
// Only the token's hash is kept.
type ManagerToken struct {
	Hash       string    `json:"-"`
	ManagerID  string    `json:"manager_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"` // absolute end
}
