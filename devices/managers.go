package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
)

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
	// Invitation is where an invited manager's invitation stands (the
	// Registry's reads fill it; stores leave it nil).
	Invitation *Invitation `json:"invitation,omitempty"`
}

// DefaultAdminEmail is the email EnsureAdmin uses when none is given.
const DefaultAdminEmail = "admin@localhost"

// maxSecretInput bounds a password or PIN before any work is done on it.
const maxSecretInput = 4096

// CheckPassword applies the registry's password policy to pw.
func (r *Registry) CheckPassword(pw string) error { return r.password.Check(pw) }

// checkRoles validates roles: a known role name, no warehouse for admin,
// an existing warehouse for the others. Duplicates are dropped.
func (r *Registry) checkRoles(ctx context.Context, v *ValidationError, roles []Role) ([]Role, error) {
	out := make([]Role, 0, len(roles))
	for i, ro := range roles {
		field := "roles[" + strconv.Itoa(i) + "]"
		ro.WarehouseID = strings.TrimSpace(ro.WarehouseID)
		switch ro.Role {
		case RoleAdmin:
			if ro.WarehouseID != "" {
				v.Add(field+".warehouse_id", "not_allowed", "the admin role is organisation-wide and takes no warehouse")
				continue
			}
		case RoleUserManager, RoleMobileManager:
			before := len(v.Fields)
			if err := r.warehouseExists(ctx, v, field+".warehouse_id", ro.WarehouseID); err != nil {
				return nil, err
			}
			if len(v.Fields) != before {
				continue
			}
		default:
			v.Add(field+".role", "invalid", "role is admin, user_manager or mobile_manager")
			continue
		}
		if !slices.Contains(out, ro) {
			out = append(out, ro)
		}
	}
	return out, nil
}

func isAdmin(roles []Role) bool {
	return slices.ContainsFunc(roles, func(ro Role) bool { return ro.Role == RoleAdmin })
}

func rolesDetail(roles []Role) string {
	s := make([]string, len(roles))
	for i, ro := range roles {
		s[i] = string(ro.Role)
		if ro.WarehouseID != "" {
			s[i] += "@" + ro.WarehouseID
		}
	}
	return strings.Join(s, ",")
}

// CreateManager validates in (email, names, password policy, roles) and
// creates the account. A taken email returns ErrExists. Whether the actor
// may grant the roles is the caller's to decide.
func (r *Registry) CreateManager(ctx context.Context, actor string, in ManagerInput) (Manager, error) {
	if err := checkActor(actor); err != nil {
		return Manager{}, err
	}
	v := &ValidationError{}
	email, first, last, roles, err := r.checkManagerInput(ctx, v, in)
	if err != nil {
		return Manager{}, fmt.Errorf("create manager: %w", err)
	}
	if perr := r.password.Check(in.Password); perr != nil {
		if len(v.Fields) == 0 {
			return Manager{}, perr
		}
		var pe *PolicyError
		errors.As(perr, &pe)
		v.Add("password", pe.Rule, pe.Reason)
	}
	if err := v.Err(); err != nil {
		return Manager{}, err
	}
	hash, err := r.hash.hash(ctx, normalizePassword(in.Password))
	if err != nil {
		return Manager{}, fmt.Errorf("create manager: %w", err)
	}
	now := r.clock()
	m := Manager{
		ID:           id.New("mgr_", now),
		Email:        email,
		FirstName:    first,
		LastName:     last,
		PasswordHash: hash,
		Status:       ManagerActive,
		Roles:        roles,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	ev := event(now, actor, "manager.create", ManagerActor(m.ID))
	ev.Details = map[string]string{"roles": rolesDetail(roles)}
	if err := r.store.CreateManager(ctx, m, ev); err != nil {
		return Manager{}, fmt.Errorf("create manager: %w", err)
	}
	return m, nil
}

// UpdateManager applies p. Disabling a manager also ends their admin API
// tokens. The last active admin cannot be disabled or lose the admin
// role (ErrState), so that the organisation is never locked out.
func (r *Registry) UpdateManager(ctx context.Context, actor, id string, p ManagerPatch) (Manager, error) {
	if err := checkActor(actor); err != nil {
		return Manager{}, err
	}
	cur, err := r.store.Manager(ctx, id)
	if err != nil {
		return Manager{}, fmt.Errorf("update manager %s: %w", id, err)
	}
	v := &ValidationError{}
	var fields []string
	var email, first, last, hash string
	var roles []Role
	if p.Email != nil {
		email = strings.TrimSpace(*p.Email)
		_, err := EmailKey(email)
		v.Merge(err)
		fields = append(fields, "email")
	}
	if p.FirstName != nil {
		first = checkText(v, "first_name", *p.FirstName, true, maxNameLength)
		fields = append(fields, "first_name")
	}
	if p.LastName != nil {
		last = checkText(v, "last_name", *p.LastName, true, maxNameLength)
		fields = append(fields, "last_name")
	}
	if p.Roles != nil {
		roles, err = r.checkRoles(ctx, v, *p.Roles)
		if err != nil {
			return Manager{}, fmt.Errorf("update manager %s: %w", id, err)
		}
		fields = append(fields, "roles")
	}
	if p.Status != nil {
		if *p.Status != ManagerActive && *p.Status != ManagerDisabled {
			v.Add("status", "invalid", "status is active or disabled")
		}
		fields = append(fields, "status")
	}
	if p.Password != nil {
		if perr := r.password.Check(*p.Password); perr != nil {
			if len(v.Fields) == 0 {
				return Manager{}, perr
			}
			var pe *PolicyError
			errors.As(perr, &pe)
			v.Add("password", pe.Rule, pe.Reason)
		}
		fields = append(fields, "password")
	}
	if err := v.Err(); err != nil {
		return Manager{}, err
	}
	if len(fields) == 0 {
		return cur, nil
	}
	if cur.Status == ManagerInvited && (p.Password != nil || p.Status != nil) {
		return Manager{}, fmt.Errorf("%w: an invited manager sets their password by accepting the invitation; revoke it or delete the account instead", ErrState)
	}
	staysAdmin := cur.Status == ManagerActive && isAdmin(cur.Roles)
	if p.Status != nil && *p.Status != ManagerActive {
		staysAdmin = false
	}
	if p.Roles != nil && !isAdmin(roles) {
		staysAdmin = false
	}
	if cur.Status == ManagerActive && isAdmin(cur.Roles) && !staysAdmin {
		if err := r.keepOneAdmin(ctx, id); err != nil {
			return Manager{}, fmt.Errorf("update manager %s: %w", id, err)
		}
	}
	if p.Password != nil {
		if hash, err = r.hash.hash(ctx, normalizePassword(*p.Password)); err != nil {
			return Manager{}, fmt.Errorf("update manager %s: %w", id, err)
		}
	}
	now := r.clock()
	m, err := r.store.UpdateManager(ctx, id, func(m *Manager) (Event, error) {
		if p.Email != nil {
			m.Email = email
		}
		if p.FirstName != nil {
			m.FirstName = first
		}
		if p.LastName != nil {
			m.LastName = last
		}
		if p.Roles != nil {
			m.Roles = roles
		}
		if p.Status != nil {
			m.Status = *p.Status
		}
		if p.Password != nil {
			m.PasswordHash = hash
		}
		m.UpdatedAt = now
		ev := event(now, actor, "manager.update", ManagerActor(m.ID))
		ev.Details = map[string]string{"fields": strings.Join(fields, ",")}
		if p.Roles != nil {
			ev.Details["roles"] = rolesDetail(roles)
		}
		if p.Status != nil {
			ev.Details["status"] = string(*p.Status)
		}
		return ev, nil
	})
	if err != nil {
		return Manager{}, fmt.Errorf("update manager %s: %w", id, err)
	}
	defer r.managerChanged(ctx, id)
	if m.Status != ManagerActive {
		if err := r.store.DeleteManagerTokens(ctx, id, ""); err != nil {
			return m, fmt.Errorf("update manager %s: end tokens: %w", id, err)
		}
	}
	return m, nil
}

// keepOneAdmin returns ErrState unless an active admin other than id exists.
func (r *Registry) keepOneAdmin(ctx context.Context, id string) error {
	ok, err := r.activeAdminOtherThan(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the last active admin cannot be disabled, deleted or lose the admin role", ErrState)
	}
	return nil
}

// activeAdminOtherThan reports whether an active admin other than id exists.
func (r *Registry) activeAdminOtherThan(ctx context.Context, id string) (bool, error) {
	_, found, err := r.findActiveAdmin(ctx, id)
	return found, err
}

// findActiveAdmin returns an active admin other than except.
func (r *Registry) findActiveAdmin(ctx context.Context, except string) (Manager, bool, error) {
	f := ManagerFilter{Role: RoleAdmin, Page: Page{Limit: 500}}
	for range 1000 {
		ms, err := r.store.Managers(ctx, f)
		if err != nil {
			return Manager{}, false, fmt.Errorf("list admins: %w", err)
		}
		for _, m := range ms {
			if m.ID != except && m.Status == ManagerActive && isAdmin(m.Roles) {
				return m, true, nil
			}
		}
		if len(ms) < f.Limit {
			break
		}
		f.After = ms[len(ms)-1].ID
	}
	return Manager{}, false, nil
}

// DeleteManager removes the account, its roles and its tokens; audit
// rows stay. The last active admin cannot be deleted (ErrState).
func (r *Registry) DeleteManager(ctx context.Context, actor, id string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	cur, err := r.store.Manager(ctx, id)
	if err != nil {
		return fmt.Errorf("delete manager %s: %w", id, err)
	}
	if cur.Status == ManagerActive && isAdmin(cur.Roles) {
		if err := r.keepOneAdmin(ctx, id); err != nil {
			return fmt.Errorf("delete manager %s: %w", id, err)
		}
	}
	// Told even when a step failed: it may have been done.
	defer r.managerChanged(ctx, id)
	if err := r.store.DeleteManagerTokens(ctx, id, ""); err != nil {
		return fmt.Errorf("delete manager %s: end tokens: %w", id, err)
	}
	now := r.clock()
	if err := r.store.DeleteManager(ctx, id, event(now, actor, "manager.delete", ManagerActor(id))); err != nil {
		return fmt.Errorf("delete manager %s: %w", id, err)
	}
	return nil
}

// Manager returns one manager account.
func (r *Registry) Manager(ctx context.Context, id string) (Manager, error) {
	m, err := r.store.Manager(ctx, id)
	if err == nil {
		err = r.withInvitation(ctx, &m)
	}
	if err != nil {
		return Manager{}, fmt.Errorf("manager %s: %w", id, err)
	}
	return m, nil
}

// Managers lists manager accounts.
func (r *Registry) Managers(ctx context.Context, f ManagerFilter) ([]Manager, error) {
	ms, err := r.store.Managers(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list managers: %w", err)
	}
	for i := range ms {
		if err := r.withInvitation(ctx, &ms[i]); err != nil {
			return nil, fmt.Errorf("list managers: %w", err)
		}
	}
	return ms, nil
}

// AuthenticateManager checks an email and password. Unknown email and
// wrong password both return ErrInvalidCredentials after the same work;
// a disabled account with the right password returns ErrDisabled. A
// hash made with older parameters is replaced on success. It records no
// audit event: the caller records the sign-in or its failure, with the
// context it has (address, device, throttle decision).
func (r *Registry) AuthenticateManager(ctx context.Context, email, password string) (Manager, error) {
	key, err := EmailKey(email)
	if err != nil || len(password) > maxSecretInput {
		r.hash.verifyDummy(ctx, password)
		return Manager{}, ErrInvalidCredentials
	}
	m, err := r.store.ManagerByEmail(ctx, key)
	if errors.Is(err, ErrNotFound) {
		r.hash.verifyDummy(ctx, normalizePassword(password))
		return Manager{}, ErrInvalidCredentials
	}
	if err != nil {
		return Manager{}, fmt.Errorf("authenticate manager: %w", err)
	}
	pw := normalizePassword(password)
	if m.PasswordHash == "" {
		// Invited: no password yet, and the same work as any other.
		r.hash.verifyDummy(ctx, pw)
		return Manager{}, ErrInvalidCredentials
	}
	ok, rehash, err := r.hash.verify(ctx, m.PasswordHash, pw)
	switch {
	case errors.Is(err, errBadHash):
		r.log.Warn("manager password hash unreadable", "manager_id", m.ID)
		return Manager{}, ErrInvalidCredentials
	case err != nil:
		return Manager{}, fmt.Errorf("authenticate manager: %w", err)
	case !ok:
		return Manager{}, ErrInvalidCredentials
	case m.Status != ManagerActive:
		return m, ErrDisabled
	}
	if rehash {
		up, err := r.rehashManager(ctx, m, pw)
		switch {
		case err == nil:
			m = up
		case !errors.Is(err, errUnchanged):
			r.log.Warn("manager password rehash failed", "manager_id", m.ID, "err", err)
		}
	}
	return m, nil
}

// rehashManager replaces m's password hash with one made with the
// current parameters, unless it changed meanwhile.
func (r *Registry) rehashManager(ctx context.Context, m Manager, pw string) (Manager, error) {
	hash, err := r.hash.hash(ctx, pw)
	if err != nil {
		return Manager{}, err
	}
	old := m.PasswordHash
	now := r.clock()
	return r.store.UpdateManager(ctx, m.ID, func(m *Manager) (Event, error) {
		if m.PasswordHash != old {
			return Event{}, errUnchanged
		}
		m.PasswordHash = hash
		ev := event(now, ActorSystem, "manager.password_rehash", ManagerActor(m.ID))
		return ev, nil
	})
}

// errUnchanged aborts an update fn that finds nothing to do.
var errUnchanged = errors.New("unchanged")

// EnsureAdmin makes sure at least one active admin exists. When none
// does, it creates one with email (DefaultAdminEmail when empty) and
// password, generating a strong password when password is empty;
// generated is that password, for the caller to print once. When an
// account with that email exists but is not an active admin, it returns
// an error wrapping ErrExists rather than take the account over.
func (r *Registry) EnsureAdmin(ctx context.Context, email, password string) (m Manager, created bool, generated string, err error) {
	m, found, err := r.findActiveAdmin(ctx, "")
	if err != nil {
		return Manager{}, false, "", fmt.Errorf("ensure admin: %w", err)
	}
	if found {
		return m, false, "", nil
	}
	if strings.TrimSpace(email) == "" {
		email = DefaultAdminEmail
	}
	if password == "" {
		generated, err = GeneratePassword(r.password)
		if err != nil {
			return Manager{}, false, "", fmt.Errorf("ensure admin: %w", err)
		}
		password = generated
	}
	m, err = r.CreateManager(ctx, ActorSystem, ManagerInput{
		Email:     email,
		FirstName: "Admin",
		LastName:  "Floorgate",
		Password:  password,
		Roles:     []Role{{Role: RoleAdmin}},
	})
	if errors.Is(err, ErrExists) {
		// Another instance starting at the same moment may have won.
		if other, found, ferr := r.findActiveAdmin(ctx, ""); ferr == nil && found {
			return other, false, "", nil
		}
		return Manager{}, false, "", fmt.Errorf("ensure admin: an account with that email exists and is not an active admin: %w", ErrExists)
	}
	if err != nil {
		return Manager{}, false, "", fmt.Errorf("ensure admin: %w", err)
	}
	return m, true, generated, nil
}
