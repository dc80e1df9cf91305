package redis_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/throttle"
	tredis "github.com/floorgate/floorgate/throttle/redis"
	"github.com/floorgate/floorgate/throttle/throttletest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

// harness runs the conformance suite over one client.
func harness(c goredis.UniversalClient) throttletest.Harness {
	return throttletest.Harness{
		New: func(t *testing.T, clock func() time.Time) throttle.Throttle {
			return tredis.New(c, tredis.Options{Prefix: testenv.RedisPrefix(t, c), Now: clock})
		},
		Down: func(t *testing.T) throttle.Throttle {
			return tredis.New(testenv.DeadRedis(t), tredis.Options{Prefix: "fgtest:dead:"})
		},
	}
}

func TestConformance(t *testing.T) {
	throttletest.Run(t, harness(testenv.Redis(t)))
}

func TestClusterConformance(t *testing.T) {
	throttletest.Run(t, harness(testenv.RedisCluster(t)))
}

// trips counts the commands and pipelines a client sends (each one
// round trip), but not a new connection's setup.
type trips struct{ n atomic.Int64 }

func (r *trips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *trips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "client" { // a new connection's setup
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *trips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() != "client" { // a new connection's setup
			r.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestClaimOneRoundTrip: a login's claim of its user and its device is
// one round trip, and so is its release; a refused claim gives back
// what it took in one more.
func TestClaimOneRoundTrip(t *testing.T) {
	// A client of its own, so that the count is this test's alone.
	base, ok := testenv.Redis(t).(*goredis.Client)
	if !ok {
		t.Fatalf("testenv.Redis is a %T; want *redis.Client", testenv.Redis(t))
	}
	c := goredis.NewClient(base.Options())
	t.Cleanup(func() { c.Close() })
	counted := &trips{}
	c.AddHook(counted)
	th := tredis.New(c, tredis.Options{Prefix: testenv.RedisPrefix(t, c)})
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil { // the connection's own setup is not counted
		t.Fatal(err)
	}
	step := func(what string, want int64, f func() error) {
		t.Helper()
		counted.n.Store(0)
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := counted.n.Load(); n != want {
			t.Errorf("%s: %d round trips; want %d", what, n, want)
		}
	}
	claim := func(keys []string, id string, want bool) func() error {
		return func() error {
			ok, err := th.Claim(ctx, keys, id, time.Minute)
			if err == nil && ok != want {
				err = fmt.Errorf("Claim(%v, %s) = %v; want %v", keys, id, ok, want)
			}
			return err
		}
	}
	step("claim", 1, claim([]string{"u:kim", "d:1"}, "a", true))
	step("refused claim", 2, claim([]string{"u:lee", "d:1"}, "b", false))
	step("release", 1, func() error { return th.Release(ctx, []string{"u:kim", "d:1"}, "a") })
	step("claim after the release", 1, claim([]string{"u:lee", "d:1"}, "c", true))
}
