package main

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// e2eEnv is the environment of an end-to-end run on the embedded
// backends: a fresh data dir and a configured first admin.
func e2eEnv(t *testing.T) map[string]string {
	return map[string]string{
		"FLOORGATE_DATA_DIR":       t.TempDir(),
		"FLOORGATE_ADMIN_EMAIL":    e2eAdminEmail,
		"FLOORGATE_ADMIN_PASSWORD": e2eAdminPassword,
	}
}

// TestE2EEvictOldest is issue 4's end-to-end test: on the embedded
// defaults, one user signs in on four connected devices with the
// default cap of 3; the first device is told it was evicted by the
// fourth, acknowledges, and the command reads acked.
func TestE2EEvictOldest(t *testing.T) {
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)

	var devs []device
	var socks []*socket
	for i := range 4 {
		d := f.enroll(t, in, fmt.Sprintf("S21-%04d", i+1))
		s := dial(t, in, d, fmt.Sprintf("device %d", i+1))
		if w := s.welcome(t, d); string(w.Session) != "null" {
			t.Fatalf("device %d: welcome session %s; want null before any login", i+1, w.Session)
		}
		devs, socks = append(devs, d), append(socks, s)
	}
	var logins []loggedIn
	for _, d := range devs {
		logins = append(logins, f.login(t, in, d))
	}
	for i, l := range logins[:3] {
		if len(l.Evicted) != 0 {
			t.Errorf("login %d evicted %+v; want none below the cap", i+1, l.Evicted)
		}
	}
	if ev := logins[3].Evicted; len(ev) != 1 || ev[0].SessionID != logins[0].SessionID || ev[0].DeviceID != devs[0].ID {
		t.Errorf("fourth login evicted %+v; want session %s of device %s", ev, logins[0].SessionID, devs[0].ID)
	}

	lo := socks[0].expect(t, 5*time.Second, "logout")
	checkLogout(t, lo, logins[0].SessionID, "evicted")
	if lo.By == nil || lo.By.DeviceID != devs[3].ID || lo.By.WarehouseID != f.warehouseID || !isTime(lo.By.At) {
		t.Fatalf("logout by = %+v; want device %s, warehouse %s and an RFC 3339 at", lo.By, devs[3].ID, f.warehouseID)
	}
	socks[0].ack(t, lo.CommandID)
	f.waitAcked(t, in, lo.CommandID)
}

// TestE2ESuspend is issue 5's end-to-end test: an admin suspends a user
// signed in on a connected device; the device is told user_suspended,
// acknowledges, and the command from the suspend answer reads acked.
func TestE2ESuspend(t *testing.T) {
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)
	d := f.enroll(t, in, "S21-0042")
	s := dial(t, in, d, "device")
	s.welcome(t, d)
	l := f.login(t, in, d)

	var suspended struct {
		User struct {
			Status string `json:"status"`
		} `json:"user"`
		CommandIDs []string `json:"command_ids"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/users/"+f.userID+"/suspend", f.adminToken, nil, &suspended, http.StatusOK)
	if suspended.User.Status != "suspended" || len(suspended.CommandIDs) != 1 {
		t.Fatalf("suspend = user status %q, command_ids %v; want suspended and one command", suspended.User.Status, suspended.CommandIDs)
	}

	lo := s.expect(t, 5*time.Second, "logout")
	checkLogout(t, lo, l.SessionID, "user_suspended")
	if !slices.Contains(suspended.CommandIDs, lo.CommandID) {
		t.Fatalf("logout command %s; want one of the suspend's command_ids %v", lo.CommandID, suspended.CommandIDs)
	}
	s.ack(t, lo.CommandID)
	f.waitAcked(t, in, lo.CommandID)

	// The suspended user can no longer sign in.
	call(t, "POST", in.GatewayURL+"/v1/login", d.Token,
		map[string]string{"username": f.username, "pin": f.pin}, nil, http.StatusForbidden)
}

// TestGracefulStopClosesSockets: cancelling run's context closes a
// connected socket with 1001, and run returns nil.
func TestGracefulStopClosesSockets(t *testing.T) {
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)
	d := f.enroll(t, in, "S21-0001")
	s := dial(t, in, d, "device")
	s.welcome(t, d)

	stopped := make(chan error, 1)
	go func() { stopped <- in.Stop() }()
	s.expectClose(t, 10*time.Second, 1001)
	if err := <-stopped; err != nil {
		t.Fatalf("run returned %v after stop; want nil", err)
	}
}
