package redis

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// Delivered marks and acknowledgements in batches (DeliveredMany,
// AckMany). A warehouse's logout pushes thousands of frames at once, and
// each written frame was one delivered script, and each device's answer
// one ack script and a ZREM: several round trips per device, after the
// frames but competing with them for the instance's CPU. A batch is one
// pipeline of markScript, one per command, on a single server (plus one
// pipeline of the acknowledged commands' ZREMs from their devices'
// queues); go-redis splits a pipeline per node on Cluster.
//
// A command of a warehouse end whose record is not written yet (the
// device heard of it from the warehouse's one event, bulk.go) is marked
// as early does: on a single server inside markScript itself, in the same
// atomic step that found no record, so that a record written between two
// round trips cannot make the mark miss both (Delivered's two steps can:
// its script finds no record, then the end script writes it and deletes
// the session, then early finds no session); on Cluster, where the
// watermark lives in another slot, by reading the sessions and the
// watermarks in two more pipelines, and running markScript again for a
// session that was ended meanwhile (its record is there by then).

// markScript marks a command delivered (ARGV device "") or acknowledged
// by device ARGV[2] (which proves its delivery too).
// KEYS command. ARGV now, device, whole ("1": a single server, where the
// script may read the session and its warehouse's watermark), session
// key, prefix, ttl ms.
// Returns 1 when marked; 0 when there is no such command of that device;
// 2 (not whole) when there is no record yet: the caller checks the
// warehouse end itself.
var markScript = goredis.NewScript(`
local d = redis.call('HGET', KEYS[1], 'd')
if d then
  if ARGV[2] ~= '' and d ~= ARGV[2] then return 0 end
  redis.call('HSETNX', KEYS[1], 'dv', ARGV[1])
  if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[1], 'ak', ARGV[1]) end
  return 1
end
if ARGV[3] ~= '1' then return 2 end
local f = redis.call('HMGET', ARGV[4], 'd', 'w', 'c')
if not f[1] then return 0 end
if ARGV[2] ~= '' and f[1] ~= ARGV[2] then return 0 end
local t = redis.call('HGET', ARGV[5] .. '{w:' .. f[2] .. '}eb', 't')
if not t or tonumber(f[3]) >= tonumber(t) then return 0 end
redis.call('HSETNX', KEYS[1], 'dv', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[1], 'ak', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`)

// mark is one command to mark: device is "" for a delivery.
type mark struct {
	id, device string
	b          string // its bucket
}

// DeliveredMany marks the commands delivered, the first time only
// (sessions.Commands).
func (s *Store) DeliveredMany(ctx context.Context, ids []string) error {
	ms := make([]mark, 0, len(ids))
	for _, id := range ids {
		if b, ok := bucketFromID(id); ok {
			ms = append(ms, mark{id: id, b: b})
		}
	}
	_, err := s.markMany(ctx, ms)
	if err != nil {
		return wrapErr("mark commands delivered", err)
	}
	return nil
}

// AckMany records the acknowledgements, then takes each acknowledged
// command out of its device's queue (sessions.Commands). As with Ack, a
// failure of the second step loses nothing: Pending skips acknowledged
// commands.
func (s *Store) AckMany(ctx context.Context, acks []sessions.Ack) error {
	ms := make([]mark, 0, len(acks))
	for _, a := range acks {
		if b, ok := bucketFromID(a.CommandID); ok && a.DeviceID != "" {
			ms = append(ms, mark{id: a.CommandID, device: a.DeviceID, b: b})
		}
	}
	done, err := s.markMany(ctx, ms)
	if err != nil {
		return wrapErr("ack commands", err)
	}
	if len(done) == 0 {
		return nil
	}
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, m := range done {
			p.ZRem(ctx, s.deviceQueueKey(m.device), m.id)
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "sessions/redis: removing acknowledged commands from their queues failed",
			"commands", len(done), "err", err)
	}
	return nil
}

// markMany runs markScript for every mark and returns those marked.
func (s *Store) markMany(ctx context.Context, ms []mark) ([]mark, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	now := redisval.Micros(s.now())
	ttl := redisval.TTLMillis(sessions.CommandTTL + redisval.KeyMargin)
	whole := "1"
	if s.cluster {
		whole = "0"
	}
	res, err := s.runMarks(ctx, ms, whole, now, ttl)
	if err != nil {
		return nil, err
	}
	var done, early []mark
	for i, m := range ms {
		switch res[i] {
		case 1:
			done = append(done, m)
		case 2:
			early = append(early, m)
		}
	}
	if len(early) == 0 {
		return done, nil
	}
	more, err := s.markEarly(ctx, early, now, ttl)
	return append(done, more...), err
}

// runMarks runs markScript for every mark in one pipeline and returns
// their answers. A script the server has not cached (NOSCRIPT: it did
// not run) is run again on its own, which loads it.
func (s *Store) runMarks(ctx context.Context, ms []mark, whole string, now, ttl int64) ([]int64, error) {
	argsOf := func(m mark) ([]string, []any) {
		return []string{s.commandKey(m.b, m.id)},
			[]any{now, m.device, whole, s.sessionKey(m.b, sessionIDOf(m.id)), s.prefix, ttl}
	}
	cmds := make([]*goredis.Cmd, len(ms))
	_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, m := range ms {
			keys, args := argsOf(m)
			cmds[i] = markScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	out := make([]int64, len(ms))
	for i, m := range ms {
		n, err := cmds[i].Int64()
		if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			keys, args := argsOf(m)
			n, err = markScript.Run(ctx, s.c, keys, args...).Int64()
		}
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// markEarly marks, on Cluster, commands that had no record when
// markScript ran: those of sessions that a warehouse's watermark refuses
// (the end has not written their records yet) are marked as early does;
// those whose session has gone meanwhile have their record by now (the
// end script deletes the session and writes the record in one step), so
// markScript runs for them once more.
func (s *Store) markEarly(ctx context.Context, ms []mark, now, ttl int64) ([]mark, error) {
	ses := make([]*goredis.SliceCmd, len(ms))
	_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, m := range ms {
			ses[i] = p.HMGet(ctx, s.sessionKey(m.b, sessionIDOf(m.id)), "d", "w", "c")
		}
		return nil
	})
	marks := map[string]int64{} // warehouse: its watermark, 0 for none
	var again []mark
	type found struct {
		m       mark
		wh      string
		created int64
	}
	var live []found
	for i, m := range ms {
		f, err := ses[i].Result()
		if err != nil {
			return nil, err
		}
		if len(f) != 3 || f[0] == nil {
			again = append(again, m)
			continue
		}
		if m.device != "" && redisval.Str(f[0]) != m.device {
			continue // another device's: as Ack, not marked
		}
		wh := redisval.Str(f[1])
		marks[wh] = 0
		live = append(live, found{m, wh, redisval.Atoi(redisval.Str(f[2]))})
	}
	if len(live) > 0 {
		whs := make([]string, 0, len(marks))
		for wh := range marks {
			whs = append(whs, wh)
		}
		wms := make([]*goredis.StringCmd, len(whs))
		_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, wh := range whs {
				wms[i] = p.HGet(ctx, s.watermarkKey(wh), "t")
			}
			return nil
		})
		for i, wh := range whs {
			v, err := wms[i].Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				return nil, err
			}
			marks[wh] = redisval.Atoi(v)
		}
	}
	var refused []mark
	for _, f := range live {
		if t := marks[f.wh]; t > 0 && f.created < t {
			refused = append(refused, f.m)
		}
	}
	var done []mark
	if len(refused) > 0 {
		res := make([]*goredis.Cmd, len(refused))
		_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, m := range refused {
				ack := "0"
				if m.device != "" {
					ack = "1"
				}
				res[i] = earlyScript.EvalSha(ctx, p, []string{s.commandKey(m.b, m.id)}, now, ack, ttl)
			}
			return nil
		})
		for i, m := range refused {
			err := res[i].Err()
			if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
				ack := "0"
				if m.device != "" {
					ack = "1"
				}
				err = earlyScript.Run(ctx, s.c, []string{s.commandKey(m.b, m.id)}, now, ack, ttl).Err()
			}
			if err != nil {
				return done, err
			}
			done = append(done, m)
		}
	}
	if len(again) > 0 {
		res, err := s.runMarks(ctx, again, "0", now, ttl)
		if err != nil {
			return done, err
		}
		for i, m := range again {
			if res[i] == 1 {
				done = append(done, m)
			}
		}
	}
	return done, nil
}

// sessionIDOf is the id of a command's session (commandIDOf's inverse).
func sessionIDOf(cid string) string {
	if rest, ok := strings.CutPrefix(cid, "cmd_"); ok {
		return "ses_" + rest
	}
	return cid
}
