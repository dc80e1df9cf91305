package devices

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/token"
)

// Scope of a service key.
type Scope string

const (
	ScopeIntrospect Scope = "introspect"
	ScopeAdmin      Scope = "admin"
)

// ServiceKey lets a backend call introspect (or automation call the admin
// API). Only the hash of the key is kept.
type ServiceKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      Scope      `json:"scope"`
	Hash       string     `json:"-"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

const (
	// serviceKeyTouch is how stale last_used_at may get before a use
	// writes it.
	serviceKeyTouch = time.Minute
	// keyCacheMax bounds the cache; expired entries are dropped when full.
	keyCacheMax = 10_000
)

// keyCache trusts a live service key for ttl after it was read from the
// store, since introspection (tens of thousands a second) checks one on
// every call.
type keyCache struct {
	ttl     time.Duration // <= 0: no caching
	mu      sync.Mutex
	entries map[string]cachedKey // by token hash
}

type cachedKey struct {
	key   ServiceKey
	until time.Time
}

func (c *keyCache) get(hash string, now time.Time) (ServiceKey, bool) {
	if c.ttl <= 0 {
		return ServiceKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || !now.Before(e.until) {
		return ServiceKey{}, false
	}
	return e.key, true
}

func (c *keyCache) put(k ServiceKey, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= keyCacheMax {
		for h, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= keyCacheMax {
			clear(c.entries)
		}
	}
	c.entries[k.Hash] = cachedKey{key: k, until: now.Add(c.ttl)}
}

// evict forgets the key with the given id.
func (c *keyCache) evict(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if e.key.ID == id {
			delete(c.entries, h)
		}
	}
}

// CreateServiceKey makes a key; the token is shown once.
func (r *Registry) CreateServiceKey(ctx context.Context, actor, name string, scope Scope) (ServiceKey, Token, error) {
	if err := checkActor(actor); err != nil {
		return ServiceKey{}, "", err
	}
	v := &ValidationError{}
	name = checkText(v, "name", name, true, maxNameLength)
	if scope != ScopeIntrospect && scope != ScopeAdmin {
		v.Add("scope", "invalid", "scope is introspect or admin")
	}
	if err := v.Err(); err != nil {
		return ServiceKey{}, "", err
	}
	now := r.clock()
	tok := token.New(ServiceKeyPrefix)
	k := ServiceKey{
		ID:        id.New("key_", now),
		Name:      name,
		Scope:     scope,
		Hash:      tok.Hash(),
		CreatedBy: actor,
		CreatedAt: now,
	}
	ev := event(now, actor, "service_key.create", ServiceKeyActor(k.ID))
	ev.Details = map[string]string{"scope": string(scope), "name": name}
	if err := r.store.CreateServiceKey(ctx, k, ev); err != nil {
		return ServiceKey{}, "", fmt.Errorf("create service key: %w", err)
	}
	return k, tok, nil
}

// AuthenticateServiceKey returns the live key a token belongs to, or
// ErrInvalidCredentials. A key read from the store is trusted for
// Options.ServiceKeyCache; last_used_at is written at most once a minute.
// The caller checks the key's scope.
func (r *Registry) AuthenticateServiceKey(ctx context.Context, tok Token) (ServiceKey, error) {
	if _, ok := token.Parse(ServiceKeyPrefix, tok.Reveal()); !ok {
		return ServiceKey{}, ErrInvalidCredentials
	}
	hash := tok.Hash()
	now := r.clock()
	if k, ok := r.keys.get(hash, now); ok {
		return k, nil
	}
	k, err := r.store.ServiceKeyByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return ServiceKey{}, ErrInvalidCredentials
	}
	if err != nil {
		return ServiceKey{}, fmt.Errorf("authenticate service key: %w", err)
	}
	if k.RevokedAt != nil {
		return ServiceKey{}, ErrInvalidCredentials
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= serviceKeyTouch {
		if err := r.store.TouchServiceKey(ctx, k.ID, now); err != nil {
			return ServiceKey{}, fmt.Errorf("authenticate service key: %w", err)
		}
		at := now
		k.LastUsedAt = &at
	}
	r.keys.put(k, now)
	return k, nil
}

// ServiceKeys lists service keys, revoked ones included.
func (r *Registry) ServiceKeys(ctx context.Context, p Page) ([]ServiceKey, error) {
	ks, err := r.store.ServiceKeys(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list service keys: %w", err)
	}
	return ks, nil
}

// RevokeServiceKey ends a key. It stops working on this instance at once
// and on others within Options.ServiceKeyCache. Revoking a revoked key
// changes nothing.
func (r *Registry) RevokeServiceKey(ctx context.Context, actor, id string) (ServiceKey, error) {
	if err := checkActor(actor); err != nil {
		return ServiceKey{}, err
	}
	now := r.clock()
	k, err := r.store.UpdateServiceKey(ctx, id, func(k *ServiceKey) (Event, error) {
		if k.RevokedAt != nil {
			return Event{}, errUnchanged
		}
		at := now
		k.RevokedAt = &at
		return event(now, actor, "service_key.revoke", ServiceKeyActor(k.ID)), nil
	})
	r.keys.evict(id)
	if errors.Is(err, errUnchanged) {
		k, err = r.store.ServiceKey(ctx, id)
	}
	if err != nil {
		return ServiceKey{}, fmt.Errorf("revoke service key %s: %w", id, err)
	}
	return k, nil
}
