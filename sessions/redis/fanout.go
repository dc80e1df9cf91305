package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/sessions"
)

// Publish sends an event to every watcher on every instance, on the one
// channel Prefix+"events": JSON, or the compact form of a warehouse's
// end (bulkevent.go). Pub/sub is at most once: whatever must not be
// lost (logout commands) is also queued per device.
func (s *Store) Publish(ctx context.Context, e sessions.Event) error {
	if e.Kind == sessions.KindLost {
		return fmt.Errorf("publish event: %w: %s is never published", sessions.ErrInvalid, e.Kind)
	}
	b, err := encodeEvent(e)
	if err != nil {
		return fmt.Errorf("publish event: %w", err)
	}
	if err := s.c.Publish(ctx, s.channel, b).Err(); err != nil {
		return wrapErr("publish event", err)
	}
	return nil
}

const (
	watchMinBackoff = 50 * time.Millisecond
	// watchMaxBackoff bounds the wait between two attempts to subscribe:
	// once Redis is back, an instance hears the fan-out again (and
	// re-checks what it missed) within about a second.
	watchMaxBackoff = time.Second
	// watchIdle is how long Watch waits for a message before it pings
	// the server to find out whether the subscription is still there.
	watchIdle = 30 * time.Second
)

// Watch calls fn for every event published by any instance until ctx
// ends, on the caller's goroutine. Each time it has subscribed it first
// reads the store's epoch and calls ready (reset when the epoch is not
// the one it read before: Redis lost its data).
// When the subscription fails it calls fn with a KindLost event and
// subscribes again after a jittered backoff (50 ms doubling to 1 s); it
// returns only ctx's error.
func (s *Store) Watch(ctx context.Context, ready func(reset bool), fn func(sessions.Event)) error {
	if ready == nil {
		ready = func(bool) {}
	}
	backoff := watchMinBackoff
	epoch := ""
	for {
		subscribed, err := s.watchOnce(ctx, &epoch, ready, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if subscribed {
			backoff = watchMinBackoff
		}
		// Whatever is published until the next subscription is lost to
		// this watcher: say so at once, not only at the next ready.
		fn(sessions.Event{Kind: sessions.KindLost})
		s.log.WarnContext(ctx, "sessions/redis: event subscription lost; resubscribing",
			"err", err, "backoff", backoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, watchMaxBackoff)
	}
}

// watchOnce subscribes and delivers until the subscription fails or ctx
// ends. subscribed tells whether the subscription was confirmed. epoch
// is the store's epoch as this Watch last read it ("" before the first
// read).
func (s *Store) watchOnce(ctx context.Context, epoch *string, ready func(bool), fn func(sessions.Event)) (subscribed bool, err error) {
	ps := s.c.Subscribe(ctx, s.channel)
	// go-redis does not watch ctx while it blocks on a read: close the
	// subscription when ctx ends so that Watch returns at once.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()
	if _, err := ps.Receive(ctx); err != nil {
		return false, err
	}
	// Subscribed: whatever is published from now on reaches us. What was
	// published before may not have: the watcher re-reads the store.
	cur, err := epochScript.Run(ctx, s.c, []string{s.epochKey()}, randomHex()).Text()
	if err != nil {
		return false, err
	}
	reset := *epoch != "" && cur != *epoch
	if reset {
		s.log.WarnContext(ctx, "sessions/redis: the store's data was lost (Redis restarted empty?): every session has ended")
	}
	*epoch = cur
	ready(reset)
	for {
		msg, err := ps.ReceiveTimeout(ctx, watchIdle)
		if err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Quiet channel: make sure the connection still lives.
				if err := ps.Ping(ctx); err != nil {
					return true, err
				}
				continue
			}
			return true, err
		}
		m, ok := msg.(*goredis.Message)
		if !ok {
			continue // subscription confirmations and pongs
		}
		e, err := decodeEvent(m.Payload)
		if err != nil {
			s.log.WarnContext(ctx, "sessions/redis: dropping a malformed event", "err", err)
			continue
		}
		if e.Kind == sessions.KindLost {
			continue // never published; one that is was not ours to send
		}
		fn(e)
	}
}

// MarkOnline records that origin holds the devices' sockets until
// ttl from the clock's now: one pipeline of SET PX whose value is
// "<until µs>:<origin>". Online decides by that time against the clock;
// the key's own TTL (ttl plus a margin) only collects garbage.
func (s *Store) MarkOnline(ctx context.Context, origin string, deviceIDs []string, ttl time.Duration) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	v := strconv.FormatInt(redisval.Micros(s.now().Add(ttl)), 10) + ":" + origin
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, d := range deviceIDs {
			p.Set(ctx, s.onlineKey(d), v, ttl+redisval.KeyMargin)
		}
		return nil
	})
	if err != nil {
		return wrapErr("mark online", err)
	}
	return nil
}

// offlineBatch is how many marks one offline script removes at most.
const offlineBatch = 500

// MarkOffline removes each device's mark that origin still holds (a
// script compares and deletes). On a single server it is one script
// per offlineBatch devices, each device's key among its KEYS; on
// Cluster, where a script's keys must share a slot, one pipeline of the
// one-key script per device (go-redis sends it to every node at once).
// A script the server has not cached (NOSCRIPT: it did not run) is run
// again on its own, which loads it.
func (s *Store) MarkOffline(ctx context.Context, origin string, deviceIDs []string) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	if !s.cluster {
		for len(deviceIDs) > 0 {
			n := min(len(deviceIDs), offlineBatch)
			keys := make([]string, n)
			for i, d := range deviceIDs[:n] {
				keys[i] = s.onlineKey(d)
			}
			if err := offlineScript.Run(ctx, s.c, keys, origin).Err(); err != nil {
				return wrapErr("mark offline", err)
			}
			deviceIDs = deviceIDs[n:]
		}
		return nil
	}
	cmds := make([]*goredis.Cmd, len(deviceIDs))
	_, _ = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range deviceIDs {
			cmds[i] = offlineScript.EvalSha(ctx, p, []string{s.onlineKey(d)}, origin)
		}
		return nil
	})
	for i, c := range cmds {
		err := c.Err()
		if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			err = offlineScript.Run(ctx, s.c, []string{s.onlineKey(deviceIDs[i])}, origin).Err()
		}
		if err != nil {
			return wrapErr("mark offline", err)
		}
	}
	return nil
}

// Online answers for many devices at once: a pipeline of GETs, since
// MGET across slots is refused on Cluster.
func (s *Store) Online(ctx context.Context, deviceIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(deviceIDs))
	if len(deviceIDs) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.StringCmd, len(deviceIDs))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, d := range deviceIDs {
			cmds[i] = p.Get(ctx, s.onlineKey(d))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, wrapErr("read presence", err)
	}
	now := redisval.Micros(s.now())
	for i, d := range deviceIDs {
		until, _, _ := strings.Cut(cmds[i].Val(), ":")
		out[d] = redisval.Atoi(until) > now
	}
	return out, nil
}
