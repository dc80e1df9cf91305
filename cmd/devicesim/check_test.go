package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a child process and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startFloorgate builds the real binary and runs it on its embedded
// defaults, on free loopback ports, with a known admin password.
func startFloorgate(t *testing.T, env ...string) (gateway, admin, email, password string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "floorgate")
	build := exec.Command("go", "build", "-o", bin, "github.com/floorgate/floorgate/cmd/floorgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build floorgate: %v\n%s", err, out)
	}
	gw, ad := freePort(t), freePort(t)
	email, password = "admin@sim.test", "Sim-Admin-Password-1!"
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"FLOORGATE_ADDR="+gw,
		"FLOORGATE_ADMIN_ADDR="+ad,
		"FLOORGATE_DATA_DIR="+filepath.Join(dir, "data"),
		"FLOORGATE_ADMIN_EMAIL="+email,
		"FLOORGATE_ADMIN_PASSWORD="+password,
	)
	cmd.Env = append(cmd.Env, env...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("floorgate output:\n%s", logs.String())
		}
	})
	gateway, admin = "http://"+gw, "http://"+ad
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(gateway + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("floorgate exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("floorgate not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return gateway, admin, email, password
}

// TestCheckAgainstEmbeddedFloorgate runs the whole check scenario against
// the real binary on its embedded defaults, as the README tells a user to.
func TestCheckAgainstEmbeddedFloorgate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the floorgate binary; not in -short")
	}
	gateway, admin, email, password := startFloorgate(t)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{"devicesim", "check", "-gateway", gateway, "-admin", admin,
		"-admin-email", email, "-admin-password", password}, func(string) string { return "" }, &out, &out)
	if err != nil {
		t.Fatalf("devicesim check: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "PASS") {
		t.Fatalf("devicesim check printed no PASS line:\n%s", out.String())
	}
}

// TestCheckReportsViolation points check at a server that answers every
// request wrongly and expects a violation, not a pass.
func TestCheckReportsViolation(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"token":"fgm_x"}`))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + l.Addr().String()
	var out bytes.Buffer
	err = run(context.Background(), []string{"devicesim", "check", "-gateway", base, "-admin", base,
		"-admin-password", "x"}, func(string) string { return "" }, &out, &out)
	if err == nil {
		t.Fatalf("check passed against a broken server:\n%s", out.String())
	}
	if _, ok := err.(*violation); !ok {
		t.Fatalf("check error = %T %v; want a *violation", err, err)
	}
	if !strings.Contains(err.Error(), "expected:") || !strings.Contains(err.Error(), "got:") {
		t.Fatalf("violation %q does not say what was expected and what came", err)
	}
}

func TestBackoffIsFullJitterAndBounded(t *testing.T) {
	for attempt := 0; attempt < 40; attempt++ {
		for range 50 {
			d := backoff(attempt)
			if d <= 0 || d > 30*time.Second {
				t.Fatalf("backoff(%d) = %v; want within (0, 30s]", attempt, d)
			}
			if ceil := 100 * time.Millisecond << min(attempt, 9); d > ceil {
				t.Fatalf("backoff(%d) = %v; want at most %v", attempt, d, ceil)
			}
		}
	}
}

// TestSetupEnrollsPastTheAddressLimit runs the setup mode against the
// real binary with its default limits for more devices than the
// per-address enrollment limit lets one address enroll at once (10): the
// enrollment tokens, each worker on its own loopback address, enroll them
// all with no 429.
func TestSetupEnrollsPastTheAddressLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the floorgate binary; not in -short")
	}
	gateway, admin, email, password := startFloorgate(t)
	file := filepath.Join(t.TempDir(), "devices.json")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 45
	err := run(ctx, []string{"devicesim", "setup", "-gateway", gateway, "-admin", admin,
		"-admin-email", email, "-admin-password", password, "-devices-file", file,
		"-devices", strconv.Itoa(n), "-warehouses", "2", "-concurrency", "4", "-prefix", "T"}, func(string) string { return "" }, &out, &out)
	if err != nil {
		t.Fatalf("devicesim setup: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	if !strings.Contains(out.String(), "0 answers 429") {
		t.Errorf("devicesim setup met 429s:\n%s", out.String())
	}
	devs, err := readLoadDevices(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, d := range devs {
		if d.Index != i || d.DeviceID == "" || !strings.HasPrefix(d.DeviceToken, "fgd_") || seen[d.DeviceID] {
			t.Fatalf("device %d = %+v; want index %d, a new id and a device token", i, d, i)
		}
		seen[d.DeviceID] = true
	}
	if len(devs) != n {
		t.Fatalf("setup wrote %d devices; want %d", len(devs), n)
	}
}
