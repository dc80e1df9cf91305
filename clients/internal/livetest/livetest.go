// Package livetest starts the real floorgate binary for the tests of the
// client packages and sets a floor up through its admin API. It speaks
// to Floorgate over the network only and imports nothing of Floorgate's
// own packages, like the clients it serves.
//
// The binary is built once per test process with `go build` into a temp
// dir (or taken from FLOORGATE_BIN), started on 127.0.0.1 port 0 with a
// temp data dir, the embedded backends, cheap hashes and a known first
// admin, and stopped with SIGTERM at the test's cleanup.
package livetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The first admin of every instance.
const (
	AdminEmail    = "ops@example.com"
	AdminPassword = "Warehouse-Floor-42"
)

// wait bounds every wait of this package: a limit, not a speed claim.
const wait = 60 * time.Second

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// Binary returns the path of a floorgate binary: FLOORGATE_BIN when set,
// else one built once per process from this module's cmd/floorgate.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FLOORGATE_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "floorgate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "floorgate")
		cmd := exec.Command("go", "build", "-o", buildBin, "github.com/floorgate/floorgate/cmd/floorgate")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/floorgate: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Instance is one running floorgate process.
type Instance struct {
	GatewayURL, AdminURL string
	GatewayAddr          string

	bin, dataDir string
	adminAddr    string
	env          []string
	cmd          *exec.Cmd
	logs         *syncBuffer
	exited       chan struct{}
}

// Start starts floorgate with a fresh data dir and returns once both
// listeners answer /readyz. env adds FLOORGATE_* variables. It stops at
// t's cleanup.
func Start(t testing.TB, env ...string) *Instance {
	t.Helper()
	in := &Instance{bin: Binary(t), dataDir: t.TempDir(), env: env}
	in.start(t, "127.0.0.1:0", "127.0.0.1:0")
	t.Cleanup(func() {
		in.Stop(t)
		if t.Failed() {
			t.Logf("floorgate logs:\n%s", in.logs.tail(8000))
		}
	})
	return in
}

func (in *Instance) start(t testing.TB, addr, adminAddr string) {
	t.Helper()
	cmd := exec.Command(in.bin)
	cmd.Env = append(os.Environ(),
		"FLOORGATE_ADDR="+addr,
		"FLOORGATE_ADMIN_ADDR="+adminAddr,
		"FLOORGATE_DATA_DIR="+in.dataDir,
		"FLOORGATE_POSTGRES_URL=",
		"FLOORGATE_REDIS_URL=",
		"FLOORGATE_ADMIN_EMAIL="+AdminEmail,
		"FLOORGATE_ADMIN_PASSWORD="+AdminPassword,
		"FLOORGATE_HASH_MEMORY_KIB=64",
		"FLOORGATE_HASH_TIME=1",
		"FLOORGATE_SHUTDOWN_TIMEOUT=5s",
		"FLOORGATE_LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, in.env...)
	cmd.Stdout = io.Discard // the first admin's sign-in notice
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", in.bin, err)
	}
	in.cmd, in.logs, in.exited = cmd, &syncBuffer{}, make(chan struct{})
	addrs := make(chan [2]string, 1)
	go func() {
		var gw, adm string
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			in.logs.Write(append(line, '\n'))
			var l struct{ Msg, Listener, Addr string }
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
				switch l.Listener {
				case "gateway":
					gw = l.Addr
				case "admin":
					adm = l.Addr
				}
				if gw != "" && adm != "" {
					addrs <- [2]string{gw, adm}
					gw = ""
				}
			}
		}
		_ = cmd.Wait()
		close(in.exited)
	}()
	select {
	case a := <-addrs:
		in.GatewayAddr, in.adminAddr = a[0], a[1]
		in.GatewayURL, in.AdminURL = "http://"+a[0], "http://"+a[1]
	case <-in.exited:
		t.Fatalf("floorgate exited before listening:\n%s", in.logs.tail(4000))
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		t.Fatalf("floorgate did not listen within %s:\n%s", wait, in.logs.tail(4000))
	}
	in.waitReady(t)
}

func (in *Instance) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(in.GatewayURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("floorgate not ready within %s (last: %v)", wait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the process with SIGTERM (a graceful stop: sockets close
// 1001) and waits for it. Stopping a stopped instance does nothing.
func (in *Instance) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-in.exited:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(wait):
		_ = in.cmd.Process.Kill()
		<-in.exited
		t.Errorf("floorgate did not stop within %s of SIGTERM", wait)
	}
}

// Restart stops the process and starts it again on the same addresses
// and data dir. In-process sessions do not survive it; the registry does.
func (in *Instance) Restart(t testing.TB) {
	t.Helper()
	in.Stop(t)
	in.start(t, in.GatewayAddr, in.adminAddr)
}

// Logs returns what the process wrote on stderr (JSON logs).
func (in *Instance) Logs() string { return in.logs.String() }

// StatusError is an answer with another status than the caller wanted.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s = %d %.300s", e.Method, e.URL, e.Status, e.Body)
}

// Do sends method url with body as JSON (when not nil) and bearer (when
// not empty) and decodes the answer into out (when not nil). An answer
// other than want is a *StatusError. Neither bearer nor body appear in
// an error.
func Do(method, url, bearer string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return &StatusError{Method: method, URL: url, Status: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode %.300s: %w", method, url, data, err)
		}
	}
	return nil
}

// must fails t on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Floor is what SetUp creates: a warehouse, a mobile manager of it, a
// service key with scope introspect, and the admin's token.
type Floor struct {
	in                            *Instance
	AdminToken                    string
	WarehouseID                   string
	ManagerEmail, ManagerPassword string
	ServiceKey                    string
}

// SetUp signs the first admin in and creates the floor.
func (in *Instance) SetUp(t testing.TB) *Floor {
	t.Helper()
	f := &Floor{in: in, ManagerEmail: "mia@example.com", ManagerPassword: "Dock-Scanner-Mia-7"}
	var login struct {
		Token string `json:"token"`
	}
	must(t, Do("POST", in.AdminURL+"/admin/v1/login", "", map[string]string{"email": AdminEmail, "password": AdminPassword}, &login, http.StatusOK))
	f.AdminToken = login.Token
	var wh struct {
		ID string `json:"id"`
	}
	must(t, f.Admin("POST", "/warehouses", map[string]string{"name": "Dock North", "code": "DN1"}, &wh, http.StatusCreated))
	f.WarehouseID = wh.ID
	must(t, f.Admin("POST", "/managers", map[string]any{
		"email": f.ManagerEmail, "first_name": "Mia", "last_name": "Berg", "password": f.ManagerPassword,
		"roles": []map[string]string{{"role": "mobile_manager", "warehouse_id": f.WarehouseID}},
	}, nil, http.StatusCreated))
	var key struct {
		Key string `json:"key"`
	}
	must(t, f.Admin("POST", "/service-keys", map[string]string{"name": "wms", "scope": "introspect"}, &key, http.StatusCreated))
	f.ServiceKey = key.Key
	return f
}

// Admin calls the admin API (path relative to /admin/v1) as the admin.
func (f *Floor) Admin(method, path string, body, out any, want int) error {
	return Do(method, f.in.AdminURL+"/admin/v1"+path, f.AdminToken, body, out, want)
}

// User is a mobile user created by AddUser.
type User struct {
	ID, Username, PIN string
}

// AddUser creates a mobile user of the floor's warehouse.
func (f *Floor) AddUser(t testing.TB, username, pin, language string, pinChangeRequired bool) User {
	t.Helper()
	var u struct {
		ID string `json:"id"`
	}
	must(t, f.Admin("POST", "/users", map[string]any{
		"username": username, "first_name": "Jo", "last_name": "Smith", "pin": pin, "language": language,
		"warehouse_id": f.WarehouseID, "pin_change_required": pinChangeRequired,
	}, &u, http.StatusCreated))
	return User{ID: u.ID, Username: username, PIN: pin}
}

// Device is an enrolled handheld.
type Device struct {
	ID, Token string
}

// Enroll enrolls a handheld with serial through the device API.
func (f *Floor) Enroll(t testing.TB, serial string) Device {
	t.Helper()
	var out struct {
		DeviceID    string `json:"device_id"`
		DeviceToken string `json:"device_token"`
	}
	must(t, Do("POST", f.in.GatewayURL+"/v1/enroll", "", map[string]any{
		"email": f.ManagerEmail, "password": f.ManagerPassword, "warehouse_id": f.WarehouseID,
		"device": map[string]string{"serial": serial, "model": "TC52", "os_version": "13", "app_version": "4.2.0", "label": serial},
	}, &out, http.StatusCreated))
	return Device{ID: out.DeviceID, Token: out.DeviceToken}
}

// Login signs u in on d and returns the session token and id.
func (f *Floor) Login(t testing.TB, d Device, u User) (token, sessionID string) {
	t.Helper()
	var out struct {
		SessionToken string `json:"session_token"`
		SessionID    string `json:"session_id"`
	}
	must(t, Do("POST", f.in.GatewayURL+"/v1/login", d.Token, map[string]string{"username": u.Username, "pin": u.PIN}, &out, http.StatusOK))
	if !strings.HasPrefix(out.SessionToken, "fgs_") || out.SessionID == "" {
		t.Fatalf("login of %s answered no session", u.Username)
	}
	return out.SessionToken, out.SessionID
}

// ErrStatus reports whether err is a *StatusError with status.
func ErrStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
