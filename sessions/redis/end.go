package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// End ends one session; ErrNotFound if it is not live. It is the
// forced logout's path, so the push goes out as early as it can
// (endPublishing: one round trip on a single server).
func (s *Store) End(ctx context.Context, sessionID string, r sessions.Reason) (sessions.Command, error) {
	b, ok := bucketFromID(sessionID)
	if !ok {
		return sessions.Command{}, fmt.Errorf("end session: %w", sessions.ErrNotFound)
	}
	cmds, err := s.endPublishing(ctx, b, "", []string{sessionID}, r)
	if err != nil {
		return sessions.Command{}, fmt.Errorf("end session: %w", err)
	}
	if len(cmds) == 0 {
		return sessions.Command{}, fmt.Errorf("end session: %w", sessions.ErrNotFound)
	}
	return cmds[0], nil
}

// EndUser ends every session of a user: one bucket, one script, which
// reads the user's set and publishes each end (endPublishing).
func (s *Store) EndUser(ctx context.Context, userID string, r sessions.Reason) ([]sessions.Command, error) {
	cmds, err := s.endPublishing(ctx, bucketOf(userID), userID, nil, r)
	if err != nil {
		return nil, fmt.Errorf("end user sessions: %w", err)
	}
	return cmds, nil
}

// endPublishing ends sessions of one bucket without a by: those of the
// user userID (when set) or the live ones among ids. The push goes out
// as early as it can: the script publishes each end itself, and on a
// single server (not Cluster) the journal entry goes in the same
// pipeline, ahead of the script on the same connection, so the frames
// leave after one round trip (journal, end and publish) instead of four
// (journal; end; queue; publish). On Cluster the journal keeps its own
// round trip first: a Cluster pipeline has no order between slots.
// Queueing the commands for their devices follows (finishPublished);
// if that fails, the journal stays and Sweep redoes it.
func (s *Store) endPublishing(ctx context.Context, b, userID string, ids []string, r sessions.Reason) ([]sessions.Command, error) {
	nowT := s.now()
	now := redisval.Micros(nowT)
	keys := []string{s.outboxKey(b)}
	mode := "ids"
	if userID != "" {
		keys, mode = append(keys, s.userKey(b, userID)), "user"
	}
	args := make([]any, 0, 7+len(ids))
	args = append(args, s.bp(b), now, string(r), redisval.TTLMillis(sessions.CommandTTL), s.channel,
		redisval.FromMicros(now).Format(time.RFC3339Nano), mode)
	for _, id := range ids {
		args = append(args, id)
	}
	var (
		members []string
		res     []any
		err     error
	)
	if s.cluster {
		if members, err = s.journal(ctx, []string{b}); err != nil {
			return nil, err
		}
		res, err = endPublishScript.Run(ctx, s.c, keys, args...).Slice()
	} else {
		var cmd *goredis.Cmd
		_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			members = s.journalIn(ctx, p, []string{b}, nowT)
			cmd = endPublishScript.EvalSha(ctx, p, keys, args...)
			return nil
		})
		res, err = cmd.Slice()
		if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			// Not cached on the server (it did not run; the journal
			// entry did): run it again on its own, which loads it.
			res, err = endPublishScript.Run(ctx, s.c, keys, args...).Slice()
		}
	}
	if err != nil {
		return nil, wrapErr("end sessions", err)
	}
	cmds, err := parseCommands(res)
	if err != nil {
		return nil, err
	}
	s.finishPublished(ctx, cmds, members)
	return cmds, nil
}

// EndDevice ends every session on a device.
func (s *Store) EndDevice(ctx context.Context, deviceID string, r sessions.Reason) ([]sessions.Command, error) {
	ids, err := s.c.SMembers(ctx, s.deviceSessionsKey(deviceID)).Result()
	if err != nil {
		return nil, wrapErr("end device sessions", err)
	}
	cmds, err := s.endIDs(ctx, ids, r, nil)
	if err != nil {
		return nil, fmt.Errorf("end device sessions: %w", err)
	}
	return cmds, nil
}

// Ending many buckets at once. A warehouse of 5,000 sessions spans
// nearly 5,000 buckets, each its own end script; one after another that
// was one Redis round trip per session (1.4 s for 5,000 here). endIDs
// instead cuts the buckets into chunks of endChunk, sends each chunk's
// scripts in one pipeline and finishes the chunk (queue, publish,
// journal) at once, with up to endParallel chunks in flight: the first
// devices hear within a few round trips and the last after about
// buckets / (endChunk * endParallel) rounds. 8 chunks in flight ended
// 5,000 sessions as fast as 32 did on the 2-core test machine (Redis's
// CPU is the limit), sent the first event sooner and hold fewer of the
// client pool's connections.
const (
	endChunk    = 16
	endParallel = 8
)

// endIDs ends the live sessions among ids, in any buckets: it journals
// the buckets, runs one end script per bucket and finishes. Ids that are
// not live are skipped. The commands come back in bucket order.
func (s *Store) endIDs(ctx context.Context, ids []string, r sessions.Reason, by *sessions.By) ([]sessions.Command, error) {
	return s.endIDsAt(ctx, ids, r, by, time.Time{}, true)
}

// endIDsAt is endIDs with the time its commands are created at (zero:
// now), publishing a KindEnded event per command when publish is set (a
// warehouse's end publishes its own event instead: bulk.go).
func (s *Store) endIDsAt(ctx context.Context, ids []string, r sessions.Reason, by *sessions.By, at time.Time, publish bool) ([]sessions.Command, error) {
	groups := map[string][]string{}
	for _, id := range ids {
		if b, ok := bucketFromID(id); ok {
			groups[b] = append(groups[b], id)
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	buckets := make([]string, 0, len(groups))
	for b := range groups {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	if len(buckets) == 1 && by == nil && at.IsZero() {
		// One bucket and no by (most EndDevice calls): the script
		// publishes, the journal shares its round trip.
		return s.endPublishing(ctx, buckets[0], "", groups[buckets[0]], r)
	}
	// Every bucket is journaled before any of their scripts runs: on
	// Cluster a pipeline runs per node in parallel, so the journal write
	// cannot share the scripts' pipeline.
	members, err := s.journal(ctx, buckets)
	if err != nil {
		return nil, err
	}
	bd, bw, ba := "", "", ""
	if by != nil {
		bd, bw, ba = by.DeviceID, by.WarehouseID, strconv.FormatInt(redisval.Micros(by.At), 10)
	}
	if at.IsZero() {
		at = s.now()
	}
	now := redisval.Micros(at)
	argsOf := func(b string) []any {
		args := make([]any, 0, 8+len(groups[b]))
		args = append(args, s.bp(b), now, string(r), bd, bw, ba, redisval.TTLMillis(sessions.CommandTTL), "ids")
		for _, id := range groups[b] {
			args = append(args, id)
		}
		return args
	}
	if len(buckets) == 1 {
		// One bucket (Create's replaced sessions): no pipeline, no goroutine.
		b := buckets[0]
		res, err := endScript.Run(ctx, s.c, []string{s.outboxKey(b)}, argsOf(b)...).Slice()
		if err != nil {
			return nil, wrapErr("end sessions", err)
		}
		cmds, err := parseCommands(res)
		if err != nil {
			return nil, err
		}
		s.finishing(ctx, cmds, members, publish)
		return cmds, nil
	}

	nChunks := (len(buckets) + endChunk - 1) / endChunk
	chunkCmds := make([][]sessions.Command, nChunks)
	chunkErrs := make([]error, nChunks)
	sem := make(chan struct{}, endParallel)
	var wg sync.WaitGroup
	for k := range nChunks {
		lo, hi := k*endChunk, min((k+1)*endChunk, len(buckets))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			chunkCmds[k], chunkErrs[k] = s.endChunk(ctx, buckets[lo:hi], members[lo:hi], argsOf, publish)
		})
	}
	wg.Wait()
	var cmds []sessions.Command
	var firstErr error
	for k := range nChunks {
		cmds = append(cmds, chunkCmds[k]...)
		if firstErr == nil {
			firstErr = chunkErrs[k]
		}
	}
	return cmds, firstErr
}

// endChunk runs the end scripts of a few buckets in one pipeline and
// finishes what they ended. A script the server does not have cached
// (NOSCRIPT: it did not run) is run again on its own, which loads it.
// The journal members of buckets whose script failed stay: if such a
// script did run after all, Sweep finishes what it ended (and publishes
// their events). publish as endIDsAt's.
func (s *Store) endChunk(ctx context.Context, buckets, members []string, argsOf func(string) []any, publish bool) ([]sessions.Command, error) {
	results := make([]*goredis.Cmd, len(buckets))
	_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, b := range buckets {
			results[i] = endScript.EvalSha(ctx, p, []string{s.outboxKey(b)}, argsOf(b)...)
		}
		return nil
	})
	var cmds []sessions.Command
	var firstErr error
	done := make([]string, 0, len(members))
	for i, b := range buckets {
		res, err := results[i].Slice()
		if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			res, err = endScript.Run(ctx, s.c, []string{s.outboxKey(b)}, argsOf(b)...).Slice()
		}
		if err != nil {
			if firstErr == nil {
				firstErr = wrapErr("end sessions", err)
			}
			continue
		}
		c, err := parseCommands(res)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		cmds = append(cmds, c...)
		done = append(done, members[i])
	}
	s.finishing(ctx, cmds, done, publish)
	return cmds, firstErr
}

// journal records, before a script that may end sessions runs, that the
// buckets may hold commands not yet queued for their devices. Each
// operation writes its own members, so one operation's finish never
// hides another's.
func (s *Store) journal(ctx context.Context, buckets []string) ([]string, error) {
	var members []string
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		members = s.journalIn(ctx, p, buckets, s.now())
		return nil
	})
	if err != nil {
		return nil, wrapErr("journal", err)
	}
	return members, nil
}

// journalIn adds the journal entries of the buckets to a pipeline and
// returns their members.
func (s *Store) journalIn(ctx context.Context, p goredis.Pipeliner, buckets []string, at time.Time) []string {
	op := randomHex()
	now := float64(redisval.Micros(at))
	members := make([]string, len(buckets))
	zs := make([]goredis.Z, len(buckets))
	for i, b := range buckets {
		members[i] = op + ":" + b
		zs[i] = goredis.Z{Score: now, Member: members[i]}
	}
	p.ZAdd(ctx, s.journalKey(), zs...)
	return members
}

// finish does what follows the scripts for ended sessions: queue each
// command for its device and drop the session from the indexes outside
// its bucket (step 1), then publish the events, take the commands out of
// the outbox and remove the journal members (step 2). If step 1 fails
// the journal stays and Sweep redoes it; nothing is lost. Errors are
// logged, not returned: the sessions have ended either way.
func (s *Store) finish(ctx context.Context, cmds []sessions.Command, journal []string) {
	s.finishing(ctx, cmds, journal, true)
}

// finishPublished is finish for commands whose events the end script
// has already published.
func (s *Store) finishPublished(ctx context.Context, cmds []sessions.Command, journal []string) {
	s.finishing(ctx, cmds, journal, false)
}

func (s *Store) finishing(ctx context.Context, cmds []sessions.Command, journal []string, publish bool) {
	if len(cmds) > 0 {
		_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			// The warehouse and deadline indexes are shared keys: one
			// ZREM each for all the commands, not one per session.
			all := make([]any, len(cmds))
			byWarehouse := map[string][]any{}
			for i, c := range cmds {
				q := s.deviceQueueKey(c.DeviceID)
				p.ZAdd(ctx, q, goredis.Z{Score: float64(redisval.Micros(c.CreatedAt)), Member: c.ID})
				p.PExpire(ctx, q, sessions.CommandTTL+redisval.KeyMargin)
				p.SRem(ctx, s.deviceSessionsKey(c.DeviceID), c.SessionID)
				all[i] = c.SessionID
				byWarehouse[c.WarehouseID] = append(byWarehouse[c.WarehouseID], c.SessionID)
			}
			for wh, sids := range byWarehouse {
				p.ZRem(ctx, s.warehouseKey(wh), sids...)
			}
			p.ZRem(ctx, s.absKey(), all...)
			p.ZRem(ctx, s.idleKey(), all...)
			p.ZRem(ctx, s.warnKey(), all...)
			return nil
		})
		if err != nil {
			s.log.WarnContext(ctx, "sessions/redis: queueing logout commands failed; sweep will retry",
				"err", err, "commands", len(cmds))
			return
		}
	}
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		outbox := map[string][]any{}
		for i := range cmds {
			c := cmds[i]
			if b, ok := bucketFromID(c.ID); ok {
				outbox[b] = append(outbox[b], c.ID)
			}
			if publish {
				ev, _ := json.Marshal(sessions.Event{Kind: sessions.KindEnded, Command: &c})
				p.Publish(ctx, s.channel, ev)
			}
		}
		for b, ids := range outbox {
			p.ZRem(ctx, s.outboxKey(b), ids...)
		}
		if len(journal) > 0 {
			m := make([]any, len(journal))
			for i, j := range journal {
				m[i] = j
			}
			p.ZRem(ctx, s.journalKey(), m...)
		}
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "sessions/redis: publishing ends failed; sweep will retry", "err", err)
	}
}

// unindex removes a session from the indexes outside its bucket.
func (s *Store) unindex(ctx context.Context, p goredis.Pipeliner, sid, dev, wh string) {
	p.SRem(ctx, s.deviceSessionsKey(dev), sid)
	p.ZRem(ctx, s.warehouseKey(wh), sid)
	p.ZRem(ctx, s.absKey(), sid)
	p.ZRem(ctx, s.idleKey(), sid)
	p.ZRem(ctx, s.warnKey(), sid)
}

// parseCommands reads the flattened commands a script returns.
func parseCommands(vals []any) ([]sessions.Command, error) {
	const width = 10
	if len(vals)%width != 0 {
		return nil, fmt.Errorf("redis: %w: malformed script reply", sessions.ErrUnavailable)
	}
	out := make([]sessions.Command, 0, len(vals)/width)
	for i := 0; i < len(vals); i += width {
		f := make([]string, width)
		for k := range width {
			f[k] = redisval.Str(vals[i+k])
		}
		c := sessions.Command{
			ID:          f[0],
			SessionID:   f[1],
			UserID:      f[2],
			DeviceID:    f[3],
			WarehouseID: f[4],
			Reason:      sessions.Reason(f[5]),
			CreatedAt:   redisval.FromMicros(redisval.Atoi(f[9])),
		}
		if f[6] != "" {
			c.By = &sessions.By{DeviceID: f[6], WarehouseID: f[7], At: redisval.FromMicros(redisval.Atoi(f[8]))}
		}
		out = append(out, c)
	}
	return out, nil
}

// timePtr returns a stored time, or nil when the field is empty.
func timePtr(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := redisval.FromMicros(redisval.Atoi(s))
	return &t
}
