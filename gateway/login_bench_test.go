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
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
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
		cpu := newCPUMeter(b, nil, nil)
		defer cpu.report(b)
		cpu.start()
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

// statements counts the PostgreSQL statements sent (each one round trip)
// and remembers the server process (backend) of every connection that
// sent one, so that a benchmark can read their CPU time.
type statements struct {
	n    atomic.Int64
	mu   sync.Mutex
	pids map[uint32]bool
}

func (s *statements) TraceQueryStart(ctx context.Context, c *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	s.n.Add(1)
	if c != nil {
		pid := c.PgConn().PID()
		s.mu.Lock()
		if s.pids == nil {
			s.pids = map[uint32]bool{}
		}
		s.pids[pid] = true
		s.mu.Unlock()
	}
	return ctx
}

// backends are the PostgreSQL server processes seen so far.
func (s *statements) backends() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, 0, len(s.pids))
	for pid := range s.pids {
		out = append(out, int(pid))
	}
	return out
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
	cpu := newCPUMeter(b, be.redis, stmts.backends)
	defer func() {
		b.ReportMetric(float64(trips.n.Load())/float64(b.N), "redis-trips/op")
		b.ReportMetric(float64(stmts.n.Load())/float64(b.N), "pg-stmts/op")
		cpu.report(b)
	}()
	var next atomic.Int64
	b.SetParallelism(max(1, inflight/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	trips.n.Store(0)
	stmts.n.Store(0)
	cpu.start()
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

// cpuMeter reads the CPU time spent by this process (the gateway and the
// benchmark's HTTP client), by the PostgreSQL backends of the store's
// connections and by redis-server between start and report, and reports
// each per op (µs): where a login's CPU goes, summed over every process
// it runs in. redis-server is shared with whatever else uses it on the
// machine; the backends are this benchmark's own.
//
// A backend that the pool connects during the run counts from its start
// (its connection's setup included).
type cpuMeter struct {
	redisPID int
	backends func() []int // nil: no PostgreSQL
	self     time.Duration
	sys      time.Duration // of self: the kernel's part (page faults, syscalls)
	gcs      uint32        // garbage collections so far
	pg       map[int]time.Duration
	redis    time.Duration
}

func newCPUMeter(b *testing.B, client goredis.UniversalClient, backends func() []int) *cpuMeter {
	b.Helper()
	m := &cpuMeter{backends: backends}
	if client != nil {
		info, err := client.Info(context.Background(), "server").Result()
		if err != nil {
			b.Fatalf("INFO server: %v", err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
				m.redisPID, _ = strconv.Atoi(v)
			}
		}
	}
	return m
}

func (m *cpuMeter) start() {
	m.pg = map[int]time.Duration{}
	if m.backends != nil {
		for _, pid := range m.backends() {
			m.pg[pid] = pidsCPU([]int{pid})
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.gcs = ms.NumGC
	m.self, m.sys, m.redis = selfCPU(), selfSys(), pidsCPU([]int{m.redisPID})
}

func (m *cpuMeter) report(b *testing.B) {
	n := float64(b.N) * float64(time.Microsecond)
	b.ReportMetric(float64(selfCPU()-m.self)/n, "go-cpu-us/op")
	b.ReportMetric(float64(selfSys()-m.sys)/n, "go-sys-us/op")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.NumGC-m.gcs)/float64(b.N), "gcs/op")
	if m.backends != nil {
		var pg time.Duration
		for _, pid := range m.backends() {
			pg += pidsCPU([]int{pid}) - m.pg[pid]
		}
		b.ReportMetric(float64(pg)/n, "pg-cpu-us/op")
	}
	if m.redisPID > 0 {
		b.ReportMetric(float64(pidsCPU([]int{m.redisPID})-m.redis)/n, "redis-cpu-us/op")
	}
}

// selfCPU is this process's user and system time, every thread included.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfSys is the system part of selfCPU.
func selfSys() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

// pidsCPU is the time the threads of pids have run, from the scheduler's
// nanosecond count (/proc/PID/task/TID/schedstat, readable for any
// process on Linux; 0 elsewhere).
func pidsCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, t := range tasks {
			data, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			f := strings.Fields(string(data))
			if len(f) == 0 {
				continue
			}
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}
