package gateway

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// BenchmarkConnect measures the websocket connect path on PostgreSQL and
// Redis: dial with the device token in the header, upgrade, authenticate,
// announce, read the device's sessions and queued logouts, and read
// welcome; then close. For devices with no session and for devices with
// a signed-in user, one connect at a time (the latency, where round trips
// count) and 32 at once (16 goroutines per core on 2 cores: the rate,
// where CPU counts), each goroutine with devices of its own (8 each), so
// that no connect replaces another:
//
//	go test -run '^$' -bench Connect -count 6 ./gateway
func BenchmarkConnect(b *testing.B) {
	for _, signedIn := range []bool{false, true} {
		for _, inflight := range []int{1, 32} {
			name := "no_session"
			if signedIn {
				name = "signed_in"
			}
			b.Run(fmt.Sprintf("%s/inflight=%d", name, inflight), func(b *testing.B) {
				benchmarkConnect(b, signedIn, inflight)
			})
		}
	}
}

func benchmarkConnect(b *testing.B, signedIn bool, inflight int) {
	clk := newClock()
	be := serversTB(b, clk)
	// No background work during the measure but the presence passes
	// (every PresenceFlushEvery, 250 ms), which mark the sockets of the
	// connects online and, once closed, offline: every Redis call
	// counted is a connect's, its socket's end or its share of a batch.
	be.sweepEvery = time.Hour
	h := newHarnessOn(b, clk, be, func(c *Config) {
		c.RecheckEvery, c.PresenceEvery, c.ActivityEvery = time.Hour, time.Hour, time.Hour
	})
	trips := &roundTrips{}
	be.redis.AddHook(trips)
	parallelism := max(1, inflight/runtime.GOMAXPROCS(0))
	goroutines := 1
	if inflight > 1 {
		goroutines = parallelism * runtime.GOMAXPROCS(0)
	}
	n := 8 * goroutines
	devs := make([]device, n)
	for i := range devs {
		devs[i] = h.enroll(fmt.Sprintf("BENCH-C-%04d", i))
		if signedIn {
			u := fmt.Sprintf("bench%04d", i)
			h.user(u, h.wh.ID)
			h.mustLogin(devs[i], u)
		}
	}
	// Each device once, so that the registry's and Redis's first reads
	// are not measured.
	for _, d := range devs {
		c, _ := h.connect(h.ts.URL, d)
		c.Close()
	}
	waitFor(b, "warm-up sockets closed", func() bool { return h.srv.Sockets() == 0 })
	connect := func(d device) error {
		c, resp, err := dial(b, h.ts.URL, d.token, nil)
		if err != nil {
			return fmt.Errorf("dial: %v (%v)", err, resp)
		}
		var w struct {
			Type    string         `json:"type"`
			Session map[string]any `json:"session"`
		}
		c.SetReadDeadline(time.Now().Add(frameWait))
		err = c.ReadJSON(&w)
		c.Close()
		if err != nil || w.Type != "welcome" || signedIn != (w.Session != nil) {
			return fmt.Errorf("first frame = %+v, %v; want welcome with a session: %v", w, err, signedIn)
		}
		return nil
	}
	defer func() {
		// Sockets end after the loop: wait for their MarkOffline.
		waitFor(b, "sockets closed", func() bool { return h.srv.Sockets() == 0 })
		b.ReportMetric(float64(trips.n.Load())/float64(b.N), "redis-trips/op")
	}()
	if inflight == 1 {
		k := 0
		trips.n.Store(0)
		for b.Loop() {
			if err := connect(devs[k%n]); err != nil {
				b.Fatal(err)
			}
			k++
		}
		return
	}
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	trips.n.Store(0)
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1) - 1)
		for k := 0; pb.Next(); k++ {
			if err := connect(devs[(g+k*goroutines)%n]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// roundTrips counts the commands and pipelines a Redis client sends (each
// one round trip); the subscription's reads are not counted.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}
