package devices

import (
	"context"
	"crypto/sha256"
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
	m, _, err := r.authenticateManagerToken(ctx, tok)
	return m, err
}

// authenticateManagerToken is AuthenticateManagerToken, also returning
// the token as it now stands (LastUsedAt as written).
func (r *Registry) authenticateManagerToken(ctx context.Context, tok Token) (Manager, ManagerToken, error) {
	if _, ok := token.Parse(ManagerTokenPrefix, tok.Reveal()); !ok {
		return Manager{}, ManagerToken{}, ErrInvalidCredentials
	}
	hash := tok.Hash()
	mt, err := r.store.ManagerToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Manager{}, ManagerToken{}, ErrInvalidCredentials
	}
	if err != nil {
		return Manager{}, ManagerToken{}, fmt.Errorf("authenticate manager token: %w", err)
	}
	now := r.clock()
	if !now.Before(mt.ExpiresAt) || !now.Before(mt.LastUsedAt.Add(ManagerTokenIdle)) {
		if err := r.store.DeleteManagerTokens(ctx, mt.ManagerID, hash); err != nil {
			r.log.Warn("remove expired manager token", "manager_id", mt.ManagerID, "err", err)
		}
		return Manager{}, ManagerToken{}, ErrInvalidCredentials
	}
	m, err := r.store.Manager(ctx, mt.ManagerID)
	if errors.Is(err, ErrNotFound) {
		return Manager{}, ManagerToken{}, ErrInvalidCredentials
	}
	if err != nil {
		return Manager{}, ManagerToken{}, fmt.Errorf("authenticate manager token: %w", err)
	}
	if m.Status != ManagerActive {
		return Manager{}, ManagerToken{}, ErrInvalidCredentials
	}
	if now.Sub(mt.LastUsedAt) >= managerTokenTouch {
		if err := r.store.TouchManagerToken(ctx, hash, now); err != nil {
			return Manager{}, ManagerToken{}, fmt.Errorf("authenticate manager token: %w", err)
		}
		mt.LastUsedAt = now
	}
	return m, mt, nil
}

// RevokeManagerTokens ends one token (tok != "") or all of a manager's.
func (r *Registry) RevokeManagerTokens(ctx context.Context, managerID string, tok Token) error {
	hash := ""
	if tok != "" {
		hash = tok.Hash()
	}
	// Told even when the delete failed: it may have been done.
	defer r.managerChanged(ctx, managerID)
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
	defer r.managerChanged(ctx, managerID)
	if err := r.store.DeleteOtherManagerTokens(ctx, managerID, hash); err != nil {
		return fmt.Errorf("revoke other manager tokens of %s: %w", managerID, err)
	}
	return nil
}

// OnManagerChange adds fn to what the registry calls after anything that
// may end a manager token's right to act, or change what it may do: a
// token revoked, a manager changed (roles, status, password), deleted or
// given a new password by a link. fn runs in the caller's goroutine,
// after the change (or after an attempt that may have made it); the
// admin API drops the manager from its token cache and tells every
// instance (sessions.KindManagerChanged). Set it while wiring, before
// the registry is used.
func (r *Registry) OnManagerChange(fn func(ctx context.Context, managerID string)) {
	r.managerHooks = append(r.managerHooks, fn)
}

func (r *Registry) managerChanged(ctx context.Context, managerID string) {
	for _, fn := range r.managerHooks {
		fn(ctx, managerID)
	}
}

// DefaultManagerTokenCacheTTL is how long a ManagerTokenCache keeps an
// entry when TokenCacheOptions.TTL is 0.
const DefaultManagerTokenCacheTTL = 2 * time.Second

// ManagerTokenCache remembers, in one process, which active manager (and
// roles) a manager token authenticates, so that an admin call costs no
// registry query for its bearer (AuthenticateManagerToken is two reads).
// It is kept fresh like TokenCache: on (Start) only while its owner hears
// every instance's news, a manager dropped (DropManager) as soon as the
// news of a change to them or their tokens comes (Registry.OnManagerChange
// on the instance that made it, sessions.KindManagerChanged on the
// others), off (Stop) when news may be missed. An entry that no news
// removed lapses after TTL, and never outlives the token's own idle or
// absolute end. Uses answered from it do not touch the token's last use;
// the next use after TTL does, as without the cache (at most once a
// minute), so the idle end moves by TTL at most.
//
// Kept: the manager as read (its password hash left out) by the
// SHA-256 of the token. Unknown, expired and refused tokens always go to
// the registry.
type ManagerTokenCache struct {
	reg   *Registry
	ttl   time.Duration
	now   func() time.Time
	cache *fanCache[Manager]
}

// NewManagerTokenCache returns an empty cache, off, in front of reg; the
// options are TokenCache's (TTL DefaultManagerTokenCacheTTL when 0).
func NewManagerTokenCache(reg *Registry, o TokenCacheOptions) *ManagerTokenCache {
	if o.TTL <= 0 {
		o.TTL = DefaultManagerTokenCacheTTL
	}
	if o.Max <= 0 {
		o.Max = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &ManagerTokenCache{reg: reg, ttl: o.TTL, now: o.Now, cache: newFanCache[Manager](o.Max)}
}

// AuthenticateManagerToken is Registry.AuthenticateManagerToken through
// the cache. A hit's Manager has no PasswordHash.
func (c *ManagerTokenCache) AuthenticateManagerToken(ctx context.Context, tok Token) (Manager, error) {
	key := sha256.Sum256([]byte(tok.Reveal()))
	now := c.now()
	m, ok, gen := c.cache.get(key, now)
	if ok {
		return m, nil
	}
	m, mt, err := c.reg.authenticateManagerToken(ctx, tok)
	if err != nil {
		return m, err
	}
	until := now.Add(c.ttl)
	for _, end := range []time.Time{mt.ExpiresAt, mt.LastUsedAt.Add(ManagerTokenIdle)} {
		if end.Before(until) {
			until = end
		}
	}
	kept := m
	kept.PasswordHash = ""
	// A drop or Stop while the registry answered is not overtaken: the
	// answer is returned (it was true when read) but not kept.
	c.cache.put(key, kept, until, now, gen)
	return m, nil
}

// DropManager forgets every token of managerID.
func (c *ManagerTokenCache) DropManager(managerID string) {
	c.cache.dropIf(func(m Manager) bool { return m.ID == managerID })
}

// Start empties the cache and turns it on.
func (c *ManagerTokenCache) Start() { c.cache.reset(true) }

// Stop empties the cache and turns it off.
func (c *ManagerTokenCache) Stop() { c.cache.reset(false) }

// Sweep drops the entries past their end.
func (c *ManagerTokenCache) Sweep() { c.cache.sweep(c.now()) }

// Len is the number of entries, expired ones included.
func (c *ManagerTokenCache) Len() int { return c.cache.len() }
