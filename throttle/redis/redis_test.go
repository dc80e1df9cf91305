package redis_test

import (
	"os"
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
