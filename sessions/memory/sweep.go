package memory

import (
	"context"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// Sweep ends the sessions whose idle or absolute end has passed
// (ReasonIdle, ReasonExpired) and publishes the warnings that are due
// (sessions.WarningLead before the absolute end, once per session). It
// pops only due deadlines off the heap. A session touched since its
// deadline was queued is not due yet: its deadline goes back on the heap
// at its new end. Sweep also forgets commands past their retention and
// lapsed presence.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if err := live(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	var ended []sessions.Command
	var warnings []sessions.Warning

	s.mu.Lock()
	for {
		d, ok := s.due.popDue(now)
		if !ok {
			break
		}
		e := d.e
		if d.warn {
			e.warn = nil
			if !e.warned && !expired(&e.s, now) {
				e.warned = true
				warnings = append(warnings, sessions.Warning{SessionID: e.s.ID, DeviceID: e.s.DeviceID, At: e.s.ExpiresAt})
			}
			continue
		}
		e.end = nil
		if !expired(&e.s, now) {
			e.end = s.due.add(e.s.EndsAt(), e, false)
			continue
		}
		ended = append(ended, s.endLocked(e, expiryReason(&e.s), nil, now))
	}
	s.purgeCommandsLocked()
	s.mu.Unlock()

	s.sweepPresence(now)
	for i := range warnings {
		w := warnings[i]
		s.fan.publish(sessions.Event{Kind: sessions.KindWarning, Warning: &w})
	}
	s.publishEnded(ended)
	return len(ended), nil
}

// presenceSweepEvery bounds how often Sweep walks the presence table.
const presenceSweepEvery = time.Minute
