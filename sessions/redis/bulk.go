package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// A warehouse's bulk end. Ending 6,000 sessions one bucket at a time
// costs Redis about 46 µs each, so the last device heard of it after
// the last script. EndWarehouse instead:
//
//  1. one script on the warehouse's slot writes its "ended before"
//     watermark P{w:<warehouse>}eb (a hash: t = the end's time in
//     microseconds, never moved back; r = its reason) and reads the
//     warehouse index;
//  2. one pipeline reads the sessions (HGETALL each);
//  3. one PUBLISH of a KindWarehouseEnded event carrying every command
//     (ids made as the end script makes them, created at the end's time),
//     which every instance applies to its own sockets at once;
//  4. the per-session records in batches, as before (endIDs: journal,
//     end scripts, queues, KindEnded events) with the same time, so each
//     record matches what the devices were sent.
//
// From step 1 on, Validate refuses a session of the warehouse created
// before the watermark (on a single server inside its script; on
// Cluster with one more GET), so a token stops working when the
// watermark is written, before its record is. A Create racing the end
// reads the watermark after its session is written: if its session was
// created before it, Create ends that session itself (its command
// queued) and fails with ErrUnavailable (the login is tried again).
// Either the session was written before step 1 read the index, and
// steps 2 to 4 end it, or Create's read follows step 1's write and
// Create ends it: no session created before the watermark is left
// refused without a command.
//
// maxBulk bounds the sessions one EndWarehouse reads at once.
const maxBulk = 100_000

// bulkScript: KEYS watermark, warehouse index. ARGV now, reason, ttl ms,
// max ids. Returns the watermark in force and the index's ids.
var bulkScript = goredis.NewScript(`
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if tonumber(ARGV[1]) > t then
  redis.call('HSET', KEYS[1], 't', ARGV[1], 'r', ARGV[2])
  t = tonumber(ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {tostring(t), redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1)}
`)

// watermarkTTL keeps a warehouse's watermark as long as any session
// created before it could have lived (the longest absolute timeout, 7
// days) and a margin.
const watermarkTTL = 7*24*time.Hour + redisval.KeyMargin

func (s *Store) watermarkKey(wh string) string { return s.prefix + "{w:" + wh + "}eb" }

// EndWarehouse ends every session of a warehouse (see above).
func (s *Store) EndWarehouse(ctx context.Context, warehouseID string, r sessions.Reason) ([]sessions.Command, error) {
	at := time.UnixMicro(redisval.Micros(s.now())).UTC()
	res, err := bulkScript.Run(ctx, s.c, []string{s.watermarkKey(warehouseID), s.warehouseKey(warehouseID)},
		redisval.Micros(at), string(r), redisval.TTLMillis(watermarkTTL), maxBulk).Slice()
	if err != nil {
		return nil, fmt.Errorf("end warehouse sessions: %w", wrapErr("watermark", err))
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("end warehouse sessions: %w: malformed script reply", sessions.ErrUnavailable)
	}
	ids := strs(res[1])
	if len(ids) == 0 {
		return nil, nil
	}
	live, err := s.read(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("end warehouse sessions: %w", err)
	}
	if len(live) > 0 {
		bulk := make([]sessions.Command, len(live))
		for i, v := range live {
			bulk[i] = sessions.Command{
				ID: commandIDOf(v.ID), SessionID: v.ID, UserID: v.UserID, DeviceID: v.DeviceID,
				WarehouseID: v.WarehouseID, Reason: r, CreatedAt: at,
			}
		}
		// At most once, like every event: the records below are the
		// truth, and each still publishes its KindEnded event.
		if err := s.Publish(ctx, sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: warehouseID, Commands: bulk}); err != nil {
			s.log.WarnContext(ctx, "sessions/redis: publishing a warehouse's end failed; the per-session events follow",
				"warehouse_id", warehouseID, "err", err)
		}
	}
	cmds, err := s.endIDsAt(ctx, ids, r, nil, at)
	if err != nil {
		return cmds, fmt.Errorf("end warehouse sessions: %w", err)
	}
	return cmds, nil
}

// commandIDOf is the id of a session's command, as the end script makes it.
func commandIDOf(sid string) string {
	if rest, ok := strings.CutPrefix(sid, "ses_"); ok {
		return "cmd_" + rest
	}
	return "cmd_" + sid
}

// endedBefore reports whether a session of warehouse wh created at
// created (microseconds) is refused by the warehouse's watermark: one
// HGET (Validate on Cluster, Create).
func (s *Store) endedBefore(ctx context.Context, wh string, created int64) (bool, sessions.Reason, error) {
	v, err := s.c.HMGet(ctx, s.watermarkKey(wh), "t", "r").Result()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return false, "", nil
		}
		return false, "", wrapErr("read watermark", err)
	}
	t := redisval.Atoi(redisval.Str(v[0]))
	return created < t, sessions.Reason(redisval.Str(v[1])), nil
}

// raced ends a session that Create has just written if its warehouse's
// watermark says it was ended before (an EndWarehouse ran meanwhile and
// may not have seen it), and returns ErrUnavailable then.
func (s *Store) raced(ctx context.Context, sid, wh string, created time.Time) error {
	before, r, err := s.endedBefore(ctx, wh, redisval.Micros(created))
	if err == nil && !before {
		return nil
	}
	if r == "" {
		r = sessions.ReasonAdmin
	}
	// An unreadable watermark fails closed: the session is ended too.
	if _, eerr := s.End(context.WithoutCancel(ctx), sid, r); eerr != nil && !errors.Is(eerr, sessions.ErrNotFound) {
		return fmt.Errorf("create session: ending the session a warehouse logout overtook: %w", eerr)
	}
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return fmt.Errorf("create session: %w: the warehouse was logged out meanwhile", sessions.ErrUnavailable)
}
