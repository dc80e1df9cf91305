package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// memSample is one look at a server's memory.
type memSample struct {
	RSS     int64 // bytes, VmRSS of /proc/<pid>/status (or process_resident_memory_bytes)
	HeapIn  int64 // go_memstats_heap_inuse_bytes
	Stack   int64 // go_memstats_stack_inuse_bytes (goroutine stacks)
	Sockets int64 // floorgate_gateway_sockets or bare_sockets
}

// vmRSS reads VmRSS of /proc/<pid>/status in bytes.
func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmRSS(f)
}

func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// scrape reads the named metrics (no labels) of a Prometheus text page.
func scrape(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return parseMetrics(res.Body, names...)
}

func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !want[f[0]] {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", f[0], err)
		}
		out[f[0]] = v
	}
	return out, sc.Err()
}

// sampleMemory reads a server's memory from /proc (pid > 0) and /metrics.
func sampleMemory(ctx context.Context, pid int, metricsURL string) (memSample, error) {
	m, err := scrape(ctx, metricsURL, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "process_resident_memory_bytes", "floorgate_gateway_sockets", "bare_sockets")
	if err != nil {
		return memSample{}, err
	}
	s := memSample{HeapIn: int64(m["go_memstats_heap_inuse_bytes"]), Stack: int64(m["go_memstats_stack_inuse_bytes"]), RSS: int64(m["process_resident_memory_bytes"]),
		Sockets: int64(m["floorgate_gateway_sockets"] + m["bare_sockets"])}
	if pid > 0 {
		if s.RSS, err = vmRSS(pid); err != nil {
			return memSample{}, err
		}
	}
	return s, nil
}

// runSample prints one memory line: with -base (an earlier line's rss and
// heap), also the growth per socket.
func runSample(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
	pid := fs.Int("pid", 0, "server process id (VmRSS from /proc); 0: process_resident_memory_bytes of /metrics")
	url := fs.String("metrics", "http://127.0.0.1:8080/metrics", "the server's /metrics")
	label := fs.String("label", "server", "name printed on the line")
	baseRSS := fs.Int64("base-rss", -1, "RSS in bytes before the sockets, to print the growth per socket")
	baseHeap := fs.Int64("base-heap", 0, "heap in use in bytes before the sockets")
	expect := fs.Int64("sockets", 0, "sockets held (default: the server's gauge)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := sampleMemory(ctx, *pid, *url)
	if err != nil {
		return err
	}
	n := s.Sockets
	if *expect > 0 {
		n = *expect
	}
	fmt.Fprintf(out, "MEM %s sockets=%d gauge=%d rss=%d heap_inuse=%d stack_inuse=%d", *label, n, s.Sockets, s.RSS, s.HeapIn, s.Stack)
	if n > 0 {
		fmt.Fprintf(out, " rss_per_socket=%.2fKiB heap_per_socket=%.2fKiB stack_per_socket=%.2fKiB",
			float64(s.RSS)/float64(n)/1024, float64(s.HeapIn)/float64(n)/1024, float64(s.Stack)/float64(n)/1024)
		if *baseRSS >= 0 {
			fmt.Fprintf(out, " rss_growth_per_socket=%.2fKiB heap_growth_per_socket=%.2fKiB",
				float64(s.RSS-*baseRSS)/float64(n)/1024, float64(s.HeapIn-*baseHeap)/float64(n)/1024)
		}
	}
	fmt.Fprintln(out)
	return nil
}
