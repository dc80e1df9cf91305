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

// TestClaimCheckSucceedRelease: a login's claim and check are one round
// trip on one server, and so are its reset and release; on a Cluster
// they are the calls one by one. Either way they decide and clear as
// Claim, Check, Succeed and Release do.
func TestClaimCheckSucceedRelease(t *testing.T) {
	base, ok := testenv.Redis(t).(*goredis.Client)
	if !ok {
		t.Fatalf("testenv.Redis is a %T; want *redis.Client", testenv.Redis(t))
	}
	c := goredis.NewClient(base.Options())
	t.Cleanup(func() { c.Close() })
	for name, client := range map[string]goredis.UniversalClient{"standalone": c, "cluster": testenv.RedisCluster(t)} {
		t.Run(name, func(t *testing.T) {
			counted := &trips{}
			if name == "standalone" { // the Cluster client is shared: not hooked
				client.AddHook(counted)
			}
			now := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
			th := tredis.New(client, tredis.Options{Prefix: testenv.RedisPrefix(t, client), Now: func() time.Time { return now }})
			ctx := context.Background()
			if err := client.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			a := throttle.Attempt{Subject: "u:kim", Source: "d:1", WarehouseID: "wh"}
			keys := []string{a.Subject, a.Source}
			l := throttle.Limits{PairFreeFailures: 1, PairMaxDelay: time.Minute, SprayHold: time.Hour}
			trip := func(what string, want int64) {
				t.Helper()
				if n := counted.n.Load(); name == "standalone" && n != want {
					t.Errorf("%s: %d round trips; want %d", what, n, want)
				}
				counted.n.Store(0)
			}
			counted.n.Store(0)
			ok, d, err := th.ClaimCheck(ctx, keys, "a", time.Minute, a, l)
			if err != nil || !ok || d.Verdict != throttle.Allow {
				t.Fatalf("ClaimCheck = %v, %+v, %v; want the claim and allow", ok, d, err)
			}
			trip("claim and check", 1)
			// Held: refused, and nothing of it kept (its device key is free
			// again for the holder's release to find its own).
			other := throttle.Attempt{Subject: "u:lee", Source: "d:1", WarehouseID: "wh"}
			if ok, _, err := th.ClaimCheck(ctx, []string{other.Subject, other.Source}, "b", time.Minute, other, l); err != nil || ok {
				t.Fatalf("ClaimCheck of a held key = %v, %v; want refused", ok, err)
			}
			trip("refused claim", 2)
			// Two failures of the pair: the next attempt is delayed, and
			// ClaimCheck says so as Check does.
			for range 2 {
				if _, err := th.Fail(ctx, a, l); err != nil {
					t.Fatalf("Fail: %v", err)
				}
			}
			if err := th.Release(ctx, keys, "a"); err != nil {
				t.Fatalf("Release: %v", err)
			}
			want, err := th.Check(ctx, a, l)
			if err != nil || want.Verdict != throttle.Delay {
				t.Fatalf("Check after two failures = %+v, %v; want a delay", want, err)
			}
			counted.n.Store(0)
			ok, d, err = th.ClaimCheck(ctx, keys, "c", time.Minute, a, l)
			if err != nil || !ok || d != want {
				t.Fatalf("ClaimCheck after two failures = %v, %+v, %v; want the claim and %+v", ok, d, err, want)
			}
			trip("claim and check of a delayed pair", 1)
			if err := th.SucceedRelease(ctx, a, keys, "c"); err != nil {
				t.Fatalf("SucceedRelease: %v", err)
			}
			trip("reset and release", 1)
			if d, err := th.Check(ctx, a, l); err != nil || d.Verdict != throttle.Allow {
				t.Errorf("Check after SucceedRelease = %+v, %v; want allow (the delay cleared)", d, err)
			}
			if ok, err := th.Claim(ctx, keys, "d", time.Minute); err != nil || !ok {
				t.Errorf("Claim after SucceedRelease = %v, %v; want the keys free", ok, err)
			}
		})
	}
}
