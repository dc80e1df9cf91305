package housekeeping_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/housekeeping"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
)

func newKeeper(t *testing.T, cfg housekeeping.Config) (*housekeeping.Keeper, *clock.Clock, *memory.Store) {
	t.Helper()
	clk := clock.New(time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC))
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := devices.NewRegistry(st, devices.Options{
		Pepper: []byte("a test pepper of enough bytes"),
		Now:    clk.Now,
		Hash:   devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	ss := memory.New(memory.Options{Now: clk.Now})
	cfg.Registry, cfg.Sessions, cfg.Now = reg, ss, clk.Now
	cfg.Logger = slog.New(slog.DiscardHandler)
	k, err := housekeeping.New(cfg)
	if err != nil {
		t.Fatalf("housekeeping.New: %v", err)
	}
	return k, clk, ss
}

// TestNewRequires: the registry and the session store are required.
func TestNewRequires(t *testing.T) {
	t.Parallel()
	if _, err := housekeeping.New(housekeeping.Config{}); err == nil {
		t.Error("New(no stores) = nil error; want one")
	}
}

// TestRunSweepsAndStops: Run's sweep ends a session past its idle end,
// and Run returns nil once its context ends.
func TestRunSweepsAndStops(t *testing.T) {
	t.Parallel()
	metrics := prometheus.NewRegistry()
	k, clk, ss := newKeeper(t, housekeeping.Config{SweepEvery: time.Millisecond, Metrics: metrics})
	ctx := context.Background()
	c, err := ss.Create(ctx, sessions.NewSession{UserID: "u1", Username: "ann", DeviceID: "d1", WarehouseID: "w1"},
		sessions.Policy{Cap: 1, Idle: time.Minute, Absolute: time.Hour})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	clk.Advance(2 * time.Minute)

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Run(rctx) }()
	// Liveness bound only: the sweep runs every millisecond.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pend, err := ss.Pending(ctx, "d1")
		if err != nil {
			t.Fatalf("Pending(d1): %v", err)
		}
		if len(pend) > 0 {
			if len(pend) != 1 || pend[0].SessionID != c.Session.ID || pend[0].Reason != sessions.ReasonIdle {
				t.Errorf("Pending(d1) = %+v; want the idle logout of %s", pend, c.Session.ID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle session was not swept within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	// The counters keep the names the admin API registered them under.
	mfs, err := metrics.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"floorgate_admin_reconciled_sessions_total", "floorgate_admin_purged_users_total"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
}
