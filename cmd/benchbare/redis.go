package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/latency"
	"github.com/redis/go-redis/v9"
)

func randomPrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "benchbare:" + hex.EncodeToString(b) + ":"
}

// runRedisGet is a go-redis GET loop at a fixed concurrency on keys that
// hold a value the size of a session record.
func runRedisGet(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:6379", "Redis address")
	conc := fs.Int("concurrency", 64, "GETs in flight at once")
	duration := fs.Duration("duration", 5*time.Second, "how long to run (bounded)")
	keys := fs.Int("keys", 1000, "distinct keys")
	size := fs.Int("value-bytes", 400, "bytes per value")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conc < 1 || *keys < 1 {
		return errors.New("-concurrency and -keys must be positive")
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: *conc + 4})
	defer rdb.Close()
	prefix := randomPrefix()
	val := strings.Repeat("x", *size)
	pipe := rdb.Pipeline()
	for i := 0; i < *keys; i++ {
		pipe.Set(ctx, prefix+strconv.Itoa(i), val, 10*time.Minute)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("seed keys: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p := rdb.Pipeline()
		for i := 0; i < *keys; i++ {
			p.Del(dctx, prefix+strconv.Itoa(i))
		}
		p.Exec(dctx)
	}()
	lctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for i := w; i < 100_000_000 && lctx.Err() == nil; i += *conc {
				t0 := time.Now()
				if err := rdb.Get(lctx, prefix+strconv.Itoa(i%*keys)).Err(); err != nil {
					if lctx.Err() == nil {
						bad++
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintf(out, "bare redis-get concurrency=%d requests=%d errors=%d rate=%.0f/s %s\n",
		*conc, len(lat), errs, float64(len(lat))/elapsed.Seconds(), latency.Summary(lat))
	return nil
}

// runRedisPubSub publishes timestamps on one connection and receives them
// on another: first one after another (each waits for its delivery), then
// a burst published all at once.
func runRedisPubSub(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	addr := fs.String("addr", "127.0.0.1:6379", "Redis address")
	count := fs.Int("count", 1000, "messages published one after another")
	burst := fs.Int("burst", 5000, "messages then published at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	pub := redis.NewClient(&redis.Options{Addr: *addr})
	defer pub.Close()
	sub := redis.NewClient(&redis.Options{Addr: *addr})
	defer sub.Close()
	channel := randomPrefix() + "ch"
	ps := sub.Subscribe(ctx, channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	msgs := ps.Channel(redis.WithChannelSize(*burst + 100))

	recv := func(n int, within time.Duration) ([]time.Duration, int) {
		var lat []time.Duration
		deadline := time.NewTimer(within)
		defer deadline.Stop()
		for len(lat) < n {
			select {
			case m := <-msgs:
				sent, err := strconv.ParseInt(m.Payload, 10, 64)
				if err == nil {
					lat = append(lat, time.Duration(time.Now().UnixNano()-sent))
				}
			case <-deadline.C:
				return lat, n - len(lat)
			}
		}
		return lat, 0
	}

	var seq []time.Duration
	lost := 0
	for i := 0; i < *count && ctx.Err() == nil; i++ {
		if err := pub.Publish(ctx, channel, strconv.FormatInt(time.Now().UnixNano(), 10)).Err(); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		l, miss := recv(1, 5*time.Second)
		seq = append(seq, l...)
		lost += miss
	}
	fmt.Fprintf(out, "bare redis-pubsub sequential lost=%d %s\n", lost, latency.Summary(seq))

	if *burst > 0 {
		go func() {
			for i := 0; i < *burst && ctx.Err() == nil; i++ {
				pub.Publish(ctx, channel, strconv.FormatInt(time.Now().UnixNano(), 10))
			}
		}()
		l, miss := recv(*burst, 30*time.Second)
		fmt.Fprintf(out, "bare redis-pubsub burst lost=%d %s\n", miss, latency.Summary(l))
	}
	return nil
}
