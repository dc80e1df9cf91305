package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHoldRefusedTriesNextGateway: a gateway at its websocket cap answers
// the upgrade 503 with Retry-After (gateway.Config.MaxSockets); a held
// device refused there tries the next gateway of its list and stays up
// on it, as the cluster bench's storm needs when the surviving instances
// are full.
func TestHoldRefusedTriesNextGateway(t *testing.T) {
	var refused atomic.Int64
	full := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, `{"code":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer full.Close()
	up := make(chan string, 1)
	var upgrader websocket.Upgrader
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		up <- r.Header.Get("Authorization")
		if c.WriteJSON(map[string]any{"type": "welcome", "device_id": "dev_1", "session": nil}) != nil {
			return
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer open.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := loadDialer("")
	if err != nil {
		t.Fatal(err)
	}
	var st holdStats
	ready := make(chan struct{})
	hs := &heldSocket{
		cfg: &holdConfig{}, dev: loadDevice{DeviceID: "dev_1", DeviceToken: "tok"},
		gws: []string{full.URL, open.URL}, dialer: d, st: &st,
		dialSlots: make(chan struct{}, 1), loginSlots: make(chan struct{}, 1),
		gw: 0, ready: func() { close(ready) },
	}
	done := make(chan struct{})
	go func() { defer close(done); hs.run(ctx) }()
	select {
	case auth := <-up:
		if auth != "Bearer tok" {
			t.Errorf("the next gateway got Authorization %q; want the device token", auth)
		}
	case <-time.After(time.Minute):
		t.Fatal("the device never reached the gateway after the one that refused it")
	}
	<-ready
	cancel()
	<-done
	if refused.Load() != 1 || st.dialErrors.Load() != 1 || st.everUp.Load() != 1 || st.terminal.Load() != 0 {
		t.Errorf("refused=%d dial_errors=%d ever_up=%d terminal=%d; want 1, 1, 1, 0",
			refused.Load(), st.dialErrors.Load(), st.everUp.Load(), st.terminal.Load())
	}
	if hs.gw != 1 {
		t.Errorf("the device ended on gateway %d; want 1", hs.gw)
	}
}
