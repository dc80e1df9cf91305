package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/signin"
)

// BenchmarkLogin measures POST /v1/login on PostgreSQL and Redis, each
// worker signing its own user in on its own device in a loop (as
// devicesim's login storm does), with the statements and Redis round
// trips each login costs:
//
//   - hash=test, inflight=1: one login at a time with a cheap hash
//     (64 KiB, t=1): what a login costs besides the hash, in latency and
//     round trips;
//
//   - hash=default, inflight=2 and 8: the default hash (19 MiB, t=2) on
//     GOMAXPROCS hashing slots, the rate a login storm reaches; beside it
//     bare/inflight=2, the same hash alone in a loop, so that the ratio
//     of the two ns/op is the storm's share of the bare argon2id rate.
//
//     go test -run '^$' -bench Login -count 6 ./gateway
func BenchmarkLogin(b *testing.B) {
	b.Run("hash=test/inflight=1", func(b *testing.B) { benchmarkLogin(b, testHash, 1) })
	for _, inflight := range []int{2, 8} {
		b.Run(fmt.Sprintf("hash=default/inflight=%d", inflight), func(b *testing.B) {
			benchmarkLogin(b, devices.DefaultHashParams(), inflight)
		})
	}
	b.Run("bare/inflight=2", func(b *testing.B) {
		p := devices.DefaultHashParams()
		pepper := []byte("a test pepper of enough bytes")
		b.SetParallelism(max(1, 2/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			salt := make([]byte, 16)
			for pb.Next() {
				rand.Read(salt)
				mac := hmac.New(sha256.New, pepper)
				mac.Write([]byte(goodPIN))
				argon2.IDKey(mac.Sum(nil), salt, p.Time, p.MemoryKiB, p.Threads, 32)
			}
		})
	})
}

// statements counts the PostgreSQL statements sent (each one round trip).
type statements struct{ n atomic.Int64 }

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	s.n.Add(1)
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func benchmarkLogin(b *testing.B, hash devices.HashParams, inflight int) {
	clk := newClock()
	stmts := &statements{}
	be := serversWith(b, clk, hash, stmts)
	be.sweepEvery = time.Hour
	// The pool's wait is long: a login that waits for a slot on a busy
	// machine is measured, not refused.
	h := newHarnessOn(b, clk, be, withSignIn(newSignIn(b, be, nil, signin.NewPool(0, time.Minute))), func(c *Config) {
		c.RecheckEvery, c.PresenceEvery, c.PresenceFlushEvery, c.ActivityEvery = time.Hour, time.Hour, time.Hour, time.Hour
	})
	trips := &roundTrips{}
	be.redis.AddHook(trips)
	// One user and one device per worker: no attempt waits for another's
	// claim.
	type pair struct {
		dev  device
		user string
	}
	pairs := make([]pair, inflight)
	for i := range pairs {
		pairs[i] = pair{h.enroll(fmt.Sprintf("BENCH-L-%04d", i)), fmt.Sprintf("bench%04d", i)}
		h.user(pairs[i].user, h.wh.ID)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inflight + 4}}
	login := func(p pair) error {
		body := []byte(`{"username":"` + p.user + `","pin":"` + goodPIN + `"}`)
		req, err := http.NewRequest(http.MethodPost, h.ts.URL+"/v1/login", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+p.dev.token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("login = %d %s, %v; want 200", resp.StatusCode, data, err)
		}
		return nil
	}
	// Each pair once: the first reads and the first session are not
	// measured.
	for _, p := range pairs {
		if err := login(p); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		b.ReportMetric(float64(trips.n.Load())/float64(b.N), "redis-trips/op")
		b.ReportMetric(float64(stmts.n.Load())/float64(b.N), "pg-stmts/op")
	}()
	var next atomic.Int64
	b.SetParallelism(max(1, inflight/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	trips.n.Store(0)
	stmts.n.Store(0)
	if inflight == 1 {
		for b.Loop() {
			if err := login(pairs[0]); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		p := pairs[int(next.Add(1)-1)%len(pairs)]
		for pb.Next() {
			if err := login(p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
}
