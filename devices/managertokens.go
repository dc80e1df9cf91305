package devices

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floorgate/floorgate/internal/token"
)

// ManagerToken is a signed-in admin console or API session of a manager.
// Only the token's hash is kept.
type ManagerToken struct {
	Hash       string    `json:"-"`
	ManagerID  string    `json:"manager_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"` // absolute end
}

// Manager tokens end after ManagerTokenIdle unused or ManagerTokenAbsolute.
const (
	ManagerTokenIdle     = 15 * time.Minute
	ManagerTokenAbsolute = 12 * time.Hour
	// managerTokenTouch is how stale last_used_at may get before a use
	// writes it, so that a busy console does not write on every call.
	// The idle limit is measured from the written time.
	managerTokenTouch = time.Minute
)

// IssueManagerToken starts an admin API session for a manager who has
// just authenticated. The manager must exist and be active.
func (r *Registry) IssueManagerToken(ctx context.Context, managerID string) (Token, ManagerToken, error) {
	m, err := r.store.Manager(ctx, managerID)
	if err != nil {
		return "", ManagerToken{}, fmt.Errorf("issue manager token: %w", err)
	}
	if m.Status != ManagerActive {
		return "", ManagerToken{}, fmt.Errorf("issue manager token: %w", ErrDisabled)
	}
	now := r.clock()
	tok := token.New(ManagerTokenPrefix)
	mt := ManagerToken{
		Hash:       tok.Hash(),
		ManagerID:  managerID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(ManagerTokenAbsolute),
	}
	if err := r.store.CreateManagerToken(ctx, mt); err != nil {
		return "", ManagerToken{}, fmt.Errorf("issue manager token: %w", err)
	}
	return tok, mt, nil
}

// AuthenticateManagerToken returns the active manager a live token
// belongs to (touching it, at most once a minute), or
// ErrInvalidCredentials for unknown, expired, disabled or deleted. An
// expired token is removed.
func (r *Registry) AuthenticateManagerToken(ctx context.Context, tok Token) (Manager, error) {
	if _, ok := token.Parse(ManagerTokenPrefix, tok.Reveal()); !ok {
		return Manager{}, ErrInvalidCredentials
	}
	hash := tok.Hash()
	mt, err := r.store.ManagerToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Manager{}, ErrInvalidCredentials
	}
	if err != nil {
		return Manager{}, fmt.Errorf("authenticate manager token: %w", err)
	}
	now := r.clock()
	if !now.Before(mt.ExpiresAt) || !now.Before(mt.LastUsedAt.Add(ManagerTokenIdle)) {
		if err := r.store.DeleteManagerTokens(ctx, mt.ManagerID, hash); err != nil {
			r.log.Warn("remove expired manager token", "manager_id", mt.ManagerID, "err", err)
		}
		return Manager{}, ErrInvalidCredentials
	}
	m, err := r.store.Manager(ctx, mt.ManagerID)
	if errors.Is(err, ErrNotFound) {
		return Manager{}, ErrInvalidCredentials
	}
	if err != nil {
		return Manager{}, fmt.Errorf("authenticate manager token: %w", err)
	}
	if m.Status != ManagerActive {
		return Manager{}, ErrInvalidCredentials
	}
	if now.Sub(mt.LastUsedAt) >= managerTokenTouch {
		if err := r.store.TouchManagerToken(ctx, hash, now); err != nil {
			return Manager{}, fmt.Errorf("authenticate manager token: %w", err)
		}
	}
	return m, nil
}

// RevokeManagerTokens ends one token (tok != "") or all of a manager's.
func (r *Registry) RevokeManagerTokens(ctx context.Context, managerID string, tok Token) error {
	hash := ""
	if tok != "" {
		hash = tok.Hash()
	}
	if err := r.store.DeleteManagerTokens(ctx, managerID, hash); err != nil {
		return fmt.Errorf("revoke manager tokens of %s: %w", managerID, err)
	}
	return nil
}

// RevokeOtherManagerTokens ends every token of a manager but keep (all
// of them when keep is ""): what a password change does to the other
// sign-ins of the account.
func (r *Registry) RevokeOtherManagerTokens(ctx context.Context, managerID string, keep Token) error {
	hash := ""
	if keep != "" {
		hash = keep.Hash()
	}
	if err := r.store.DeleteOtherManagerTokens(ctx, managerID, hash); err != nil {
		return fmt.Errorf("revoke other manager tokens of %s: %w", managerID, err)
	}
	return nil
}
