package admin

import "context"

// Run sends the forgot-password mails queued by POST /forgot-password,
// one at a time, until ctx ends; it returns nil then. The reconciler,
// the purge and the audit sealer are housekeeping's (package
// housekeeping), not the admin API's.
func (a *API) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case fr := <-a.forgot:
			a.handleForgot(ctx, fr)
		}
	}
}
