package redis

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// sweepRounds bounds the batches one Sweep call takes from each set.
const sweepRounds = 20

// Sweep ends the sessions whose idle or absolute end has passed
// (ReasonIdle, ReasonExpired), publishes due warnings, and finishes
// operations that died between their script and their queue writes (see
// doc.go). It reads only the due part of three sorted sets by deadline.
//
// Every instance may sweep at once: an item is decided by a script over
// the session's own bucket, which ends a session (or marks it warned)
// only once, so exactly one instance makes each command or warning; an
// entry leaves its set only after that decision, so a sweeper that dies
// midway leaves work for the next one rather than losing it.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	var errs []error
	if err := s.recoverJournal(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := s.recoverBulk(ctx, now); err != nil {
		errs = append(errs, err)
	}
	ended := 0
	for _, key := range []string{s.absKey(), s.idleKey()} {
		for range sweepRounds {
			n, more, err := s.sweepDeadlines(ctx, key, now)
			ended += n
			if err != nil {
				errs = append(errs, err)
				break
			}
			if !more {
				break
			}
		}
	}
	for range sweepRounds {
		more, err := s.sweepWarnings(ctx, now)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if !more {
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ended, fmt.Errorf("sweep: %w", err)
	}
	return ended, nil
}

func (s *Store) due(ctx context.Context, key string, now time.Time) ([]string, error) {
	ids, err := s.c.ZRangeByScore(ctx, key, &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(redisval.Micros(now), 10), Count: sweepBatch,
	}).Result()
	if err != nil {
		return nil, wrapErr("read deadlines", err)
	}
	return ids, nil
}

// sweepDeadlines decides one batch of the due entries of the absolute or
// the idle set. more is true when the batch was full.
func (s *Store) sweepDeadlines(ctx context.Context, key string, now time.Time) (ended int, more bool, err error) {
	ids, err := s.due(ctx, key, now)
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	byBucket := map[string]bool{}
	var gone []any
	for _, id := range ids {
		if b, ok := bucketFromID(id); ok {
			byBucket[b] = true
		} else {
			gone = append(gone, id)
		}
	}
	buckets := make([]string, 0, len(byBucket))
	for b := range byBucket {
		buckets = append(buckets, b)
	}
	sort.Strings(buckets)
	journal, err := s.journal(ctx, buckets)
	if err != nil {
		return 0, false, err
	}
	var cmds []sessions.Command
	type resched struct {
		id string
		at int64
	}
	var later []resched
	var firstErr error
	for _, id := range ids {
		b, ok := bucketFromID(id)
		if !ok {
			continue
		}
		res, err := sweepScript.Run(ctx, s.c, []string{s.outboxKey(b)},
			s.bp(b), id, redisval.Micros(now), redisval.TTLMillis(sessions.CommandTTL)).Slice()
		if err != nil {
			firstErr = wrapErr("sweep session", err)
			break
		}
		switch redisval.Str(res[0]) {
		case "gone":
			gone = append(gone, id)
		case "live":
			at := redisval.Int(res[1]) // idle end
			if key == s.absKey() {
				at = redisval.Int(res[2])
			}
			later = append(later, resched{id, at})
		case "ended":
			c, err := parseCommands(res[1:])
			if err != nil {
				firstErr = err
				break
			}
			cmds = append(cmds, c...)
		}
		if firstErr != nil {
			break
		}
	}
	if firstErr != nil {
		// The journal stays; the next Sweep finishes these commands.
		s.finish(ctx, cmds, nil)
		return len(cmds), false, firstErr
	}
	s.finish(ctx, cmds, journal)
	if len(gone) > 0 || len(later) > 0 {
		_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			if len(gone) > 0 {
				p.ZRem(ctx, s.absKey(), gone...)
				p.ZRem(ctx, s.idleKey(), gone...)
				p.ZRem(ctx, s.warnKey(), gone...)
			}
			for _, r := range later {
				p.ZAdd(ctx, key, goredis.Z{Score: float64(r.at), Member: r.id})
			}
			return nil
		})
		if err != nil {
			return len(cmds), false, wrapErr("update deadlines", err)
		}
	}
	return len(cmds), len(ids) == sweepBatch, nil
}

// sweepWarnings publishes the warnings that are due, once per session.
func (s *Store) sweepWarnings(ctx context.Context, now time.Time) (more bool, err error) {
	ids, err := s.due(ctx, s.warnKey(), now)
	if err != nil || len(ids) == 0 {
		return false, err
	}
	var drop []any
	var later []goredis.Z
	for _, id := range ids {
		b, ok := bucketFromID(id)
		if !ok {
			drop = append(drop, id)
			continue
		}
		res, err := warnScript.Run(ctx, s.c, []string{s.sessionKey(b, id)},
			redisval.Micros(now), redisval.DurMicros(sessions.WarningLead)).Slice()
		if err != nil {
			return false, wrapErr("sweep warning", err)
		}
		switch redisval.Str(res[0]) {
		case "gone", "done":
			drop = append(drop, id)
		case "early":
			later = append(later, goredis.Z{Score: float64(redisval.Int(res[1])), Member: id})
		case "warn":
			w := sessions.Warning{SessionID: id, DeviceID: redisval.Str(res[1]), At: redisval.FromMicros(redisval.Int(res[2]))}
			if err := s.Publish(ctx, sessions.Event{Kind: sessions.KindWarning, Warning: &w}); err != nil {
				// At most once, like every push: the session's end is
				// still enforced and still produces its command.
				s.log.WarnContext(ctx, "sessions/redis: publishing a warning failed",
					"session_id", id, "device_id", w.DeviceID, "err", err)
			}
			drop = append(drop, id)
		}
	}
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if len(drop) > 0 {
			p.ZRem(ctx, s.warnKey(), drop...)
		}
		if len(later) > 0 {
			p.ZAdd(ctx, s.warnKey(), later...)
		}
		return nil
	})
	if err != nil {
		return false, wrapErr("update warnings", err)
	}
	return len(ids) == sweepBatch, nil
}

// recoverJournal finishes the operations whose journal entry is older
// than journalGrace: they died (or lost Redis) between ending sessions
// and queueing the commands. It drains the outbox of each such bucket
// into the device queues and publishes the events again; a duplicate
// event is harmless (the command id is the same), a lost one is not.
func (s *Store) recoverJournal(ctx context.Context, now time.Time) error {
	members, err := s.c.ZRangeByScore(ctx, s.journalKey(), &goredis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(redisval.Micros(now.Add(-journalGrace)), 10), Count: 100,
	}).Result()
	if err != nil {
		return wrapErr("read journal", err)
	}
	byBucket := map[string][]string{}
	for _, m := range members {
		_, b, _ := strings.Cut(m, ":")
		byBucket[b] = append(byBucket[b], m)
	}
	for b, ms := range byBucket {
		res, err := drainScript.Run(ctx, s.c, []string{s.outboxKey(b)}, s.bp(b), "+inf").Slice()
		if err != nil {
			return wrapErr("drain outbox", err)
		}
		cmds, err := parseCommands(res)
		if err != nil {
			return err
		}
		s.finish(ctx, cmds, ms)
	}
	return nil
}
