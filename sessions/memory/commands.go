package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// Pending lists the device's commands neither acknowledged nor older than
// sessions.CommandTTL, oldest first.
func (s *Store) Pending(ctx context.Context, deviceID string) ([]sessions.Command, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pendingLocked(deviceID, now), nil
}

// pendingLocked is Pending's list; s.mu must be held.
func (s *Store) pendingLocked(deviceID string, now time.Time) []sessions.Command {
	var out []sessions.Command
	for _, id := range s.queues[deviceID] {
		c := s.commands[id]
		if c == nil {
			continue
		}
		if st := c.Status(now); st == sessions.StatusPending || st == sessions.StatusDelivered {
			out = append(out, cloneCommand(c))
		}
	}
	return out
}

// PendingMany is Pending for each device, under one read lock.
func (s *Store) PendingMany(ctx context.Context, deviceIDs []string) (map[string][]sessions.Command, error) {
	if err := live(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	out := make(map[string][]sessions.Command)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, d := range deviceIDs {
		if cmds := s.pendingLocked(d, now); len(cmds) > 0 {
			out[d] = cmds
		}
	}
	return out, nil
}

// Command reads a command by id while it is retained
// (Options.CommandRetention), whatever its status.
func (s *Store) Command(ctx context.Context, id string) (sessions.Command, error) {
	if err := live(ctx); err != nil {
		return sessions.Command{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.commands[id]
	if c == nil {
		return sessions.Command{}, fmt.Errorf("command %s: %w", id, sessions.ErrNotFound)
	}
	return cloneCommand(c), nil
}

// Delivered records the first time a command was sent to its device.
func (s *Store) Delivered(ctx context.Context, id string) error {
	if err := live(ctx); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commands[id]
	if c == nil {
		return fmt.Errorf("command %s: %w", id, sessions.ErrNotFound)
	}
	if c.DeliveredAt == nil {
		c.DeliveredAt = &now
	}
	return nil
}

// Ack records the device's acknowledgement and takes the command off the
// device's queue. A command of another device is ErrNotFound.
func (s *Store) Ack(ctx context.Context, deviceID, commandID string) error {
	if err := live(ctx); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commands[commandID]
	if c == nil || c.DeviceID != deviceID {
		return fmt.Errorf("ack command %s: %w", commandID, sessions.ErrNotFound)
	}
	if c.AckedAt == nil {
		c.AckedAt = &now
	}
	// An acknowledgement proves delivery, even when the device answered
	// before the gateway recorded the frame as delivered.
	if c.DeliveredAt == nil {
		c.DeliveredAt = &now
	}
	s.dequeueLocked(deviceID, commandID)
	return nil
}

// DeliveredMany marks every known command of ids delivered (the first
// time only) and skips the others.
func (s *Store) DeliveredMany(ctx context.Context, ids []string) error {
	if err := live(ctx); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if c := s.commands[id]; c != nil && c.DeliveredAt == nil {
			c.DeliveredAt = &now
		}
	}
	return nil
}

// AckMany records every acknowledgement of acks that Ack would record
// and skips the others (an unknown command, another device's).
func (s *Store) AckMany(ctx context.Context, acks []sessions.Ack) error {
	if err := live(ctx); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range acks {
		c := s.commands[a.CommandID]
		if c == nil || c.DeviceID != a.DeviceID {
			continue
		}
		if c.AckedAt == nil {
			c.AckedAt = &now
		}
		if c.DeliveredAt == nil {
			c.DeliveredAt = &now
		}
		s.dequeueLocked(a.DeviceID, a.CommandID)
	}
	return nil
}

// dequeueLocked takes one command id off a device's queue.
func (s *Store) dequeueLocked(deviceID, commandID string) {
	q := s.queues[deviceID]
	if i := slices.Index(q, commandID); i >= 0 {
		q = slices.Delete(q, i, i+1)
	}
	if len(q) == 0 {
		delete(s.queues, deviceID)
	} else {
		s.queues[deviceID] = q
	}
}

// purgeCommandsLocked forgets commands older than the retention. They
// were created in clock order, so they are at the front of cmdOrder.
func (s *Store) purgeCommandsLocked() {
	now := s.now()
	for s.cmdHead < len(s.cmdOrder) {
		id := s.cmdOrder[s.cmdHead]
		if c := s.commands[id]; c != nil {
			if now.Before(c.CreatedAt.Add(s.retention)) {
				break
			}
			delete(s.commands, id)
			s.dequeueLocked(c.DeviceID, id)
		}
		s.cmdOrder[s.cmdHead] = ""
		s.cmdHead++
	}
	// Reclaim the purged prefix once it is half the slice.
	if s.cmdHead > 1024 && s.cmdHead*2 > len(s.cmdOrder) {
		s.cmdOrder = append([]string(nil), s.cmdOrder[s.cmdHead:]...)
		s.cmdHead = 0
	}
}
