package housekeeping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// reconcileLookback is how far back the first reconcile pass looks for
// suspended and deleted users; later passes look back to the start of
// the last pass that finished, less reconcileOverlap.
const (
	reconcileLookback = 24 * time.Hour
	reconcileOverlap  = time.Minute
	// maxReconcilePages bounds one pass: 200 pages of 500 users per status.
	maxReconcilePages = 200
	// pageSize is the size of one page of users or events.
	pageSize = 500
)

// Reconcile ends what a change left behind at or after since: the live
// sessions of users suspended or deleted, every session of a device
// revoked (by an admin or by enrolling its serial again) and the sessions
// a user had before a PIN reset. It returns how many it ended. Run calls
// it every ReconcileEvery.
func (k *Keeper) Reconcile(ctx context.Context, since time.Time) (int, error) {
	ended := 0
	var errs []error
	for _, st := range []struct {
		status devices.UserStatus
		reason sessions.Reason
	}{{devices.UserSuspended, sessions.ReasonUserSuspended}, {devices.UserDeleted, sessions.ReasonUserDeleted}} {
		f := devices.UserFilter{Status: st.status, UpdatedSince: &since, Page: devices.Page{Limit: pageSize}}
		for page := 0; page < maxReconcilePages; page++ {
			users, err := k.reg.Users(ctx, f)
			if err != nil {
				return ended, fmt.Errorf("reconcile: list %s users: %w", st.status, err)
			}
			for _, u := range users {
				live, err := k.sess.ByUser(ctx, u.ID)
				if err != nil {
					errs = append(errs, fmt.Errorf("reconcile: sessions of %s: %w", u.ID, err))
					continue
				}
				if len(live) == 0 {
					continue
				}
				cmds, err := k.sess.EndUser(ctx, u.ID, st.reason)
				if err != nil {
					errs = append(errs, fmt.Errorf("reconcile: end sessions of %s: %w", u.ID, err))
					continue
				}
				ended += len(cmds)
				k.reconciled.Add(float64(len(cmds)))
				k.log.InfoContext(ctx, "reconciler ended sessions", "user_id", u.ID, "reason", string(st.reason), "count", len(cmds))
				k.recordEnd(ctx, devices.ActorSystem, devices.UserActor(u.ID), u.WarehouseID, st.reason, cmds)
			}
			if len(users) < f.Limit {
				break
			}
			f.After = users[len(users)-1].ID
		}
	}
	n, err := k.reconcileEvents(ctx, since)
	ended += n
	errs = append(errs, err)
	return ended, errors.Join(errs...)
}

// reconcileEvents ends the sessions that outlived a device revocation
// (by an admin, or by re-enrolling the serial) or a PIN reset at or after
// since. It finds them by their audit events, which the registry writes
// in the same transaction as the change: every session of a revoked
// device ends (device_revoked), and every session a user had before the
// reset of their PIN (pin_reset).
func (k *Keeper) reconcileEvents(ctx context.Context, since time.Time) (int, error) {
	ended := 0
	var errs []error
	end := func(ev devices.Event, subject string, reason sessions.Reason, cmds []sessions.Command, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("reconcile: end sessions of %s: %w", subject, err))
			return
		}
		if len(cmds) == 0 {
			return
		}
		ended += len(cmds)
		k.reconciled.Add(float64(len(cmds)))
		k.log.InfoContext(ctx, "reconciler ended sessions", "subject", subject, "reason", string(reason), "count", len(cmds))
		k.recordEnd(ctx, devices.ActorSystem, subject, ev.WarehouseID, reason, cmds)
	}
	for _, action := range []string{"device.revoke", "user.pin_reset"} {
		f := devices.EventFilter{Action: action, From: since, Page: devices.Page{Limit: pageSize}}
		for page := 0; page < maxReconcilePages; page++ {
			evs, err := k.reg.Events(ctx, f)
			if err != nil {
				return ended, fmt.Errorf("reconcile: list %s events: %w", action, err)
			}
			for _, ev := range evs {
				if id, ok := strings.CutPrefix(ev.Subject, "device:"); ok {
					live, err := k.sess.ByDevice(ctx, id)
					if err != nil || len(live) == 0 {
						end(ev, ev.Subject, sessions.ReasonDeviceRevoked, nil, err)
						continue
					}
					cmds, err := k.sess.EndDevice(ctx, id, sessions.ReasonDeviceRevoked)
					end(ev, ev.Subject, sessions.ReasonDeviceRevoked, cmds, err)
				} else if id, ok := strings.CutPrefix(ev.Subject, "user:"); ok {
					live, err := k.sess.ByUser(ctx, id)
					var cmds []sessions.Command
					for _, s := range live {
						if s.CreatedAt.After(ev.At) {
							continue // signed in with the new PIN
						}
						var c sessions.Command
						c, err = k.sess.End(ctx, s.ID, sessions.ReasonPINReset)
						if errors.Is(err, sessions.ErrNotFound) {
							err = nil
							continue
						}
						if err != nil {
							break
						}
						cmds = append(cmds, c)
					}
					end(ev, ev.Subject, sessions.ReasonPINReset, cmds, err)
				}
			}
			if len(evs) < f.Limit {
				break
			}
			f.After = evs[len(evs)-1].ID
		}
	}
	return ended, errors.Join(errs...)
}

// Purge purges the users deleted more than devices.RestoreWindow ago and
// the custody records older than devices.CustodyRetention, and returns
// how many users it purged. Run calls it every PurgeEvery.
func (k *Keeper) Purge(ctx context.Context) (int, error) {
	n, err := k.reg.PurgeDeleted(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge deleted users: %w", err)
	}
	k.purged.Add(float64(n))
	if n > 0 {
		k.log.InfoContext(ctx, "purged deleted users", "count", n)
	}
	// Custody records are kept devices.CustodyRetention (90 days).
	c, err := k.reg.PurgeCustody(ctx)
	if err != nil {
		return n, fmt.Errorf("purge custody: %w", err)
	}
	if c > 0 {
		k.log.InfoContext(ctx, "purged custody records", "count", c)
	}
	return n, nil
}

// recordEnd writes what the reconciler ended: the custody records' ends
// (by the system) and one sessions.end audit event for the subject
// (devices.RecordSessionsEnded, which logs what fails: the sessions have
// ended all the same).
func (k *Keeper) recordEnd(ctx context.Context, actor, subject, warehouseID string, reason sessions.Reason, cmds []sessions.Command) {
	ended := make([]devices.EndedSession, len(cmds))
	for i, c := range cmds {
		ended[i] = devices.EndedSession{SessionID: c.SessionID, CommandID: c.ID, At: c.CreatedAt, Reason: string(c.Reason)}
	}
	k.reg.RecordSessionsEnded(ctx, actor, subject, warehouseID, string(reason), ended)
}
