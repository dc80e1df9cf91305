package signin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// TestEnrollWithToken: a right token enrolls into its warehouse; wrong
// ones count against the address, once each, and lock only that
// address for a while; a refusal spends nothing.
func TestEnrollWithToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	_, tok, err := e.reg.CreateEnrollmentToken(ctx, devices.ManagerActor(e.mgr.ID), devices.EnrollmentTokenInput{WarehouseID: e.wh.ID, Uses: 3, ExpiresInS: 7200})
	if err != nil {
		t.Fatalf("CreateEnrollmentToken: %v", err)
	}
	enroll := func(tk devices.Token, addr, serial string) error {
		_, err := e.p.EnrollWithToken(ctx, TokenEnrollment{Token: tk, ClientIP: addr, Device: devices.EnrollInput{Serial: serial}})
		return err
	}
	res, err := e.p.EnrollWithToken(ctx, TokenEnrollment{Token: tok, ClientIP: "192.0.2.50", Device: devices.EnrollInput{Serial: "Z-1"}})
	if err != nil || res.Device.WarehouseID != e.wh.ID || res.Token == "" {
		t.Fatalf("EnrollWithToken = %+v, %v; want a device in %s", res.Device, err, e.wh.ID)
	}
	if err := enroll(tok, "192.0.2.50", ""); !errors.Is(err, devices.ErrInvalid) {
		t.Errorf("EnrollWithToken(no serial) = %v; want ErrInvalid", err)
	}
	_, err = e.p.EnrollWithToken(ctx, TokenEnrollment{Token: tok, WarehouseID: "wh_other", ClientIP: "192.0.2.50", Device: devices.EnrollInput{Serial: "Z-2"}})
	if !errors.Is(err, ErrForbidden) {
		t.Errorf("EnrollWithToken(other warehouse) = %v; want ErrForbidden", err)
	}

	// Wrong tokens from one address: free ones, then delays.
	l := Limits(e.settings().Throttle)
	for i := range l.PairFreeFailures {
		if err := enroll(token.New(devices.EnrollmentTokenPrefix), "198.51.100.7", "Z-3"); !errors.Is(err, devices.ErrInvalidCredentials) {
			t.Fatalf("wrong token %d = %v; want ErrInvalidCredentials", i+1, err)
		}
	}
	if err := enroll(token.New(devices.EnrollmentTokenPrefix), "198.51.100.7", "Z-3"); !errors.Is(err, devices.ErrInvalidCredentials) {
		t.Fatalf("wrong token past the free ones = %v; want ErrInvalidCredentials (counted)", err)
	}
	// Now the address waits, even with the right token; another address
	// does not.
	if err := enroll(tok, "198.51.100.7", "Z-4"); !errors.Is(err, ErrThrottled) {
		t.Errorf("right token from a delayed address = %v; want ErrThrottled", err)
	}
	if err := enroll(tok, "192.0.2.51", "Z-4"); err != nil {
		t.Errorf("right token from another address = %v; want nil", err)
	}
	e.clock.Advance(10 * time.Minute)
	if err := enroll(tok, "198.51.100.7", "Z-5"); err != nil {
		t.Errorf("right token after the delay = %v; want nil", err)
	}
	// Used up (3 uses): refused like a wrong token, with its reason on
	// record.
	if err := enroll(tok, "192.0.2.52", "Z-6"); !errors.Is(err, devices.ErrInvalidCredentials) {
		t.Errorf("token past its uses = %v; want ErrInvalidCredentials", err)
	}
	evs, err := e.reg.Events(ctx, devices.EventFilter{Action: "enroll.failure", Page: devices.Page{Limit: 50}})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, ev := range evs {
		reasons[ev.Details["reason"]]++
	}
	if reasons["token_used_up"] != 1 || reasons["token_unknown"] != l.PairFreeFailures+1 || reasons["token_wrong_warehouse"] != 1 {
		t.Errorf("enroll.failure reasons = %v; want 1 used_up, %d unknown, 1 wrong_warehouse", reasons, l.PairFreeFailures+1)
	}
}
