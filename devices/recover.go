package devices

import (
	"context"
	"fmt"
)

// ActorCLI is the audit actor of changes made on the command line
// (floorgate admin ...), by whoever runs the server.
const ActorCLI = "system:cli"

// ResetManagerPassword recovers the account with email: a new
// generated password (returned, to be shown once), the account active
// again, and every admin session of it ended. It is audited as an
// update of the password and status by actor. It is the way back in
// when the only admin lost their password.
func (r *Registry) ResetManagerPassword(ctx context.Context, actor, email string) (Manager, string, error) {
	key, err := EmailKey(email)
	if err != nil {
		return Manager{}, "", err
	}
	m, err := r.store.ManagerByEmail(ctx, key)
	if err != nil {
		return Manager{}, "", fmt.Errorf("reset password of %s: %w", key, err)
	}
	pw, err := GeneratePassword(r.password)
	if err != nil {
		return Manager{}, "", fmt.Errorf("reset password: %w", err)
	}
	active := ManagerActive
	m, err = r.UpdateManager(ctx, actor, m.ID, ManagerPatch{Password: &pw, Status: &active})
	if err != nil {
		return Manager{}, "", fmt.Errorf("reset password of %s: %w", key, err)
	}
	if err := r.RevokeManagerTokens(ctx, m.ID, ""); err != nil {
		return Manager{}, "", fmt.Errorf("reset password of %s: the password is reset but its sessions were not ended: %w", key, err)
	}
	return m, pw, nil
}
