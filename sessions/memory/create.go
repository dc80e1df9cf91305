package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/sessions"
)

// Create ends the device's previous session (ReasonReplaced) and the
// user's oldest-created sessions beyond p.Cap (ReasonEvicted), or refuses
// with sessions.ErrLimit under p.DenyNew, and inserts the new session,
// all under the store's lock. Sessions of the user or the device whose
// idle or absolute end has passed but that Sweep has not reached yet do
// not count: they are ended here with ReasonIdle or ReasonExpired.
//
// Under DenyNew a refusal changes nothing, not even the device's previous
// session of another user.
func (s *Store) Create(ctx context.Context, n sessions.NewSession, p sessions.Policy) (sessions.Created, error) {
	if err := live(ctx); err != nil {
		return sessions.Created{}, err
	}
	if n.UserID == "" || n.DeviceID == "" {
		return sessions.Created{}, fmt.Errorf("create session: %w: user id and device id are required", sessions.ErrInvalid)
	}
	if p.Cap < 1 || p.Idle <= 0 || p.Absolute <= 0 {
		return sessions.Created{}, fmt.Errorf("create session for user %s: %w: policy cap %d, idle %v, absolute %v", n.UserID, sessions.ErrInvalid, p.Cap, p.Idle, p.Absolute)
	}
	tok := sessions.NewToken()
	now := s.now()

	s.mu.Lock()
	var lapsed, replaced, others []*entry
	seen := map[*entry]bool{}
	for _, e := range s.byDevice[n.DeviceID] {
		seen[e] = true
		if expired(&e.s, now) {
			lapsed = append(lapsed, e)
		} else {
			replaced = append(replaced, e)
		}
	}
	for _, e := range s.byUser[n.UserID] {
		switch {
		case seen[e]:
		case expired(&e.s, now):
			lapsed = append(lapsed, e)
		default:
			others = append(others, e)
		}
	}
	excess := len(others) + 1 - p.Cap
	if excess > 0 && p.DenyNew {
		s.mu.Unlock()
		return sessions.Created{}, fmt.Errorf("create session for user %s: %w", n.UserID, sessions.ErrLimit)
	}
	slices.SortFunc(lapsed, byCreated)
	slices.SortFunc(replaced, byCreated)
	slices.SortFunc(others, byCreated)

	var ended []sessions.Command
	for _, e := range lapsed {
		ended = append(ended, s.endLocked(e, expiryReason(&e.s), nil, now))
	}
	by := sessions.By{DeviceID: n.DeviceID, WarehouseID: n.WarehouseID, At: now}
	for _, e := range replaced {
		b := by
		ended = append(ended, s.endLocked(e, sessions.ReasonReplaced, &b, now))
	}
	for i := 0; i < excess; i++ {
		b := by
		ended = append(ended, s.endLocked(others[i], sessions.ReasonEvicted, &b, now))
	}

	e := &entry{
		hash: tok.Hash(),
		s: sessions.Session{
			ID:                id.New("ses_", now),
			UserID:            n.UserID,
			Username:          n.Username,
			DeviceID:          n.DeviceID,
			WarehouseID:       n.WarehouseID,
			CreatedAt:         now,
			LastActiveAt:      now,
			ExpiresAt:         now.Add(p.Absolute),
			IdleTimeout:       p.Idle,
			PINChangeRequired: n.PINChangeRequired,
		},
	}
	s.insertLocked(e)
	created := sessions.Created{Session: e.s, Token: tok, Ended: ended}
	s.mu.Unlock()

	s.publishEnded(ended)
	return created, nil
}
