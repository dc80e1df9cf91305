package console

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
	"github.com/floorgate/floorgate/signin"
	"github.com/floorgate/floorgate/throttle"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
)

const testPassword = "Correct-Horse-9-Battery"

// env is a console over the admin API over the embedded stores, served
// on 127.0.0.1, with warehouses A and B, an admin, a user manager of A
// and a mobile manager of B (newEnv), or only the admin (newEnvEmpty).
type env struct {
	t        testing.TB
	clock    *clock.Clock
	reg      *devices.Registry
	sess     sessions.Store
	throttle throttle.Throttle
	api      *admin.API
	feed     *Feed
	cons     *Console
	srv      *httptest.Server
	whA, whB devices.Warehouse
	secure   bool
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := newEnvEmpty(t)
	e.whA = e.mkWarehouse("Alpha", "ALP")
	e.whB = e.mkWarehouse("Bravo", "BRV")
	e.mkManager("um-a@example.com", devices.Role{Role: devices.RoleUserManager, WarehouseID: e.whA.ID})
	e.mkManager("mm-b@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: e.whB.ID})
	return e
}

// newEnvEmpty is the console over empty stores with one admin,
// admin@example.com.
func newEnvEmpty(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	c := clock.NewNow()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := devices.NewRegistry(st, devices.Options{
		Pepper: []byte("a test pepper of enough bits"), Now: c.Now,
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	ss := memory.New(memory.Options{Now: c.Now})
	th := thmemory.New(thmemory.Options{Now: c.Now})
	si, err := signin.New(signin.Config{Registry: reg, Sessions: ss, Throttle: th, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("signin.New: %v", err)
	}
	api, err := admin.New(admin.Config{Registry: reg, Sessions: ss, SignIn: si, Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	e := &env{t: t, clock: c, reg: reg, sess: ss, throttle: th, api: api, feed: NewFeed()}
	e.cons, err = New(Config{API: api.Handler(), Feed: e.feed, Now: c.Now, Logger: slog.New(slog.DiscardHandler),
		Secure: func(*http.Request) bool { return e.secure }, Coalesce: 5 * time.Millisecond, RefreshEvery: time.Hour})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	e.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: e.cons.Mount(admin.BasePath)}}
	e.srv.Start()
	t.Cleanup(func() {
		e.feed.Close()
		e.srv.Close()
	})
	e.mkManager("admin@example.com", devices.Role{Role: devices.RoleAdmin})
	return e
}

func (e *env) mkWarehouse(name, code string) devices.Warehouse {
	e.t.Helper()
	w, err := e.reg.CreateWarehouse(context.Background(), devices.ActorSystem, devices.WarehouseInput{Name: name, Code: code})
	if err != nil {
		e.t.Fatalf("CreateWarehouse: %v", err)
	}
	return w
}

func (e *env) mkManager(email string, roles ...devices.Role) devices.Manager {
	e.t.Helper()
	m, err := e.reg.CreateManager(context.Background(), devices.ActorSystem, devices.ManagerInput{
		Email: email, FirstName: "Test", LastName: "Manager", Password: testPassword, Roles: roles})
	if err != nil {
		e.t.Fatalf("CreateManager: %v", err)
	}
	return m
}

func (e *env) mkUser(username, first, wh string) devices.User {
	e.t.Helper()
	u, err := e.reg.CreateUser(context.Background(), devices.ActorSystem, devices.UserInput{
		Username: username, FirstName: first, LastName: "Doe", WarehouseID: wh, PIN: "4821"})
	if err != nil {
		e.t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

func (e *env) mkDevice(serial, wh string) devices.Device {
	e.t.Helper()
	admins, err := e.reg.Managers(context.Background(), devices.ManagerFilter{Role: devices.RoleAdmin})
	if err != nil || len(admins) == 0 {
		e.t.Fatalf("no admin: %v", err)
	}
	d, _, _, err := e.reg.Enroll(context.Background(), admins[0].ID, devices.EnrollInput{
		WarehouseID: wh, Serial: serial, Model: "TC52", OSVersion: "13", AppVersion: "4.2.0", Label: "Dock " + serial})
	if err != nil {
		e.t.Fatalf("Enroll: %v", err)
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

// browser is one cookie jar: a person with a browser.
type browser struct {
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer.
type page struct {
	status int
	header http.Header
	body   string
}

// get fetches path (no redirect followed).
func (b *browser) get(path string) page {
	b.e.t.Helper()
	return b.do("GET", path, nil)
}

// post sends form as a same-origin browser would.
func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	return b.do("POST", path, form)
}

func (b *browser) do(method, path string, form url.Values) page {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.e.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	return b.send(req)
}

func (b *browser) send(req *http.Request) page {
	b.e.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(data)}
}

// follow fetches the page a 303 points to.
func (b *browser) follow(p page) page {
	b.e.t.Helper()
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("answer %d; want 303: %.300s", p.status, p.body)
	}
	return b.get(p.header.Get("Location"))
}

// signIn signs email in and fails the test otherwise.
func (e *env) signIn(email string) *browser {
	e.t.Helper()
	b := e.browser()
	p := b.post("/signin", url.Values{"email": {email}, "password": {testPassword}, "next": {"/users"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/users" {
		e.t.Fatalf("sign in %s = %d %s; want 303 to /users", email, p.status, p.header.Get("Location"))
	}
	return b
}
