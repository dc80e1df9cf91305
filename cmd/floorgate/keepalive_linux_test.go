package main

import (
	"context"
	"net"
	"syscall"
	"testing"
)

// keepAliveOf reads SO_KEEPALIVE of an accepted connection.
func keepAliveOf(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	}); err != nil {
		t.Fatalf("Control: %v", err)
	}
	if gerr != nil {
		t.Fatalf("getsockopt SO_KEEPALIVE: %v", gerr)
	}
	return v
}

// accepted listens with lc, dials it and returns the accepted side.
func accepted(t *testing.T, lc *net.ListenConfig) net.Conn {
	t.Helper()
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDeviceListenerNoKeepAlive: the device listener's connections have
// no TCP keep-alive (the pings and the idle timeout stand for it, and a
// connect saves the system calls), while Go's default, which the admin
// listener keeps, turns it on; so the check can tell the two apart.
func TestDeviceListenerNoKeepAlive(t *testing.T) {
	if v := keepAliveOf(t, accepted(t, &deviceListenConfig)); v != 0 {
		t.Errorf("device listener: SO_KEEPALIVE = %d; want 0", v)
	}
	if v := keepAliveOf(t, accepted(t, &net.ListenConfig{})); v == 0 {
		t.Errorf("default listener: SO_KEEPALIVE = 0; want it on (the check cannot tell)")
	}
}
