package testenv

import (
	"net"
	"testing"
	"time"
)

// DialFrom connects to addr over TCP from the loopback address from
// ("127.0.0.2"): Linux routes all of 127.0.0.0/8 to the loopback
// interface, so one test plays several client addresses against a
// server on 127.0.0.1. The connection is closed at tb's cleanup.
func DialFrom(tb testing.TB, from, addr string) net.Conn {
	tb.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
