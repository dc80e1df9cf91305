package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/floorgate/floorgate/sessions"
)

// End ends one live session with reason r and returns its logout command.
func (s *Store) End(ctx context.Context, sessionID string, r sessions.Reason) (sessions.Command, error) {
	if err := live(ctx); err != nil {
		return sessions.Command{}, err
	}
	now := s.now()
	s.mu.Lock()
	e := s.byID[sessionID]
	if e == nil || expired(&e.s, now) {
		s.mu.Unlock()
		return sessions.Command{}, fmt.Errorf("end session %s: %w", sessionID, sessions.ErrNotFound)
	}
	c := s.endLocked(e, r, nil, now)
	s.mu.Unlock()
	s.publishEnded([]sessions.Command{c})
	return c, nil
}

// EndUser ends every live session of a user.
func (s *Store) EndUser(ctx context.Context, userID string, r sessions.Reason) ([]sessions.Command, error) {
	return s.endAll(ctx, func() []*entry { return mapValues(s.byUser[userID]) }, r)
}

// EndDevice ends every live session on a device.
func (s *Store) EndDevice(ctx context.Context, deviceID string, r sessions.Reason) ([]sessions.Command, error) {
	return s.endAll(ctx, func() []*entry { return mapValues(s.byDevice[deviceID]) }, r)
}

// EndWarehouse ends every live session in a warehouse, in one step
// under the lock (so no concurrent Create is half ended), and publishes
// one KindWarehouseEnded event with every command before their KindEnded
// events.
func (s *Store) EndWarehouse(ctx context.Context, warehouseID string, r sessions.Reason) ([]sessions.Command, error) {
	cmds, err := s.endAllQuiet(ctx, func() []*entry {
		ids := s.byWarehouse[warehouseID]
		es := make([]*entry, 0, len(ids))
		for _, id := range ids {
			if e := s.byID[id]; e != nil {
				es = append(es, e)
			}
		}
		return es
	}, r)
	if err != nil || len(cmds) == 0 {
		return cmds, err
	}
	s.fan.publish(sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: warehouseID, Commands: slices.Clone(cmds)})
	s.publishEnded(cmds)
	return cmds, nil
}

// endAll ends the live sessions pick returns (called under the lock),
// oldest first. Sessions already past their end are left to Sweep, which
// ends them with their own reason.
func (s *Store) endAll(ctx context.Context, pick func() []*entry, r sessions.Reason) ([]sessions.Command, error) {
	cmds, err := s.endAllQuiet(ctx, pick, r)
	if err != nil {
		return nil, err
	}
	s.publishEnded(cmds)
	return cmds, nil
}

// endAllQuiet is endAll without the events.
func (s *Store) endAllQuiet(ctx context.Context, pick func() []*entry, r sessions.Reason) ([]sessions.Command, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	es := pick()
	slices.SortFunc(es, byCreated)
	var cmds []sessions.Command
	for _, e := range es {
		if !expired(&e.s, now) {
			cmds = append(cmds, s.endLocked(e, r, nil, now))
		}
	}
	s.mu.Unlock()
	return cmds, nil
}

func mapValues(m map[string]*entry) []*entry {
	out := make([]*entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	return out
}
