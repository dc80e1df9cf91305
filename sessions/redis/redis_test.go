package redis_test

import (
	"context"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/sessions/sessionstest"
)

// harness runs the conformance suite over one client.
func harness(c goredis.UniversalClient) sessionstest.Harness {
	return sessionstest.Harness{
		New: func(t *testing.T, clock func() time.Time) sessions.Store {
			return sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(t, c), Now: clock})
		},
		Down: func(t *testing.T) sessions.Store {
			return sredis.New(testenv.DeadRedis(t), sredis.Options{Prefix: "fgtest:dead:"})
		},
		Peers: func(t *testing.T, clock func() time.Time, n int) []sessions.Store {
			prefix := testenv.RedisPrefix(t, c)
			out := make([]sessions.Store, n)
			for i := range out {
				out[i] = sredis.New(c, sredis.Options{Prefix: prefix, Now: clock})
			}
			return out
		},
		Barrier: func(t *testing.T, st sessions.Store, ev sessions.Event) int {
			n, err := st.(*sredis.Store).PublishEverywhere(context.Background(), ev)
			if err != nil {
				t.Fatalf("PublishEverywhere(marker) = %v", err)
			}
			return n
		},
	}
}

func TestConformance(t *testing.T) {
	sessionstest.Run(t, harness(testenv.Redis(t)))
}

func TestClusterConformance(t *testing.T) {
	sessionstest.Run(t, harness(testenv.RedisCluster(t)))
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}
