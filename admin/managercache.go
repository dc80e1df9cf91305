package admin

import (
	"context"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// The manager-token cache (devices.ManagerTokenCache) lets an admin call
// in without the two registry reads of its bearer. What keeps it right:
//   - The registry tells this API of every change that may end or narrow
//     a manager's tokens (Registry.OnManagerChange): the manager is
//     dropped here before the call that made the change answers, and
//     sessions.KindManagerChanged tells every other instance, which
//     drops them when the event comes (Watched).
//   - It is on only while the fan-out is heard: Subscribed turns it on
//     (empty), a KindLost turns it off (empty) until the next Subscribed.
//   - An entry lapses after the cache's TTL (-manager-token-cache, 2 s by
//     default) even if no news came: a change whose event is lost (its
//     publish failed; a change made by `floorgate admin reset-password`
//     outside a running instance) holds on another instance for that
//     long at most.
//   - A store that does not answer fails the call closed (503), as
//     without the cache: only tokens the registry let in are kept.

// authenticateManager reads a manager token through the cache.
func (a *API) authenticateManager(ctx context.Context, tok devices.Token) (devices.Manager, error) {
	if a.managers == nil {
		return a.reg.AuthenticateManagerToken(ctx, tok)
	}
	return a.managers.AuthenticateManagerToken(ctx, tok)
}

// managerChanged is the registry's news of a change to a manager made in
// this process: dropped here at once, and on every instance through the
// fan-out.
func (a *API) managerChanged(ctx context.Context, managerID string) {
	if a.managers != nil {
		a.managers.DropManager(managerID)
	}
	if err := a.sess.Publish(context.WithoutCancel(ctx), sessions.Event{Kind: sessions.KindManagerChanged, ManagerID: managerID}); err != nil {
		a.log.WarnContext(ctx, "publish manager change; other instances keep the manager's tokens for -manager-token-cache at most",
			"manager_id", managerID, "err", err)
	}
}

// Subscribed is the fan-out watcher's ready: it has subscribed (again),
// so the manager-token cache starts afresh and on.
func (a *API) Subscribed(bool) {
	if a.managers != nil {
		a.managers.Start()
	}
}

// Watched takes one fan-out event: a manager's change drops them, a
// KindLost turns the cache off until Subscribed.
func (a *API) Watched(e sessions.Event) {
	if a.managers == nil {
		return
	}
	switch e.Kind {
	case sessions.KindManagerChanged:
		a.managers.DropManager(e.ManagerID)
	case sessions.KindLost:
		a.managers.Stop()
	}
}

// sweepManagerTokens drops the manager-token cache's entries past their
// end (Run, every minute: an entry past its end is never used, the sweep
// only frees it).
func (a *API) sweepManagerTokens() {
	if a.managers != nil {
		a.managers.Sweep()
	}
}
