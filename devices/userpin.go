package devices

import (
	"context"
	"errors"
	"fmt"
)

// pinPolicy returns the PIN policy in force for a warehouse (the
// organisation's when warehouseID is empty or unknown).
func (r *Registry) pinPolicy(ctx context.Context, warehouseID string) (PINPolicy, error) {
	s, err := r.store.Settings(ctx)
	if err != nil {
		return PINPolicy{}, fmt.Errorf("settings: %w", err)
	}
	if warehouseID != "" {
		w, err := r.store.Warehouse(ctx, warehouseID)
		switch {
		case err == nil:
			s = w.Settings.Apply(s)
		case !errors.Is(err, ErrNotFound):
			return PINPolicy{}, fmt.Errorf("warehouse %s: %w", warehouseID, err)
		}
	}
	return PINPolicy{MinLength: s.PINMinLength, AllowTrivial: r.opts.AllowTrivialPINs}, nil
}

// CheckPIN applies the PIN policy in force for the warehouse: its
// effective pin_min_length, and the trivial-PIN refusal unless
// Options.AllowTrivialPINs. A refusal is a *PolicyError.
func (r *Registry) CheckPIN(ctx context.Context, warehouseID, pin string) error {
	pol, err := r.pinPolicy(ctx, warehouseID)
	if err != nil {
		return fmt.Errorf("check pin: %w", err)
	}
	return pol.Check(pin)
}

// ResetPIN sets a new PIN without knowing the old one, and sets
// pin_change_required to changeRequired. A deleted user returns
// ErrState. The caller ends the user's sessions (reason pin_reset).
func (r *Registry) ResetPIN(ctx context.Context, actor, id, pin string, changeRequired bool) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, err
	}
	cur, err := r.store.User(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("reset pin of %s: %w", id, err)
	}
	if cur.Status == UserDeleted {
		return User{}, fmt.Errorf("reset pin of %s: %w: the user is deleted", id, ErrState)
	}
	if err := r.CheckPIN(ctx, cur.WarehouseID, pin); err != nil {
		return User{}, err
	}
	hash, err := r.hash.hash(ctx, pin)
	if err != nil {
		return User{}, fmt.Errorf("reset pin of %s: %w", id, err)
	}
	now := r.clock()
	u, err := r.store.UpdateUser(ctx, id, func(u *User) (Event, error) {
		if u.Status == UserDeleted {
			return Event{}, fmt.Errorf("%w: the user is deleted", ErrState)
		}
		u.PINHash = hash
		u.PINChangeRequired = changeRequired
		u.UpdatedAt = now
		ev := event(now, actor, "user.pin_reset", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		ev.Details = map[string]string{"pin_change_required": fmt.Sprint(changeRequired)}
		return ev, nil
	})
	if err != nil {
		return User{}, fmt.Errorf("reset pin of %s: %w", id, err)
	}
	return u, nil
}

// ChangePIN is the user's own change: next must pass the policy (and
// differ from current), current must verify (ErrInvalidCredentials
// otherwise), the user must be active (ErrDisabled otherwise), and
// pin_change_required is cleared. Throttling failed attempts is the
// caller's.
func (r *Registry) ChangePIN(ctx context.Context, userID, current, next string) (User, error) {
	cur, err := r.store.User(ctx, userID)
	if err != nil {
		return User{}, fmt.Errorf("change pin of %s: %w", userID, err)
	}
	if err := r.CheckPIN(ctx, cur.WarehouseID, next); err != nil {
		return User{}, err
	}
	if len(current) > maxSecretInput {
		return User{}, ErrInvalidCredentials
	}
	ok, _, err := r.hash.verify(ctx, cur.PINHash, current)
	switch {
	case errors.Is(err, errBadHash):
		r.log.Warn("user pin hash unreadable", "user_id", cur.ID)
		return User{}, ErrInvalidCredentials
	case err != nil:
		return User{}, fmt.Errorf("change pin of %s: %w", userID, err)
	case !ok:
		return User{}, ErrInvalidCredentials
	case cur.Status != UserActive:
		return User{}, ErrDisabled
	case next == current:
		return User{}, &PolicyError{Secret: "pin", Rule: "same_as_current", Reason: "the new PIN must differ from the current one"}
	}
	hash, err := r.hash.hash(ctx, next)
	if err != nil {
		return User{}, fmt.Errorf("change pin of %s: %w", userID, err)
	}
	verified := cur.PINHash
	now := r.clock()
	u, err := r.store.UpdateUser(ctx, userID, func(u *User) (Event, error) {
		if u.PINHash != verified {
			// Reset by an admin meanwhile: current is no longer the PIN.
			return Event{}, ErrInvalidCredentials
		}
		if u.Status != UserActive {
			return Event{}, ErrDisabled
		}
		u.PINHash = hash
		u.PINChangeRequired = false
		u.UpdatedAt = now
		ev := event(now, UserActor(u.ID), "user.pin_change", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
	if errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrDisabled) {
		return User{}, err
	}
	if err != nil {
		return User{}, fmt.Errorf("change pin of %s: %w", userID, err)
	}
	return u, nil
}

// AuthenticateUser checks a username and PIN. Unknown username and wrong
// PIN both return ErrInvalidCredentials after the same hashing work; a
// suspended or deleted user with the right PIN returns the user and
// ErrDisabled. The hash is upgraded when its parameters are old. It
// records no audit event and applies no throttle: the caller does both.
// It is LookupUser and then VerifyPIN.
func (r *Registry) AuthenticateUser(ctx context.Context, username, pin string) (User, error) {
	c, err := r.LookupUser(ctx, username)
	if err != nil {
		return User{}, err
	}
	return r.VerifyPIN(ctx, c, pin)
}

// Candidate is the user a PIN sign-in names, read before the PIN is
// hashed (LookupUser, LookupBadge), or nobody: an unknown username or
// badge, or an input no user can have. VerifyPIN costs the same hash
// and gives the same answer for nobody as for a wrong PIN. The zero
// Candidate is nobody.
type Candidate struct {
	user  User
	found bool
}

// LookupUser reads the user username names, without hashing anything,
// so that a caller can keep its hashing slot for the hash alone. An
// unknown username, or one that cannot be normalised, is a Candidate for
// nobody, not an error: only a store that does not answer is one.
func (r *Registry) LookupUser(ctx context.Context, username string) (Candidate, error) {
	key, err := NormalizeUsername(username)
	if err != nil {
		return Candidate{}, nil
	}
	u, err := r.store.UserByUsername(ctx, key)
	return candidate(u, err)
}

func candidate(u User, err error) (Candidate, error) {
	switch {
	case errors.Is(err, ErrNotFound):
		return Candidate{}, nil
	case err != nil:
		return Candidate{}, fmt.Errorf("authenticate user: %w", err)
	}
	return Candidate{user: u, found: true}, nil
}

// VerifyPIN checks pin against the user c names, as AuthenticateUser
// does after its lookup: nobody, a PIN longer than any PIN and a wrong
// PIN are all ErrInvalidCredentials after the same hashing work; a
// suspended or deleted user with the right PIN returns the user and
// ErrDisabled; an old hash is upgraded.
func (r *Registry) VerifyPIN(ctx context.Context, c Candidate, pin string) (User, error) {
	if !c.found || len(pin) > maxSecretInput {
		r.hash.verifyDummy(ctx, pin)
		return User{}, ErrInvalidCredentials
	}
	u := c.user
	ok, rehash, err := r.hash.verify(ctx, u.PINHash, pin)
	switch {
	case errors.Is(err, errBadHash):
		r.log.Warn("user pin hash unreadable", "user_id", u.ID)
		return User{}, ErrInvalidCredentials
	case err != nil:
		return User{}, fmt.Errorf("authenticate user: %w", err)
	case !ok:
		return User{}, ErrInvalidCredentials
	case u.Status != UserActive:
		return u, ErrDisabled
	}
	if rehash {
		up, err := r.rehashUser(ctx, u, pin)
		switch {
		case err == nil:
			// The count of badge changes stays the one read with the
			// badge (or username) the PIN was checked for: a change since
			// is for the login's re-check to see.
			up.BadgeChanges = u.BadgeChanges
			u = up
		case !errors.Is(err, errUnchanged):
			r.log.Warn("user pin rehash failed", "user_id", u.ID, "err", err)
		}
	}
	return u, nil
}

// rehashUser replaces u's PIN hash with one made with the current
// parameters, unless it changed meanwhile (errUnchanged).
func (r *Registry) rehashUser(ctx context.Context, u User, pin string) (User, error) {
	hash, err := r.hash.hash(ctx, pin)
	if err != nil {
		return User{}, err
	}
	old := u.PINHash
	now := r.clock()
	return r.store.UpdateUser(ctx, u.ID, func(u *User) (Event, error) {
		if u.PINHash != old {
			return Event{}, errUnchanged
		}
		u.PINHash = hash
		ev := event(now, ActorSystem, "user.pin_rehash", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
}
