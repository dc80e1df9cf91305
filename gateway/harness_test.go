package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/housekeeping"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
	"github.com/floorgate/floorgate/signin"
	"github.com/floorgate/floorgate/throttle"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
)

// testHash keeps argon2id cheap in tests.
var testHash = devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}

// Secrets of the fixture.
const (
	managerEmail    = "mia@example.com"
	managerPassword = "Correct-Horse-9-battery"
	goodPIN         = "4821"
)

// frameWait bounds every wait for a frame, so that a broken test fails
// instead of hanging. It is a safety net, not a timing assertion.
const frameWait = 10 * time.Second

// newClock is the settable clock (internal/clock) shared by the
// registry, the session store, the throttle and the gateway.
func newClock() *clock.Clock { return clock.New(time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)) }

// backend is what a harness runs on.
type backend struct {
	reg      *devices.Registry
	store    sessions.Store
	throttle throttle.Throttle
	now      func() time.Time // the sign-in's address limits' clock
	// redis is the Redis client of the servers backend (nil when
	// embedded), for a benchmark to count its round trips.
	redis goredis.UniversalClient
	// sweepEvery is the keeper's sweep interval (10ms when 0).
	sweepEvery time.Duration
}

// onEachBackend runs fn as a parallel subtest on the embedded stores
// ("embedded") and on PostgreSQL + Redis ("servers"), each with a clock
// of its own: the tests of a rule that must hold across instances run
// two gateways on either.
func onEachBackend(t *testing.T, fn func(t *testing.T, clk *clock.Clock, be backend)) {
	for name, open := range map[string]func(*testing.T, *clock.Clock) backend{
		"embedded": func(t *testing.T, clk *clock.Clock) backend { return embedded(t, clk) },
		"servers":  servers,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			fn(t, clk, open(t, clk))
		})
	}
}

// embedded is the SQLite registry in t.TempDir() with in-process
// sessions: the default of every test.
func embedded(t testing.TB, clk *clock.Clock) backend {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := devices.NewRegistry(st, devices.Options{
		Pepper: []byte("a test pepper of enough bytes"),
		Now:    clk.Now,
		Hash:   testHash,
		Logger: discard(),
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return backend{
		now:      clk.Now,
		reg:      reg,
		store:    memory.New(memory.Options{Now: clk.Now}),
		throttle: thmemory.New(thmemory.Options{Now: clk.Now}),
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testAddressRate lets a test enroll as many handhelds from 127.0.0.1 as
// it needs; the default rate is driven by TestEnrollAddressRate.
var testAddressRate = signin.AddressRate{Burst: 1000, PerMinute: 6000}

// newSignIn is a sign-in policy over be with pool, registering its
// metrics on reg (a private registry when nil).
func newSignIn(t testing.TB, be backend, reg prometheus.Registerer, pool *signin.Pool) *signin.Policy {
	t.Helper()
	p, err := signin.New(signin.Config{Registry: be.reg, Sessions: be.store, Throttle: be.throttle, Pool: pool, Logger: discard(), Metrics: reg, Now: be.now,
		AddressRate: testAddressRate})
	if err != nil {
		t.Fatalf("signin.New: %v", err)
	}
	return p
}

// newPoolHarness is newHarness with the given hashing pool, which a test
// may hold.
func newPoolHarness(t testing.TB, pool *signin.Pool) *harness {
	t.Helper()
	clk := newClock()
	be := embedded(t, clk)
	return newHarnessOn(t, clk, be, withSignIn(newSignIn(t, be, nil, pool)))
}

// hold takes a slot of pool (failing the test when none is free) and
// returns what gives it back.
func hold(t testing.TB, pool *signin.Pool) func() {
	t.Helper()
	release, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return release
}

// withSignIn runs the harness's gateway with p.
func withSignIn(p *signin.Policy) option { return func(c *Config) { c.SignIn = p } }

// harness is one gateway over a backend, served on 127.0.0.1, with a
// warehouse, a mobile manager and a service key.
type harness struct {
	t      testing.TB
	clk    *clock.Clock
	be     backend
	srv    *Server
	ts     *httptest.Server
	wh     devices.Warehouse
	other  devices.Warehouse
	svcKey string
	// stop shuts the first server down (Shutdown, then Run's end, then
	// the listener); cleanup calls it too, once.
	stop func()
}

type option func(*Config)

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	clk := newClock()
	return newHarnessOn(t, clk, embedded(t, clk), opts...)
}

func newHarnessOn(t testing.TB, clk *clock.Clock, be backend, opts ...option) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, clk: clk, be: be}
	var err error
	h.wh, err = be.reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "Dock North", Code: "NORTH"})
	if err != nil {
		t.Fatalf("CreateWarehouse: %v", err)
	}
	h.other, err = be.reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "Dock South", Code: "SOUTH"})
	if err != nil {
		t.Fatalf("CreateWarehouse: %v", err)
	}
	if _, err := be.reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{
		Email: managerEmail, FirstName: "Mia", LastName: "Stone", Password: managerPassword,
		Roles: []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: h.wh.ID}},
	}); err != nil {
		t.Fatalf("CreateManager: %v", err)
	}
	_, key, err := be.reg.CreateServiceKey(ctx, devices.ActorSystem, "wms", devices.ScopeIntrospect)
	if err != nil {
		t.Fatalf("CreateServiceKey: %v", err)
	}
	h.svcKey = key.Reveal()
	h.srv, _ = h.startServer(opts...)
	return h
}

// startServer starts one more gateway instance over the harness backend
// and returns it with its base URL.
func (h *harness) startServer(opts ...option) (*Server, string) {
	h.t.Helper()
	cfg := Config{
		Registry:       h.be.reg,
		Sessions:       h.be.store,
		Logger:         discard(),
		Now:            h.clk.Now,
		CloseGrace:     time.Second,
		AllowedOrigins: []string{"https://console.example.com"},
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.SignIn == nil {
		cfg.SignIn = newSignIn(h.t, h.be, cfg.Metrics, signin.NewPool(0, 5*time.Second))
	}
	srv, err := New(cfg)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	keeper := newKeeper(h.t, h.be, h.clk)
	go func() {
		defer close(done)
		// As cmd/floorgate runs them: the instance and its housekeeping.
		var wg sync.WaitGroup
		wg.Go(func() { keeper.Run(ctx) })
		srv.Run(ctx)
		wg.Wait()
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			srv.Shutdown(sctx)
			cancel()
			<-done
			ts.Close()
		})
	}
	h.t.Cleanup(stop)
	if h.ts == nil {
		h.ts = ts
		h.stop = stop
	}
	// The fan-out is at most once: wait until this instance's watcher is
	// subscribed, so that no test event is published before anyone
	// listens (unless the store is down on purpose, as in TestUnavailable).
	if h.be.store.Ping(context.Background()) == nil {
		deadline := time.Now().Add(10 * time.Second)
		for !srv.Watching() {
			if time.Now().After(deadline) {
				h.t.Fatalf("the new instance's watcher was not subscribed within 10s")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return srv, ts.URL
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// code is the problem code of an error response.
func (r response) code() string {
	var p Problem
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// do sends a request to the harness's first server.
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	return h.doAt(h.ts.URL, method, path, token, body)
}

func (h *harness) doAt(base, method, path, token string, body any) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		h.t.Fatalf("NewRequest: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// enrollBody is a valid enrollment of serial into the harness warehouse.
func (h *harness) enrollBody(serial string) map[string]any {
	return map[string]any{
		"email": managerEmail, "password": managerPassword, "warehouse_id": h.wh.ID,
		"device": map[string]any{"serial": serial, "model": "TC52", "os_version": "13", "app_version": "4.2.0", "label": "Dock 3 scanner"},
	}
}

// device is an enrolled handheld.
type device struct {
	id, token string
}

func (h *harness) enroll(serial string) device {
	h.t.Helper()
	r := h.do("POST", "/v1/enroll", "", h.enrollBody(serial))
	if r.status != http.StatusCreated {
		h.t.Fatalf("POST /v1/enroll = %d %s; want 201", r.status, r.body)
	}
	m := r.json(h.t)
	return device{id: m["device_id"].(string), token: m["device_token"].(string)}
}

// user creates an active user of warehouse wh with goodPIN.
func (h *harness) user(username, warehouseID string) devices.User {
	h.t.Helper()
	u, err := h.be.reg.CreateUser(context.Background(), devices.ActorSystem, devices.UserInput{
		Username: username, FirstName: "Jo", LastName: "Smith", WarehouseID: warehouseID, PIN: goodPIN,
	})
	if err != nil {
		h.t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// login signs username in on d and returns the response.
func (h *harness) login(d device, username, pin string) response {
	h.t.Helper()
	return h.do("POST", "/v1/login", d.token, map[string]string{"username": username, "pin": pin})
}

// mustLogin signs in and returns the session token and the body.
func (h *harness) mustLogin(d device, username string) (string, map[string]any) {
	h.t.Helper()
	r := h.login(d, username, goodPIN)
	if r.status != http.StatusOK {
		h.t.Fatalf("login(%q) = %d %s; want 200", username, r.status, r.body)
	}
	m := r.json(h.t)
	return m["session_token"].(string), m
}

// setWarehouse applies settings overrides to the harness warehouse.
func (h *harness) setWarehouse(o devices.SettingsOverride) {
	h.t.Helper()
	if _, err := h.be.reg.UpdateWarehouse(context.Background(), devices.ActorSystem, h.wh.ID, devices.WarehousePatch{Settings: &o}); err != nil {
		h.t.Fatalf("UpdateWarehouse: %v", err)
	}
}

// --- websockets -----------------------------------------------------------

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/v1/ws" }

// dial opens a socket to base with the device token in the header ("" for
// none) and extra headers.
func dial(t testing.TB, base, token string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	d := websocket.Dialer{HandshakeTimeout: frameWait}
	return d.Dial(wsURL(base), hdr)
}

// connect opens an authenticated socket and returns it with its welcome.
func (h *harness) connect(base string, d device) (*websocket.Conn, map[string]any) {
	h.t.Helper()
	c, resp, err := dial(h.t, base, d.token, nil)
	if err != nil {
		h.t.Fatalf("dial: %v (%v)", err, resp)
	}
	h.t.Cleanup(func() { c.Close() })
	w := readFrame(h.t, c)
	if w["type"] != "welcome" {
		h.t.Fatalf("first frame = %v; want welcome", w)
	}
	return c, w
}

// readFrame reads the next JSON frame.
func readFrame(t testing.TB, c *websocket.Conn) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(frameWait))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("frame %q: %v", data, err)
	}
	return m
}

// closeCode reads until the server closes the socket and returns its code.
func closeCode(t testing.TB, c *websocket.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(frameWait))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("read until close: %v; want a close frame", err)
		return 0
	}
}

// waitFor polls cond, a bounded number of times, for asynchronous effects
// (an ack reaching the store).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after 500 polls", what)
}

// newKeeper is the housekeeping beside a gateway instance, sweeping
// every 10 ms so that the tests' expiries (on the fake clock) are seen
// soon.
func newKeeper(t testing.TB, be backend, clk *clock.Clock) *housekeeping.Keeper {
	t.Helper()
	every := 10 * time.Millisecond
	if be.sweepEvery > 0 {
		every = be.sweepEvery
	}
	k, err := housekeeping.New(housekeeping.Config{Registry: be.reg, Sessions: be.store, Logger: discard(), Now: clk.Now, SweepEvery: every})
	if err != nil {
		t.Fatalf("housekeeping.New: %v", err)
	}
	return k
}
