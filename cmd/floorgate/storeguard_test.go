//go:build unix

package main

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/breaker"
	"github.com/floorgate/floorgate/internal/testenv"
)

// TestRedisStalledSubscription: a subscription may stay quiet for longer
// than the stall limit, but once it has sent a PING to a server that
// stopped (SIGSTOP), its next read fails with errStalled rather than
// waiting on a connection that will never answer, however long the
// reader was willing to wait. After SIGCONT a new subscription works.
func TestRedisStalledSubscription(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	ctx := t.Context()
	c := goredis.NewClient(&goredis.Options{Addr: rs.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	c.AddHook(redisGuard{timeout: time.Second, br: breaker.New(breaker.Options{}), stall: 300 * time.Millisecond})

	ps := c.Subscribe(ctx, "events")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	// Quiet for twice the stall limit, then a message: still alive.
	time.Sleep(600 * time.Millisecond)
	if err := c.Publish(ctx, "events", "hello").Err(); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if msg, err := ps.ReceiveTimeout(ctx, 10*time.Second); err != nil {
		t.Fatalf("a quiet subscription failed: %v", err)
	} else if m, ok := msg.(*goredis.Message); !ok || m.Payload != "hello" {
		t.Fatalf("received %#v; want the message hello", msg)
	}

	rs.Pause()
	if err := ps.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	start := time.Now()
	_, err := ps.ReceiveTimeout(ctx, 20*time.Second)
	if !errors.Is(err, errStalled) {
		t.Fatalf("reading a stalled subscription = %v; want errStalled", err)
	}
	t.Logf("stalled subscription failed after %v (limit 300ms)", time.Since(start).Round(time.Millisecond))
	rs.Resume()

	ps2 := c.Subscribe(ctx, "events")
	defer ps2.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := ps2.Receive(rctx); err != nil {
		t.Fatalf("subscribe after SIGCONT: %v", err)
	}
}
