package admin

import (
	"context"
	"time"
)

// Run sends the forgot-password mails queued by POST /forgot-password,
// one at a time, until ctx ends; it returns nil then, once the records
// and audit of the warehouse logouts already answered are written. The reconciler,
// the purge and the audit sealer are housekeeping's (package
// housekeeping), not the admin API's. Every minute it also frees the
// manager-token cache's lapsed entries.
func (a *API) Run(ctx context.Context) error {
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-sweep.C:
			a.sweepManagerTokens()
		case <-ctx.Done():
			// The instance is stopping, its listeners closed: what
			// answered calls left running finishes before the stores
			// are closed.
			a.bg.Wait()
			return nil
		case fr := <-a.forgot:
			a.handleForgot(ctx, fr)
		}
	}
}
