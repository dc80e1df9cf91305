package redis_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// BenchmarkEndWarehouse: EndWarehouse of one warehouse holding 5,000
// sessions of 5,000 users (so nearly every session has its own bucket),
// on a fresh prefix each round. ns/op is the EndWarehouse call;
// ms-last-event is the time from the call's start until a watcher on the
// same Redis has heard of the last of the 5,000 commands (by the
// warehouse's one KindWarehouseEnded event or a command's own KindEnded
// event, whichever came first: what an instance pushes on),
// ms-first-event until it heard of the first; ms-start-call is
// StartEndWarehouse alone (what the admin call waits for), ms-end-call
// the start and the records; ms-redis-cpu is the CPU
// the Redis server used during the call (INFO cpu, whole server, so
// other clients of a shared Redis count too).
func BenchmarkEndWarehouse(b *testing.B) {
	const n = 5000
	c := testenv.Redis(b)
	ctx := context.Background()
	var endTotal, startTotal, firstTotal, lastTotal, redisTotal time.Duration
	for i := range b.N {
		b.StopTimer()
		st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(b, c)})
		wh := "w" + strconv.Itoa(i)
		createMany(b, st, n, wh)

		var got atomic.Int64
		var first, last atomic.Int64 // Unix ns
		all := make(chan struct{})
		subscribed := make(chan struct{})
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			ready := func(bool) {
				select {
				case <-subscribed:
				default:
					close(subscribed)
				}
			}
			// A device hears of its end by the first event that carries
			// its command: the warehouse's one event, or its own.
			heard := make(map[string]bool, n) // fn runs on one goroutine
			hear := func(c *sessions.Command) {
				if c.WarehouseID != wh || heard[c.ID] {
					return
				}
				heard[c.ID] = true
				now := time.Now().UnixNano()
				if got.Add(1) == 1 {
					first.Store(now)
				}
				if got.Load() == n {
					last.Store(now)
					close(all)
				}
			}
			_ = st.Watch(wctx, ready, func(e sessions.Event) {
				switch {
				case e.Kind == sessions.KindEnded && e.Command != nil:
					hear(e.Command)
				case e.Kind == sessions.KindWarehouseEnded:
					for i := range e.Commands {
						hear(&e.Commands[i])
					}
				}
			})
		})
		// Wait until the watcher has subscribed (bounded: 5 s).
		select {
		case <-subscribed:
		case <-time.After(5 * time.Second):
			b.Fatal("the watcher did not subscribe within 5 s")
		}

		cpu0 := redisCPU(b, c)
		b.StartTimer()
		start := time.Now()
		_, finish, err := st.StartEndWarehouse(ctx, wh, sessions.ReasonAdmin)
		started := time.Since(start)
		var cmds []sessions.Command
		if err == nil {
			cmds, err = finish(ctx)
		}
		end := time.Since(start)
		b.StopTimer()
		redisTotal += redisCPU(b, c) - cpu0
		if err != nil || len(cmds) != n {
			b.Fatalf("EndWarehouse(%q) = %d commands, %v; want %d, nil", wh, len(cmds), err, n)
		}
		select {
		case <-all:
		case <-time.After(30 * time.Second):
			b.Fatalf("watcher received %d of %d events within 30 s", got.Load(), n)
		}
		cancel()
		wg.Wait()
		endTotal += end
		startTotal += started
		firstTotal += time.Duration(first.Load() - start.UnixNano())
		lastTotal += time.Duration(last.Load() - start.UnixNano())
	}
	b.ReportMetric(float64(endTotal.Milliseconds())/float64(b.N), "ms-end-call")
	b.ReportMetric(float64(startTotal.Microseconds())/1000/float64(b.N), "ms-start-call")
	b.ReportMetric(float64(firstTotal.Microseconds())/1000/float64(b.N), "ms-first-event")
	b.ReportMetric(float64(lastTotal.Microseconds())/1000/float64(b.N), "ms-last-event")
	b.ReportMetric(float64(redisTotal.Microseconds())/1000/float64(b.N), "ms-redis-cpu")
}

// createMany signs n users in on n devices of one warehouse, 32 at once.
func createMany(b *testing.B, st *sredis.Store, n int, wh string) {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || failed.Load() != nil {
					return
				}
				k := strconv.FormatInt(i, 10)
				_, err := st.Create(ctx, sessions.NewSession{
					UserID: "u" + k, Username: "x", DeviceID: "d" + k, WarehouseID: wh,
				}, benchPolicy)
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("Create: %v", err)
	}
}

// redisCPU reads the server's user + system CPU time from INFO cpu.
func redisCPU(b *testing.B, c goredis.UniversalClient) time.Duration {
	b.Helper()
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatalf("INFO cpu: %v", err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu: %s: %v", line, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkEnd: one forced logout at a time, as an admin sends them:
// End of one live session, then wait until a watcher on the same Redis
// has its ended event. us-to-event is from End's call to the event's
// arrival at the watcher (what the push waits for, whether or not End
// has returned by then); us-call is End's own call, which also queues
// the command for the device before it returns; ns/op is both.
//
//	go test -run '^$' -bench 'BenchmarkEnd$' -benchtime 2000x -count 6 ./sessions/redis
func BenchmarkEnd(b *testing.B) {
	c := testenv.Redis(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(b, c)})
	ids := make([]string, b.N)
	for i := range ids {
		cr, err := st.Create(ctx, sessions.NewSession{UserID: "u" + strconv.Itoa(i), DeviceID: "d" + strconv.Itoa(i), WarehouseID: "w1"},
			sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = cr.Session.ID
	}
	type arrival struct {
		id string
		at time.Time
	}
	events := make(chan arrival, 16)
	ready := make(chan struct{})
	go st.Watch(ctx, func(bool) { close(ready) }, func(e sessions.Event) {
		if e.Kind == sessions.KindEnded && e.Command != nil {
			events <- arrival{e.Command.SessionID, time.Now()}
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		b.Fatal("watch not subscribed within 10s")
	}
	var calls, toEvent time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := st.End(ctx, ids[i], sessions.ReasonAdmin); err != nil {
			b.Fatal(err)
		}
		calls += time.Since(t0)
		for got := (arrival{}); got.id != ids[i]; {
			select {
			case got = <-events:
				toEvent += got.at.Sub(t0)
			case <-time.After(10 * time.Second):
				b.Fatalf("no event for %s within 10s", ids[i])
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(calls.Microseconds())/float64(b.N), "us-call")
	b.ReportMetric(float64(toEvent.Microseconds())/float64(b.N), "us-to-event")
}
