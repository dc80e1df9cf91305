package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the writers of run and a test.
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

// instance is one Floorgate started by startFloorgate.
type instance struct {
	Addrs
	GatewayURL, AdminURL string
	Stdout, Stderr       *syncBuffer

	cancel context.CancelFunc
	ready  chan Addrs
	done   chan error
	once   sync.Once
	err    error
}

// startWait bounds how long startFloorgate waits for run to listen, and
// Stop for it to return. It is a limit, not an assertion on speed.
const startWait = 60 * time.Second

// testEnv returns the environment of a test run: both listeners on
// 127.0.0.1 port 0, cheap hashes, quick stop, and a store timeout of 5 s
// (the tests share two cores under -race; a slow answer there is not
// the fault the fault tests provoke, and they set the default back);
// env adds to it or overrides.
func testEnv(env map[string]string) map[string]string {
	m := map[string]string{
		"FLOORGATE_STORE_TIMEOUT":    "5s",
		"FLOORGATE_ADDR":             "127.0.0.1:0",
		"FLOORGATE_ADMIN_ADDR":       "127.0.0.1:0",
		"FLOORGATE_HASH_MEMORY_KIB":  "64",
		"FLOORGATE_HASH_TIME":        "1",
		"FLOORGATE_SHUTDOWN_TIMEOUT": "5s",
		"FLOORGATE_LOG_LEVEL":        "debug",
	}
	for k, v := range env {
		m[k] = v
	}
	return m
}

// startFloorgate calls run, as main does, with testEnv(env) as its
// environment and args as its flags, and returns once both listeners are
// bound. The instance stops at t's cleanup (or at Stop) and run must then
// return nil.
func startFloorgate(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	in := launch(env, args...)
	in.wait(t)
	return in
}

// launch calls run in a goroutine and returns at once; wait waits until
// it listens. Between the two, several instances start at the same time.
func launch(env map[string]string, args ...string) *instance {
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cancel: cancel,
		done: make(chan error, 1), ready: make(chan Addrs, 1)}
	go func() {
		in.done <- serve(ctx, append([]string{"floorgate"}, args...), envMap(testEnv(env)), in.Stdout, in.Stderr,
			func(a Addrs) { in.ready <- a })
	}()
	return in
}

func (in *instance) wait(t *testing.T) {
	t.Helper()
	select {
	case a := <-in.ready:
		in.Addrs = a
		in.GatewayURL = "http://" + a.Gateway
		in.AdminURL = "http://" + a.Admin
	case err := <-in.done:
		in.cancel()
		t.Fatalf("run ended before listening: %v\nlogs:\n%s", err, in.Stderr)
	case <-time.After(startWait):
		in.cancel()
		t.Fatalf("run not listening after %v\nlogs:\n%s", startWait, in.Stderr)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Errorf("run returned %v after stop; want nil\nlogs:\n%s", err, in.Stderr)
		}
	})
}

// Stop ends the instance as SIGTERM would and returns what run returned.
func (in *instance) Stop() error {
	in.once.Do(func() {
		in.cancel()
		select {
		case in.err = <-in.done:
		case <-time.After(startWait):
			in.err = fmt.Errorf("run did not return within %v of the stop", startWait)
		}
	})
	return in.err
}

// runFails calls run, expecting it to refuse to start, and returns its error.
func runFails(t *testing.T, env map[string]string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var stderr syncBuffer
	go func() {
		done <- serve(ctx, append([]string{"floorgate"}, args...), envMap(testEnv(env)), io.Discard, &stderr,
			func(Addrs) { cancel() })
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("run started and stopped with no error; want a refusal to start\nlogs:\n%s", stderr.String())
		}
		return err
	case <-time.After(startWait):
		t.Fatalf("run did not return within %v", startWait)
		return nil
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// checkOps checks /healthz and /readyz on both listeners, and /metrics
// on the admin listener (the device listener serves it only with
// -device-metrics: TestDeviceMetrics).
func checkOps(t *testing.T, in *instance) {
	t.Helper()
	for _, base := range []string{in.GatewayURL, in.AdminURL} {
		for _, path := range []string{"/healthz", "/readyz"} {
			status, body := get(t, base+path)
			if status != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
				t.Errorf("GET %s%s = %d %q; want 200 with status ok", base, path, status, body)
			}
		}
	}
	status, body := get(t, in.AdminURL+"/metrics")
	if status != http.StatusOK || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Errorf("GET %s/metrics = %d %.200q; want 200 with the Go and process collectors", in.AdminURL, status, body)
	}
	if !regexp.MustCompile(`(?m)^floorgate_build_info\{.*version=".+".*\} 1$`).MatchString(body) {
		t.Errorf("GET %s/metrics has no floorgate_build_info gauge of 1 with a version label", in.AdminURL)
	}
}

// adminLogin signs in on the admin API and returns the status.
func adminLogin(t *testing.T, in *instance, email, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := httpClient.Post(in.AdminURL+"/admin/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /admin/v1/login: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !strings.HasPrefix(out.Token, "fgm_") {
			t.Errorf("POST /admin/v1/login = 200 with token %q, %v; want a manager token", out.Token, err)
		}
	}
	return resp.StatusCode
}

// signIn finds the one-time sign-in block in stdout and returns its
// email and password ("" when there is none).
func signIn(stdout string) (email, password string) {
	for line := range strings.SplitSeq(stdout, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "email:"); ok {
			email = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "password:"); ok {
			password = strings.TrimSpace(v)
		}
	}
	return email, password
}

// postgresURL returns a URL of the test database whose search_path is a
// fresh schema, dropped at t's cleanup.
func postgresURL(t *testing.T) string { return testenv.PostgresSchemaURL(t) }

// redisURL returns the test Redis as a URL and a fresh key prefix whose
// keys are deleted at t's cleanup.
func redisURL(t *testing.T) (string, string) {
	t.Helper()
	return testenv.RedisURL(t) + "/0", testenv.RedisPrefix(t, testenv.Redis(t))
}

// TestRun is issue 2's "Done when" for the binary: with each backend,
// run starts, prints the admin's one-time sign-in, answers /healthz,
// /readyz and /metrics on both listeners, and after a restart still has
// the admin it created and prints no second password.
func TestRun(t *testing.T) {
	backends := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"embedded", func(t *testing.T) map[string]string { return nil }},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"FLOORGATE_POSTGRES_URL": postgresURL(t)}
		}},
		{"postgres and redis", func(t *testing.T) map[string]string {
			pg := postgresURL(t)
			r, prefix := redisURL(t)
			return map[string]string{"FLOORGATE_POSTGRES_URL": pg, "FLOORGATE_REDIS_URL": r, "FLOORGATE_REDIS_PREFIX": prefix}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			env := b.env(t)
			if env == nil {
				env = map[string]string{}
			}
			dataDir := filepath.Join(t.TempDir(), "data")
			env["FLOORGATE_DATA_DIR"] = dataDir

			first := startFloorgate(t, env)
			email, password := signIn(first.Stdout.String())
			if email != "admin@floorgate.local" || len(password) < 12 {
				t.Fatalf("first start printed %q; want the sign-in of admin@floorgate.local with a password", first.Stdout)
			}
			if !strings.Contains(first.Stdout.String(), first.AdminURL+"/admin/v1/login") {
				t.Errorf("first start printed %q; want the admin URL %s/admin/v1/login", first.Stdout, first.AdminURL)
			}
			if !strings.Contains(first.Stdout.String(), "console:   "+first.AdminURL+"/\n") {
				t.Errorf("first start printed %q; want the console's URL %s/", first.Stdout, first.AdminURL)
			}
			checkOps(t, first)
			if got := adminLogin(t, first, email, password); got != http.StatusOK {
				t.Errorf("admin login with the printed password = %d; want 200", got)
			}
			if err := first.Stop(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			logs := first.Stderr.String()
			if strings.Contains(logs, password) {
				t.Errorf("the logs hold the admin's password")
			}
			for _, want := range []string{`"msg":"listening"`, `"msg":"stopped"`, `"level":"WARN"`} {
				if !strings.Contains(logs, want) {
					t.Errorf("the logs lack %s:\n%s", want, logs)
				}
			}
			if fi, err := os.Stat(filepath.Join(dataDir, "pepper")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("pepper file: %v, %v; want mode 0600", fi, err)
			}
			_, err := os.Stat(filepath.Join(dataDir, "registry.db"))
			if embedded := env["FLOORGATE_POSTGRES_URL"] == ""; embedded != (err == nil) {
				t.Errorf("registry.db in the data dir: %v; want it there with the embedded registry only", err)
			}

			second := startFloorgate(t, env)
			if _, pw := signIn(second.Stdout.String()); pw != "" || second.Stdout.String() != "" {
				t.Errorf("second start printed %q; want nothing", second.Stdout)
			}
			checkOps(t, second)
			if got := adminLogin(t, second, email, password); got != http.StatusOK {
				t.Errorf("admin login after a restart = %d; want 200", got)
			}
			if got := adminLogin(t, second, email, password+"x"); got != http.StatusUnauthorized {
				t.Errorf("admin login with a wrong password = %d; want 401", got)
			}
		})
	}
}

// TestRunAdminFromEnvironment: a configured first admin is created with
// that password, which is never printed.
func TestRunAdminFromEnvironment(t *testing.T) {
	const email, password = "it@example.com", "Warehouse-Floor-42"
	in := startFloorgate(t, map[string]string{
		"FLOORGATE_DATA_DIR":       t.TempDir(),
		"FLOORGATE_ADMIN_EMAIL":    email,
		"FLOORGATE_ADMIN_PASSWORD": password,
	})
	if in.Stdout.String() != "" {
		t.Errorf("run printed %q; want nothing when the admin password is configured", in.Stdout)
	}
	if got := adminLogin(t, in, email, password); got != http.StatusOK {
		t.Errorf("admin login with the configured password = %d; want 200", got)
	}
	if strings.Contains(in.Stderr.String(), password) {
		t.Errorf("the logs hold the configured password")
	}
}

// TestRunFlagsBeatEnvironment: a flag wins over its variable.
func TestRunFlagsBeatEnvironment(t *testing.T) {
	envDir, flagDir := t.TempDir(), t.TempDir()
	in := startFloorgate(t, map[string]string{"FLOORGATE_DATA_DIR": envDir}, "-data-dir", flagDir)
	in.Stop()
	if _, err := os.Stat(filepath.Join(flagDir, "registry.db")); err != nil {
		t.Errorf("-data-dir %s: %v; want the registry there", flagDir, err)
	}
	if _, err := os.Stat(filepath.Join(envDir, "registry.db")); err == nil {
		t.Errorf("the registry is in $FLOORGATE_DATA_DIR; want it in -data-dir")
	}
}

func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short-pepper")
	if err := os.WriteFile(short, []byte("0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"short pepper", map[string]string{"FLOORGATE_DATA_DIR": t.TempDir(), "FLOORGATE_PEPPER_FILE": short}, "at least 14 bytes"},
		{"missing pepper file", map[string]string{"FLOORGATE_DATA_DIR": t.TempDir(), "FLOORGATE_PEPPER_FILE": filepath.Join(dir, "none")}, "pepper"},
		{"weak admin password", map[string]string{"FLOORGATE_DATA_DIR": t.TempDir(), "FLOORGATE_ADMIN_PASSWORD": "short"}, "first admin"},
		{"bad redis url", map[string]string{"FLOORGATE_DATA_DIR": t.TempDir(), "FLOORGATE_REDIS_URL": "http://x"}, "redis url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runFails(t, tt.env)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v; want an error about %q", err, tt.want)
			}
		})
	}
}

// TestRunRefusesANewPepperForAnOldRegistry: losing the generated pepper
// must not silently make every account unusable.
func TestRunRefusesANewPepperForAnOldRegistry(t *testing.T) {
	dir := t.TempDir()
	in := startFloorgate(t, map[string]string{"FLOORGATE_DATA_DIR": dir})
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "pepper")); err != nil {
		t.Fatal(err)
	}
	err := runFails(t, map[string]string{"FLOORGATE_DATA_DIR": dir})
	if !strings.Contains(err.Error(), "-pepper-file") {
		t.Errorf("run with a lost pepper = %v; want a refusal pointing at -pepper-file", err)
	}
}

// TestRunSeveralInstances starts three instances at the same moment on
// one fresh PostgreSQL schema and one Redis prefix, as a fleet behind a
// load balancer starts: the migrations run once, exactly one instance
// creates the first admin and prints its password, and every instance
// is ready and signs that admin in.
func TestRunSeveralInstances(t *testing.T) {
	pg := postgresURL(t)
	r, prefix := redisURL(t)
	pepper := filepath.Join(t.TempDir(), "pepper")
	if err := os.WriteFile(pepper, []byte(strings.Repeat("5e", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ins []*instance
	var dirs []string
	for i := range 3 {
		dirs = append(dirs, filepath.Join(t.TempDir(), "data"))
		ins = append(ins, launch(map[string]string{
			"FLOORGATE_POSTGRES_URL": pg,
			"FLOORGATE_REDIS_URL":    r,
			"FLOORGATE_REDIS_PREFIX": prefix,
			"FLOORGATE_PEPPER_FILE":  pepper,
			"FLOORGATE_DATA_DIR":     dirs[i],
			"FLOORGATE_INSTANCE_ID":  fmt.Sprintf("fg%d", i+1),
		}))
	}
	var password string
	printed := 0
	for _, in := range ins {
		in.wait(t)
		if _, pw := signIn(in.Stdout.String()); pw != "" {
			printed++
			password = pw
		}
	}
	if printed != 1 {
		t.Fatalf("%d instances printed a one-time password; want exactly 1", printed)
	}
	for i, in := range ins {
		checkOps(t, in)
		if got := adminLogin(t, in, "admin@floorgate.local", password); got != http.StatusOK {
			t.Errorf("instance %d: admin login = %d; want 200", i+1, got)
		}
	}
	// With PostgreSQL and a pepper file nothing is written locally.
	for i, dir := range dirs {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("instance %d created its data dir %s; want nothing written locally", i+1, dir)
		}
	}
}
