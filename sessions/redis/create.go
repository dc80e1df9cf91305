package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// Create ends the session open on n.DeviceID (ReasonReplaced), then, in
// one Lua script over the user's bucket, ends the oldest-created live
// sessions until there is room under p.Cap (ReasonEvicted), or returns
// ErrLimit when p.DenyNew, and inserts the new session. doc.go gives the
// order of the steps and why each failure in between is safe.
func (s *Store) Create(ctx context.Context, n sessions.NewSession, p sessions.Policy) (sessions.Created, error) {
	if n.UserID == "" || n.DeviceID == "" {
		return sessions.Created{}, fmt.Errorf("create session: %w: user id and device id are required", sessions.ErrInvalid)
	}
	if p.Cap < 1 || p.Idle <= 0 || p.Absolute <= 0 {
		return sessions.Created{}, fmt.Errorf("create session for user %s: %w: policy cap %d, idle %v, absolute %v",
			n.UserID, sessions.ErrInvalid, p.Cap, p.Idle, p.Absolute)
	}
	now := time.UnixMicro(redisval.Micros(s.now())).UTC()
	b := bucketOf(n.UserID)
	sid := newID("ses_", now, b)
	tok := newToken(b)
	th := tok.Hash()
	expires := now.Add(p.Absolute)
	gc := p.Absolute + redisval.KeyMargin
	devKey := s.deviceSessionsKey(n.DeviceID)

	// Step 1: the indexes outside the bucket, written before the session
	// exists (an entry without a session is skipped by every reader), the
	// journal entry for the evictions step 3 may make, and the sessions
	// now open on the device.
	journal := []string{randomHex() + ":" + b}
	var open *goredis.StringSliceCmd
	_, err := s.c.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		pl.ZAdd(ctx, s.journalKey(), goredis.Z{Score: float64(redisval.Micros(now)), Member: journal[0]})
		open = pl.SMembers(ctx, devKey)
		pl.SAdd(ctx, devKey, sid)
		pl.ExpireNX(ctx, devKey, gc)
		pl.ExpireGT(ctx, devKey, gc)
		pl.ZAdd(ctx, s.warehouseKey(n.WarehouseID), goredis.Z{Score: 0, Member: sid})
		pl.ZAdd(ctx, s.absKey(), goredis.Z{Score: float64(redisval.Micros(expires)), Member: sid})
		pl.ZAdd(ctx, s.idleKey(), goredis.Z{Score: float64(redisval.Micros(now.Add(p.Idle))), Member: sid})
		pl.ZAdd(ctx, s.warnKey(), goredis.Z{Score: float64(redisval.Micros(expires.Add(-sessions.WarningLead))), Member: sid})
		return nil
	})
	if err != nil {
		return sessions.Created{}, wrapErr("create session", err)
	}
	by := &sessions.By{DeviceID: n.DeviceID, WarehouseID: n.WarehouseID, At: now}

	// Step 2: end what is open on the device in other buckets, each
	// through its own user's bucket (the create script ends this bucket's
	// itself). Under DenyNew this waits until the script has not refused:
	// a refusal changes nothing.
	var same, others []string
	for _, id := range open.Val() {
		if id == sid {
			continue
		}
		if ib, _ := bucketFromID(id); ib == b {
			same = append(same, id)
		} else {
			others = append(others, id)
		}
	}
	var ended []sessions.Command
	replaceOthers := func() error {
		if len(others) == 0 {
			return nil
		}
		cmds, err := s.endIDs(ctx, others, sessions.ReasonReplaced, by)
		ended = append(ended, cmds...)
		return err
	}
	if !p.DenyNew {
		if err := replaceOthers(); err != nil {
			return sessions.Created{Ended: ended}, fmt.Errorf("create session: %w", err)
		}
	}

	// Step 3: the atomic step for the user.
	keys := []string{s.userKey(b, n.UserID), s.sessionKey(b, sid), s.tokenKey(b, th), s.outboxKey(b)}
	deny, pin := "0", "0"
	if p.DenyNew {
		deny = "1"
	}
	if n.PINChangeRequired {
		pin = "1"
	}
	args := []any{s.bp(b), redisval.Micros(now), p.Cap, deny, "1", sid, n.Username, n.DeviceID, n.WarehouseID,
		redisval.Micros(expires), redisval.DurMicros(p.Idle), pin, th, gc.Milliseconds(), redisval.TTLMillis(sessions.CommandTTL), n.UserID}
	for _, id := range same {
		args = append(args, id)
	}
	res, err := createScript.Run(ctx, s.c, keys, args...).Slice()
	if err != nil {
		// Whether the script ran is unknown, so the index entries of
		// step 1 stay: they are harmless without a session, and needed
		// with one.
		return sessions.Created{Ended: ended}, wrapErr("create session", err)
	}
	if len(res) == 0 {
		return sessions.Created{Ended: ended}, fmt.Errorf("create session: %w: empty script reply", sessions.ErrUnavailable)
	}
	switch redisval.Str(res[0]) {
	case "deny":
		s.dropIndexes(ctx, sid, n.DeviceID, n.WarehouseID, journal)
		return sessions.Created{Ended: ended}, fmt.Errorf("create session: %w", sessions.ErrLimit)
	case "ok":
	default:
		return sessions.Created{Ended: ended}, fmt.Errorf("create session: %w: unexpected script reply %q", sessions.ErrUnavailable, redisval.Str(res[0]))
	}
	evicted, err := parseCommands(res[1:])
	if err != nil {
		return sessions.Created{Ended: ended}, fmt.Errorf("create session: %w", err)
	}
	if len(evicted) > 0 {
		s.finish(ctx, evicted, journal)
		journal = nil
	}
	ended = append(ended, evicted...)
	if p.DenyNew {
		if err := replaceOthers(); err != nil {
			// The session exists; step 4 or the next login on the device
			// ends what is left there.
			s.log.WarnContext(ctx, "sessions/redis: ending the device's previous session failed",
				"device_id", n.DeviceID, "session_id", sid, "err", err)
		}
	}

	// Step 4: a login that raced this one on the same device may have
	// missed it in step 2. Of the sessions open on a device the newest
	// (greatest id) stays; each Create ends the older ones it sees. The
	// unused journal entry goes in the same round trip.
	var onDevice *goredis.StringSliceCmd
	_, _ = s.c.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		onDevice = pl.SMembers(ctx, devKey)
		if len(journal) > 0 {
			pl.ZRem(ctx, s.journalKey(), journal[0])
		}
		return nil
	})
	if now, err := onDevice.Result(); err != nil {
		s.log.WarnContext(ctx, "sessions/redis: re-reading the device's sessions failed",
			"device_id", n.DeviceID, "session_id", sid, "err", err)
	} else {
		var older []string
		for _, id := range now {
			if id < sid {
				older = append(older, id)
			}
		}
		if len(older) > 0 {
			cmds, err := s.endIDs(ctx, older, sessions.ReasonReplaced, by)
			ended = append(ended, cmds...)
			if err != nil {
				s.log.WarnContext(ctx, "sessions/redis: ending an older session on the device failed",
					"device_id", n.DeviceID, "session_id", sid, "err", err)
			}
		}
	}

	// A warehouse logout that ran meanwhile may have missed this
	// session: its watermark decides (bulk.go).
	if err := s.raced(ctx, sid, n.WarehouseID, now); err != nil {
		return sessions.Created{Ended: ended}, err
	}

	return sessions.Created{
		Session: sessions.Session{
			ID:                sid,
			UserID:            n.UserID,
			Username:          n.Username,
			DeviceID:          n.DeviceID,
			WarehouseID:       n.WarehouseID,
			CreatedAt:         now,
			LastActiveAt:      now,
			ExpiresAt:         expires,
			IdleTimeout:       p.Idle,
			PINChangeRequired: n.PINChangeRequired,
		},
		Token: tok,
		Ended: ended,
	}, nil
}

// dropIndexes removes the index entries and the journal entry of a
// session that was not made.
func (s *Store) dropIndexes(ctx context.Context, sid, dev, wh string, journal []string) {
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		s.unindex(ctx, p, sid, dev, wh)
		for _, j := range journal {
			p.ZRem(ctx, s.journalKey(), j)
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "sessions/redis: dropping index entries failed", "session_id", sid, "err", err)
	}
}
