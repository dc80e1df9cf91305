package connlimit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
)

func TestKey(t *testing.T) {
	tests := []struct{ host, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
		{"not an address", "invalid IP"},
		{"", "invalid IP"},
	}
	for _, tt := range tests {
		if got := Key(tt.host).String(); got != tt.want {
			t.Errorf("Key(%q) = %s; want %s", tt.host, got, tt.want)
		}
	}
}

func TestCounter(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	c := NewCounter(3, 2)
	steps := []struct {
		acquire bool
		addr    netip.Addr
		want    string
	}{
		{true, a, ""},
		{true, a, ""},
		{true, a, ReasonAddress},
		{true, b, ""},
		{true, b, ReasonInstance},
		{false, a, ""},
		{true, b, ""},
		{true, a, ReasonInstance},
		{false, b, ""},
		{true, a, ""},
	}
	for i, s := range steps {
		if !s.acquire {
			c.Release(s.addr)
			continue
		}
		if got := c.Acquire(s.addr); got != s.want {
			t.Fatalf("step %d: Acquire(%s) = %q; want %q", i, s.addr, got, s.want)
		}
	}
	if got := c.Open(); got != 3 {
		t.Errorf("Open() = %d; want 3", got)
	}
	var zero Counter
	for range 100 {
		if got := zero.Acquire(a); got != "" {
			t.Fatalf("zero Counter: Acquire = %q; want no cap", got)
		}
	}
}

// serve accepts on l until it is closed, keeping every connection open
// until the test ends.
func serve(t *testing.T, l *Listener) {
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
}

// refusal reads what the server sent on c within wait: the refusal's
// status, Retry-After and detail, or 0 when nothing came (the connection
// is held).
func refusal(t *testing.T, c net.Conn, wait time.Duration) (status int, retryAfter, detail string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", ""
	}
	defer resp.Body.Close()
	var p struct {
		Code       string `json:"code"`
		Detail     string `json:"detail"`
		RetryAfter int    `json:"retry_after"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Code != "unavailable" || p.RetryAfter != 7 {
		t.Errorf("refusal body = %+v, %v; want code unavailable, retry_after 7", p, err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), p.Detail
}

// TestListener drives the caps over the loopback network: two
// connections per address, three in all; the excess is answered 503
// with Retry-After, and a closed connection frees its slot.
func TestListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refused := map[string]int{}
	l := NewListener(ln, Config{Max: 3, PerAddr: 2, RetryAfter: 7 * time.Second, OnRefuse: func(r string) {
		mu.Lock()
		refused[r]++
		mu.Unlock()
	}})
	serve(t, l)
	addr := ln.Addr().String()

	// held and refused bound how long a read waits: nothing arriving
	// within held means the connection was kept.
	const held, refused5 = 200 * time.Millisecond, 5 * time.Second
	for range 2 {
		if st, _, _ := refusal(t, testenv.DialFrom(t, "127.0.0.2", addr), held); st != 0 {
			t.Fatalf("a connection within the caps got %d; want it held", st)
		}
	}
	if st, ra, detail := refusal(t, testenv.DialFrom(t, "127.0.0.2", addr), refused5); st != 503 || ra != "7" || detail == "" {
		t.Fatalf("third connection from one address = %d, Retry-After %q; want 503, 7", st, ra)
	}
	if st, _, _ := refusal(t, testenv.DialFrom(t, "127.0.0.3", addr), held); st != 0 {
		t.Fatalf("another address's first connection got %d; want it held", st)
	}
	if st, ra, _ := refusal(t, testenv.DialFrom(t, "127.0.0.4", addr), refused5); st != 503 || ra != "7" {
		t.Fatalf("connection over the instance cap = %d, Retry-After %q; want 503, 7", st, ra)
	}
	if got := l.Open(); got != 3 {
		t.Fatalf("Open() = %d; want 3", got)
	}
	mu.Lock()
	if refused[ReasonAddress] != 1 || refused[ReasonInstance] != 1 {
		t.Errorf("refusals = %v; want one of each", refused)
	}
	mu.Unlock()
}

// TestListenerReleases: a connection closed by the server gives its slot
// back, once, however often it is closed.
func TestListenerReleases(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, Config{Max: 1})
	defer l.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for i := range 3 {
		c := testenv.DialFrom(t, "127.0.0.1", ln.Addr().String())
		sc := <-accepted
		// The gateway's device sockets wait for readiness on it.
		if sys, ok := sc.(syscall.Conn); !ok {
			t.Fatal("accepted connection is not a syscall.Conn")
		} else if _, err := sys.SyscallConn(); err != nil {
			t.Fatalf("SyscallConn: %v", err)
		}
		if got := l.Open(); got != 1 {
			t.Fatalf("round %d: Open() = %d; want 1", i, got)
		}
		sc.Close()
		sc.Close()
		c.Close()
		if got := l.Open(); got != 0 {
			t.Fatalf("round %d: Open() after close = %d; want 0", i, got)
		}
	}
}

func TestAnswer(t *testing.T) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(Answer("full", 3))), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "3" || resp.Header.Get("Content-Type") != "application/problem+json" || !resp.Close {
		t.Errorf("Answer = %d %v; want 503, Retry-After 3, problem+json, Connection: close", resp.StatusCode, resp.Header)
	}
}
