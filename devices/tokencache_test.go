package devices_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/internal/clock"
)

// TestTokenCache: off, nothing is kept; on, a cached token answers
// without the registry until the device is dropped, the cache stopped, or
// the entry's TTL has passed (the injected clock); unknown and revoked
// tokens are never kept.
func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.New(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))
	reg, err := devices.NewRegistry(st, devices.Options{Pepper: []byte("a test pepper of enough bytes"), Now: clk.Now,
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "North", Code: "N"})
	if err != nil {
		t.Fatal(err)
	}
	enroll := func(serial string) (devices.Device, devices.Token) {
		t.Helper()
		d, tok, _, err := reg.Enroll(ctx, "mgr_test", devices.EnrollInput{WarehouseID: wh.ID, Serial: serial, AppVersion: "4.2.0"})
		if err != nil {
			t.Fatalf("Enroll(%s) = %v", serial, err)
		}
		return d, tok
	}
	c := devices.NewTokenCache(reg, devices.TokenCacheOptions{TTL: time.Minute, Now: clk.Now})
	auth := func(tok devices.Token) (devices.Device, error) {
		t.Helper()
		return c.AuthenticateDevice(ctx, tok)
	}
	d1, tok1 := enroll("S-1")
	d2, tok2 := enroll("S-2")
	if _, err := auth(tok1); err != nil || c.Len() != 0 {
		t.Fatalf("AuthenticateDevice before Start = %v, Len %d; want nil, 0 (off: nothing kept)", err, c.Len())
	}
	c.Start()
	for _, tt := range []struct {
		d   devices.Device
		tok devices.Token
	}{{d1, tok1}, {d2, tok2}} {
		got, err := auth(tt.tok)
		if err != nil || got.ID != tt.d.ID || got.WarehouseID != wh.ID || got.Status != devices.DeviceActive {
			t.Fatalf("AuthenticateDevice(%s) = %+v, %v; want %s active in %s", tt.d.Serial, got, err, tt.d.ID, wh.ID)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("Len() = %d; want 2", c.Len())
	}
	// A hit (the registry is not asked again) keeps the app versions a
	// login's minimum version is checked against.
	if got, err := auth(tok1); err != nil || got.AppVersion != "4.2.0" || got.EnrolledAppVersion != "4.2.0" || !got.VersionBelow("", "4.3") {
		t.Fatalf("AuthenticateDevice(cached) = %+v, %v; want app versions 4.2.0 (below 4.3)", got, err)
	}

	// Revoked in the registry only: the cache still answers (no news
	// reached it) until the device is dropped.
	if _, err := reg.RevokeDevice(ctx, devices.ActorSystem, d1.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := auth(tok1); err != nil || got.ID != d1.ID {
		t.Fatalf("AuthenticateDevice(revoked, not dropped) = %+v, %v; want the cached device", got, err)
	}
	g := c.Generation()
	c.Drop(d1.ID)
	if c.Generation() == g {
		t.Errorf("Generation() did not move on Drop")
	}
	if got, err := auth(tok1); err != nil || got.Status != devices.DeviceRevoked {
		t.Fatalf("AuthenticateDevice(revoked, dropped) = %+v, %v; want the registry's revoked device", got, err)
	}
	if c.Len() != 1 {
		t.Errorf("Len() = %d after a revoked lookup; want 1 (revoked devices are not kept)", c.Len())
	}
	if _, err := auth(devices.Token("fgd_unknownunknownunknownunknown")); !errors.Is(err, devices.ErrInvalidCredentials) {
		t.Errorf("AuthenticateDevice(unknown) = %v; want ErrInvalidCredentials", err)
	}

	// Re-enrolled in the registry only: the old token is answered from
	// the cache until the entry's TTL has passed.
	_, tok2b := enroll("S-2")
	if got, err := auth(tok2); err != nil || got.ID != d2.ID {
		t.Fatalf("AuthenticateDevice(replaced, within TTL) = %+v, %v; want the cached device", got, err)
	}
	clk.Advance(time.Minute)
	if got, err := auth(tok2); err == nil && got.Status == devices.DeviceActive {
		t.Fatalf("AuthenticateDevice(replaced, TTL passed) = %+v; want it refused", got)
	}
	if _, err := auth(tok2b); err != nil {
		t.Fatalf("AuthenticateDevice(new token) = %v", err)
	}
	if c.Len() == 0 {
		t.Fatalf("Len() = 0; want the new token kept")
	}
	clk.Advance(time.Minute)
	c.Sweep()
	if c.Len() != 0 {
		t.Errorf("Len() after the TTL and Sweep = %d; want 0", c.Len())
	}
	if _, err := auth(tok2b); err != nil || c.Len() != 1 {
		t.Fatalf("AuthenticateDevice(new token) after Sweep = %v, Len %d; want nil, 1", err, c.Len())
	}
	g = c.Generation()
	c.Stop()
	if c.Len() != 0 || c.Generation() == g {
		t.Errorf("Len() after Stop = %d, generation moved: %v; want 0, true", c.Len(), c.Generation() != g)
	}
	if _, err := auth(tok2b); err != nil || c.Len() != 0 {
		t.Errorf("AuthenticateDevice after Stop = %v, Len %d; want nil, 0", err, c.Len())
	}
}
