package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
)

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
	// BadgeChanges counts the changes of the user's badge (set to another
	// value, removed): a badge sign-in's re-check compares it with the
	// count read with the user its badge named. Kept by the store, which
	// writes it only in SetBadge and RemoveBadge.
	BadgeChanges int64 `json:"-"`
}

// PrepareUser validates in (normalised username, names, employee id,
// language, warehouse, PIN policy of the warehouse) and hashes the PIN,
// without writing. When only the PIN is wrong it returns the
// *PolicyError; otherwise a *ValidationError lists every problem, the PIN
// among them (field "pin", the policy rule as code). It does not look for
// a taken username or employee id: CreateUser and CreateUsers return
// ErrExists for those. It reads the settings and the warehouse from the
// store on every call: a batch reads them once and calls ValidateUser
// and HashUserPIN instead.
func (r *Registry) PrepareUser(ctx context.Context, in UserInput) (User, error) {
	org, err := r.store.Settings(ctx)
	if err != nil {
		return User{}, fmt.Errorf("prepare user: settings: %w", err)
	}
	var wh *Warehouse
	if id := strings.TrimSpace(in.WarehouseID); id != "" {
		w, err := r.store.Warehouse(ctx, id)
		switch {
		case err == nil:
			wh = &w
		case !errors.Is(err, ErrNotFound):
			return User{}, fmt.Errorf("prepare user: warehouse %s: %w", id, err)
		}
	}
	u, err := r.ValidateUser(in, org, wh)
	if err != nil {
		return User{}, err
	}
	if err := r.HashUserPIN(ctx, &u, in.PIN); err != nil {
		return User{}, fmt.Errorf("prepare user: %w", err)
	}
	return u, nil
}

// ValidateUser is PrepareUser without the store and without the hash:
// it checks in against the organisation's settings org and the warehouse
// wh that in.WarehouseID names (nil when there is no such warehouse),
// both read by the caller, once for a whole batch. It returns the user
// with every field set but PINHash, or PrepareUser's errors. It reads
// nothing and costs no hash, so a dry run of a large import is cheap;
// HashUserPIN completes the user for CreateUsers. A wh whose ID is not
// in.WarehouseID is the caller's mistake: ErrInvalid.
func (r *Registry) ValidateUser(in UserInput, org Settings, wh *Warehouse) (User, error) {
	v := &ValidationError{}
	username := strings.TrimSpace(in.Username)
	key, err := NormalizeUsername(username)
	v.Merge(err)
	first := checkText(v, "first_name", in.FirstName, true, maxNameLength)
	last := checkText(v, "last_name", in.LastName, true, maxNameLength)
	emp := checkToken(v, "employee_id", in.EmployeeID, false, maxShortField)
	lang := checkLanguage(v, "language", in.Language)
	whID := strings.TrimSpace(in.WarehouseID)
	settings := org
	switch {
	case whID == "":
		v.Add("warehouse_id", "required", "warehouse_id is required")
	case wh == nil:
		v.Add("warehouse_id", "unknown", "there is no such warehouse")
	case wh.ID != whID:
		return User{}, fmt.Errorf("validate user: warehouse %s given for %s: %w", wh.ID, whID, ErrInvalid)
	default:
		settings = wh.Settings.Apply(org)
	}
	pol := PINPolicy{MinLength: settings.PINMinLength, AllowTrivial: r.opts.AllowTrivialPINs}
	if perr := pol.Check(in.PIN); perr != nil {
		if len(v.Fields) == 0 {
			return User{}, perr
		}
		var pe *PolicyError
		errors.As(perr, &pe)
		v.Add("pin", pe.Rule, pe.Reason)
	}
	if err := v.Err(); err != nil {
		return User{}, err
	}
	now := r.clock()
	return User{
		ID:                id.New("usr_", now),
		Username:          username,
		UsernameKey:       key,
		FirstName:         first,
		LastName:          last,
		EmployeeID:        emp,
		WarehouseID:       whID,
		Language:          lang,
		PINChangeRequired: in.PINChangeRequired,
		Status:            UserActive,
		CreatedAt:         now,
		UpdatedAt:         now,
	}, nil
}

// HashUserPIN sets u.PINHash to the hash of pin (the PIN ValidateUser
// checked), waiting for a hashing slot like every sign-in (at most
// Options.HashConcurrency hashes run at once) or for ctx to end.
func (r *Registry) HashUserPIN(ctx context.Context, u *User, pin string) error {
	hash, err := r.hash.hash(ctx, pin)
	if err != nil {
		return fmt.Errorf("hash pin of %s: %w", u.ID, err)
	}
	u.PINHash = hash
	return nil
}

// CreateUser prepares and inserts one user. A username whose normalised
// key is taken (by any user, a soft-deleted one included) or a taken
// employee id returns ErrExists.
func (r *Registry) CreateUser(ctx context.Context, actor string, in UserInput) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, err
	}
	u, err := r.PrepareUser(ctx, in)
	if err != nil {
		return User{}, err
	}
	if err := r.CreateUsers(ctx, actor, []User{u}); err != nil {
		return User{}, err
	}
	return u, nil
}

// CreateUsers inserts users made by PrepareUser all together or none
// (ErrExists on any conflict, within the batch too), one audit event each.
func (r *Registry) CreateUsers(ctx context.Context, actor string, users []User) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if len(users) == 0 {
		return nil
	}
	now := r.clock()
	evs := make([]Event, len(users))
	for i, u := range users {
		if u.ID == "" || u.UsernameKey == "" || u.PINHash == "" || u.WarehouseID == "" || u.Status != UserActive {
			return fmt.Errorf("create users: row %d was not made by PrepareUser: %w", i, ErrInvalid)
		}
		ev := event(now, actor, "user.create", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		evs[i] = ev
	}
	if err := r.store.CreateUsers(ctx, users, evs); err != nil {
		if len(users) == 1 {
			return fmt.Errorf("create user: %w", err)
		}
		return fmt.Errorf("create %d users: %w", len(users), err)
	}
	return nil
}

// UpdateUser applies p; an empty patch changes nothing and writes no
// event. A deleted user cannot be changed until restored
// (ErrState). Moving a user to another warehouse does not end their
// sessions: the caller does.
func (r *Registry) UpdateUser(ctx context.Context, actor, id string, p UserPatch) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, err
	}
	v := &ValidationError{}
	var fields []string
	var username, key, first, last, emp, lang, whID string
	if p.Username != nil {
		username = strings.TrimSpace(*p.Username)
		var err error
		key, err = NormalizeUsername(username)
		v.Merge(err)
		fields = append(fields, "username")
	}
	if p.FirstName != nil {
		first = checkText(v, "first_name", *p.FirstName, true, maxNameLength)
		fields = append(fields, "first_name")
	}
	if p.LastName != nil {
		last = checkText(v, "last_name", *p.LastName, true, maxNameLength)
		fields = append(fields, "last_name")
	}
	if p.EmployeeID != nil {
		emp = checkToken(v, "employee_id", *p.EmployeeID, false, maxShortField)
		fields = append(fields, "employee_id")
	}
	if p.Language != nil {
		lang = checkLanguage(v, "language", *p.Language)
		fields = append(fields, "language")
	}
	if p.WarehouseID != nil {
		whID = strings.TrimSpace(*p.WarehouseID)
		if err := r.warehouseExists(ctx, v, "warehouse_id", whID); err != nil {
			return User{}, fmt.Errorf("update user %s: %w", id, err)
		}
		fields = append(fields, "warehouse_id")
	}
	if p.PINChangeRequired != nil {
		fields = append(fields, "pin_change_required")
	}
	if err := v.Err(); err != nil {
		return User{}, err
	}
	if len(fields) == 0 {
		return r.User(ctx, id)
	}
	now := r.clock()
	u, err := r.store.UpdateUser(ctx, id, func(u *User) (Event, error) {
		if u.Status == UserDeleted {
			return Event{}, fmt.Errorf("%w: a deleted user must be restored before it is changed", ErrState)
		}
		ev := event(now, actor, "user.update", UserActor(u.ID))
		ev.Details = map[string]string{"fields": strings.Join(fields, ",")}
		if p.Username != nil {
			u.Username, u.UsernameKey = username, key
		}
		if p.FirstName != nil {
			u.FirstName = first
		}
		if p.LastName != nil {
			u.LastName = last
		}
		if p.EmployeeID != nil {
			u.EmployeeID = emp
		}
		if p.Language != nil {
			u.Language = lang
		}
		if p.WarehouseID != nil && whID != u.WarehouseID {
			ev.Details["from_warehouse_id"] = u.WarehouseID
			u.WarehouseID = whID
		}
		if p.PINChangeRequired != nil {
			u.PINChangeRequired = *p.PINChangeRequired
		}
		u.UpdatedAt = now
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %s: %w", id, err)
	}
	return u, nil
}

// User returns one user, deleted or not.
func (r *Registry) User(ctx context.Context, id string) (User, error) {
	u, err := r.store.User(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// UserByUsername finds a user by username in any form that normalises
// to the same key ("ALICE" finds "alice"), deleted users included. A
// username that cannot be normalised returns ErrNotFound.
func (r *Registry) UserByUsername(ctx context.Context, username string) (User, error) {
	key, err := NormalizeUsername(username)
	if err != nil {
		return User{}, fmt.Errorf("user by username: %w", ErrNotFound)
	}
	u, err := r.store.UserByUsername(ctx, key)
	if err != nil {
		return User{}, fmt.Errorf("user by username: %w", err)
	}
	return u, nil
}

// UserByEmployeeID reads the user (of any status) holding an employee id;
// ErrNotFound when none does.
func (r *Registry) UserByEmployeeID(ctx context.Context, employeeID string) (User, error) {
	if strings.TrimSpace(employeeID) == "" {
		return User{}, fmt.Errorf("user by employee id: %w", ErrNotFound)
	}
	u, err := r.store.UserByEmployeeID(ctx, employeeID)
	if err != nil {
		return User{}, fmt.Errorf("user by employee id: %w", err)
	}
	return u, nil
}

// holdingChunk is the most username keys (and the most employee ids)
// one store look-up of UsersHolding names: a statement of a bounded
// size, well inside the store's deadline, whatever the size of a batch.
const holdingChunk = 1000

// UsersHolding returns the users (of any status, deleted ones keeping
// their names for the restore window included) whose username key is
// one of keys (NormalizeUsername's form) or whose employee id is one of
// employeeIDs, each once, in no particular order. It reads them by
// index, chunk by chunk: its cost follows len(keys) and
// len(employeeIDs), not the number of users (an import's check of the
// values its rows would take).
func (r *Registry) UsersHolding(ctx context.Context, keys, employeeIDs []string) ([]User, error) {
	seen := map[string]bool{}
	var out []User
	for i := 0; i < max(len(keys), len(employeeIDs)); i += holdingChunk {
		us, err := r.store.UsersHolding(ctx, chunk(keys, i), chunk(employeeIDs, i))
		if err != nil {
			return nil, fmt.Errorf("users holding %d usernames and %d employee ids: %w", len(keys), len(employeeIDs), err)
		}
		for _, u := range us {
			if !seen[u.ID] {
				seen[u.ID] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// chunk is s[i:i+holdingChunk], clipped to s (nil past its end).
func chunk(s []string, i int) []string {
	if i >= len(s) {
		return nil
	}
	return s[i:min(i+holdingChunk, len(s))]
}

// Users lists users.
func (r *Registry) Users(ctx context.Context, f UserFilter) ([]User, error) {
	us, err := r.store.Users(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}
