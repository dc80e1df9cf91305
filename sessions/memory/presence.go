package memory

import (
	"context"
	"time"
)

// presence says which instance holds a device's socket, until when.
type presence struct {
	origin string
	until  time.Time
}

// MarkOnline records that origin holds each device's socket for ttl.
func (s *Store) MarkOnline(ctx context.Context, origin string, deviceIDs []string, ttl time.Duration) error {
	if err := live(ctx); err != nil {
		return err
	}
	until := s.now().Add(ttl)
	s.presMu.Lock()
	defer s.presMu.Unlock()
	for _, id := range deviceIDs {
		s.presence[id] = presence{origin: origin, until: until}
	}
	return nil
}

// MarkOffline forgets each device's presence that origin still holds.
func (s *Store) MarkOffline(ctx context.Context, origin string, deviceIDs []string) error {
	if err := live(ctx); err != nil {
		return err
	}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	for _, id := range deviceIDs {
		if p, ok := s.presence[id]; ok && p.origin == origin {
			delete(s.presence, id)
		}
	}
	return nil
}

// Online reports which of the devices hold a socket now.
func (s *Store) Online(ctx context.Context, deviceIDs []string) (map[string]bool, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	out := make(map[string]bool, len(deviceIDs))
	s.presMu.Lock()
	defer s.presMu.Unlock()
	for _, id := range deviceIDs {
		p, ok := s.presence[id]
		switch {
		case ok && now.Before(p.until):
			out[id] = true
		case ok:
			delete(s.presence, id)
			out[id] = false
		default:
			out[id] = false
		}
	}
	return out, nil
}

// sweepPresence forgets lapsed presence, at most once a
// presenceSweepEvery, so the table holds about the devices online.
func (s *Store) sweepPresence(now time.Time) {
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if now.Sub(s.presSweptAt) < presenceSweepEvery {
		return
	}
	s.presSweptAt = now
	for id, p := range s.presence {
		if !now.Before(p.until) {
			delete(s.presence, id)
		}
	}
}
