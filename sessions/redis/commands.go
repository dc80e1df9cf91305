package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
		return sessions.Command{}, fmt.Errorf("read command: %w", sessions.ErrNotFound)
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
	if n == 0 {
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
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
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
	var out []sessions.Command
	var done []any
	for i, c := range cmds {
		m := c.Val()
		if m["id"] == "" {
			done = append(done, ids[i])
			continue
		}
		cmd := commandFromHash(m)
		switch cmd.Status(now) {
		case sessions.StatusPending, sessions.StatusDelivered:
			out = append(out, cmd)
		case sessions.StatusAcked:
			done = append(done, ids[i])
		}
	}
	if len(done) > 0 {
		if err := s.c.ZRem(ctx, q, done...).Err(); err != nil {
			s.log.WarnContext(ctx, "sessions/redis: trimming the command queue failed", "device_id", deviceID, "err", err)
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
