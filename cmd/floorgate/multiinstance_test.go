package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pushWait bounds how long these tests wait for something pushed from
// another instance (a logout frame, a live board update). The promise is
// within a second; its latency is measured where timing means something
// (deploy/bench, docs/BENCHMARKS.md: milliseconds). On two shared cores
// under the race detector a push can be slower than the promise with
// nothing wrong, so the tests check that it arrives, log how long it
// took, and fail only past this limit.
const pushWait = 10 * time.Second

// startFleet starts n instances sharing one fresh PostgreSQL schema, one
// Redis key prefix and one pepper, as a fleet behind a load balancer.
// It skips the test when PostgreSQL or Redis does not answer.
func startFleet(t *testing.T, n int) []*instance {
	t.Helper()
	pg := postgresURL(t)
	r, prefix := redisURL(t)
	pepper := filepath.Join(t.TempDir(), "pepper")
	if err := os.WriteFile(pepper, []byte(strings.Repeat("a7", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ins []*instance
	for i := range n {
		ins = append(ins, launch(map[string]string{
			"FLOORGATE_POSTGRES_URL":   pg,
			"FLOORGATE_REDIS_URL":      r,
			"FLOORGATE_REDIS_PREFIX":   prefix,
			"FLOORGATE_PEPPER_FILE":    pepper,
			"FLOORGATE_DATA_DIR":       filepath.Join(t.TempDir(), "data"),
			"FLOORGATE_INSTANCE_ID":    fmt.Sprintf("fg%d", i+1),
			"FLOORGATE_ADMIN_EMAIL":    e2eAdminEmail,
			"FLOORGATE_ADMIN_PASSWORD": e2eAdminPassword,
		}))
	}
	for _, in := range ins {
		in.wait(t)
	}
	return ins
}

// TestMultiInstance is issue 4's multi-instance test: three instances
// share one Redis and one PostgreSQL. A device on the third is evicted
// by a login on the first and hears it within a second; devices that
// missed the push (their socket closed, or their instance stopped) get
// the queued logout right after welcome on reconnecting elsewhere; and a
// second socket of a device on another instance replaces the first with
// 4409.
func TestMultiInstance(t *testing.T) {
	fleet := startFleet(t, 3)
	fg1, fg2, fg3 := fleet[0], fleet[1], fleet[2]
	f := setUpFloor(t, fg1)
	var devs []device
	for i := range 4 {
		devs = append(devs, f.enroll(t, fleet[i%3], fmt.Sprintf("S21-%04d", i+1)))
	}
	a, b, c, d := devs[0], devs[1], devs[2], devs[3]

	// a on fg3 is evicted by d's login on fg1.
	sockA := dial(t, fg3, a, "device a on fg3")
	sockA.welcome(t, a)
	sessA := f.login(t, fg3, a)
	sessB := f.login(t, fg2, b)
	sessC := f.login(t, fg1, c)
	sent := time.Now()
	loginD := f.login(t, fg1, d)
	if ev := loginD.Evicted; len(ev) != 1 || ev[0].SessionID != sessA.SessionID {
		t.Fatalf("login of d on fg1 evicted %+v; want session %s of device a", ev, sessA.SessionID)
	}
	answered := time.Now()
	lo, err := sockA.next(pushWait)
	if err != nil {
		t.Fatalf("device a on fg3: no logout within %v of the evicting login's answer on fg1: %v", pushWait, err)
	}
	t.Logf("evicted on fg3: frame %v after the login was sent on fg1, %v after it answered", time.Since(sent), time.Since(answered))
	checkLogout(t, lo, sessA.SessionID, "evicted")
	if lo.By == nil || lo.By.DeviceID != d.ID || lo.By.WarehouseID != f.warehouseID {
		t.Fatalf("logout by = %+v; want device %s of warehouse %s", lo.By, d.ID, f.warehouseID)
	}
	sockA.ack(t, lo.CommandID)
	f.waitAcked(t, fg2, lo.CommandID)

	t.Run("socket closed before the push", func(t *testing.T) {
		// c's socket on fg1 closes; an admin on fg2 ends c's session;
		// c reconnects to fg3.
		s := dial(t, fg1, c, "device c on fg1")
		s.welcome(t, c)
		s.conn.Close()
		cmd := forceLogout(t, f, fg2, sessC.SessionID)
		reconnectGetsLogout(t, f, fg3, c, sessC.SessionID, cmd)
	})

	t.Run("instance stopped before the push", func(t *testing.T) {
		// b's instance fg2 stops (b hears 1001); an admin on fg1 ends
		// b's session; b reconnects to fg3.
		s := dial(t, fg2, b, "device b on fg2")
		s.welcome(t, b)
		stopped := make(chan error, 1)
		go func() { stopped <- fg2.Stop() }()
		s.expectClose(t, 10*time.Second, 1001)
		if err := <-stopped; err != nil {
			t.Fatalf("fg2 stopped with %v; want nil", err)
		}
		cmd := forceLogout(t, f, fg1, sessB.SessionID)
		reconnectGetsLogout(t, f, fg3, b, sessB.SessionID, cmd)
	})

	t.Run("second socket on another instance", func(t *testing.T) {
		first := dial(t, fg1, d, "device d on fg1")
		first.welcome(t, d)
		second := dial(t, fg3, d, "device d on fg3")
		w := second.welcome(t, d)
		if !strings.Contains(string(w.Session), loginD.SessionID) {
			t.Errorf("welcome on fg3 session %s; want session %s", w.Session, loginD.SessionID)
		}
		first.expectClose(t, 5*time.Second, 4409)
	})
}

// forceLogout ends a session with DELETE /admin/v1/sessions/{id} on in
// and returns the one command it created.
func forceLogout(t *testing.T, f floor, in *instance, sessionID string) string {
	t.Helper()
	var out struct {
		CommandIDs []string `json:"command_ids"`
	}
	call(t, "DELETE", in.AdminURL+"/admin/v1/sessions/"+sessionID, f.adminToken, nil, &out, http.StatusOK)
	if len(out.CommandIDs) != 1 {
		t.Fatalf("DELETE /admin/v1/sessions/%s = command_ids %v; want one", sessionID, out.CommandIDs)
	}
	return out.CommandIDs[0]
}

// reconnectGetsLogout connects d to in and checks that the queued logout
// of command cmd follows welcome, then acknowledges it.
func reconnectGetsLogout(t *testing.T, f floor, in *instance, d device, sessionID, cmd string) {
	t.Helper()
	s := dial(t, in, d, "device "+d.Serial+" reconnected")
	if w := s.welcome(t, d); string(w.Session) != "null" {
		t.Errorf("welcome session %s; want null after the forced logout", w.Session)
	}
	lo := s.expect(t, 5*time.Second, "logout")
	checkLogout(t, lo, sessionID, "admin")
	if lo.CommandID != cmd {
		t.Fatalf("queued logout command %s; want %s, from the forced logout", lo.CommandID, cmd)
	}
	s.ack(t, cmd)
	f.waitAcked(t, in, cmd)
}
