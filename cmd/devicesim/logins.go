package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/latency"
)

// runLogins is the login storm: it sets up -pairs users and devices
// (their PIN hashes made by the server, with its parameters), then signs
// in from each concurrency level's workers for -duration, and finally
// fires -burst logins at once while sampling the server's memory.
func runLogins(ctx context.Context, cm *common, fs *flag.FlagSet, args []string, out io.Writer) error {
	pairs := fs.Int("pairs", 64, "users and devices to set up (at least the highest concurrency); the burst uses them in turn")
	levels := fs.String("concurrency", "2,4,8,16,32,64", "comma-separated concurrencies")
	duration := fs.Duration("duration", 10*time.Second, "time per concurrency (bounded)")
	burst := fs.Int("burst", 1000, "logins fired at once after the levels (0: none)")
	prefix := fs.String("prefix", "STORM", "prefix of the warehouse code, serials and usernames")
	honour := fs.Bool("honour-retry-after", true, "after a 429, wait a random part of its Retry-After before the next login (false: retry at once)")
	pid := fs.Int("pid", 0, "server process id, to sample VmRSS during the burst (0: /metrics only)")
	bare := fs.Bool("bare", false, "-gateway is benchbare argon2-http: no setup, no device tokens, no burst")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conc, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	if slices.Max(conc) > *pairs {
		return fmt.Errorf("-pairs %d is below the highest concurrency %d", *pairs, slices.Max(conc))
	}
	c := newClient(cm.gateway, cm.admin, slices.Max(conc)+8)
	user := func(i int) string { return fmt.Sprintf("s.%s.%04d", lower(*prefix), i) }
	tokens := make([]string, *pairs)
	if !*bare {
		if err := loginsSetup(ctx, cm, c, *prefix, *pairs, user, tokens, out); err != nil {
			return err
		}
	} else {
		*burst = 0
	}
	type outcome struct {
		lat    time.Duration
		status int
		retry  time.Duration // Retry-After of a 429
	}
	login := func(ctx context.Context, i int) outcome {
		t := time.Now()
		res, err := c.Login(ctx, tokens[i], user(i), benchPIN)
		if err != nil {
			return outcome{time.Since(t), 0, 0}
		}
		o := outcome{lat: time.Since(t), status: res.Status}
		if res.Problem != nil && res.Problem.RetryAfter > 0 {
			o.retry = time.Duration(res.Problem.RetryAfter) * time.Second
		}
		return o
	}
	for _, n := range conc {
		lctx, cancel := context.WithTimeout(ctx, *duration)
		var (
			mu   sync.Mutex
			ok   []time.Duration
			fail = map[int]int{}
			wg   sync.WaitGroup
		)
		start := time.Now()
		for w := 0; w < n; w++ {
			wg.Go(func() {
				for i := 0; i < 100000 && lctx.Err() == nil; i++ {
					o := login(lctx, w)
					if lctx.Err() != nil && o.status == 0 {
						return
					}
					mu.Lock()
					if o.status == http.StatusOK {
						ok = append(ok, o.lat)
					} else {
						fail[o.status]++
					}
					mu.Unlock()
					// A client that honours Retry-After (as the apps must)
					// waits a full-jitter share of it before trying again.
					if *honour && o.retry > 0 && !sleepCtx(lctx, time.Duration(rand.Int64N(int64(o.retry)))+1) {
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		cancel()
		fmt.Fprintf(out, "RESULT logins concurrency=%d ok=%d rate=%.1f/s refused=%v %s\n", n, len(ok), rate(len(ok), elapsed), fail, latency.Summary(ok))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if *burst <= 0 {
		return nil
	}

	// The burst: every login released at once; memory sampled meanwhile.
	metricsURL := c.Admin + "/metrics" // the admin listener: the device one serves /metrics only with -device-metrics
	before, err := sampleMemory(ctx, *pid, metricsURL)
	if err != nil {
		return err
	}
	var peak atomic.Int64
	peak.Store(before.RSS)
	var peakHeap atomic.Int64
	peakHeap.Store(before.HeapIn)
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sampling := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-t.C:
				if s, err := sampleMemory(bctx, *pid, metricsURL); err == nil {
					if s.RSS > peak.Load() {
						peak.Store(s.RSS)
					}
					if s.HeapIn > peakHeap.Load() {
						peakHeap.Store(s.HeapIn)
					}
				}
			}
		}
	}()
	bc := newClient(cm.gateway, cm.admin, *burst)
	results := make([]outcome, *burst)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < *burst; i++ {
		wg.Go(func() {
			<-gate
			t := time.Now()
			res, err := bc.Login(bctx, tokens[i%*pairs], user(i%*pairs), benchPIN)
			if err != nil {
				results[i] = outcome{lat: time.Since(t)}
				return
			}
			results[i] = outcome{lat: time.Since(t), status: res.Status}
		})
	}
	bstart := time.Now()
	close(gate)
	wg.Wait()
	belapsed := time.Since(bstart)
	close(sampling)
	<-samplerDone
	byStatus := map[int][]time.Duration{}
	for _, r := range results {
		byStatus[r.status] = append(byStatus[r.status], r.lat)
	}
	fmt.Fprintf(out, "RESULT login-burst n=%d in %s rss_before=%.1fMiB rss_peak=%.1fMiB heap_before=%.1fMiB heap_peak=%.1fMiB\n",
		*burst, belapsed.Round(time.Millisecond), mib(before.RSS), mib(peak.Load()), mib(before.HeapIn), mib(peakHeap.Load()))
	keys := make([]int, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "RESULT login-burst status=%d %s\n", k, latency.Summary(byStatus[k]))
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// loginsSetup creates the login storm's users (CSV import, so their PIN
// hashes have the server's parameters) and enrolls its devices, one per
// user, filling tokens.
func loginsSetup(ctx context.Context, cm *common, c *Client, prefix string, pairs int, user func(int) string, tokens []string, out io.Writer) error {
	setup, cancelSetup := context.WithTimeout(ctx, 10*time.Minute)
	defer cancelSetup()
	t0 := time.Now()
	a, err := adminLogin(setup, c, cm.adminEmail, cm.adminPassword)
	if err != nil {
		return err
	}
	whID, err := ensureWarehouse(setup, a, prefix+"W")
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("username,first_name,last_name,pin,warehouse_id,pin_change_required\n")
	for i := 0; i < pairs; i++ {
		fmt.Fprintf(&b, "%s,Storm,User%d,%s,%s,false\n", user(i), i, benchPIN, whID)
	}
	res, err := c.call(setup, http.MethodPost, c.Admin+"/admin/v1/users/import?mode=valid_only", a.token, []byte(b.String()), "text/csv")
	if err != nil {
		return err
	}
	if err := res.decode(http.StatusOK, nil); err != nil {
		return fmt.Errorf("import storm users: %w", err)
	}
	// The devices: enrollment tokens from several loopback addresses, as
	// the setup mode enrolls (enroller).
	en, err := newEnroller(a, c.Gateway, defaultEnrollSource, 8)
	if err != nil {
		return err
	}
	etoks, err := en.tokens(setup, whID, pairs)
	if err != nil {
		return err
	}
	if err := en.enroll(setup, pairs, func(i int) enrollJob {
		return enrollJob{Serial: fmt.Sprintf("%s-D-%04d-%s", prefix, i, randomSuffix()), WarehouseID: whID, Token: etoks[i/maxTokenUses]}
	}, func(i int, e Enrolled) { tokens[i] = e.DeviceToken }); err != nil {
		return err
	}
	fmt.Fprintf(out, "logins setup: %d users and devices in %s\n", pairs, time.Since(t0).Round(time.Millisecond))
	return nil
}
