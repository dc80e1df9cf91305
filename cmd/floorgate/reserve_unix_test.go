//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childNofile, set in a child test process's environment, makes
// TestMain run Floorgate (as main does, from the environment) under an
// open-files limit of that many files instead of running the tests.
const childNofile = "FLOORGATE_TEST_CHILD_NOFILE"

func TestMain(m *testing.M) {
	if n := os.Getenv(childNofile); n != "" {
		os.Exit(serveChild(n))
	}
	os.Exit(m.Run())
}

// serveChild lowers the open-files limit to n, then runs Floorgate until
// SIGTERM.
func serveChild(n string) int {
	files, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: files, Max: files}); err != nil {
		fmt.Fprintln(os.Stderr, "child: setrlimit:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{"floorgate"}, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "floorgate:", err)
		return 1
	}
	return 0
}

// TestFileReserve runs Floorgate in a process of its own with an
// open-files limit of 256, and floods its device listener with idle
// keep-alive connections from five addresses, far more than the limit.
// The device listener fills to its cap and refuses the rest with 503 at
// once; the files kept in reserve keep the registry and the admin
// listener working: an admin signs in (a registry read and a hash) and
// /readyz answers 200, and the process never meets "too many open files".
func TestFileReserve(t *testing.T) {
	t.Parallel()
	env := e2eEnv(t)
	env["FLOORGATE_FD_RESERVE"] = "64"
	env["FLOORGATE_ADMIN_MAX_CONNS"] = "32"
	env[childNofile] = "256"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = os.Environ()
	for k, v := range testEnv(env) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	addrs := make(chan map[string]string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		found := map[string]string{}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			var line struct{ Msg, Listener, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				found[line.Listener] = line.Addr
				if len(found) == 2 {
					addrs <- found
				}
			}
		}
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			<-scanned
			if err != nil {
				t.Errorf("the child exited with %v; want 0\nlogs:\n%s", err, logs)
			}
		case <-time.After(startWait):
			_ = cmd.Process.Kill()
			t.Errorf("the child did not stop within %v", startWait)
		}
	}
	t.Cleanup(stop)
	var in instance
	select {
	case a := <-addrs:
		in.Gateway, in.Admin = a["gateway"], a["admin"]
		in.GatewayURL, in.AdminURL = "http://"+in.Gateway, "http://"+in.Admin
	case <-scanned:
		t.Fatalf("the child ended before listening:\n%s", logs)
	case <-time.After(startWait):
		t.Fatalf("the child is not listening after %v:\n%s", startWait, logs)
	}

	held, refusedN := 0, 0
	for _, from := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"} {
		for range 60 {
			switch a := idleKeepAlive(t, from, in.Gateway); {
			case a.status == http.StatusOK:
				held++
			case refused(a):
				refusedN++
			default:
				t.Fatalf("flood connection %d from %s: %+v; want 200 or a 503 with Retry-After", held+refusedN, from, a)
			}
		}
	}
	// 256 files, less 64 in reserve and 32 for the admin listener.
	if held != 160 || refusedN != 140 {
		t.Errorf("flood of 300: %d held, %d refused; want 160 and 140", held, refusedN)
	}
	if status := adminLogin(t, &in, e2eAdminEmail, e2eAdminPassword); status != http.StatusOK {
		t.Errorf("admin sign-in during the flood = %d; want 200", status)
	}
	if status, body := get(t, in.AdminURL+"/readyz"); status != http.StatusOK {
		t.Errorf("admin /readyz during the flood = %d %s; want 200", status, body)
	}
	stop()
	if strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the child ran out of files:\n%s", logs)
	}
}
