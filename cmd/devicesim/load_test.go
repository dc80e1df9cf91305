package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseEvents(t *testing.T) {
	in := "up 1000 dev_a 0\nbad\nlogout 2000 ses_1 cmd_1\nsession x dev_b\ndown 3000 dev_a 0\nup 4000 dev_a"
	got := parseEvents(in)
	want := []struct {
		kind   string
		ns     int64
		fields string
	}{
		{"up", 1000, "dev_a 0"},
		{"logout", 2000, "ses_1 cmd_1"},
		{"down", 3000, "dev_a 0"},
	}
	if len(got) != len(want) {
		t.Fatalf("parseEvents(%q) = %d events %v; want %d (malformed and torn lines skipped)", in, len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].At.UnixNano() != w.ns || strings.Join(got[i].Fields, " ") != w.fields {
			t.Errorf("event %d = %+v; want %s %d %s", i, got[i], w.kind, w.ns, w.fields)
		}
	}
}

func ev(kind string, at time.Duration, fields ...string) event {
	return event{Kind: kind, At: time.Unix(100, 0).Add(at), Fields: fields}
}

func TestAnalyzeStorm(t *testing.T) {
	kill := time.Unix(100, 0).Add(10 * time.Second)
	evs := []event{
		ev(evUp, 0, "d1", "2"),
		ev(evUp, 0, "d2", "2"),
		ev(evUp, 0, "d3", "0"),
		ev(evUp, time.Second, "d4", "2"),
		ev(evDown, 2*time.Second, "d4", "2"), // down before the kill: not dropped by it
		// After the kill (at 10s):
		ev(evDown, 10*time.Second+time.Millisecond, "d1", "2"),
		ev(evDown, 10*time.Second+time.Millisecond, "d2", "2"),
		ev(evUp, 10*time.Second+50*time.Millisecond, "d1", "0"),
		ev(evUp, 10*time.Second+250*time.Millisecond, "d2", "1"),
		ev(evUp, 10*time.Second+260*time.Millisecond, "d1", "1"), // second return: counts for the rate only
	}
	r := analyzeStorm(evs, 2, kill, 200*time.Millisecond)
	if r.Dropped != 2 || r.Back != 2 {
		t.Fatalf("analyzeStorm dropped=%d back=%d; want 2, 2", r.Dropped, r.Back)
	}
	if r.Within != 1 {
		t.Errorf("analyzeStorm within 200ms = %d; want 1 (d1 at 50ms, not d2 at 250ms)", r.Within)
	}
	if r.T99 != 250*time.Millisecond || r.T100 != 250*time.Millisecond {
		t.Errorf("analyzeStorm t99=%v t100=%v; want 250ms, 250ms", r.T99, r.T100)
	}
	if r.PeakPerS != 3 || r.Peak100ms != 2 {
		t.Errorf("analyzeStorm peak 1s=%d 100ms=%d; want 3, 2", r.PeakPerS, r.Peak100ms)
	}

	// One device never returns: no T100, and T99 needs all of 2.
	r = analyzeStorm(evs[:8], 2, kill, time.Minute)
	if r.Dropped != 2 || r.Back != 1 || r.Within != 1 || r.T100 != 0 || r.T99 != 0 {
		t.Errorf("analyzeStorm with one missing = %+v; want dropped 2, back 1, no t99, no t100", r)
	}
}

func TestDeliveries(t *testing.T) {
	since := time.Unix(100, 0).Add(5 * time.Second)
	evs := []event{
		ev(evLogout, time.Second, "s1", "c0"), // before since: an older logout
		ev(evLogout, 7*time.Second, "s1", "c1"),
		ev(evLogout, 6*time.Second, "s1", "c2"),
		ev(evUp, 8*time.Second, "s2", "0"),
	}
	got := deliveries(evs, since)
	if len(got) != 1 || !got["s1"].Equal(time.Unix(106, 0)) {
		t.Errorf("deliveries = %v; want s1 at its first frame after since (106s)", got)
	}
}

func TestParseVmRSS(t *testing.T) {
	in := "Name:\tfloorgate\nVmPeak:\t  999 kB\nVmRSS:\t   51216 kB\nThreads: 9\n"
	got, err := parseVmRSS(strings.NewReader(in))
	if err != nil || got != 51216*1024 {
		t.Errorf("parseVmRSS = %d, %v; want %d, nil", got, err, 51216*1024)
	}
	if _, err := parseVmRSS(strings.NewReader("Name: x\n")); err == nil {
		t.Error("parseVmRSS without a VmRSS line = nil error; want an error")
	}
}

func TestParseMetrics(t *testing.T) {
	in := "# HELP go_memstats_heap_inuse_bytes x\ngo_memstats_heap_inuse_bytes 1.6539648e+07\nfloorgate_gateway_sockets 1500\nother{a=\"b\"} 3\n"
	got, err := parseMetrics(strings.NewReader(in), "go_memstats_heap_inuse_bytes", "floorgate_gateway_sockets", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if got["go_memstats_heap_inuse_bytes"] != 16539648 || got["floorgate_gateway_sockets"] != 1500 || len(got) != 2 {
		t.Errorf("parseMetrics = %v; want heap 16539648 and sockets 1500 only", got)
	}
}
