package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
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
	// HashConcurrency bounds how many PIN and password hashes run at
	// once (each holds Hash.MemoryKiB of memory); callers wait for a slot
	// until their context ends. Default GOMAXPROCS.
	HashConcurrency int
	// Logger receives the registry's few warnings; discarded when nil.
	Logger *slog.Logger
}

// Registry applies the rules of the registry over a Store: normalisation,
// PIN and password policy, hashing with the pepper, lifecycle, audit.
// It is safe for concurrent use.
type Registry struct {
	store    Store
	opts     Options
	now      func() time.Time
	log      *slog.Logger
	hash     *hasher
	password PasswordPolicy
	keys     keyCache
	seen     seenNotes
	custody  custodyNotes
	// managerHooks are told of changes to managers (OnManagerChange).
	managerHooks []func(ctx context.Context, managerID string)
}

// NewRegistry returns a Registry over s. It fails when the pepper is
// shorter than 14 bytes or the hash parameters or password policy are
// unusable. It computes one hash (the dummy that unknown accounts are
// checked against), so it takes as long as one sign-in.
func NewRegistry(s Store, o Options) (*Registry, error) {
	if s == nil {
		return nil, errors.New("new registry: nil store")
	}
	r := &Registry{store: s, opts: o, now: o.Now, log: o.Logger}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	params := o.Hash
	if params == (HashParams{}) {
		params = DefaultHashParams()
	}
	n := o.HashConcurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	h, err := newHasher(o.Pepper, params, n)
	if err != nil {
		return nil, fmt.Errorf("new registry: %w", err)
	}
	r.hash = h
	r.password = o.Password.withDefaults()
	if err := r.password.validate(); err != nil {
		return nil, fmt.Errorf("new registry: %w", err)
	}
	ttl := o.ServiceKeyCache
	if ttl == 0 {
		ttl = 5 * time.Second
	}
	r.keys = keyCache{ttl: ttl, entries: map[string]cachedKey{}}
	r.seen = seenNotes{notes: map[string]DeviceSeen{}}
	return r, nil
}

// clock returns the current time from Options.Now, in UTC and at the
// microsecond precision the databases keep.
func (r *Registry) clock() time.Time {
	return r.now().UTC().Truncate(time.Microsecond)
}

// event starts an audit event at the given time.
func event(at time.Time, actor, action, subject string) Event {
	return Event{ID: id.New("evt_", at), At: at, Actor: actor, Action: action, Subject: subject}
}

// checkActor refuses an empty actor: every change names who made it.
func checkActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return fieldProblem("actor", "required", "the actor of a change is required")
	}
	return nil
}

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
