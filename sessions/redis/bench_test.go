package redis_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

var benchPolicy = sessions.Policy{Cap: 3, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// BenchmarkCreate: logins of 1,000 users on 3,000 devices, so that most
// logins replace a device's session or evict one of the user's.
func BenchmarkCreate(b *testing.B) {
	c := testenv.Redis(b)
	st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(b, c)})
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			ns := sessions.NewSession{
				UserID:      "u" + strconv.FormatInt(i%1000, 10),
				Username:    "x",
				DeviceID:    "d" + strconv.FormatInt(i%3000, 10),
				WarehouseID: "w1",
			}
			if _, err := st.Create(ctx, ns, benchPolicy); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkValidate: introspection of 1,000 live tokens (one EVALSHA
// each; a touch write at most every 5 s per session).
func BenchmarkValidate(b *testing.B) {
	c := testenv.Redis(b)
	st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(b, c)})
	ctx := context.Background()
	toks := make([]sessions.Token, 1000)
	for i := range toks {
		cr, err := st.Create(ctx, sessions.NewSession{
			UserID: "u" + strconv.Itoa(i), DeviceID: "d" + strconv.Itoa(i), WarehouseID: "w1",
		}, benchPolicy)
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = cr.Token
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := st.Validate(ctx, toks[i%int64(len(toks))]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBareGet is the comparison for BenchmarkValidate: a bare
// go-redis GET loop over 1,000 keys at the same concurrency.
func BenchmarkBareGet(b *testing.B) {
	c := testenv.Redis(b)
	prefix := testenv.RedisPrefix(b, c)
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = prefix + "k" + strconv.Itoa(i)
		if err := c.Set(ctx, keys[i], "v", time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if err := c.Get(ctx, keys[i%int64(len(keys))]).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchParallelism is the goroutines per GOMAXPROCS of every benchmark
// here: Redis calls wait on the network, so one goroutine per core would
// measure latency, not throughput. All three run at the same concurrency.
const benchParallelism = 8
