package gateway

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPingBeforeReading: a ping tick that reaches a socket after its
// welcome was queued and before its reader started (runSocket's last
// steps) pings it; it must not find the socket silent and drop it.
func TestPingBeforeReading(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	env := &socketEnv{
		now: time.Now, pongWait: time.Minute, pingEvery: 20 * time.Second, writeWait: 10 * time.Second,
		closeGrace: time.Second, messageRate: DefaultMessageRate, messageBurst: DefaultMessageBurst,
		work:     newTasks(),
		closed:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "closed"}, []string{"code"}),
		release:  func(netip.Addr) {},
		written:  func(outFrame) {},
		acked:    func(*socket, string) {},
		finished: func(*socket) {},
		poll:     &poller{},
	}
	s := newSocket(env, newWSConn(server), netip.Addr{})
	s.deviceID = "dev_1"
	s.welcome(nil, nil, false)
	s.ping(env.now())
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != stateReady {
		t.Errorf("state after a ping tick between welcome and the reader = %d; want %d (ready), not dropped", state, stateReady)
	}
	s.conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.work.wait(ctx); err != nil {
		t.Fatalf("the socket's writer did not end: %v", err)
	}
}
