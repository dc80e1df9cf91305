package devices

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The user lifecycle:
//
//	active ⇄ suspended      SuspendUser, ActivateUser
//	active, suspended → deleted   DeleteUser (soft: restorable)
//	deleted → active        RestoreUser, through RestoreWindow after deleted_at
//	deleted → (purged)      PurgeDeleted, once RestoreWindow has passed
//
// Asking for the state a user is already in changes nothing, writes no
// event and returns the user. Other moves return ErrState. A deleted
// user keeps its username (and employee id) reserved until purged.

// transition runs one lifecycle change. step changes u and returns nil,
// errUnchanged when u is already where asked, or another error.
func (r *Registry) transition(ctx context.Context, actor, id, action string, step func(u *User, now time.Time) error) (User, error) {
	if err := checkActor(actor); err != nil {
		return User{}, err
	}
	now := r.clock()
	u, err := r.store.UpdateUser(ctx, id, func(u *User) (Event, error) {
		if err := step(u, now); err != nil {
			return Event{}, err
		}
		u.UpdatedAt = now
		ev := event(now, actor, action, UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev, nil
	})
	if errors.Is(err, errUnchanged) {
		u, err = r.store.User(ctx, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("%s %s: %w", action, id, err)
	}
	return u, nil
}

// SuspendUser stops an active user from signing in. The caller ends the
// user's sessions (reason user_suspended). A deleted user returns ErrState.
func (r *Registry) SuspendUser(ctx context.Context, actor, id string) (User, error) {
	return r.transition(ctx, actor, id, "user.suspend", func(u *User, _ time.Time) error {
		switch u.Status {
		case UserSuspended:
			return errUnchanged
		case UserDeleted:
			return fmt.Errorf("%w: a deleted user cannot be suspended", ErrState)
		}
		u.Status = UserSuspended
		return nil
	})
}

// ActivateUser lifts a suspension. A deleted user returns ErrState (it
// is brought back with RestoreUser).
func (r *Registry) ActivateUser(ctx context.Context, actor, id string) (User, error) {
	return r.transition(ctx, actor, id, "user.activate", func(u *User, _ time.Time) error {
		switch u.Status {
		case UserActive:
			return errUnchanged
		case UserDeleted:
			return fmt.Errorf("%w: a deleted user is restored, not activated", ErrState)
		}
		u.Status = UserActive
		return nil
	})
}

// DeleteUser soft-deletes: the user can be restored for RestoreWindow,
// and PurgeDeleted removes it after. The caller ends the user's sessions
// (reason user_deleted).
func (r *Registry) DeleteUser(ctx context.Context, actor, id string) (User, error) {
	return r.transition(ctx, actor, id, "user.delete", func(u *User, now time.Time) error {
		if u.Status == UserDeleted {
			return errUnchanged
		}
		u.Status = UserDeleted
		at := now
		u.DeletedAt = &at
		return nil
	})
}

// RestoreUser brings back a soft-deleted user as active, through
// RestoreWindow after its deletion (day 30 included), or returns
// ErrRestoreExpired. A user that is not deleted returns ErrState.
func (r *Registry) RestoreUser(ctx context.Context, actor, id string) (User, error) {
	return r.transition(ctx, actor, id, "user.restore", func(u *User, now time.Time) error {
		if u.Status != UserDeleted {
			return fmt.Errorf("%w: only a deleted user can be restored", ErrState)
		}
		if u.DeletedAt == nil || now.Sub(*u.DeletedAt) > RestoreWindow {
			return ErrRestoreExpired
		}
		u.Status = UserActive
		u.DeletedAt = nil
		return nil
	})
}

// PurgeDeleted purges users deleted more than RestoreWindow ago: their
// personal data and PIN hash are removed and their username freed. Each
// gets a "user.purge" audit event that carries only its id. Running it
// again purges nothing more.
func (r *Registry) PurgeDeleted(ctx context.Context) (int, error) {
	now := r.clock()
	n, err := r.store.PurgeUsers(ctx, now.Add(-RestoreWindow), func(u User) Event {
		ev := event(now, ActorSystem, "user.purge", UserActor(u.ID))
		ev.WarehouseID = u.WarehouseID
		return ev
	})
	if err != nil {
		return n, fmt.Errorf("purge deleted users: %w", err)
	}
	return n, nil
}
