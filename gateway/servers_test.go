package gateway

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/postgres"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/redis"
	thredis "github.com/floorgate/floorgate/throttle/redis"
)

// servers is the production backend: the PostgreSQL registry in a schema
// of its own and Redis sessions under a key prefix of their own, both
// removed at cleanup.
func servers(t *testing.T, clk *clock.Clock) backend {
	t.Helper()
	return serversTB(t, clk)
}

// serversTB is servers for a test or a benchmark.
func serversTB(t testing.TB, clk *clock.Clock) backend {
	t.Helper()
	return serversWith(t, clk, testHash, nil)
}

// serversWith is serversTB with the given hash parameters and, when not
// nil, a tracer that sees every PostgreSQL statement.
func serversWith(t testing.TB, clk *clock.Clock, hash devices.HashParams, tracer pgx.QueryTracer) backend {
	t.Helper()
	ctx := context.Background()
	schema := testenv.PostgresSchema(t)
	st, err := postgres.Open(ctx, testenv.PostgresURL(), postgres.Options{Schema: schema, MaxConns: 8, Tracer: tracer})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	client := testenv.Redis(t)
	prefix := testenv.RedisPrefix(t, client)
	reg, err := devices.NewRegistry(st, devices.Options{
		Pepper: []byte("a test pepper of enough bytes"), Now: clk.Now, Hash: hash, Logger: discard(),
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	opts := redis.Options{Prefix: prefix, Now: clk.Now, Logger: discard()}
	return backend{reg: reg, now: opts.Now, store: redis.New(client, opts), throttle: thredis.New(client, thredis.Options{Prefix: opts.Prefix, Now: opts.Now}), redis: client}
}

// TestOnServers runs the evict flow, a queued logout and a cross-instance
// push on PostgreSQL and Redis.
func TestOnServers(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarnessOn(t, clk, servers(t, clk))
	_, url2 := h.startServer()
	ctx := context.Background()
	h.user("kim", h.wh.ID)
	var devs []device
	for _, serial := range []string{"S21-2001", "S21-2002", "S21-2003", "S21-2004"} {
		devs = append(devs, h.enroll(serial))
	}
	c, _ := h.connect(url2, devs[0]) // held by the second instance
	var first map[string]any
	for i, d := range devs {
		clk.Advance(time.Second)
		_, m := h.mustLogin(d, "kim") // through the first
		if i == 0 {
			first = m
		}
	}
	f := readFrame(t, c)
	if f["type"] != "logout" || f["reason"] != "evicted" || f["session_id"] != first["session_id"] {
		t.Fatalf("frame = %v; want logout evicted of %v", f, first["session_id"])
	}
	if by, _ := f["by"].(map[string]any); by["device_id"] != devs[3].id {
		t.Errorf("by = %v; want device %s", f["by"], devs[3].id)
	}
	id := f["command_id"].(string)
	c.WriteMessage(1, []byte(`{"type":"ack","command_id":"`+id+`"}`))
	waitFor(t, "command acked", func() bool {
		cmd, err := h.be.store.Command(ctx, id)
		return err == nil && cmd.AckedAt != nil
	})

	// A logout while the device is away arrives after welcome.
	_, m := h.mustLogin(devs[0], "kim")
	cmd, err := h.be.store.End(ctx, m["session_id"].(string), sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	c.Close()
	c2, _ := h.connect(h.ts.URL, devs[0])
	if f := readFrame(t, c2); f["type"] != "logout" || f["command_id"] != cmd.ID {
		t.Fatalf("frame after welcome = %v; want logout %s", f, cmd.ID)
	}
}

// TestUnavailable: with the session store down (a Redis client pointed at
// a closed port) and then the registry down, every call answers 503
// unavailable, with no error text, never a guess at success.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	reg, err := devices.NewRegistry(st, devices.Options{Pepper: []byte("a test pepper of enough bytes"), Now: clk.Now, Hash: testHash, Logger: discard()})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	client := testenv.DeadRedis(t)
	opts := redis.Options{Prefix: "fgtest:down:", Now: clk.Now, Logger: discard()}
	h := newHarnessOn(t, clk, backend{reg: reg, now: opts.Now, store: redis.New(client, opts), throttle: thredis.New(client, thredis.Options{Prefix: opts.Prefix, Now: opts.Now})})
	h.user("lena", h.wh.ID)
	d, tok, _, err := reg.Enroll(ctx, "mgr_test", devices.EnrollInput{WarehouseID: h.wh.ID, Serial: "S21-3000", AppVersion: "4.2.0"})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	dev := device{id: d.ID, token: tok.Reveal()}
	session := string(sessions.NewToken())

	check := func(t *testing.T, r response) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.code() != CodeUnavailable {
			t.Fatalf("= %d %s; want 503 unavailable", r.status, r.body)
		}
		for _, leak := range []string{"dial", "refused", "127.0.0.1", "redis", "sql"} {
			if strings.Contains(strings.ToLower(string(r.body)), leak) {
				t.Errorf("503 body %s mentions %q", r.body, leak)
			}
		}
	}
	calls := []struct {
		name                string
		method, path, token string
		body                any
	}{
		{"enroll", "POST", "/v1/enroll", "", h.enrollBody("S21-3001")},
		{"login", "POST", "/v1/login", dev.token, map[string]string{"username": "lena", "pin": goodPIN}},
		{"session", "GET", "/v1/session", session, nil},
		{"logout", "POST", "/v1/logout", session, nil},
		{"pin", "POST", "/v1/pin", session, map[string]string{"current_pin": goodPIN, "new_pin": "7294"}},
		{"introspect", "POST", "/v1/introspect", h.svcKey, map[string]string{"token": session}},
	}
	t.Run("sessions down", func(t *testing.T) {
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) { check(t, h.do(c.method, c.path, c.token, c.body)) })
		}
	})
	t.Run("socket with sessions down", func(t *testing.T) {
		c, _, err := dial(t, h.ts.URL, dev.token, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if got := closeCode(t, c); got != closeGoingAway {
			t.Errorf("close code = %d; want %d (reconnect later)", got, closeGoingAway)
		}
	})
	t.Run("registry down", func(t *testing.T) {
		st.Close()
		for _, c := range calls[:2] {
			t.Run(c.name, func(t *testing.T) { check(t, h.do(c.method, c.path, c.token, c.body)) })
		}
		if _, resp, err := dial(t, h.ts.URL, dev.token, nil); err == nil || resp == nil || resp.StatusCode != 503 {
			t.Errorf("socket with the registry down: %v, %v; want 503 before upgrade", resp, err)
		}
	})
}
