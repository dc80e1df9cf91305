package admin

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	fgredis "github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/signin"
	"github.com/floorgate/floorgate/throttle"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

// instance is one admin API of a pair on the same PostgreSQL and Redis,
// with its own registry and its own fan-out watcher; heard carries
// every event the watcher handed to the API, after the API took it.
type instance struct {
	*env
	heard chan sessions.Event
}

// watch runs the API's fan-out watcher on st until the test ends and
// waits until it has subscribed.
func watch(t *testing.T, api *API, st sessions.Store) chan sessions.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, 8)
	heard := make(chan sessions.Event, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Watch(ctx, func(reset bool) {
			api.Subscribed(reset)
			ready <- struct{}{}
		}, func(e sessions.Event) {
			api.Watched(e)
			if e.Kind == sessions.KindManagerChanged || e.Kind == sessions.KindLost {
				heard <- e
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-ready
	go func() {
		for range ready { // later subscriptions
		}
	}()
	return heard
}

// await waits until the instance has heard an event of kind (about
// manager, for KindManagerChanged).
func (in instance) await(kind sessions.EventKind, manager string) {
	in.t.Helper()
	for e := range in.heard {
		if e.Kind == kind && (kind != sessions.KindManagerChanged || e.ManagerID == manager) {
			return
		}
	}
}

// twoInstances starts two admin APIs on one PostgreSQL schema and one
// Redis prefix; the second one's fan-out watcher goes through a proxy
// that the test can cut.
func twoInstances(t *testing.T) (a, b instance, proxy *testenv.Proxy) {
	if err := testenv.Servers(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	client := testenv.Redis(t)
	addr := client.(*goredis.Client).Options().Addr
	prefix := testenv.RedisPrefix(t, client)
	var ds devices.Store
	be := backend{name: "postgres+redis", open: func(t testing.TB, now func() time.Time) (devices.Store, sessions.Store, throttle.Throttle) {
		st, err := postgres.Open(context.Background(), testenv.PostgresURL(), postgres.Options{Schema: testenv.PostgresSchema(t), MaxConns: 8})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		ds = st
		opts := fgredis.Options{Prefix: prefix, Now: now}
		return st, fgredis.New(client, opts), thredis.New(client, thredis.Options{Prefix: prefix, Now: now})
	}}
	e := newEnv(t, be)
	a = instance{env: e, heard: watch(t, e.api, e.sess)}

	// The second instance: its own registry, sign-in policy and API over
	// the same stores, its own listener.
	reg, err := devices.NewRegistry(ds, devices.Options{Pepper: []byte("a test pepper of enough bits"), Now: e.clock.Now,
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	si, err := signin.New(signin.Config{Registry: reg, Sessions: e.sess, Throttle: e.throttle, Logger: slog.New(slog.DiscardHandler), Now: e.clock.Now,
		Pool: signin.NewPoolShares(0, 0, signin.Shares{Enroll: 1, Manager: 1})})
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Config{Registry: reg, Sessions: e.sess, SignIn: si, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: api.Handler()}}
	srv.Start()
	t.Cleanup(srv.Close)
	e2 := *e
	e2.reg, e2.api, e2.srv = reg, api, srv
	proxy = testenv.StartProxy(t, addr)
	viaProxy := fgredis.New(testenv.RedisClientAt(t, proxy.Addr, "instance-b"), fgredis.Options{Prefix: prefix, Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	b = instance{env: &e2, heard: watch(t, api, viaProxy)}
	return a, b, proxy
}

// TestManagerTokenCacheAcrossInstances: a manager token let in on two
// instances is refused on both as soon as each has heard the change, when
// it is revoked (the manager's logout), when the manager is disabled, and
// when their role is narrowed to another warehouse; while the second
// instance's subscription is down its cache is off. The injected clock
// never moves unless the test says so, so every refusal below that
// follows a change comes from a drop, not from the cache's TTL: a token
// deleted behind the registry's back (no news) is still let in from
// memory until the TTL passes.
func TestManagerTokenCacheAcrossInstances(t *testing.T) {
	a, b, proxy := twoInstances(t)
	ctx := context.Background()
	n := 0
	newManager := func(roles ...devices.Role) (string, devices.Manager) {
		n++
		name := "cached" + string(rune('a'+n))
		m, err := a.reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{
			Email: name + "@example.com", FirstName: name, LastName: "Test", Password: testPassword, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := a.reg.IssueManagerToken(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[name] = tok.Reveal() // the map is shared by both
		return name, m
	}
	umA := []devices.Role{{Role: devices.RoleUserManager, WarehouseID: a.whA.ID}}
	whA := "/warehouses/" + a.whA.ID
	// let in on both instances: each now holds the token in memory.
	letIn := func(name string) {
		t.Helper()
		a.expect(http.StatusOK, name, "GET", whA, nil)
		b.expect(http.StatusOK, name, "GET", whA, nil)
	}

	t.Run("cache holds", func(t *testing.T) {
		name, m := newManager(umA...)
		letIn(name)
		// Deleted in the store, not through the registry: nobody is told.
		if err := a.store.DeleteManagerTokens(ctx, m.ID, ""); err != nil {
			t.Fatal(err)
		}
		a.expect(http.StatusOK, name, "GET", whA, nil)
		b.expect(http.StatusOK, name, "GET", whA, nil)
		a.clock.Advance(devices.DefaultManagerTokenCacheTTL)
		a.expect(http.StatusUnauthorized, name, "GET", whA, nil)
		b.expect(http.StatusUnauthorized, name, "GET", whA, nil)
	})

	t.Run("revoked", func(t *testing.T) {
		name, m := newManager(umA...)
		letIn(name)
		a.expect(http.StatusNoContent, name, "POST", "/logout", nil)
		a.expect(http.StatusUnauthorized, name, "GET", whA, nil) // at once where it was revoked
		b.await(sessions.KindManagerChanged, m.ID)
		b.expect(http.StatusUnauthorized, name, "GET", whA, nil)
	})

	t.Run("disabled", func(t *testing.T) {
		name, m := newManager(umA...)
		letIn(name)
		b.expect(http.StatusOK, "admin", "PATCH", "/managers/"+m.ID, map[string]any{"status": "disabled"})
		b.expect(http.StatusUnauthorized, name, "GET", whA, nil)
		a.await(sessions.KindManagerChanged, m.ID)
		a.expect(http.StatusUnauthorized, name, "GET", whA, nil)
	})

	t.Run("role narrowed", func(t *testing.T) {
		name, m := newManager(umA...)
		letIn(name)
		a.expect(http.StatusOK, "admin", "PATCH", "/managers/"+m.ID, map[string]any{
			"roles": []devices.Role{{Role: devices.RoleUserManager, WarehouseID: a.whB.ID}}})
		a.expect(http.StatusNotFound, name, "GET", whA, nil)
		b.await(sessions.KindManagerChanged, m.ID)
		b.expect(http.StatusNotFound, name, "GET", whA, nil)
		b.expect(http.StatusOK, name, "GET", "/warehouses/"+a.whB.ID, nil)
	})

	t.Run("off while the subscription is down", func(t *testing.T) {
		name, m := newManager(umA...)
		letIn(name)
		proxy.Cut()
		b.await(sessions.KindLost, "")
		// No news reaches b now; its cache is off, so a token deleted
		// behind everyone's back is refused there at once (a still
		// answers from memory: it hears the fan-out).
		if err := a.store.DeleteManagerTokens(ctx, m.ID, ""); err != nil {
			t.Fatal(err)
		}
		b.expect(http.StatusUnauthorized, name, "GET", whA, nil)
		a.expect(http.StatusOK, name, "GET", whA, nil)
		// Nor does it keep what it lets in meanwhile.
		other, om := newManager(umA...)
		b.expect(http.StatusOK, other, "GET", whA, nil)
		if err := a.store.DeleteManagerTokens(ctx, om.ID, ""); err != nil {
			t.Fatal(err)
		}
		b.expect(http.StatusUnauthorized, other, "GET", whA, nil)
		proxy.Restore()
	})
}
