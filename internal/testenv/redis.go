package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisAddrVar names the address of the shared test Redis.
const RedisAddrVar = "FLOORGATE_TEST_REDIS_ADDR"

var (
	redisOnce   sync.Once
	redisClient goredis.UniversalClient
	redisAddr   string
	redisErr    error
)

// Redis returns the package's client of the shared test Redis
// ($FLOORGATE_TEST_REDIS_ADDR, default 127.0.0.1:6379), or skips when it
// does not answer (fails when CI is set). Tests share the client and
// isolate themselves with RedisPrefix; they never flush.
func Redis(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	redisOnce.Do(func() {
		redisAddr = os.Getenv(RedisAddrVar)
		if redisAddr == "" {
			redisAddr = "127.0.0.1:6379"
		}
		c := goredis.NewClient(&goredis.Options{Addr: redisAddr, PoolSize: 32})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			redisErr = err
			_ = c.Close()
			return
		}
		redisClient = c
	})
	if redisErr != nil {
		SkipOrFail(tb, fmt.Sprintf("Redis at %s does not answer (set %s to its address): %v", redisAddr, RedisAddrVar, redisErr))
	}
	return redisClient
}

// NewRedisClient returns a client of its own to the shared test Redis,
// named name (CLIENT SETNAME, so a test can find and kill its
// connections), closed at tb's cleanup; it skips (fails under CI) when
// Redis does not answer.
func NewRedisClient(tb testing.TB, name string) *goredis.Client {
	tb.Helper()
	Redis(tb)
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr, ClientName: name})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// RedisURL is the redis:// URL of the shared test Redis, or skips (fails
// under CI) when it does not answer.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	Redis(tb)
	return "redis://" + redisAddr
}

// RedisPrefix returns a fresh key prefix ("fgtest:<random>:") whose keys
// are deleted at tb's cleanup, node by node on a Cluster. Only the
// cleanup scans the keyspace.
func RedisPrefix(tb testing.TB, c goredis.UniversalClient) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "fgtest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		if err := DeleteRedisPrefix(c, prefix); err != nil {
			tb.Errorf("deleting keys under %q: %v", prefix, err)
		}
	})
	return prefix
}

// RedisKeys lists the keys under prefix, node by node on a Cluster.
func RedisKeys(tb testing.TB, c goredis.UniversalClient, prefix string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var keys []string
	err := eachNode(ctx, c, func(ctx context.Context, node goredis.UniversalClient) error {
		it := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	})
	if err != nil {
		tb.Fatalf("scanning %q: %v", prefix, err)
	}
	return keys
}

// DeleteRedisPrefix removes every key under prefix, node by node on a
// Cluster.
func DeleteRedisPrefix(c goredis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return eachNode(ctx, c, func(ctx context.Context, node goredis.UniversalClient) error {
		it := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			if err := node.Del(ctx, it.Val()).Err(); err != nil {
				return err
			}
		}
		return it.Err()
	})
}

// eachNode runs f on c, or on every primary of a Cluster.
func eachNode(ctx context.Context, c goredis.UniversalClient, f func(context.Context, goredis.UniversalClient) error) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return f(ctx, n) })
	}
	return f(ctx, c)
}

// DeadRedis returns a client of an address on 127.0.0.1 where nothing
// listens (a port that was free a moment ago), with no retries: every
// command fails at once, as against a server that is down.
func DeadRedis(tb testing.TB) *goredis.Client {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// cluster is a 3-primary Redis Cluster on 127.0.0.1, started once per
// test binary by the first test that needs it and stopped by Stop.
type cluster struct {
	procs  []*exec.Cmd
	dirs   []string
	addrs  []string
	client *goredis.ClusterClient
}

var (
	clusterOnce sync.Once
	theCluster  *cluster
	clusterErr  error
	errNoServer = errors.New("redis-server is not installed")
)

// RedisCluster returns the client of a Redis Cluster of three primaries
// that this test binary starts on free 127.0.0.1 ports on first use
// (call Stop from TestMain). It skips when redis-server is missing
// (fails under CI).
func RedisCluster(tb testing.TB) *goredis.ClusterClient {
	tb.Helper()
	clusterOnce.Do(func() {
		// A node that loses its port to another process between the
		// check and its start aborts; the cluster is then started again
		// on other ports, at most three times.
		for range 3 {
			if theCluster, clusterErr = startCluster(); clusterErr == nil || errors.Is(clusterErr, errNoServer) {
				return
			}
		}
	})
	if clusterErr != nil {
		if errors.Is(clusterErr, errNoServer) {
			SkipOrFail(tb, fmt.Sprintf("skipping the Redis Cluster tests: %v", clusterErr))
		}
		tb.Fatalf("starting a Redis Cluster: %v", clusterErr)
	}
	return theCluster.client
}

// Stop stops what this package started for the test binary (the
// Cluster) and closes its shared clients. TestMain calls it after m.Run.
func Stop() {
	if theCluster != nil {
		theCluster.stop()
	}
	if redisClient != nil {
		_ = redisClient.Close()
	}
}

func startCluster() (tc *cluster, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoServer
	}
	tc = &cluster{}
	defer func() {
		if err != nil {
			tc.stop()
			tc = nil
		}
	}()
	ports, err := freePortPairs(3)
	if err != nil {
		return tc, err
	}
	for _, port := range ports {
		dir, err := os.MkdirTemp("", "fgcluster")
		if err != nil {
			return tc, err
		}
		tc.dirs = append(tc.dirs, dir)
		p := strconv.Itoa(port)
		cmd := exec.Command(bin,
			"--port", p, "--bind", "127.0.0.1", "--protected-mode", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis.log"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return tc, fmt.Errorf("start redis-server on port %s: %w", p, err)
		}
		tc.procs = append(tc.procs, cmd)
		tc.addrs = append(tc.addrs, "127.0.0.1:"+p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := make([]*goredis.Client, len(tc.addrs))
	for i, a := range tc.addrs {
		nodes[i] = goredis.NewClient(&goredis.Options{Addr: a})
		defer nodes[i].Close()
	}
	for i, n := range nodes {
		if err := waitFor(ctx, func() bool { return n.Ping(ctx).Err() == nil }); err != nil {
			return tc, fmt.Errorf("redis-server %s does not answer: %w (log: %s)", tc.addrs[i], err, readLog(tc.dirs[i]))
		}
	}
	// Each primary takes a third of the slots, then they meet.
	const slots = 16384
	for i, n := range nodes {
		lo, hi := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		if err := n.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return tc, fmt.Errorf("CLUSTER ADDSLOTSRANGE on %s: %w", tc.addrs[i], err)
		}
	}
	for i, port := range ports[1:] {
		if err := nodes[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(port)).Err(); err != nil {
			return tc, fmt.Errorf("CLUSTER MEET %s: %w", tc.addrs[i+1], err)
		}
	}
	for i, n := range nodes {
		err := waitFor(ctx, func() bool {
			info, err := n.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:3")
		})
		if err != nil {
			return tc, fmt.Errorf("cluster_state of %s never became ok: %w", tc.addrs[i], err)
		}
	}
	tc.client = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: tc.addrs, PoolSize: 16})
	// The client learns the slot map on first use; make sure every node
	// answers through it.
	if err := waitFor(ctx, func() bool {
		return tc.client.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		}) == nil && tc.client.Set(ctx, "fgtest:probe", "1", time.Second).Err() == nil
	}); err != nil {
		return tc, fmt.Errorf("cluster client: %w", err)
	}
	return tc, nil
}

func (tc *cluster) stop() {
	if tc.client != nil {
		_ = tc.client.Close()
	}
	for _, p := range tc.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	for _, d := range tc.dirs {
		_ = os.RemoveAll(d)
	}
}

// waitFor polls ok every 50 ms until it holds or ctx ends.
func waitFor(ctx context.Context, ok func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// freePortPairs finds n ports on 127.0.0.1 that are free together with
// their cluster bus ports (port + 10000). Both are taken below Linux's
// ephemeral range (32768 and up), from which the kernel gives every
// other test's client connections and ":0" listeners their ports, so
// that none of those takes one between this check and the node's start.
func freePortPairs(n int) ([]int, error) {
	var ports []int
	for range 200 {
		if len(ports) == n {
			return ports, nil
		}
		port := 20000 + mrand.IntN(2700) // bus: 30000..32699
		if slices.Contains(ports, port) {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		ports = append(ports, port)
	}
	return nil, fmt.Errorf("no %d free port pairs found", n)
}

func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
