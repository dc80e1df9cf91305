package memory

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// Validate returns the live session of t. It takes the read lock only,
// unless the session was last touched Options.TouchEvery ago or more:
// then it records the activity under the write lock.
func (s *Store) Validate(ctx context.Context, t sessions.Token) (sessions.Session, error) {
	if err := live(ctx); err != nil {
		return sessions.Session{}, err
	}
	h := t.Hash()
	now := s.now()

	s.mu.RLock()
	e := s.byHash[h]
	if e == nil || expired(&e.s, now) {
		s.mu.RUnlock()
		return sessions.Session{}, sessions.ErrNotFound
	}
	if now.Sub(e.s.LastActiveAt) < s.touchEvery {
		ss := e.s
		s.mu.RUnlock()
		return ss, nil
	}
	s.mu.RUnlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	e = s.byHash[h]
	if e == nil || expired(&e.s, now) {
		return sessions.Session{}, sessions.ErrNotFound
	}
	if now.Sub(e.s.LastActiveAt) >= s.touchEvery {
		e.s.LastActiveAt = now
	}
	return e.s, nil
}

// Session reads a live session without touching it.
func (s *Store) Session(ctx context.Context, id string) (sessions.Session, error) {
	if err := live(ctx); err != nil {
		return sessions.Session{}, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byID[id]
	if e == nil || expired(&e.s, now) {
		return sessions.Session{}, sessions.ErrNotFound
	}
	return e.s, nil
}

// ByUser lists the user's live sessions, oldest first.
func (s *Store) ByUser(ctx context.Context, userID string) ([]sessions.Session, error) {
	return s.list(ctx, s.byUser, userID)
}

// ByDevice lists the device's live sessions (at most one, normally).
func (s *Store) ByDevice(ctx context.Context, deviceID string) ([]sessions.Session, error) {
	return s.list(ctx, s.byDevice, deviceID)
}

func (s *Store) list(ctx context.Context, m map[string]map[string]*entry, key string) ([]sessions.Session, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.listLocked(m, key, now), nil
}

// listLocked is list's answer; s.mu must be held.
func (s *Store) listLocked(m map[string]map[string]*entry, key string, now time.Time) []sessions.Session {
	es := make([]*entry, 0, len(m[key]))
	for _, e := range m[key] {
		if !expired(&e.s, now) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, byCreated)
	out := make([]sessions.Session, len(es))
	for i, e := range es {
		out[i] = e.s
	}
	return out
}

// Page sizes of ByWarehouse.
const (
	defaultPage = 100
	maxPage     = 500
)

// ByWarehouse lists the warehouse's live sessions in id order, starting
// after p.After, from the warehouse's sorted index.
func (s *Store) ByWarehouse(ctx context.Context, warehouseID string, p sessions.PageRequest) ([]sessions.Session, string, error) {
	if err := live(ctx); err != nil {
		return nil, "", err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.byWarehouse[warehouseID]
	i := sort.SearchStrings(list, p.After)
	if p.After != "" && i < len(list) && list[i] == p.After {
		i++
	}
	var out []sessions.Session
	for ; i < len(list) && len(out) < limit; i++ {
		if e := s.byID[list[i]]; e != nil && !expired(&e.s, now) {
			out = append(out, e.s)
		}
	}
	next := ""
	if i < len(list) && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// ClearPINChange lifts the pin_change_required confinement of a live
// session.
func (s *Store) ClearPINChange(ctx context.Context, sessionID string) error {
	if err := live(ctx); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[sessionID]
	if e == nil || expired(&e.s, now) {
		return sessions.ErrNotFound
	}
	e.s.PINChangeRequired = false
	return nil
}
