package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/sessions"
)

// BenchmarkWarehouseLogout: a whole warehouse logged out at once, on
// PostgreSQL and Redis, as far as one instance's devices: 1,000 devices
// of one warehouse hold a socket each on one instance, each signed in,
// and each acknowledges its logout as soon as it reads it (as the
// client libraries do). One op is StartEndWarehouse (the admin call's
// store part), its records written behind it as the admin API does, and
// every device's logout frame read; then the benchmark waits, outside the
// timer, until every command reads acknowledged in the store (none
// lost: a frame never read fails the benchmark). ms-call is
// StartEndWarehouse; ms-last-frame is from its start until the last
// device has read its frame; ms-all-acked until every command reads
// acknowledged (polled; at most 10 s); unmarked/op counts the commands
// that did not read delivered and acknowledged within those 10 s though
// their device acknowledged them (the re-check would push them again
// later, outside this benchmark);
// redis-trips/op counts the instance's and the end's Redis round trips
// (commands and pipelines) from the call until every command reads
// acknowledged, the polling excluded.
//
// Sub-benchmarks: instances=1 is the benchmark as it was (every socket
// on one instance); instances=2 runs a second instance on the same
// stores holding every other device's socket, so that what every
// instance does with the fan-out (decoding the warehouse's event,
// finding its sockets) counts twice, as it does in production. Besides,
// ms-redis-cpu is the Redis server's CPU (INFO cpu) and ms-cpu this
// process's (both instances, their housekeeping and the devices'
// readers; /proc/self/stat, 10 ms ticks, Linux only), each from the
// call until the last frame was read.
//
//	go test -run '^$' -bench WarehouseLogout -benchtime 10x -count 6 ./gateway
func BenchmarkWarehouseLogout(b *testing.B) {
	for _, instances := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", instances), func(b *testing.B) { benchWarehouseLogout(b, instances) })
	}
}

func benchWarehouseLogout(b *testing.B, instances int) {
	const n = 1000
	clk := newClock()
	be := serversTB(b, clk)
	be.sweepEvery = time.Hour
	quiet := func(c *Config) {
		c.RecheckEvery, c.PresenceEvery, c.PresenceFlushEvery, c.ActivityEvery = time.Hour, time.Hour, time.Hour, time.Hour
	}
	h := newHarnessOn(b, clk, be, quiet)
	urls := []string{h.ts.URL}
	srvs := []*Server{h.srv}
	for len(urls) < instances {
		srv, url := h.startServer(quiet)
		urls, srvs = append(urls, url), append(srvs, srv)
	}
	starter, ok := be.store.(sessions.WarehouseStarter)
	if !ok {
		b.Fatal("the Redis store does not offer StartEndWarehouse")
	}
	ctx := context.Background()

	// round is the current round's state, read by the devices' readers.
	type round struct {
		ids   sync.Map // command ids read, each once
		got   atomic.Int64
		all   chan struct{}
		last  atomic.Int64 // unix ns of the last frame read
		dupes atomic.Int64
	}
	var cur atomic.Pointer[round]
	devs := make([]device, n)
	conns := make([]*websocket.Conn, n)
	var readers sync.WaitGroup
	read := func(c *websocket.Conn) {
		readers.Go(func() {
			seen := map[string]bool{}
			for {
				_ = c.SetReadDeadline(time.Time{})
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				var f struct {
					Type      string `json:"type"`
					CommandID string `json:"command_id"`
				}
				if json.Unmarshal(data, &f) != nil || f.Type != "logout" {
					continue
				}
				// Acknowledged as a client library does, at once.
				ack, _ := json.Marshal(map[string]string{"type": "ack", "command_id": f.CommandID})
				if c.WriteMessage(websocket.TextMessage, ack) != nil {
					return
				}
				r := cur.Load()
				if r == nil {
					continue
				}
				if seen[f.CommandID] {
					r.dupes.Add(1)
					continue
				}
				seen[f.CommandID] = true
				r.ids.Store(f.CommandID, true)
				r.last.Store(time.Now().UnixNano())
				if r.got.Add(1) == n {
					close(r.all)
				}
			}
		})
	}
	// Each device reads (and answers pings) from its connect on: the
	// connects of 1,000 devices on a loaded machine can outlast PongWait.
	for i := range devs {
		devs[i] = h.enroll(fmt.Sprintf("BENCH-W-%04d", i))
		conns[i], _ = h.connect(urls[i%len(urls)], devs[i])
		read(conns[i])
	}
	b.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		readers.Wait()
	})
	waitFor(b, "sockets registered", func() bool {
		held := 0
		for _, srv := range srvs {
			held += srv.Sockets()
		}
		return held == n
	})

	trips := &tripsBut{}
	be.redis.AddHook(trips)
	var call, lastFrame, allAcked, redisCPU, procCPU time.Duration
	var tripsTotal int64
	var unmarked int
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		clk.Advance(time.Second)
		for k, d := range devs {
			if _, err := be.store.Create(ctx, sessions.NewSession{
				UserID: fmt.Sprintf("u%d-%d", k, i), Username: "bench", DeviceID: d.id, WarehouseID: h.wh.ID,
			}, sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}); err != nil {
				b.Fatalf("Create: %v", err)
			}
		}
		clk.Advance(time.Second)
		r := &round{all: make(chan struct{})}
		cur.Store(r)
		trips.n.Store(0)
		redis0, proc0 := serverCPU(b, be.redis), processCPU()
		b.StartTimer()
		start := time.Now()
		cmds, finish, err := starter.StartEndWarehouse(ctx, h.wh.ID, sessions.ReasonAdmin)
		called := time.Since(start)
		if err != nil || len(cmds) != n {
			b.Fatalf("StartEndWarehouse = %d commands, %v; want %d", len(cmds), err, n)
		}
		finished := make(chan error, 1)
		go func() {
			_, err := finish(context.WithoutCancel(ctx))
			finished <- err
		}()
		select {
		case <-r.all:
		case <-time.After(60 * time.Second):
			b.Fatalf("round %d: %d of %d devices read their logout within 60 s", i, r.got.Load(), n)
		}
		b.StopTimer()
		redisCPU += serverCPU(b, be.redis) - redis0
		procCPU += processCPU() - proc0
		// Every command reached its device and reads acknowledged:
		// nothing lost.
		pctx := context.WithValue(ctx, notCounted{}, true)
		for _, c := range cmds {
			if _, ok := r.ids.Load(c.ID); !ok {
				b.Fatalf("round %d: command %s was never read by its device", i, c.ID)
			}
		}
		pending := cmds
		for len(pending) > 0 && time.Since(start) < 10*time.Second {
			var left []sessions.Command
			for _, c := range pending {
				got, err := be.store.Command(pctx, c.ID)
				if err != nil || got.AckedAt == nil || got.DeliveredAt == nil {
					left = append(left, c)
				}
			}
			if pending = left; len(pending) > 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		unmarked += len(pending)
		acked := time.Since(start)
		if err := <-finished; err != nil {
			b.Fatalf("finish: %v", err)
		}
		tripsTotal += trips.n.Load()
		if d := r.dupes.Load(); d != 0 {
			b.Errorf("round %d: %d logouts read twice", i, d)
		}
		call += called
		lastFrame += time.Duration(r.last.Load() - start.UnixNano())
		allAcked += acked
	}
	b.ReportMetric(float64(call.Microseconds())/1000/float64(b.N), "ms-call")
	b.ReportMetric(float64(lastFrame.Microseconds())/1000/float64(b.N), "ms-last-frame")
	b.ReportMetric(float64(allAcked.Microseconds())/1000/float64(b.N), "ms-all-acked")
	b.ReportMetric(float64(tripsTotal)/float64(b.N), "redis-trips/op")
	b.ReportMetric(float64(unmarked)/float64(b.N), "unmarked/op")
	b.ReportMetric(float64(redisCPU.Microseconds())/1000/float64(b.N), "ms-redis-cpu")
	if procCPU > 0 {
		b.ReportMetric(float64(procCPU.Microseconds())/1000/float64(b.N), "ms-cpu")
	}
}

// serverCPU reads the Redis server's user + system CPU time (INFO cpu).
func serverCPU(b *testing.B, c goredis.UniversalClient) time.Duration {
	b.Helper()
	info, err := c.Info(context.WithValue(context.Background(), notCounted{}, true), "cpu").Result()
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

// processCPU is this process's user + system CPU time from
// /proc/self/stat (in ticks of 10 ms); 0 where there is no such file.
func processCPU() time.Duration {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which ends with the last ')':
	// utime and stime are the 12th and 13th of them.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// notCounted marks a context whose Redis calls tripsBut leaves out.
type notCounted struct{}

// tripsBut counts Redis round trips as roundTrips does, except those
// made on a context marked notCounted (the benchmark's own polling).
type tripsBut struct{ n atomic.Int64 }

func (r *tripsBut) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *tripsBut) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if ctx.Value(notCounted{}) == nil {
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *tripsBut) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if ctx.Value(notCounted{}) == nil {
			r.n.Add(1)
		}
		return next(ctx, cmds)
	}
}
