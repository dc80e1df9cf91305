package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// Validate returns the live session of a token and touches it: one
// EVALSHA, which writes last_active only when TouchEvery has passed
// since the last write. Idle and absolute expiry are decided from the
// stored times against the clock.
func (s *Store) Validate(ctx context.Context, t sessions.Token) (sessions.Session, error) {
	b, ok := bucketFromID(t.Reveal())
	if !ok {
		return sessions.Session{}, fmt.Errorf("validate: %w", sessions.ErrNotFound)
	}
	th := t.Hash()
	wmPrefix := s.prefix
	if s.cluster {
		wmPrefix = ""
	}
	res, err := validateScript.Run(ctx, s.c, []string{s.tokenKey(b, th)},
		s.bp(b), th, redisval.Micros(s.now()), redisval.DurMicros(s.touchEvery), wmPrefix).Text()
	if err != nil {
		return sessions.Session{}, wrapErr("validate", err)
	}
	var f [10]string
	for i := range 9 {
		var ok bool
		if f[i], res, ok = strings.Cut(res, "\x00"); !ok {
			return sessions.Session{}, fmt.Errorf("validate: %w: malformed script reply", sessions.ErrUnavailable)
		}
	}
	f[9] = res
	if s.cluster {
		// The watermark lives in the warehouse's slot: one more read.
		before, _, err := s.endedBefore(ctx, f[4], redisval.Atoi(f[5]))
		if err != nil {
			return sessions.Session{}, fmt.Errorf("validate: %w", err)
		}
		if before {
			return sessions.Session{}, fmt.Errorf("validate: %w", sessions.ErrNotFound)
		}
	}
	return sessions.Session{
		ID:                f[0],
		UserID:            f[1],
		Username:          f[2],
		DeviceID:          f[3],
		WarehouseID:       f[4],
		CreatedAt:         redisval.FromMicros(redisval.Atoi(f[5])),
		LastActiveAt:      redisval.FromMicros(redisval.Atoi(f[6])),
		ExpiresAt:         redisval.FromMicros(redisval.Atoi(f[7])),
		IdleTimeout:       time.Duration(redisval.Atoi(f[8])) * time.Microsecond,
		PINChangeRequired: f[9] == "1",
	}, nil
}

// Session reads a live session by id without touching it.
func (s *Store) Session(ctx context.Context, id string) (sessions.Session, error) {
	list, err := s.read(ctx, []string{id})
	if err != nil {
		return sessions.Session{}, fmt.Errorf("read session: %w", err)
	}
	if len(list) == 0 {
		return sessions.Session{}, fmt.Errorf("read session: %w", sessions.ErrNotFound)
	}
	return list[0], nil
}

// ByUser lists a user's live sessions, oldest first.
func (s *Store) ByUser(ctx context.Context, userID string) ([]sessions.Session, error) {
	b := bucketOf(userID)
	ids, err := s.c.ZRange(ctx, s.userKey(b, userID), 0, -1).Result()
	if err != nil {
		return nil, wrapErr("list user sessions", err)
	}
	list, err := s.read(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list user sessions: %w", err)
	}
	return list, nil
}

// ByDevice lists a device's live sessions (normally at most one), oldest
// first.
func (s *Store) ByDevice(ctx context.Context, deviceID string) ([]sessions.Session, error) {
	ids, err := s.c.SMembers(ctx, s.deviceSessionsKey(deviceID)).Result()
	if err != nil {
		return nil, wrapErr("list device sessions", err)
	}
	slices.Sort(ids)
	list, err := s.read(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list device sessions: %w", err)
	}
	return list, nil
}

// ByWarehouse lists a warehouse's live sessions in id order, one page at
// a time, from the warehouse's sorted set (all scores 0, read by lex
// range): it never scans the keyspace.
func (s *Store) ByWarehouse(ctx context.Context, warehouseID string, p sessions.PageRequest) ([]sessions.Session, string, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 500 {
		limit = 500
	}
	var items []sessions.Session
	after := p.After
	// Bounded: each round moves the cursor past limit+1 ids; dead
	// entries are rare, so one round is the rule.
	for range 64 {
		ids, err := s.warehousePage(ctx, warehouseID, after, limit+1)
		if err != nil {
			return nil, "", fmt.Errorf("list warehouse sessions: %w", err)
		}
		list, err := s.read(ctx, ids)
		if err != nil {
			return nil, "", fmt.Errorf("list warehouse sessions: %w", err)
		}
		s.dropDead(ctx, warehouseID, ids, list)
		items = append(items, list...)
		if len(items) > limit {
			return items[:limit], items[limit-1].ID, nil
		}
		if len(ids) < limit+1 {
			return items, "", nil
		}
		after = ids[len(ids)-1]
	}
	if len(items) == 0 {
		return nil, "", nil
	}
	return items, items[len(items)-1].ID, nil
}

// warehousePage returns up to n ids of the warehouse index after the
// given one.
func (s *Store) warehousePage(ctx context.Context, warehouseID, after string, n int) ([]string, error) {
	min := "-"
	if after != "" {
		min = "(" + after
	}
	ids, err := s.c.ZRangeByLex(ctx, s.warehouseKey(warehouseID), &goredis.ZRangeBy{
		Min: min, Max: "+", Count: int64(n),
	}).Result()
	if err != nil {
		return nil, wrapErr("read warehouse index", err)
	}
	return ids, nil
}

// dropDead removes warehouse index entries whose session is gone and
// whose id is older than deadGrace (younger ones may belong to a Create
// in flight, which writes the index first).
func (s *Store) dropDead(ctx context.Context, warehouseID string, ids []string, live []sessions.Session) {
	if len(ids) == len(live) {
		return
	}
	alive := make(map[string]bool, len(live))
	for _, v := range live {
		alive[v.ID] = true
	}
	cutoff := newID("ses_", s.now().Add(-deadGrace), "")
	var dead []any
	for _, id := range ids {
		if !alive[id] && id < cutoff {
			dead = append(dead, id)
		}
	}
	if len(dead) == 0 {
		return
	}
	// Only ids of sessions that are gone are removed: a session that is
	// merely expired (not yet swept) still exists and keeps its entry.
	if err := s.c.ZRem(ctx, s.warehouseKey(warehouseID), dead...).Err(); err != nil {
		s.log.WarnContext(ctx, "sessions/redis: dropping dead index entries failed",
			"warehouse_id", warehouseID, "err", err)
	}
}

// read returns the live sessions among ids, in the order given. One
// pipeline of HGETALLs (split per node on Cluster).
func (s *Store) read(ctx context.Context, ids []string) ([]sessions.Session, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			b, ok := bucketFromID(id)
			if !ok {
				b = "-"
			}
			cmds[i] = p.HGetAll(ctx, s.sessionKey(b, id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, wrapErr("read sessions", err)
	}
	now := s.now()
	out := make([]sessions.Session, 0, len(ids))
	for i, c := range cmds {
		if v, ok := liveSession(now, ids[i], c.Val()); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// liveSession is the session of a hash, if there is one and it has not
// ended at now.
func liveSession(now time.Time, id string, m map[string]string) (sessions.Session, bool) {
	if len(m) == 0 || m["u"] == "" {
		return sessions.Session{}, false
	}
	v := sessionFromHash(id, m)
	if !now.Before(v.EndsAt()) {
		return sessions.Session{}, false
	}
	return v, true
}

func sessionFromHash(id string, m map[string]string) sessions.Session {
	return sessions.Session{
		ID:                id,
		UserID:            m["u"],
		Username:          m["n"],
		DeviceID:          m["d"],
		WarehouseID:       m["w"],
		CreatedAt:         redisval.FromMicros(redisval.Atoi(m["c"])),
		LastActiveAt:      redisval.FromMicros(redisval.Atoi(m["a"])),
		ExpiresAt:         redisval.FromMicros(redisval.Atoi(m["x"])),
		IdleTimeout:       time.Duration(redisval.Atoi(m["i"])) * time.Microsecond,
		PINChangeRequired: m["p"] == "1",
	}
}

// ClearPINChange lifts the pin_change_required confinement.
func (s *Store) ClearPINChange(ctx context.Context, sessionID string) error {
	b, ok := bucketFromID(sessionID)
	if !ok {
		return fmt.Errorf("clear pin change: %w", sessions.ErrNotFound)
	}
	n, err := clearPINScript.Run(ctx, s.c, []string{s.sessionKey(b, sessionID)}).Int64()
	if err != nil {
		return wrapErr("clear pin change", err)
	}
	if n == 0 {
		return fmt.Errorf("clear pin change: %w", sessions.ErrNotFound)
	}
	return nil
}
