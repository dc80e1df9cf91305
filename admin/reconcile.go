package admin

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
)

// Run repairs what a half-finished admin action left behind and purges
// expired users, until ctx ends: every ReconcileEvery it ends the live
// sessions of users suspended or deleted recently, of devices revoked
// recently (by an admin or a re-enrollment) and those a user had before
// a recent PIN reset (the change was made but ending the sessions
// failed), every PurgeEvery it purges the users deleted more than 30
// days ago, and every AuditSealEvery it seals the audit rows written
// since into the audit chain. Each runs once at start. Failures are
// logged and retried on the next tick. It returns nil when ctx ends.
func (a *API) Run(ctx context.Context) error {
	rec := time.NewTicker(a.cfg.ReconcileEvery)
	defer rec.Stop()
	purge := time.NewTicker(a.cfg.PurgeEvery)
	defer purge.Stop()
	seal := time.NewTicker(a.cfg.AuditSealEvery)
	defer seal.Stop()
	var since time.Time
	reconcile := func() {
		start := a.now()
		if since.IsZero() {
			since = start.Add(-reconcileLookback)
		}
		if _, err := a.reconcile(ctx, since); err != nil {
			if ctx.Err() == nil {
				a.log.ErrorContext(ctx, "reconcile sessions", "err", err)
			}
			return
		}
		since = start.Add(-reconcileOverlap)
	}
	purgeOnce := func() {
		if _, err := a.purge(ctx); err != nil && ctx.Err() == nil {
			a.log.ErrorContext(ctx, "purge deleted users", "err", err)
		}
	}
	sealOnce := func() {
		if _, err := a.reg.SealAudit(ctx); err != nil && ctx.Err() == nil {
			a.log.ErrorContext(ctx, "seal audit", "err", err)
		}
	}
	reconcile()
	purgeOnce()
	sealOnce()
	for {
		select {
		case <-ctx.Done():
			return nil
		case fr := <-a.forgot:
			a.handleForgot(ctx, fr)
		case <-rec.C:
			reconcile()
		case <-purge.C:
			purgeOnce()
		case <-seal.C:
			sealOnce()
		}
	}
}

// reconcile ends the live sessions of users suspended or deleted whose
// record changed at or after since, and returns how many it ended.
func (a *API) reconcile(ctx context.Context, since time.Time) (int, error) {
	ended := 0
	var errs []error
	for _, st := range []struct {
		status devices.UserStatus
		reason sessions.Reason
	}{{devices.UserSuspended, sessions.ReasonUserSuspended}, {devices.UserDeleted, sessions.ReasonUserDeleted}} {
		f := devices.UserFilter{Status: st.status, UpdatedSince: &since, Page: devices.Page{Limit: maxPageSize}}
		for page := 0; page < maxReconcilePages; page++ {
			users, err := a.reg.Users(ctx, f)
			if err != nil {
				return ended, fmt.Errorf("reconcile: list %s users: %w", st.status, err)
			}
			for _, u := range users {
				live, err := a.sess.ByUser(ctx, u.ID)
				if err != nil {
					errs = append(errs, fmt.Errorf("reconcile: sessions of %s: %w", u.ID, err))
					continue
				}
				if len(live) == 0 {
					continue
				}
				cmds, err := a.sess.EndUser(ctx, u.ID, st.reason)
				if err != nil {
					errs = append(errs, fmt.Errorf("reconcile: end sessions of %s: %w", u.ID, err))
					continue
				}
				ended += len(cmds)
				a.metrics.reconciled.Add(float64(len(cmds)))
				a.log.InfoContext(ctx, "reconciler ended sessions", "user_id", u.ID, "reason", string(st.reason), "count", len(cmds))
				a.recordEnd(ctx, devices.ActorSystem, devices.UserActor(u.ID), u.WarehouseID, st.reason, cmds)
			}
			if len(users) < f.Limit {
				break
			}
			f.After = users[len(users)-1].ID
		}
	}
	n, err := a.reconcileEvents(ctx, since)
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
func (a *API) reconcileEvents(ctx context.Context, since time.Time) (int, error) {
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
		a.metrics.reconciled.Add(float64(len(cmds)))
		a.log.InfoContext(ctx, "reconciler ended sessions", "subject", subject, "reason", string(reason), "count", len(cmds))
		a.recordEnd(ctx, devices.ActorSystem, subject, ev.WarehouseID, reason, cmds)
	}
	for _, action := range []string{"device.revoke", "user.pin_reset"} {
		f := devices.EventFilter{Action: action, From: since, Page: devices.Page{Limit: maxPageSize}}
		for page := 0; page < maxReconcilePages; page++ {
			evs, err := a.reg.Events(ctx, f)
			if err != nil {
				return ended, fmt.Errorf("reconcile: list %s events: %w", action, err)
			}
			for _, ev := range evs {
				if id, ok := strings.CutPrefix(ev.Subject, "device:"); ok {
					live, err := a.sess.ByDevice(ctx, id)
					if err != nil || len(live) == 0 {
						end(ev, ev.Subject, sessions.ReasonDeviceRevoked, nil, err)
						continue
					}
					cmds, err := a.sess.EndDevice(ctx, id, sessions.ReasonDeviceRevoked)
					end(ev, ev.Subject, sessions.ReasonDeviceRevoked, cmds, err)
				} else if id, ok := strings.CutPrefix(ev.Subject, "user:"); ok {
					live, err := a.sess.ByUser(ctx, id)
					var cmds []sessions.Command
					for _, s := range live {
						if s.CreatedAt.After(ev.At) {
							continue // signed in with the new PIN
						}
						var c sessions.Command
						c, err = a.sess.End(ctx, s.ID, sessions.ReasonPINReset)
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

func (a *API) purge(ctx context.Context) (int, error) {
	n, err := a.reg.PurgeDeleted(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge deleted users: %w", err)
	}
	a.metrics.purged.Add(float64(n))
	if n > 0 {
		a.log.InfoContext(ctx, "purged deleted users", "count", n)
	}
	// Custody records are kept devices.CustodyRetention (90 days).
	c, err := a.reg.PurgeCustody(ctx)
	if err != nil {
		return n, fmt.Errorf("purge custody: %w", err)
	}
	if c > 0 {
		a.log.InfoContext(ctx, "purged custody records", "count", c)
	}
	return n, nil
}
