package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// backend opens the stores of one test run.
type backend struct {
	name string
	open func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle)
}

func embedded() backend {
	return backend{name: "embedded", open: func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st, memory.New(memory.Options{Now: now}), thmemory.New(thmemory.Options{Now: now})
	}}
}

// backends are the embedded stores, and PostgreSQL with Redis when they
// answer (server_test.go).
func backends(t *testing.T) []backend {
	bs := []backend{embedded()}
	if b, ok := serverBackend(t); ok {
		bs = append(bs, b)
	}
	return bs
}

// eachBackend runs f against every backend.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

const testPassword = "Correct-Horse-9-Battery"

// env is one admin API over fresh stores, with a small world in it:
// warehouses A and B, managers of every kind, a user and a device in
// each warehouse, and a session for each user.
type env struct {
	t        testing.TB
	clock    *clock.Clock
	reg      *devices.Registry
	store    devices.Store // the registry's store, for tests that wrap it
	sess     sessions.Store
	throttle throttle.Throttle
	signin   *signin.Policy
	api      *API
	// keeper is the housekeeping over the same stores: the tests run its
	// reconciler and purge by hand.
	keeper   *housekeeping.Keeper
	srv      *httptest.Server
	whA, whB devices.Warehouse
	tokens   map[string]string // role name -> bearer
	managers map[string]devices.Manager
	userA    devices.User
	userB    devices.User
	devA     devices.Device
	devB     devices.Device
	sessA    sessions.Created
	sessB    sessions.Created
}

// apiOver is an API like e's (same sessions, sign-in, clock and logger)
// whose registry reads and writes through store, for tests that wrap
// e.store to count or fail its calls.
func (e *env) apiOver(store devices.Store) *API {
	e.t.Helper()
	reg, err := devices.NewRegistry(store, devices.Options{Pepper: []byte("a test pepper of enough bits"), Now: e.clock.Now,
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		e.t.Fatalf("NewRegistry: %v", err)
	}
	api, err := New(Config{Registry: reg, Sessions: e.sess, SignIn: e.signin, Now: e.clock.Now, Logger: e.api.log})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return api
}

func newEnv(t testing.TB, b backend) *env {
	t.Helper()
	ctx := context.Background()
	c := clock.New(time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC))
	ds, ss, th := b.open(t, c.Now)
	reg, err := devices.NewRegistry(ds, devices.Options{
		Pepper: []byte("a test pepper of enough bits"),
		Now:    c.Now,
		Hash:   devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	// The tests sign in many times in a row: the pool gives admin
	// sign-in and enrollment all of its time (the shares are
	// signin.TestPoolShares' business).
	pool := signin.NewPoolShares(0, 0, signin.Shares{Enroll: 1, Manager: 1})
	si, err := signin.New(signin.Config{Registry: reg, Sessions: ss, Throttle: th, Logger: slog.New(slog.DiscardHandler), Now: c.Now, Pool: pool})
	if err != nil {
		t.Fatalf("signin.New: %v", err)
	}
	api, err := New(Config{Registry: reg, Sessions: ss, SignIn: si, Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	keeper, err := housekeeping.New(housekeeping.Config{Registry: reg, Sessions: ss, Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("housekeeping.New: %v", err)
	}
	e := &env{t: t, clock: c, reg: reg, store: ds, sess: ss, throttle: th, signin: si, api: api, keeper: keeper, tokens: map[string]string{}, managers: map[string]devices.Manager{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	e.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: api.Handler()}}
	e.srv.Start()
	t.Cleanup(e.srv.Close)

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	e.whA, err = reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "Alpha", Code: "ALP"})
	must("CreateWarehouse A", err)
	e.whB, err = reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "Bravo", Code: "BRV"})
	must("CreateWarehouse B", err)
	roles := map[string][]devices.Role{
		"admin":      {{Role: devices.RoleAdmin}},
		"um_a":       {{Role: devices.RoleUserManager, WarehouseID: e.whA.ID}},
		"um_b":       {{Role: devices.RoleUserManager, WarehouseID: e.whB.ID}},
		"mm_a":       {{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID}},
		"mm_b":       {{Role: devices.RoleMobileManager, WarehouseID: e.whB.ID}},
		"um_a_mm_b":  {{Role: devices.RoleUserManager, WarehouseID: e.whA.ID}, {Role: devices.RoleMobileManager, WarehouseID: e.whB.ID}},
		"mm_a_other": {{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID}},
	}
	for name, rs := range roles {
		m, err := reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{
			Email: name + "@example.com", FirstName: name, LastName: "Test", Password: testPassword, Roles: rs})
		must("CreateManager "+name, err)
		e.managers[name] = m
		if name == "mm_a_other" {
			continue // a target, never signed in
		}
		tok, _, err := reg.IssueManagerToken(ctx, m.ID)
		must("IssueManagerToken "+name, err)
		e.tokens[name] = tok.Reveal()
	}
	_, key, err := reg.CreateServiceKey(ctx, devices.ActorSystem, "automation", devices.ScopeAdmin)
	must("CreateServiceKey admin", err)
	e.tokens["key_admin"] = key.Reveal()
	_, key, err = reg.CreateServiceKey(ctx, devices.ActorSystem, "wms", devices.ScopeIntrospect)
	must("CreateServiceKey introspect", err)
	e.tokens["key_introspect"] = key.Reveal()

	e.userA = e.mkUser("alice", e.whA.ID)
	e.userB = e.mkUser("bruno", e.whB.ID)
	e.devA = e.mkDevice("SER-A", e.whA.ID)
	e.devB = e.mkDevice("SER-B", e.whB.ID)
	e.sessA = e.mkSession(e.userA, e.devA)
	e.sessB = e.mkSession(e.userB, e.devB)
	return e
}

func (e *env) mkUser(username, wh string) devices.User {
	e.t.Helper()
	u, err := e.reg.CreateUser(context.Background(), devices.ActorSystem, devices.UserInput{
		Username: username, FirstName: strings.ToUpper(username[:1]) + username[1:], LastName: "Doe", WarehouseID: wh, PIN: "4821"})
	if err != nil {
		e.t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

func (e *env) mkDevice(serial, wh string) devices.Device {
	e.t.Helper()
	d, _, _, err := e.reg.Enroll(context.Background(), e.managers["admin"].ID, devices.EnrollInput{
		WarehouseID: wh, Serial: serial, Model: "TC52", OSVersion: "13", AppVersion: "4.2.0", Label: "Dock " + serial})
	if err != nil {
		e.t.Fatalf("Enroll(%q): %v", serial, err)
	}
	return d
}

func (e *env) mkSession(u devices.User, d devices.Device) sessions.Created {
	e.t.Helper()
	c, err := e.sess.Create(context.Background(), sessions.NewSession{UserID: u.ID, Username: u.Username, DeviceID: d.ID, WarehouseID: d.WarehouseID},
		sessions.Policy{Cap: 3, Idle: 30 * time.Minute, Absolute: 12 * time.Hour})
	if err != nil {
		e.t.Fatalf("sessions.Create: %v", err)
	}
	return c
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) code() string {
	var p Problem
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

// call sends a request as role ("" for no bearer); body is JSON unless it
// is a string, which is sent as text/csv.
func (e *env) call(role, method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "text/csv"
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/csv"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+BasePath+path, rd)
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if role != "" {
		tok, ok := e.tokens[role]
		if !ok {
			tok = role // a raw bearer
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// expect calls and checks the status.
func (e *env) expect(want int, role, method, path string, body any) response {
	e.t.Helper()
	r := e.call(role, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s as %q = %d %s; want %d", method, path, role, r.status, r.body, want)
	}
	return r
}

// events returns the audit events matching f.
func (e *env) events(f devices.EventFilter) []devices.Event {
	e.t.Helper()
	f.Limit = 500
	evs, err := e.reg.Events(context.Background(), f)
	if err != nil {
		e.t.Fatalf("Events: %v", err)
	}
	return evs
}
