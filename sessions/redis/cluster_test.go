package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/sessions/sessionstest"
)

// testCluster is a 3-primary Redis Cluster on 127.0.0.1, started once
// for the package by the first test that needs it and stopped by
// TestMain.
type testCluster struct {
	procs  []*exec.Cmd
	dirs   []string
	addrs  []string
	client *goredis.ClusterClient
}

var (
	clusterOnce sync.Once
	theCluster  *testCluster
	clusterErr  error
	errNoServer = errors.New("redis-server is not installed")
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theCluster != nil {
		theCluster.stop()
	}
	if standaloneClient != nil {
		_ = standaloneClient.Close()
	}
	os.Exit(code)
}

// cluster returns the shared cluster client, starting the cluster on
// first use. It skips when redis-server is missing (fails under CI).
func cluster(tb testing.TB) *goredis.ClusterClient {
	tb.Helper()
	clusterOnce.Do(func() { theCluster, clusterErr = startCluster() })
	if clusterErr != nil {
		if errors.Is(clusterErr, errNoServer) && os.Getenv("CI") == "" {
			tb.Skipf("skipping the Redis Cluster tests: %v", clusterErr)
		}
		tb.Fatalf("starting a Redis Cluster: %v", clusterErr)
	}
	return theCluster.client
}

func startCluster() (tc *testCluster, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoServer
	}
	tc = &testCluster{}
	defer func() {
		if err != nil {
			tc.stop()
			tc = nil
		}
	}()
	ports, err := freePorts(3)
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

func (tc *testCluster) stop() {
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
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts finds n ports on 127.0.0.1 that are free together with their
// cluster bus ports (port + 10000).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range 200 {
		if len(ports) == n {
			return ports, nil
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
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

func TestClusterConformance(t *testing.T) {
	sessionstest.Run(t, harness(cluster(t)))
}
