package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/redis"
	"github.com/floorgate/floorgate/signin"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
)

// The fan-out's fault tests: a redis-server of the test's own, gateway
// instances each with a Redis client of their own (one of them through a
// proxy that can cut its link), devices that stay connected and devices
// that reconnect. No logout may be lost.

// faultEnv is a registry (SQLite) and a redis-server of the test's own.
type faultEnv struct {
	h   *harness
	rds *testenv.Server
}

// newFaultEnv starts the redis-server and the first instance (the
// harness's), whose store has a direct client.
func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	clk := newClock()
	rds := testenv.StartRedis(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := devices.NewRegistry(st, devices.Options{Pepper: []byte("a test pepper of enough bytes"), Now: clk.Now, Hash: testHash, Logger: discard()})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	be := backend{reg: reg, store: faultStore(t, rds.Addr(), "gw-a", clk), throttle: thmemory.New(thmemory.Options{Now: clk.Now})}
	e := &faultEnv{rds: rds}
	e.h = newHarnessOn(t, clk, be, withRecheck)
	return e
}

// faultStore is a session store of its own client to addr.
func faultStore(t *testing.T, addr, name string, clk *clock.Clock) *redis.Store {
	c := testenv.RedisClientAt(t, addr, name)
	return redis.New(c, redis.Options{Prefix: "fg:", Now: clk.Now, Logger: discard()})
}

// withRecheck keeps the periodic re-check out of the way (an hour): what
// these tests see comes from the resync after the link's return.
func withRecheck(c *Config) { c.RecheckEvery = time.Hour }

// instance is one more gateway over its own store client, which can be
// killed without a graceful stop.
type instance struct {
	srv    *Server
	url    string
	ts     *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *faultEnv) instance(t *testing.T, st sessions.Store) *instance {
	t.Helper()
	h := e.h
	be := h.be
	be.store = st
	cfg := Config{
		Registry: be.reg, Sessions: st, Logger: discard(), Now: h.clk.Now,
		CloseGrace: time.Second, RecheckEvery: time.Hour,
		SignIn: newSignIn(t, be, nil, signin.NewPool(0, 5*time.Second)),
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	in := &instance{srv: srv, ts: httptest.NewServer(srv.Handler()), done: make(chan struct{})}
	in.url = in.ts.URL
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	keeper := newKeeper(t, be, h.clk)
	go func() {
		defer close(in.done)
		var wg sync.WaitGroup
		wg.Go(func() { keeper.Run(ctx) })
		srv.Run(ctx)
		wg.Wait()
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		in.kill()
	})
	waitFor(t, "the new instance's watcher subscribed", srv.Watching)
	return in
}

// kill stops the instance as a crash would: every connection cut with
// no close frame, its loops stopped, its listener closed.
func (in *instance) kill() {
	in.srv.hub.dropAll()
	in.cancel()
	<-in.done
	in.ts.Close()
}

// held is a device with a user signed in and its socket.
type held struct {
	dev     device
	session string // session id
	token   string // session token
	conn    *websocket.Conn
}

// signedIn enrolls n devices, signs a user in on each (through the
// harness's instance) and opens each one's socket to url.
func (e *faultEnv) signedIn(t *testing.T, prefix string, n int, url string) []*held {
	t.Helper()
	out := make([]*held, n)
	for i := range out {
		name := prefix + strconv.Itoa(i)
		e.h.user(name, e.h.wh.ID)
		d := e.h.enroll("SN-" + name)
		tok, m := e.h.mustLogin(d, name)
		c, w := e.h.connect(url, d)
		if s, _ := w["session"].(map[string]any); s == nil || s["session_id"] != m["session_id"] {
			t.Fatalf("welcome of %s = %v; want session %v", name, w, m["session_id"])
		}
		out[i] = &held{dev: d, session: m["session_id"].(string), token: tok, conn: c}
	}
	return out
}

// endAll ends every held session through the harness's store (a direct
// client) and returns the command ids by session.
func (e *faultEnv) endAll(t *testing.T, hs []*held) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, x := range hs {
		cmd, err := e.h.be.store.End(context.Background(), x.session, sessions.ReasonAdmin)
		if err != nil {
			t.Fatalf("End(%s) = %v", x.session, err)
		}
		out[x.session] = cmd.ID
	}
	return out
}

// expectLogouts reads, on every held socket at once, the logout of its
// session (bounded by frameWait each) and returns when the last one
// arrived.
func expectLogouts(t *testing.T, hs []*held, cmds map[string]string) time.Time {
	t.Helper()
	var (
		mu   sync.Mutex
		last time.Time
		wg   sync.WaitGroup
		errs = make(chan string, len(hs))
	)
	for _, x := range hs {
		wg.Go(func() {
			x.conn.SetReadDeadline(time.Now().Add(frameWait))
			_, data, err := x.conn.ReadMessage()
			at := time.Now()
			if err != nil {
				errs <- "device " + x.dev.id + ": no logout frame: " + err.Error()
				return
			}
			f := decodeFrame(data)
			if f["type"] != "logout" || f["session_id"] != x.session || f["command_id"] != cmds[x.session] {
				errs <- "device " + x.dev.id + ": frame " + string(data) + "; want the logout of " + x.session
				return
			}
			mu.Lock()
			if at.After(last) {
				last = at
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	return last
}

// decodeFrame decodes a frame, or returns nil.
func decodeFrame(data []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// reconnect closes each held socket and opens a new one to url: the
// logout queued meanwhile follows welcome.
func (e *faultEnv) reconnect(t *testing.T, hs []*held, url string) {
	t.Helper()
	for _, x := range hs {
		x.conn.Close()
		x.conn, _ = e.h.connect(url, x.dev)
	}
}

// noMore checks that no further frame (a duplicate logout) arrives on
// the sockets within a short wait; pings are answered by the reader.
func noMore(t *testing.T, hs []*held) {
	t.Helper()
	for _, x := range hs {
		x.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, data, err := x.conn.ReadMessage(); err == nil {
			t.Errorf("device %s: unexpected frame %s after its logout (a duplicate?)", x.dev.id, data)
		}
	}
}

// TestFanoutLinkCut: an instance's link to Redis is cut (through a proxy
// that refuses connections for a while) while its devices stay
// connected, and every session ends meanwhile. When the link returns,
// every device still connected gets its logout; devices that reconnect
// elsewhere during the cut get theirs after welcome. Then the same
// after a CLIENT KILL TYPE pubsub, with ends racing the resubscription.
func TestFanoutLinkCut(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t)
	proxy := testenv.StartProxy(t, e.rds.Addr())
	b := e.instance(t, faultStore(t, proxy.Addr, "gw-b", e.h.clk))

	stay := e.signedIn(t, "stay", 12, b.url)
	moving := e.signedIn(t, "move", 4, b.url)

	proxy.Cut()
	cmds := e.endAll(t, append(append([]*held{}, stay...), moving...))
	e.reconnect(t, moving, e.h.ts.URL) // to the instance whose link is up
	expectLogouts(t, moving, cmds)
	time.Sleep(1500 * time.Millisecond) // the cut lasts: B's resubscription backs off to its cap
	restored := time.Now()
	proxy.Restore()
	last := expectLogouts(t, stay, cmds)
	t.Logf("link cut: %d logouts missed by the instance, the last delivered %v after the link returned",
		len(stay), last.Sub(restored).Round(time.Millisecond))
	noMore(t, stay)

	// A CLIENT KILL TYPE pubsub (every subscription of the server), with
	// the ends sent at once: some go out before the instances have
	// subscribed again.
	for _, x := range stay {
		x.conn.Close()
	}
	again := e.signedIn(t, "again", 12, b.url)
	admin := testenv.RedisClientAt(t, e.rds.Addr(), "test-admin")
	if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatalf("CLIENT KILL TYPE pubsub = %v", err)
	}
	killed := time.Now()
	cmds = e.endAll(t, again)
	last = expectLogouts(t, again, cmds)
	t.Logf("pubsub killed: the last of %d logouts delivered %v after the kill", len(again), last.Sub(killed).Round(time.Millisecond))
	noMore(t, again)
}

// TestFanoutRedisRestartEmpty: Redis restarts without its data while
// devices stay connected to two instances: every session is gone, and
// every device learns it. Each instance closes its sockets with 1001 and
// the devices' welcome on reconnecting shows no session; their tokens
// answer 401 and introspect inactive. A device that was away reconnects
// to the same truth.
func TestFanoutRedisRestartEmpty(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t)
	b := e.instance(t, faultStore(t, e.rds.Addr(), "gw-b", e.h.clk))
	onA := e.signedIn(t, "ona", 6, e.h.ts.URL)
	onB := e.signedIn(t, "onb", 6, b.url)
	away := e.signedIn(t, "away", 3, b.url)
	for _, x := range away {
		x.conn.Close()
	}

	e.rds.Kill() // no persistence: it starts again empty
	e.rds.Start()
	restarted := time.Now()
	var last time.Time
	for _, x := range append(append([]*held{}, onA...), onB...) {
		if code := closeCode(t, x.conn); code != closeGoingAway {
			t.Errorf("device %s: close code %d after Redis lost its data; want %d", x.dev.id, code, closeGoingAway)
		}
		if now := time.Now(); now.After(last) {
			last = now
		}
	}
	t.Logf("Redis restarted empty: the last of %d connected devices told to reconnect %v after the restart",
		len(onA)+len(onB), last.Sub(restarted).Round(time.Millisecond))
	for i, x := range append(append(append([]*held{}, onA...), onB...), away...) {
		url := e.h.ts.URL
		if i%2 == 1 {
			url = b.url
		}
		c, w := e.h.connect(url, x.dev)
		c.Close()
		if w["session"] != nil {
			t.Errorf("device %s: welcome after the data was lost = %v; want session null", x.dev.id, w)
		}
		if r := e.h.do("GET", "/v1/session", x.token, nil); r.status != http.StatusUnauthorized {
			t.Errorf("device %s: GET /v1/session = %d; want 401", x.dev.id, r.status)
		}
		r := e.h.do("POST", "/v1/introspect", e.h.svcKey, map[string]string{"token": x.token})
		if m := r.json(t); r.status != http.StatusOK || m["active"] != false {
			t.Errorf("device %s: introspect = %d %s; want active false", x.dev.id, r.status, r.body)
		}
	}
}

// TestFanoutInstanceKilled: an instance dies (no close frames) while its
// devices are connected, and every session ends before they are back.
// Its devices reconnect to a third instance and get their logout after
// welcome; devices connected to a surviving instance get theirs live.
func TestFanoutInstanceKilled(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t)
	b := e.instance(t, faultStore(t, e.rds.Addr(), "gw-b", e.h.clk))
	c := e.instance(t, faultStore(t, e.rds.Addr(), "gw-c", e.h.clk))
	stay := e.signedIn(t, "live", 6, c.url)
	onB := e.signedIn(t, "dead", 6, b.url)

	b.kill()
	for _, x := range onB {
		x.conn.SetReadDeadline(time.Now().Add(frameWait))
		if _, _, err := x.conn.ReadMessage(); err == nil {
			t.Fatalf("device %s: read a frame from a killed instance; want the connection cut", x.dev.id)
		}
	}
	cmds := e.endAll(t, append(append([]*held{}, stay...), onB...))
	expectLogouts(t, stay, cmds)
	e.reconnect(t, onB, c.url)
	expectLogouts(t, onB, cmds)
	noMore(t, append(stay, onB...))
}

// deafStore is a session store whose watcher never hears an end: every
// KindEnded event is lost, as pub/sub may lose any message.
type deafStore struct{ sessions.Store }

func (d deafStore) Watch(ctx context.Context, ready func(reset bool), fn func(sessions.Event)) error {
	return d.Store.Watch(ctx, ready, func(e sessions.Event) {
		if e.Kind != sessions.KindEnded {
			fn(e)
		}
	})
}

// TestRecheckDeliversLostPush: with every live push lost, the periodic
// re-check delivers each logout to its connected device, once.
func TestRecheckDeliversLostPush(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	be.store = deafStore{be.store}
	h := newHarnessOn(t, clk, be, func(c *Config) { c.RecheckEvery = 50 * time.Millisecond })
	e := &faultEnv{h: h}
	hs := e.signedIn(t, "deaf", 3, h.ts.URL)
	cmds := e.endAll(t, hs)
	expectLogouts(t, hs, cmds)
	noMore(t, hs)
	for _, x := range hs {
		x.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","command_id":"`+cmds[x.session]+`"}`))
	}
	waitFor(t, "acks recorded", func() bool {
		for _, id := range cmds {
			if c, err := be.store.Command(context.Background(), id); err != nil || c.AckedAt == nil {
				return false
			}
		}
		return true
	})
	noMore(t, hs) // acknowledged: never pushed again
}
