package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/devices"
)

// Environment of the socket-holding helper process.
const (
	envHelperURL    = "FLOORGATE_GATEWAY_HELPER_URL"
	envHelperTokens = "FLOORGATE_GATEWAY_HELPER_TOKENS"
)

// BenchmarkIdleSocketMemory measures what one idle, authenticated device
// socket costs the gateway: it opens FLOORGATE_BENCH_SOCKETS sockets (2000
// by default) from a helper process, so that the clients' memory is not
// counted, and reports the growth of the Go heap and stacks and of the
// process's resident set (VmRSS) per socket. Run it once:
//
//	go test -run '^$' -bench IdleSocketMemory -benchtime 1x ./gateway
//
// With FLOORGATE_BENCH_HEAPPROFILE=path it also writes a heap profile
// taken while the sockets are held (every allocation sampled).
func BenchmarkIdleSocketMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("FLOORGATE_BENCH_SOCKETS")); err == nil && v > 0 {
		n = v
	}
	// Ping soon enough that every socket has answered a ping (and run its
	// pong handler) shortly after the last one is open, but not much
	// more often than in production: pinging every socket 4 times a
	// second (PingEvery 250ms, as this did) is n*4 pings and pongs a
	// second while the helper is still dialing, which on a busy machine
	// slowed its dials past their 10s limit (the helper failed before
	// "ready") and would be measured as the idle state.
	h := newHarness(b, func(c *Config) { c.PingEvery = 3 * time.Second })
	ctx := context.Background()
	var tokens strings.Builder
	var toks []devices.Token
	for i := range n {
		_, tok, _, err := h.be.reg.Enroll(ctx, "mgr_bench", devices.EnrollInput{WarehouseID: h.wh.ID, Serial: fmt.Sprintf("BENCH-%06d", i), AppVersion: "4.2.0"})
		if err != nil {
			b.Fatalf("Enroll: %v", err)
		}
		tokens.WriteString(tok.Reveal() + "\n")
		toks = append(toks, tok)
	}
	// Warm the registry (SQLite's page cache lives outside the Go heap but
	// in the RSS) so that the baseline holds everything but the sockets.
	for _, tok := range toks {
		if _, err := h.be.reg.AuthenticateDevice(ctx, tok); err != nil {
			b.Fatalf("AuthenticateDevice: %v", err)
		}
	}
	file := filepath.Join(b.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(tokens.String()), 0o600); err != nil {
		b.Fatal(err)
	}

	profile := os.Getenv("FLOORGATE_BENCH_HEAPPROFILE")
	if profile != "" {
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	for b.Loop() {
		heap0, rss0 := memNow(b, h.be.reg)
		st0 := stackNow()
		g0 := runtime.NumGoroutine()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldSockets$", "-test.count=1")
		cmd.Env = append(os.Environ(), envHelperURL+"="+h.ts.URL, envHelperTokens+"="+file)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatalf("start helper: %v", err)
		}
		out := bufio.NewReader(stdout)
		for _, want := range []string{"ready", "pinged"} {
			line, err := out.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, want) {
				// The rest says why (a failing helper prints its
				// test log after "--- FAIL").
				rest, _ := io.ReadAll(io.LimitReader(out, 8<<10))
				b.Fatalf("helper said %q, %v; want %s; then:\n%s", line, err, want, rest)
			}
		}
		if got := h.srv.Sockets(); got != n {
			b.Fatalf("Sockets() = %d; want %d", got, n)
		}
		heap1, rss1 := memNow(b, h.be.reg)
		if profile != "" {
			writeHeapProfile(b, profile)
		}
		b.ReportMetric(float64(heap1-heap0)/float64(n), "go-bytes/socket")
		b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-bytes/socket")
		b.ReportMetric(float64(stackNow()-st0)/float64(n), "stack-bytes/socket")
		b.ReportMetric(float64(n), "sockets")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(n), "goroutines/socket")
		stdin.Close()
		cmd.Wait()
		waitFor(b, "sockets closed", func() bool { return h.srv.Sockets() == 0 })
	}
}

// writeHeapProfile writes the live heap, while the sockets are held, to
// path (FLOORGATE_BENCH_HEAPPROFILE; read it with go tool pprof
// -sample_index=inuse_space).
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("heap profile: %v", err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatalf("heap profile: %v", err)
	}
}

// memNow returns, after a full collection, the Go memory in use (heap and
// stacks) and the resident set size, in bytes.
func memNow(b *testing.B, reg *devices.Registry) (goBytes, rss int64) {
	// Last-seen notes are held until the flusher writes them (every 30s):
	// flush them, as the steady state has.
	if err := reg.FlushSeen(context.Background()); err != nil {
		b.Fatalf("FlushSeen: %v", err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goBytes = int64(ms.HeapInuse + ms.StackInuse)
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatalf("read /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			rss = kb * 1024
		}
	}
	return goBytes, rss
}

// TestHelperHoldSockets is the benchmark's client process: it opens one
// socket per token, reads each welcome, says "ready" and holds them until
// its stdin closes. It does nothing in a normal test run.
func TestHelperHoldSockets(t *testing.T) {
	t.Parallel()
	url, file := os.Getenv(envHelperURL), os.Getenv(envHelperTokens)
	if url == "" || file == "" {
		t.Skip("helper process of BenchmarkIdleSocketMemory")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	toks := strings.Fields(string(data))
	var open []*websocket.Conn
	var pinged sync.WaitGroup
	var lost atomic.Int64
	pinged.Add(len(toks))
	for _, tok := range toks {
		c, _, err := dial(t, url, tok, http.Header{})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if w := readFrame(t, c); w["type"] != "welcome" {
			t.Fatalf("first frame %v; want welcome", w)
		}
		c.SetReadDeadline(time.Time{})
		var once sync.Once
		c.SetPingHandler(func(data string) error {
			once.Do(pinged.Done)
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					lost.Add(1)
					once.Do(pinged.Done) // do not wait for a ping that cannot come
					return
				}
			}
		}()
		open = append(open, c)
	}
	fmt.Println("ready")
	pinged.Wait()
	if n := lost.Load(); n > 0 {
		fmt.Printf("lost %d sockets before their first ping\n", n)
		return
	}
	fmt.Println("pinged")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range open {
		c.Close()
	}
}

func stackNow() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.StackInuse)
}
