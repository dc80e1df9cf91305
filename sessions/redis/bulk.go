package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
//     (ids made as the end script makes them, created at the end's time)
//     in its compact form (bulkevent.go), which every instance applies
//     to its own sockets at once;
//  4. the per-session records in batches, as before (endIDs: journal,
//     end scripts, queues) with the same time, so each record matches
//     what the devices were sent, but without a KindEnded event per
//     session: every instance has applied the one event already, and
//     6,333 more events cost every instance a decode each while the
//     frames were going out. Instead the one event goes out once more
//     after the records (step 5);
//  5. the same KindWarehouseEnded event again, so that a socket opened
//     between steps 3 and 4 (whose welcome did not carry the command,
//     not queued yet) is pushed its logout at once; a socket that has it
//     already pushes nothing twice. An instance that missed both (pub/sub
//     is at most once) lost its subscription, hears KindLost and
//     re-reads the queues of its sockets, which the records have filled.
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
func (s *Store) bulkKey() string               { return s.prefix + "{g}bulk" }

var _ sessions.WarehouseStarter = (*Store)(nil)

// EndWarehouse ends every session of a warehouse (see above).
func (s *Store) EndWarehouse(ctx context.Context, warehouseID string, r sessions.Reason) ([]sessions.Command, error) {
	_, finish, err := s.StartEndWarehouse(ctx, warehouseID, r)
	if err != nil {
		return nil, err
	}
	return finish(ctx)
}

// StartEndWarehouse is EndWarehouse up to its one event
// (sessions.WarehouseStarter): it writes a bulk journal entry
// P{g}bulk ("<time>:<reason>:<warehouse>"), the watermark, reads the
// sessions and publishes the event. finish writes the records and
// removes the entry; an entry older than journalGrace is finished by
// Sweep (recoverBulk), so the records are written even if the caller
// dies before finish.
func (s *Store) StartEndWarehouse(ctx context.Context, warehouseID string, r sessions.Reason) ([]sessions.Command, func(context.Context) ([]sessions.Command, error), error) {
	at := time.UnixMicro(redisval.Micros(s.now())).UTC()
	member := strconv.FormatInt(redisval.Micros(at), 10) + ":" + string(r) + ":" + warehouseID
	if err := s.c.ZAdd(ctx, s.bulkKey(), goredis.Z{Score: float64(redisval.Micros(at)), Member: member}).Err(); err != nil {
		return nil, nil, fmt.Errorf("end warehouse sessions: %w", wrapErr("journal", err))
	}
	res, err := bulkScript.Run(ctx, s.c, []string{s.watermarkKey(warehouseID), s.warehouseKey(warehouseID)},
		redisval.Micros(at), string(r), redisval.TTLMillis(watermarkTTL), maxBulk).Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("end warehouse sessions: %w", wrapErr("watermark", err))
	}
	if len(res) != 2 {
		return nil, nil, fmt.Errorf("end warehouse sessions: %w: malformed script reply", sessions.ErrUnavailable)
	}
	ids := strs(res[1])
	live, err := s.read(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("end warehouse sessions: %w", err)
	}
	bulk := make([]sessions.Command, len(live))
	for i, v := range live {
		bulk[i] = sessions.Command{
			ID: commandIDOf(v.ID), SessionID: v.ID, UserID: v.UserID, DeviceID: v.DeviceID,
			WarehouseID: v.WarehouseID, Reason: r, CreatedAt: at,
		}
	}
	ev := sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: warehouseID, Commands: bulk}
	if len(bulk) > 0 {
		// At most once, like every event: the records are the truth,
		// and finish publishes the event once more after them.
		if err := s.Publish(ctx, ev); err != nil {
			s.log.WarnContext(ctx, "sessions/redis: publishing a warehouse's end failed; it goes again after the records",
				"warehouse_id", warehouseID, "err", err)
		}
	}
	finish := func(ctx context.Context) ([]sessions.Command, error) {
		cmds, err := s.endIDsAt(ctx, ids, r, nil, at, false)
		if err != nil {
			// The entry stays: Sweep finishes, publishing a KindEnded
			// event for each session it ends.
			return cmds, fmt.Errorf("end warehouse sessions: %w", err)
		}
		if len(bulk) > 0 {
			if err := s.Publish(ctx, ev); err != nil {
				s.log.WarnContext(ctx, "sessions/redis: publishing a warehouse's end after its records failed; the re-checks push from the queues",
					"warehouse_id", warehouseID, "err", err)
			}
		}
		if err := s.c.ZRem(ctx, s.bulkKey(), member).Err(); err != nil {
			s.log.WarnContext(ctx, "sessions/redis: clearing a warehouse end's journal entry failed", "err", err)
		}
		return cmds, nil
	}
	return bulk, finish, nil
}

// recoverBulk finishes the warehouse ends whose journal entry is older
// than journalGrace: it ends the sessions of the warehouse's index
// created before the end (the watermark refuses them already) with the
// end's reason and time, then removes the entry.
func (s *Store) recoverBulk(ctx context.Context, now time.Time) error {
	members, err := s.c.ZRangeByScore(ctx, s.bulkKey(), &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(redisval.Micros(now.Add(-journalGrace)), 10), Count: 10,
	}).Result()
	if err != nil {
		return wrapErr("read bulk journal", err)
	}
	for _, m := range members {
		ts, rest, _ := strings.Cut(m, ":")
		r, wh, _ := strings.Cut(rest, ":")
		at := redisval.FromMicros(redisval.Atoi(ts))
		ids, err := s.c.ZRange(ctx, s.warehouseKey(wh), 0, maxBulk-1).Result()
		if err != nil {
			return wrapErr("read warehouse index", err)
		}
		live, err := s.read(ctx, ids)
		if err != nil {
			return err
		}
		var before []string
		for _, v := range live {
			if v.CreatedAt.Before(at) {
				before = append(before, v.ID)
			}
		}
		// A KindEnded event per session ended here: this end's caller
		// may have died before it recorded their custody, which the
		// instances note from these events.
		if _, err := s.endIDsAt(ctx, before, sessions.Reason(r), nil, at, true); err != nil {
			return err
		}
		if err := s.c.ZRem(ctx, s.bulkKey(), m).Err(); err != nil {
			return wrapErr("clear bulk journal", err)
		}
	}
	return nil
}

// pendingBulk is the command of a session that a warehouse end has
// refused but whose record is not written yet (its finish is running):
// Command answers it as pending, so that the ids the end answered can be
// read at once. ok is false when there is no such session.
func (s *Store) pendingBulk(ctx context.Context, cid string) (sessions.Command, bool) {
	rest, ok := strings.CutPrefix(cid, "cmd_")
	b, okb := bucketFromID(cid)
	if !ok || !okb {
		return sessions.Command{}, false
	}
	sid := "ses_" + rest
	m, err := s.c.HGetAll(ctx, s.sessionKey(b, sid)).Result()
	if err != nil || m["u"] == "" {
		return sessions.Command{}, false
	}
	v := sessionFromHash(sid, m)
	wm, err := s.c.HMGet(ctx, s.watermarkKey(v.WarehouseID), "t", "r").Result()
	if err != nil {
		return sessions.Command{}, false
	}
	t := redisval.Atoi(redisval.Str(wm[0]))
	if redisval.Micros(v.CreatedAt) >= t {
		return sessions.Command{}, false
	}
	return sessions.Command{
		ID: cid, SessionID: sid, UserID: v.UserID, DeviceID: v.DeviceID, WarehouseID: v.WarehouseID,
		Reason: sessions.Reason(redisval.Str(wm[1])), CreatedAt: redisval.FromMicros(t),
	}, true
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

// earlyScript records the delivery (ARGV ack "0") or the delivery and
// acknowledgement ("1") of a command whose record is not written yet:
// the end script's HSET later adds the record's fields beside them.
// KEYS command. ARGV now, ack, ttl ms.
var earlyScript = goredis.NewScript(`
redis.call('HSETNX', KEYS[1], 'dv', ARGV[1])
if ARGV[2] == '1' then redis.call('HSETNX', KEYS[1], 'ak', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// earlyWholeScript is early on a single server: KEYS command. ARGV
// session key, prefix, now, ack, ttl ms, device ("" for a delivery).
// 1 when written; 0 when the session is gone, is another device's, or
// its warehouse's watermark does not refuse it.
var earlyWholeScript = goredis.NewScript(`
local f = redis.call('HMGET', ARGV[1], 'd', 'w', 'c')
if not f[1] then return 0 end
if ARGV[6] ~= '' and f[1] ~= ARGV[6] then return 0 end
local t = redis.call('HGET', ARGV[2] .. '{w:' .. f[2] .. '}eb', 't')
if not t or tonumber(f[3]) >= tonumber(t) then return 0 end
redis.call('HSETNX', KEYS[1], 'dv', ARGV[3])
if ARGV[4] == '1' then redis.call('HSETNX', KEYS[1], 'ak', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// early records the delivery of a warehouse end's command (and its
// acknowledgement when deviceID is set) that a device heard of from the
// one event before the command's record was written: only for a
// session that the warehouse's watermark refuses, and for its device.
// Otherwise (or when Redis fails) false: the caller answers ErrNotFound
// as before, and the frame is sent again from the queue.
func (s *Store) early(ctx context.Context, b, cid, deviceID string) bool {
	ack := "0"
	if deviceID != "" {
		ack = "1"
	}
	if !s.cluster {
		// One round trip: the script reads the session and the watermark
		// (a single server holds every slot).
		rest, ok := strings.CutPrefix(cid, "cmd_")
		if !ok {
			return false
		}
		n, err := earlyWholeScript.Run(ctx, s.c, []string{s.commandKey(b, cid)},
			s.sessionKey(b, "ses_"+rest), s.prefix, redisval.Micros(s.now()), ack,
			redisval.TTLMillis(sessions.CommandTTL+redisval.KeyMargin), deviceID).Int64()
		return err == nil && n == 1
	}
	c, ok := s.pendingBulk(ctx, cid)
	if !ok || (deviceID != "" && c.DeviceID != deviceID) {
		return false
	}
	err := earlyScript.Run(ctx, s.c, []string{s.commandKey(b, cid)},
		redisval.Micros(s.now()), ack, redisval.TTLMillis(sessions.CommandTTL+redisval.KeyMargin)).Err()
	return err == nil
}
