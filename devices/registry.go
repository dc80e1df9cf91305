package devices

import (
	"context"
	"log/slog"
	"time"
)

// Actor strings name who did something, in audit events.
const ActorSystem = "system"

// ManagerActor, DeviceActor, UserActor and ServiceKeyActor build actor
// and subject strings.
func ManagerActor(id string) string    { return "manager:" + id }
func DeviceActor(id string) string     { return "device:" + id }
func UserActor(id string) string       { return "user:" + id }
func ServiceKeyActor(id string) string { return "service_key:" + id }
func WarehouseSubject(id string) string {
	return "warehouse:" + id
}

// Options configure a Registry. Zero fields take the defaults.
type Options struct {
	// Pepper is the secret mixed into every PIN and password hash (HMAC)
	// before argon2id. At least 14 bytes (112 bits). Required.
	Pepper []byte
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Hash are the argon2id parameters for new hashes; DefaultHashParams
	// when zero. Hashes made with other parameters still verify and are
	// rehashed on the next successful sign-in.
	Hash HashParams
	// Password is the manager password policy; DefaultPasswordPolicy when zero.
	Password PasswordPolicy
	// AllowTrivialPINs turns off the refusal of trivial and common PINs.
	AllowTrivialPINs bool
	// ServiceKeyCache is how long an authenticated service key is trusted
	// without reading the store (introspection is the hot path); revoking
	// on this instance takes effect at once, on others within this time.
	// Default 5s; negative disables the cache.
	ServiceKeyCache time.Duration
	Logger          *slog.Logger
}

// Registry applies the rules of the registry over a Store: normalisation,
// PIN and password policy, hashing with the pepper, lifecycle, audit.
// It is safe for concurrent use.
type Registry struct {
	store Store
	opts  Options
}

// NewRegistry returns a Registry over s.
func NewRegistry(s Store, o Options) (*Registry, error) {
	panic("unimplemented")
}

// Store returns the underlying store.
func (r *Registry) Store() Store { return r.store }

// --- inputs -----------------------------------------------------------

// WarehouseInput creates a warehouse.
type WarehouseInput struct {
	Name     string           `json:"name"`
	Code     string           `json:"code"`
	Settings SettingsOverride `json:"settings"`
}

// WarehousePatch changes a warehouse; nil fields stay as they are.
type WarehousePatch struct {
	Name     *string           `json:"name"`
	Code     *string           `json:"code"`
	Settings *SettingsOverride `json:"settings"`
}

// ManagerInput creates a manager account.
type ManagerInput struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Password  string `json:"password"`
	Roles     []Role `json:"roles"`
}

// ManagerPatch changes a manager; nil fields stay as they are.
type ManagerPatch struct {
	Email     *string        `json:"email"`
	FirstName *string        `json:"first_name"`
	LastName  *string        `json:"last_name"`
	Password  *string        `json:"password"`
	Roles     *[]Role        `json:"roles"`
	Status    *ManagerStatus `json:"status"`
}

// UserInput creates a mobile device user.
type UserInput struct {
	Username          string `json:"username"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	EmployeeID        string `json:"employee_id"`
	WarehouseID       string `json:"warehouse_id"`
	Language          string `json:"language"`
	PIN               string `json:"pin"`
	PINChangeRequired bool   `json:"pin_change_required"`
}

// UserPatch changes a user; nil fields stay as they are. Status changes go
// through Suspend, Activate, Delete and Restore; the PIN through ResetPIN.
type UserPatch struct {
	Username          *string `json:"username"`
	FirstName         *string `json:"first_name"`
	LastName          *string `json:"last_name"`
	EmployeeID        *string `json:"employee_id"`
	WarehouseID       *string `json:"warehouse_id"`
	Language          *string `json:"language"`
	PINChangeRequired *bool   `json:"pin_change_required"`
}

// EnrollInput is what a handheld sends when a manager enrolls it.
type EnrollInput struct {
	WarehouseID string `json:"warehouse_id"`
	Serial      string `json:"serial"`
	Model       string `json:"model"`
	OSVersion   string `json:"os_version"`
	AppVersion  string `json:"app_version"`
	Label       string `json:"label"`
}

// DevicePatch changes a device; nil fields stay as they are.
type DevicePatch struct {
	Label *string `json:"label"`
}

// --- settings ---------------------------------------------------------

// Settings returns the organisation settings.
func (r *Registry) Settings(ctx context.Context) (Settings, error) { panic("unimplemented") }

// UpdateSettings validates and applies patch to the organisation settings.
func (r *Registry) UpdateSettings(ctx context.Context, actor string, patch SettingsOverride) (Settings, error) {
	panic("unimplemented")
}

// EffectiveSettings returns the organisation settings with the
// warehouse's overrides applied: the rules in force for a login there.
func (r *Registry) EffectiveSettings(ctx context.Context, warehouseID string) (Settings, error) {
	panic("unimplemented")
}

// --- warehouses -------------------------------------------------------

func (r *Registry) CreateWarehouse(ctx context.Context, actor string, in WarehouseInput) (Warehouse, error) {
	panic("unimplemented")
}
func (r *Registry) UpdateWarehouse(ctx context.Context, actor, id string, p WarehousePatch) (Warehouse, error) {
	panic("unimplemented")
}
func (r *Registry) Warehouse(ctx context.Context, id string) (Warehouse, error) {
	panic("unimplemented")
}
func (r *Registry) WarehouseByCode(ctx context.Context, code string) (Warehouse, error) {
	panic("unimplemented")
}
func (r *Registry) Warehouses(ctx context.Context, f WarehouseFilter) ([]Warehouse, error) {
	panic("unimplemented")
}

// --- managers ---------------------------------------------------------

func (r *Registry) CreateManager(ctx context.Context, actor string, in ManagerInput) (Manager, error) {
	panic("unimplemented")
}
func (r *Registry) UpdateManager(ctx context.Context, actor, id string, p ManagerPatch) (Manager, error) {
	panic("unimplemented")
}
func (r *Registry) DeleteManager(ctx context.Context, actor, id string) error { panic("unimplemented") }
func (r *Registry) Manager(ctx context.Context, id string) (Manager, error)   { panic("unimplemented") }
func (r *Registry) Managers(ctx context.Context, f ManagerFilter) ([]Manager, error) {
	panic("unimplemented")
}

// AuthenticateManager checks an email and password. Unknown email and
// wrong password both return ErrInvalidCredentials after the same work;
// a disabled account with the right password returns ErrDisabled.
func (r *Registry) AuthenticateManager(ctx context.Context, email, password string) (Manager, error) {
	panic("unimplemented")
}

// Manager tokens end after ManagerTokenIdle unused or ManagerTokenAbsolute.
const (
	ManagerTokenIdle     = 15 * time.Minute
	ManagerTokenAbsolute = 12 * time.Hour
)

// IssueManagerToken starts an admin API session for a manager who has
// just authenticated.
func (r *Registry) IssueManagerToken(ctx context.Context, managerID string) (Token, ManagerToken, error) {
	panic("unimplemented")
}

// AuthenticateManagerToken returns the active manager a live token
// belongs to (touching it, at most once a minute), or
// ErrInvalidCredentials for unknown, expired or disabled.
func (r *Registry) AuthenticateManagerToken(ctx context.Context, tok Token) (Manager, error) {
	panic("unimplemented")
}

// RevokeManagerTokens ends one token (tok != "") or all of a manager's.
func (r *Registry) RevokeManagerTokens(ctx context.Context, managerID string, tok Token) error {
	panic("unimplemented")
}

// EnsureAdmin makes sure at least one active admin exists. When none
// does, it creates one with email and password, generating a strong
// password when password is empty; generated reports whether it did, so
// that the caller prints it once.
func (r *Registry) EnsureAdmin(ctx context.Context, email, password string) (m Manager, created bool, generated string, err error) {
	panic("unimplemented")
}

// --- users ------------------------------------------------------------

// PrepareUser validates in (normalised username, PIN policy of the
// warehouse, employee id, language) and hashes the PIN, without writing.
// A *ValidationError or *PolicyError lists what is wrong.
func (r *Registry) PrepareUser(ctx context.Context, in UserInput) (User, error) {
	panic("unimplemented")
}

// CreateUser prepares and inserts one user.
func (r *Registry) CreateUser(ctx context.Context, actor string, in UserInput) (User, error) {
	panic("unimplemented")
}

// CreateUsers inserts prepared users all together or none (ErrExists on
// any conflict), one audit event each.
func (r *Registry) CreateUsers(ctx context.Context, actor string, users []User) error {
	panic("unimplemented")
}

func (r *Registry) UpdateUser(ctx context.Context, actor, id string, p UserPatch) (User, error) {
	panic("unimplemented")
}
func (r *Registry) SuspendUser(ctx context.Context, actor, id string) (User, error) {
	panic("unimplemented")
}
func (r *Registry) ActivateUser(ctx context.Context, actor, id string) (User, error) {
	panic("unimplemented")
}

// DeleteUser soft-deletes: the user can be restored for RestoreWindow.
func (r *Registry) DeleteUser(ctx context.Context, actor, id string) (User, error) {
	panic("unimplemented")
}

// RestoreUser brings back a soft-deleted user as active, or returns
// ErrRestoreExpired past the window.
func (r *Registry) RestoreUser(ctx context.Context, actor, id string) (User, error) {
	panic("unimplemented")
}

// ResetPIN sets a new PIN without knowing the old one.
func (r *Registry) ResetPIN(ctx context.Context, actor, id, pin string, changeRequired bool) (User, error) {
	panic("unimplemented")
}

// ChangePIN is the user's own change: current must verify, next must pass
// the policy; pin_change_required is cleared.
func (r *Registry) ChangePIN(ctx context.Context, userID, current, next string) (User, error) {
	panic("unimplemented")
}

// AuthenticateUser checks a username and PIN. Unknown username and wrong
// PIN both return ErrInvalidCredentials after the same hashing work; a
// suspended or deleted user with the right PIN returns the user and
// ErrDisabled. The hash is upgraded when its parameters are old.
func (r *Registry) AuthenticateUser(ctx context.Context, username, pin string) (User, error) {
	panic("unimplemented")
}

func (r *Registry) User(ctx context.Context, id string) (User, error) { panic("unimplemented") }
func (r *Registry) UserByUsername(ctx context.Context, username string) (User, error) {
	panic("unimplemented")
}
func (r *Registry) Users(ctx context.Context, f UserFilter) ([]User, error) {
	panic("unimplemented")
}

// PurgeDeleted purges users deleted more than RestoreWindow ago.
func (r *Registry) PurgeDeleted(ctx context.Context) (int, error) { panic("unimplemented") }

// CheckPIN applies the PIN policy in force for the warehouse.
func (r *Registry) CheckPIN(ctx context.Context, warehouseID, pin string) error {
	panic("unimplemented")
}

// --- devices ----------------------------------------------------------

// Enroll registers a handheld for managerID, who must already have been
// authorised by the caller. A serial that was enrolled is replaced: the
// old record is revoked and returned, so the caller ends its sessions.
func (r *Registry) Enroll(ctx context.Context, managerID string, in EnrollInput) (d Device, tok Token, replaced *Device, err error) {
	panic("unimplemented")
}

// AuthenticateDevice finds the device a token belongs to. Unknown tokens
// return ErrInvalidCredentials; a revoked device is returned with its
// status, for the caller to refuse.
func (r *Registry) AuthenticateDevice(ctx context.Context, tok Token) (Device, error) {
	panic("unimplemented")
}

func (r *Registry) Device(ctx context.Context, id string) (Device, error) { panic("unimplemented") }
func (r *Registry) Devices(ctx context.Context, f DeviceFilter) ([]Device, error) {
	panic("unimplemented")
}
func (r *Registry) UpdateDevice(ctx context.Context, actor, id string, p DevicePatch) (Device, error) {
	panic("unimplemented")
}

// RevokeDevice ends an enrollment; the caller ends its sessions and
// closes its socket.
func (r *Registry) RevokeDevice(ctx context.Context, actor, id string) (Device, error) {
	panic("unimplemented")
}

// Seen notes that a device was active, without writing: RunSeenFlusher
// writes the notes in batches.
func (r *Registry) Seen(deviceID, appVersion string) { panic("unimplemented") }

// RunSeenFlusher writes the Seen notes every interval until ctx ends,
// then once more. The caller runs it in its own goroutine.
func (r *Registry) RunSeenFlusher(ctx context.Context, every time.Duration) error {
	panic("unimplemented")
}

// --- service keys -----------------------------------------------------

// CreateServiceKey makes a key; the token is shown once.
func (r *Registry) CreateServiceKey(ctx context.Context, actor, name string, scope Scope) (ServiceKey, Token, error) {
	panic("unimplemented")
}

// AuthenticateServiceKey returns the live key a token belongs to, or
// ErrInvalidCredentials.
func (r *Registry) AuthenticateServiceKey(ctx context.Context, tok Token) (ServiceKey, error) {
	panic("unimplemented")
}
func (r *Registry) ServiceKeys(ctx context.Context, p Page) ([]ServiceKey, error) {
	panic("unimplemented")
}
func (r *Registry) RevokeServiceKey(ctx context.Context, actor, id string) (ServiceKey, error) {
	panic("unimplemented")
}

// --- audit ------------------------------------------------------------

// Record appends events, filling in ID and At.
func (r *Registry) Record(ctx context.Context, evs ...Event) error { panic("unimplemented") }
func (r *Registry) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	panic("unimplemented")
}
