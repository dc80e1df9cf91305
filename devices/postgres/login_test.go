package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// TestStartLoginOneStatement: what a login writes and reads once its
// session exists (custody record, device and user re-read, success
// audit) is one statement, and so are the settings it reads before its
// claim; the audit rows are appended only when nothing changed
// (devices.LoginReread.Changed), the custody record always.
func TestStartLoginOneStatement(t *testing.T) {
	t.Parallel()
	schema, _ := newSchema(t)
	counted := &statements{}
	s, err := Open(context.Background(), testURL(), Options{Schema: schema, MaxConns: 2, Tracer: counted})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	now := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	reg, err := devices.NewRegistry(s, devices.Options{Pepper: []byte("a test pepper of enough bytes"), Now: func() time.Time { return now },
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	cap5 := 5
	wh, err := reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "North", Code: "NORTH",
		Settings: devices.SettingsOverride{SessionCap: &cap5}})
	if err != nil {
		t.Fatalf("CreateWarehouse: %v", err)
	}
	u, err := reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{Username: "kim", FirstName: "Kim", LastName: "Lee", WarehouseID: wh.ID, PIN: "4821"})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	d, _, _, err := reg.Enroll(ctx, "mgr_1", devices.EnrollInput{WarehouseID: wh.ID, Serial: "S-1", Model: "TC52", OSVersion: "13", AppVersion: "4.2.0"})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}

	counted.n.Store(0)
	set, err := reg.EffectiveSettings(ctx, wh.ID)
	if err != nil || set.SessionCap != 5 || set.Throttle != devices.DefaultThrottle() {
		t.Fatalf("EffectiveSettings = %+v, %v; want the warehouse's cap 5 over the defaults", set, err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("EffectiveSettings sent %d statements; want 1", n)
	}
	if _, err := reg.EffectiveSettings(ctx, "wh_none"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("EffectiveSettings of no warehouse = %v; want ErrNotFound", err)
	}

	start := func(sessionID, pinHash string) devices.LoginStart {
		return devices.LoginStart{
			Custody: devices.Custody{SessionID: sessionID, DeviceID: d.ID, UserID: u.ID, WarehouseID: wh.ID, Method: devices.MethodPIN, StartedAt: now},
			PINHash: pinHash,
			Success: []devices.Event{{Actor: devices.UserActor(u.ID), Action: "login.success", Subject: devices.UserActor(u.ID),
				Details: map[string]string{"session_id": sessionID}}},
		}
	}
	successes := func() int {
		t.Helper()
		evs, err := reg.Events(ctx, devices.EventFilter{Action: "login.success"})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		return len(evs)
	}
	recorded := func(sessionID string) bool {
		t.Helper()
		cs, err := reg.Custody(ctx, devices.CustodyFilter{DeviceID: d.ID})
		if err != nil {
			t.Fatalf("Custody: %v", err)
		}
		for _, c := range cs {
			if c.SessionID == sessionID {
				return true
			}
		}
		return false
	}

	counted.n.Store(0)
	in := start("ses_1", u.PINHash)
	st, err := reg.StartLogin(ctx, in)
	if err != nil || st.Changed(in) != "" || !st.Audited {
		t.Fatalf("StartLogin = %+v, %v; want nothing changed, audited", st, err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("StartLogin sent %d statements; want 1", n)
	}
	if !recorded("ses_1") || successes() != 1 {
		t.Errorf("after StartLogin: custody %v, %d login.success rows; want recorded and 1", recorded("ses_1"), successes())
	}
	// The same session again keeps its first record (and is audited
	// again: the caller starts a session once).
	if _, err := reg.StartLogin(ctx, start("ses_1", u.PINHash)); err != nil {
		t.Errorf("StartLogin of a recorded session: %v; want nil", err)
	}

	// The PIN reset meanwhile: recorded, not audited, said.
	in = start("ses_2", "an older hash")
	st, err = reg.StartLogin(ctx, in)
	if err != nil || st.Changed(in) != devices.LoginPINReset || st.Audited {
		t.Fatalf("StartLogin after a PIN change = %+v (%q), %v; want pin_reset, not audited", st, st.Changed(in), err)
	}
	if !recorded("ses_2") || successes() != 2 {
		t.Errorf("after a refused StartLogin: custody %v, %d login.success rows; want recorded and still 2", recorded("ses_2"), successes())
	}

	// A badge login whose badge changed since.
	in = start("ses_3", u.PINHash)
	in.Badge, in.BadgeChanges = true, u.BadgeChanges+1
	if st, err := reg.StartLogin(ctx, in); err != nil || st.Changed(in) != devices.LoginBadgeChanged || st.Audited {
		t.Errorf("StartLogin of a changed badge = %+v, %v; want badge_changed, not audited", st, err)
	}

	// The user suspended, then the device revoked too.
	if _, err := reg.SuspendUser(ctx, devices.ActorSystem, u.ID); err != nil {
		t.Fatalf("SuspendUser: %v", err)
	}
	in = start("ses_4", u.PINHash)
	if st, err := reg.StartLogin(ctx, in); err != nil || st.Changed(in) != devices.LoginUserSuspended || st.Audited {
		t.Errorf("StartLogin of a suspended user = %+v, %v; want user_suspended, not audited", st, err)
	}
	if _, err := reg.RevokeDevice(ctx, devices.ActorSystem, d.ID); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	in = start("ses_5", u.PINHash)
	if st, err := reg.StartLogin(ctx, in); err != nil || st.Changed(in) != devices.LoginDeviceRevoked || st.Audited {
		t.Errorf("StartLogin on a revoked device = %+v, %v; want device_revoked, not audited", st, err)
	}
	// A user that is not there.
	in = start("ses_6", u.PINHash)
	in.Custody.UserID = "usr_none"
	if st, err := reg.StartLogin(ctx, in); err != nil || st.Changed(in) != devices.LoginUserGone || st.Audited {
		t.Errorf("StartLogin of no user = %+v, %v; want user_gone, not audited", st, err)
	}
	if n := successes(); n != 2 {
		t.Errorf("login.success rows = %d; want 2 (ses_1 twice)", n)
	}
}
