package redis_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// BenchmarkMarks: marking the commands of 1,000 ended sessions delivered
// and then acknowledged, as one instance does after a warehouse logout:
// "one_by_one" is Delivered and Ack per command from 32 goroutines (a
// writer or handler goroutine each, the gateway before batching),
// "batched" is one DeliveredMany and one AckMany of all 1,000. ns/op is
// both marks of all 1,000 commands; ms-redis-cpu is the Redis server's
// CPU time over them (whole server).
//
//	go test -run '^$' -bench 'BenchmarkMarks' -benchtime 5x -count 6 ./sessions/redis
func BenchmarkMarks(b *testing.B) {
	for _, mode := range []string{"one_by_one", "batched"} {
		b.Run(mode, func(b *testing.B) { benchmarkMarks(b, mode == "batched") })
	}
}

func benchmarkMarks(b *testing.B, batched bool) {
	const n = 1000
	c := testenv.Redis(b)
	ctx := context.Background()
	var redisTotal time.Duration
	for i := range b.N {
		b.StopTimer()
		st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(b, c)})
		wh := "w" + strconv.Itoa(i)
		createMany(b, st, n, wh)
		cmds, err := st.EndWarehouse(ctx, wh, sessions.ReasonAdmin)
		if err != nil || len(cmds) != n {
			b.Fatalf("EndWarehouse = %d, %v", len(cmds), err)
		}
		cpu0 := redisCPU(b, c)
		b.StartTimer()
		if batched {
			ids := make([]string, n)
			acks := make([]sessions.Ack, n)
			for k, c := range cmds {
				ids[k] = c.ID
				acks[k] = sessions.Ack{DeviceID: c.DeviceID, CommandID: c.ID}
			}
			if err := st.DeliveredMany(ctx, ids); err != nil {
				b.Fatal(err)
			}
			if err := st.AckMany(ctx, acks); err != nil {
				b.Fatal(err)
			}
		} else {
			work := make(chan sessions.Command)
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for c := range work {
						if err := st.Delivered(ctx, c.ID); err != nil {
							b.Error(err)
						}
						if err := st.Ack(ctx, c.DeviceID, c.ID); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for _, c := range cmds {
				work <- c
			}
			close(work)
			wg.Wait()
		}
		b.StopTimer()
		redisTotal += redisCPU(b, c) - cpu0
		got, err := st.Command(ctx, cmds[n-1].ID)
		if err != nil || got.AckedAt == nil || got.DeliveredAt == nil {
			b.Fatalf("last command after the marks = %+v, %v; want acknowledged", got, err)
		}
	}
	b.ReportMetric(float64(redisTotal.Microseconds())/1000/float64(b.N), "ms-redis-cpu")
}
