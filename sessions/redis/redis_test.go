package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/sessions/sessionstest"
)

const addrVar = "FLOORGATE_TEST_REDIS_ADDR"

var (
	standaloneOnce   sync.Once
	standaloneClient goredis.UniversalClient
	standaloneErr    error
)

// standalone returns the shared client of the test Redis, or skips (fails
// under CI) when it does not answer.
func standalone(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	standaloneOnce.Do(func() {
		addr := os.Getenv(addrVar)
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			standaloneErr = err
			_ = c.Close()
			return
		}
		standaloneClient = c
	})
	if standaloneErr != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("Redis at %s (set %s) does not answer: %v", os.Getenv(addrVar), addrVar, standaloneErr)
		}
		tb.Skipf("Redis does not answer (set %s to its address): %v", addrVar, standaloneErr)
	}
	return standaloneClient
}

// newPrefix returns a fresh key prefix whose keys are deleted at tb's
// cleanup. Only the cleanup scans the keyspace.
func newPrefix(tb testing.TB, c goredis.UniversalClient) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "fgtest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() { deletePrefix(tb, c, prefix) })
	return prefix
}

// deletePrefix removes every key under prefix, node by node on Cluster.
func deletePrefix(tb testing.TB, c goredis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del := func(ctx context.Context, node goredis.UniversalClient) error {
		it := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			if err := node.Del(ctx, it.Val()).Err(); err != nil {
				return err
			}
		}
		return it.Err()
	}
	var err error
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		tb.Errorf("deleting keys under %q: %v", prefix, err)
	}
}

// keysUnder lists the keys under prefix (tests only).
func keysUnder(tb testing.TB, c goredis.UniversalClient, prefix string) []string {
	tb.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, node goredis.UniversalClient) error {
		it := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, c)
	}
	if err != nil {
		tb.Fatalf("scanning %q: %v", prefix, err)
	}
	return keys
}

// harness runs the conformance suite over one client.
func harness(c goredis.UniversalClient) sessionstest.Harness {
	return sessionstest.Harness{
		New: func(t *testing.T, clock func() time.Time) sessions.Store {
			return sredis.New(c, sredis.Options{Prefix: newPrefix(t, c), Now: clock})
		},
		Peers: func(t *testing.T, clock func() time.Time, n int) []sessions.Store {
			prefix := newPrefix(t, c)
			out := make([]sessions.Store, n)
			for i := range out {
				out[i] = sredis.New(c, sredis.Options{Prefix: prefix, Now: clock})
			}
			return out
		},
		Throttle: func(t *testing.T, clock func() time.Time) sessions.Throttle {
			return sredis.NewThrottle(c, sredis.Options{Prefix: newPrefix(t, c), Now: clock})
		},
	}
}

func TestConformance(t *testing.T) {
	sessionstest.Run(t, harness(standalone(t)))
}
