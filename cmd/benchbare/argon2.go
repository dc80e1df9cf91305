package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/floorgate/floorgate/cmd/internal/latency"
)

// runArgon2 measures how many argon2id hashes per second the machine
// computes at each concurrency, with Floorgate's construction: argon2id
// over HMAC-SHA256(pepper, PIN), 16-byte salt, 32-byte key.
func runArgon2(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	mem := fs.Uint("memory-kib", 19456, "argon2id memory, KiB (Floorgate's default: 19456)")
	passes := fs.Uint("time", 2, "argon2id passes (Floorgate's default: 2)")
	threads := fs.Uint("threads", 1, "argon2id lanes (Floorgate uses 1)")
	levels := fs.String("concurrency", "1,2", "comma-separated concurrencies to measure")
	duration := fs.Duration("duration", 5*time.Second, "time per concurrency (bounded)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conc, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	pepper := make([]byte, 32)
	rand.Read(pepper)
	fmt.Fprintf(out, "bare argon2id m=%d t=%d p=%d GOMAXPROCS=%d\n", *mem, *passes, *threads, runtime.GOMAXPROCS(0))
	for _, c := range conc {
		lctx, cancel := context.WithTimeout(ctx, *duration)
		var (
			mu  sync.Mutex
			lat []time.Duration
			wg  sync.WaitGroup
		)
		start := time.Now()
		for w := 0; w < c; w++ {
			wg.Go(func() {
				salt := make([]byte, 16)
				var mine []time.Duration
				for i := 0; i < 1_000_000 && lctx.Err() == nil; i++ {
					t0 := time.Now()
					rand.Read(salt)
					mac := hmac.New(sha256.New, pepper)
					mac.Write([]byte("730591"))
					argon2.IDKey(mac.Sum(nil), salt, uint32(*passes), uint32(*mem), uint8(*threads), 32)
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		cancel()
		fmt.Fprintf(out, "bare argon2 concurrency=%d hashes=%d rate=%.1f/s %s\n", c, len(lat), float64(len(lat))/elapsed.Seconds(), latency.Summary(lat))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// parseLevels reads "2,4,8" into its numbers, each at least 1.
func parseLevels(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100000 {
			return nil, fmt.Errorf("concurrency %q: want positive integers, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}
