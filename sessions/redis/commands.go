package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// Command reads a logout command by id.
func (s *Store) Command(ctx context.Context, id string) (sessions.Command, error) {
	b, ok := bucketFromID(id)
	if !ok {
		return sessions.Command{}, fmt.Errorf("read command: %w", sessions.ErrNotFound)
	}
	m, err := s.c.HGetAll(ctx, s.commandKey(b, id)).Result()
	if err != nil {
		return sessions.Command{}, wrapErr("read command", err)
	}
	if m["id"] == "" {
		// A warehouse end's command before its record (bulk.go).
		if c, ok := s.pendingBulk(ctx, id); ok {
			c.DeliveredAt, c.AckedAt = timePtr(m["dv"]), timePtr(m["ak"])
			return c, nil
		}
		// The end script may have written the record and removed the
		// session between the two reads (it does both at once): read
		// the record again before answering not found.
		if m, err = s.c.HGetAll(ctx, s.commandKey(b, id)).Result(); err != nil {
			return sessions.Command{}, wrapErr("read command", err)
		}
		if m["id"] == "" {
			return sessions.Command{}, fmt.Errorf("read command: %w", sessions.ErrNotFound)
		}
	}
	return commandFromHash(m), nil
}

// Delivered marks a command sent to its device, the first time only.
func (s *Store) Delivered(ctx context.Context, id string) error {
	b, ok := bucketFromID(id)
	if !ok {
		return fmt.Errorf("mark command delivered: %w", sessions.ErrNotFound)
	}
	n, err := deliveredScript.Run(ctx, s.c, []string{s.commandKey(b, id)}, redisval.Micros(s.now())).Int64()
	if err != nil {
		return wrapErr("mark command delivered", err)
	}
	if n == 0 {
		if s.early(ctx, b, id, "") {
			return nil
		}
		return fmt.Errorf("mark command delivered: %w", sessions.ErrNotFound)
	}
	return nil
}

// Ack records the device's acknowledgement on the command, then takes
// the command out of the device's queue (Pending skips acknowledged
// commands anyway, so a failure of the second step loses nothing).
func (s *Store) Ack(ctx context.Context, deviceID, commandID string) error {
	b, ok := bucketFromID(commandID)
	if !ok {
		return fmt.Errorf("ack command: %w", sessions.ErrNotFound)
	}
	n, err := ackScript.Run(ctx, s.c, []string{s.commandKey(b, commandID)}, deviceID, redisval.Micros(s.now())).Int64()
	if err != nil {
		return wrapErr("ack command", err)
	}
	if n == 0 && !s.early(ctx, b, commandID, deviceID) {
		return fmt.Errorf("ack command: %w", sessions.ErrNotFound)
	}
	if err := s.c.ZRem(ctx, s.deviceQueueKey(deviceID), commandID).Err(); err != nil {
		s.log.WarnContext(ctx, "sessions/redis: removing an acknowledged command from the queue failed",
			"device_id", deviceID, "err", err)
	}
	return nil
}

// Pending lists the device's commands that are neither acknowledged nor
// expired at the clock's now, oldest first. It reads the device's queue
// (a sorted set by creation time), then the commands.
func (s *Store) Pending(ctx context.Context, deviceID string) ([]sessions.Command, error) {
	now := s.now()
	q := s.deviceQueueKey(deviceID)
	since := "(" + strconv.FormatInt(redisval.Micros(now.Add(-sessions.CommandTTL)), 10)
	ids, err := s.c.ZRangeByScore(ctx, q, &goredis.ZRangeBy{Min: since, Max: "+inf"}).Result()
	if err != nil {
		return nil, wrapErr("list pending commands", err)
	}
	return s.pendingAmong(ctx, now, deviceID, ids)
}

// pendingAmong reads the commands ids of the device's queue and returns
// those pending at now; those acknowledged or gone are trimmed from the
// queue.
func (s *Store) pendingAmong(ctx context.Context, now time.Time, deviceID string, ids []string) ([]sessions.Command, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	m, err := s.readPending(ctx, now, ids, func(string) string { return deviceID })
	if err != nil {
		return nil, err
	}
	if done := m[""]; len(done) > 0 {
		ids := make([]any, len(done))
		for i, c := range done {
			ids[i] = c.ID
		}
		if err := s.c.ZRem(ctx, s.deviceQueueKey(deviceID), ids...).Err(); err != nil {
			s.log.WarnContext(ctx, "sessions/redis: trimming the command queue failed", "device_id", deviceID, "err", err)
		}
	}
	return m[deviceID], nil
}

// pendingCommand is the command of a hash if it is pending or delivered
// (not acknowledged, not expired) at now.
func pendingCommand(now time.Time, m map[string]string) (sessions.Command, bool) {
	if m["id"] == "" {
		return sessions.Command{}, false
	}
	c := commandFromHash(m)
	st := c.Status(now)
	return c, st == sessions.StatusPending || st == sessions.StatusDelivered
}

// PendingMany is Pending for many devices: one pipeline reads every
// device's queue, one more the commands queued in them. Unlike Pending
// it leaves acknowledged commands in the queues (Pending trims them).
func (s *Store) PendingMany(ctx context.Context, deviceIDs []string) (map[string][]sessions.Command, error) {
	out := make(map[string][]sessions.Command)
	if len(deviceIDs) == 0 {
		return out, nil
	}
	now := s.now()
	since := "(" + strconv.FormatInt(redisval.Micros(now.Add(-sessions.CommandTTL)), 10)
	queues := make([]*goredis.StringSliceCmd, len(deviceIDs))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range deviceIDs {
			queues[i] = p.ZRangeByScore(ctx, s.deviceQueueKey(d), &goredis.ZRangeBy{Min: since, Max: "+inf"})
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr("list pending commands", err)
	}
	var ids []string
	owner := map[string]string{}
	for i, q := range queues {
		for _, id := range q.Val() {
			ids = append(ids, id)
			owner[id] = deviceIDs[i]
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	m, err := s.readPending(ctx, now, ids, func(id string) string { return owner[id] })
	if err != nil {
		return nil, err
	}
	for d, cmds := range m {
		if d != "" {
			out[d] = cmds
		}
	}
	return out, nil
}

// readPending reads the commands ids (queued for the devices deviceOf
// names) in one pipeline and returns, per device, those pending or
// delivered at now, in the order of ids. Ids whose command is gone or
// acknowledged come back under "" for Pending to trim.
func (s *Store) readPending(ctx context.Context, now time.Time, ids []string, deviceOf func(string) string) (map[string][]sessions.Command, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			b, ok := bucketFromID(id)
			if !ok {
				b = "-"
			}
			cmds[i] = p.HGetAll(ctx, s.commandKey(b, id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, wrapErr("list pending commands", err)
	}
	out := map[string][]sessions.Command{}
	for i, c := range cmds {
		m := c.Val()
		if m["id"] == "" {
			out[""] = append(out[""], sessions.Command{ID: ids[i]})
			continue
		}
		cmd := commandFromHash(m)
		switch cmd.Status(now) {
		case sessions.StatusPending, sessions.StatusDelivered:
			d := deviceOf(ids[i])
			out[d] = append(out[d], cmd)
		case sessions.StatusAcked:
			out[""] = append(out[""], sessions.Command{ID: ids[i]})
		}
	}
	return out, nil
}

func commandFromHash(m map[string]string) sessions.Command {
	c := sessions.Command{
		ID:          m["id"],
		SessionID:   m["s"],
		UserID:      m["u"],
		DeviceID:    m["d"],
		WarehouseID: m["w"],
		Reason:      sessions.Reason(m["r"]),
		CreatedAt:   redisval.FromMicros(redisval.Atoi(m["c"])),
		DeliveredAt: timePtr(m["dv"]),
		AckedAt:     timePtr(m["ak"]),
	}
	if m["bd"] != "" {
		c.By = &sessions.By{DeviceID: m["bd"], WarehouseID: m["bw"], At: redisval.FromMicros(redisval.Atoi(m["ba"]))}
	}
	return c
}
