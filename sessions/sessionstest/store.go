package sessionstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/sessions"
)

// waitLimit bounds every wait for a fan-out event. It is a liveness
// bound, not a timing assertion: a healthy backend answers in
// milliseconds.
const waitLimit = 10 * time.Second

// Clock is the fake clock the suite moves by hand (internal/clock).
// Backends read it through the func() time.Time the Harness receives. It
// starts at the current wall time rounded down to the second (so TTLs a
// backend derives from it for garbage collection are sane) and moves in
// whole milliseconds: backends must keep at least millisecond precision.
type Clock = clock.Clock

// NewClock returns a Clock at the current second.
func NewClock() *Clock { return clock.NewNow() }

// defaultPolicy is the product's default: cap 3, evict oldest, 30 minutes
// idle, 12 hours absolute.
var defaultPolicy = sessions.Policy{Cap: 3, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// storeEnv is one subtest's fresh store and clock.
type storeEnv struct {
	clock *Clock
	st    sessions.Store
	// peers are Stores sharing st's namespace (st is peers[0]); a single
	// store when the backend serves one instance only.
	peers []sessions.Store
	// barrier is the Harness's Barrier (nil: Publish once).
	barrier func(t *testing.T, st sessions.Store, ev sessions.Event) int
}

func newStoreEnv(t *testing.T, h Harness) *storeEnv {
	t.Helper()
	c := NewClock()
	if h.Peers != nil {
		ps := h.Peers(t, c.Now, 3)
		if len(ps) != 3 {
			t.Fatalf("Peers(3) returned %d stores", len(ps))
		}
		return &storeEnv{clock: c, st: ps[0], peers: ps, barrier: h.Barrier}
	}
	st := h.New(t, c.Now)
	return &storeEnv{clock: c, st: st, peers: []sessions.Store{st}, barrier: h.Barrier}
}

// peer returns the i-th peer, wrapping around.
func (e *storeEnv) peer(i int) sessions.Store { return e.peers[i%len(e.peers)] }

func (e *storeEnv) create(t *testing.T, user, device, warehouse string, p sessions.Policy) sessions.Created {
	t.Helper()
	c, err := e.st.Create(context.Background(), sessions.NewSession{
		UserID: user, Username: "name-" + user, DeviceID: device, WarehouseID: warehouse,
	}, p)
	if err != nil {
		t.Fatalf("Create(%s, %s, %s) = %v", user, device, warehouse, err)
	}
	return c
}

// runStore checks the Store contract.
func runStore(t *testing.T, h Harness) {
	if h.New == nil && h.Peers == nil {
		t.Skip("the harness has no Store")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Token", testToken},
		{"Ping", testPing},
		{"CreateValidate", testCreateValidate},
		{"CapEvictOldest", testCapEvictOldest},
		{"CapShrinks", testCapShrinks},
		{"ReplaceSameDevice", testReplaceSameDevice},
		{"DenyNew", testDenyNew},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ValidateUnknownAndEnded", testValidateUnknownAndEnded},
		{"IdleExpiry", testIdleExpiry},
		{"ExpiredNotCounted", testExpiredNotCounted},
		{"AbsoluteExpiryAndWarning", testAbsoluteExpiryAndWarning},
		{"SweepConcurrent", testSweepConcurrent},
		{"TouchThrottled", testTouchThrottled},
		{"Lists", testLists},
		{"WarehousePages", testWarehousePages},
		{"Ends", testEnds},
		{"BulkEnd", testBulkEnd},
		{"Commands", testCommands},
		{"MarksMany", testMarksMany},
		{"CommandExpiry", testCommandExpiry},
		{"LostMessages", testLostMessages},
		{"WatchPeers", testWatchPeers},
		{"WatchResync", testWatchResync},
		{"PendingMany", testPendingMany},
		{"Announce", testAnnounce},
		{"Presence", testPresence},
		{"PresenceOfflineBatch", testPresenceOfflineBatch},
		{"ClearPINChange", testClearPINChange},
		{"ErrorContract", testErrorContract},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

func testToken(t *testing.T, h Harness) {
	tok := sessions.NewToken()
	secret := tok.Reveal()
	body, ok := strings.CutPrefix(secret, sessions.TokenPrefix)
	if !ok {
		t.Fatalf("NewToken() does not start with %q", sessions.TokenPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("NewToken() body is not base64url: %v", err)
	}
	if len(raw) < 16 {
		t.Errorf("NewToken() carries %d random bytes; want at least 16", len(raw))
	}
	if _, ok := sessions.ParseToken(secret); !ok {
		t.Errorf("ParseToken(NewToken()) = false; want true")
	}
	if sessions.NewToken() == tok {
		t.Errorf("two NewToken() calls returned the same token")
	}
	if got := tok.Hash(); len(got) != 64 || strings.Contains(got, body) {
		t.Errorf("Hash() = %q; want 64 hex characters", got)
	}

	e := newStoreEnv(t, h)
	c := e.create(t, "u1", "d1", "w1", defaultPolicy)
	if _, ok := sessions.ParseToken(c.Token.Reveal()); !ok {
		t.Errorf("Create returned a token ParseToken refuses")
	}
	for _, format := range []string{"%v", "%s", "%+v", "%#v", "%q"} {
		for _, arg := range []any{c.Token, c} {
			if s := fmt.Sprintf(format, arg); strings.Contains(s, c.Token.Reveal()) {
				t.Errorf("Sprintf(%q, %T) prints the token", format, arg)
			}
		}
	}
	if s := fmt.Sprintf("%v", c.Token); s != "REDACTED" {
		t.Errorf("Sprintf(%%v, token) = %q; want REDACTED", s)
	}
	var buf bytes.Buffer
	for _, hd := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(hd).Info("login", "token", c.Token, "created", c)
	}
	if strings.Contains(buf.String(), c.Token.Reveal()) {
		t.Errorf("slog prints the token: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "REDACTED") {
		t.Errorf("slog output lacks REDACTED: %s", buf.String())
	}
}

// testPing also drives a Store made by h.New (the rest of the suite uses
// h.Peers when the backend has it).
func testPing(t *testing.T, h Harness) {
	ctx := context.Background()
	if h.New == nil {
		t.Skip("the harness has no New")
	}
	clock := NewClock()
	st := h.New(t, clock.Now)
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping() = %v; want nil", err)
	}
	c, err := st.Create(ctx, sessions.NewSession{UserID: "u1", Username: "u1", DeviceID: "d1", WarehouseID: "w1"}, defaultPolicy)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if _, err := st.Validate(ctx, c.Token); err != nil {
		t.Errorf("Validate() = %v; want nil", err)
	}
	cmd, err := st.End(ctx, c.Session.ID, sessions.ReasonLogout)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	if got := commandIDs(mustPending(t, st, "d1")); !slices.Equal(got, []string{cmd.ID}) {
		t.Errorf("Pending(d1) = %v; want [%s]", got, cmd.ID)
	}
}

func testCreateValidate(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	now := e.clock.Now()
	c, err := e.st.Create(ctx, sessions.NewSession{
		UserID: "u1", Username: "jsmith", DeviceID: "d1", WarehouseID: "w1", PINChangeRequired: true,
	}, defaultPolicy)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if len(c.Ended) != 0 {
		t.Errorf("Create() ended %d sessions; want 0", len(c.Ended))
	}
	want := sessions.Session{
		ID: c.Session.ID, UserID: "u1", Username: "jsmith", DeviceID: "d1", WarehouseID: "w1",
		CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(defaultPolicy.Absolute),
		IdleTimeout: defaultPolicy.Idle, PINChangeRequired: true,
	}
	if c.Session.ID == "" {
		t.Fatalf("Create() returned an empty session id")
	}
	checkSession(t, "Create", c.Session, want)

	got, err := e.st.Validate(ctx, c.Token)
	if err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	checkSession(t, "Validate", got, want)
	for i, p := range e.peers {
		got, err := p.Session(ctx, c.Session.ID)
		if err != nil {
			t.Fatalf("peer %d: Session(%q) = %v; want nil", i, c.Session.ID, err)
		}
		checkSession(t, "Session", got, want)
		if _, err := p.Validate(ctx, c.Token); err != nil {
			t.Errorf("peer %d: Validate() = %v; want nil", i, err)
		}
	}

	c2 := e.create(t, "u2", "d2", "w1", defaultPolicy)
	if c2.Session.ID == c.Session.ID || c2.Token == c.Token {
		t.Errorf("two Creates returned the same id or token")
	}
	got, err = e.st.Validate(ctx, c2.Token)
	if err != nil || got.ID != c2.Session.ID {
		t.Errorf("Validate(second token) = %q, %v; want %q", got.ID, err, c2.Session.ID)
	}
}

func testCapEvictOldest(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	var cs []sessions.Created
	for i := 1; i <= 3; i++ {
		cs = append(cs, e.create(t, "u1", fmt.Sprintf("d%d", i), "w1", defaultPolicy))
		e.clock.Advance(time.Second)
	}
	w := startWatch(t, e.peer(1))
	now := e.clock.Now()
	c4, err := e.st.Create(ctx, sessions.NewSession{UserID: "u1", Username: "u1", DeviceID: "d4", WarehouseID: "w2"}, defaultPolicy)
	if err != nil {
		t.Fatalf("Create(4th) = %v", err)
	}
	if len(c4.Ended) != 1 {
		t.Fatalf("Create(4th) ended %d sessions; want 1", len(c4.Ended))
	}
	cmd := c4.Ended[0]
	if cmd.ID == "" {
		t.Errorf("eviction command has no id")
	}
	checkCommand(t, "evicted", cmd, sessions.Command{
		ID: cmd.ID, SessionID: cs[0].Session.ID, UserID: "u1", DeviceID: "d1", WarehouseID: "w1",
		Reason: sessions.ReasonEvicted, By: &sessions.By{DeviceID: "d4", WarehouseID: "w2", At: now}, CreatedAt: now,
	})
	if _, err := e.st.Validate(ctx, cs[0].Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate(evicted) = %v; want ErrNotFound", err)
	}
	for i, c := range append(cs[1:], c4) {
		if _, err := e.st.Validate(ctx, c.Token); err != nil {
			t.Errorf("Validate(survivor %d) = %v; want nil", i, err)
		}
	}
	ids := sessionIDs(mustByUser(t, e.st, "u1"))
	wantIDs := []string{cs[1].Session.ID, cs[2].Session.ID, c4.Session.ID}
	slices.Sort(wantIDs)
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("ByUser(u1) = %v; want %v", ids, wantIDs)
	}
	pend := mustPending(t, e.st, "d1")
	if len(pend) != 1 || pend[0].ID != cmd.ID {
		t.Errorf("Pending(d1) = %v; want [%s]", commandIDs(pend), cmd.ID)
	}
	ev := w.waitFor(t, "ended event of the evicted session", func(ev sessions.Event) bool {
		return ev.Kind == sessions.KindEnded && ev.Command != nil && ev.Command.ID == cmd.ID
	})
	checkCommand(t, "event", *ev.Command, cmd)
}

func testCapShrinks(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	var cs []sessions.Created
	for i := 1; i <= 3; i++ {
		cs = append(cs, e.create(t, "u1", fmt.Sprintf("d%d", i), "w1", defaultPolicy))
		e.clock.Advance(time.Second)
	}
	p := defaultPolicy
	p.Cap = 1
	c := e.create(t, "u1", "d9", "w1", p)
	var ended []string
	for _, cmd := range c.Ended {
		if cmd.Reason != sessions.ReasonEvicted {
			t.Errorf("command reason = %q; want evicted", cmd.Reason)
		}
		ended = append(ended, cmd.SessionID)
	}
	slices.Sort(ended)
	want := []string{cs[0].Session.ID, cs[1].Session.ID, cs[2].Session.ID}
	slices.Sort(want)
	if !slices.Equal(ended, want) {
		t.Errorf("Create(cap 1) ended %v; want %v", ended, want)
	}
	if got := sessionIDs(mustByUser(t, e.st, "u1")); !slices.Equal(got, []string{c.Session.ID}) {
		t.Errorf("ByUser(u1) = %v; want [%s]", got, c.Session.ID)
	}
	for i, old := range cs {
		if _, err := e.st.Validate(ctx, old.Token); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Validate(old %d) = %v; want ErrNotFound", i, err)
		}
	}
}

func testReplaceSameDevice(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	// u1 holds the cap on d1..d3; a new login of u1 on d1 replaces only d1.
	var cs []sessions.Created
	for i := 1; i <= 3; i++ {
		cs = append(cs, e.create(t, "u1", fmt.Sprintf("d%d", i), "w1", defaultPolicy))
		e.clock.Advance(time.Second)
	}
	now := e.clock.Now()
	again := e.create(t, "u1", "d1", "w1", defaultPolicy)
	if len(again.Ended) != 1 {
		t.Fatalf("Create(u1 on d1 again) ended %d; want 1", len(again.Ended))
	}
	checkCommand(t, "replaced", again.Ended[0], sessions.Command{
		ID: again.Ended[0].ID, SessionID: cs[0].Session.ID, UserID: "u1", DeviceID: "d1", WarehouseID: "w1",
		Reason: sessions.ReasonReplaced, By: &sessions.By{DeviceID: "d1", WarehouseID: "w1", At: now}, CreatedAt: now,
	})
	if n := len(mustByUser(t, e.st, "u1")); n != 3 {
		t.Errorf("len(ByUser(u1)) = %d; want 3", n)
	}
	for i, c := range cs[1:] {
		if _, err := e.st.Validate(ctx, c.Token); err != nil {
			t.Errorf("Validate(d%d) = %v; want nil", i+2, err)
		}
	}

	// Another user signing in on d2 ends u1's session there.
	e.clock.Advance(time.Second)
	now = e.clock.Now()
	other := e.create(t, "u2", "d2", "w1", defaultPolicy)
	if len(other.Ended) != 1 {
		t.Fatalf("Create(u2 on d2) ended %d; want 1", len(other.Ended))
	}
	checkCommand(t, "replaced by u2", other.Ended[0], sessions.Command{
		ID: other.Ended[0].ID, SessionID: cs[1].Session.ID, UserID: "u1", DeviceID: "d2", WarehouseID: "w1",
		Reason: sessions.ReasonReplaced, By: &sessions.By{DeviceID: "d2", WarehouseID: "w1", At: now}, CreatedAt: now,
	})
	if _, err := e.st.Validate(ctx, cs[1].Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate(replaced) = %v; want ErrNotFound", err)
	}
	got := mustByDevice(t, e.st, "d2")
	if len(got) != 1 || got[0].ID != other.Session.ID {
		t.Errorf("ByDevice(d2) = %v; want [%s]", sessionIDs(got), other.Session.ID)
	}
}

func testDenyNew(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	p := defaultPolicy
	p.Cap = 2
	p.DenyNew = true
	c1 := e.create(t, "u1", "d1", "w1", p)
	c2 := e.create(t, "u1", "d2", "w1", p)
	_, err := e.st.Create(ctx, sessions.NewSession{UserID: "u1", Username: "u1", DeviceID: "d3", WarehouseID: "w1"}, p)
	if !errors.Is(err, sessions.ErrLimit) {
		t.Fatalf("Create(over cap, deny_new) = %v; want ErrLimit", err)
	}
	want := []string{c1.Session.ID, c2.Session.ID}
	slices.Sort(want)
	if got := sessionIDs(mustByUser(t, e.st, "u1")); !slices.Equal(got, want) {
		t.Errorf("ByUser(u1) after ErrLimit = %v; want %v", got, want)
	}
	if got := mustByDevice(t, e.st, "d3"); len(got) != 0 {
		t.Errorf("ByDevice(d3) after ErrLimit = %v; want none", sessionIDs(got))
	}
	for _, d := range []string{"d1", "d2", "d3"} {
		if got := mustPending(t, e.st, d); len(got) != 0 {
			t.Errorf("Pending(%s) after ErrLimit = %v; want none", d, commandIDs(got))
		}
	}
	for i, c := range []sessions.Created{c1, c2} {
		if _, err := e.st.Validate(ctx, c.Token); err != nil {
			t.Errorf("Validate(%d) after ErrLimit = %v; want nil", i, err)
		}
	}
	// Signing in again on a device the user already holds replaces it:
	// the user stays at the cap, so deny_new does not refuse.
	again := e.create(t, "u1", "d1", "w1", p)
	if len(again.Ended) != 1 || again.Ended[0].SessionID != c1.Session.ID || again.Ended[0].Reason != sessions.ReasonReplaced {
		t.Errorf("Create(u1 on d1 again, deny_new) ended %v; want %s replaced", again.Ended, c1.Session.ID)
	}
}

func testConcurrentCreates(t *testing.T, h Harness) {
	const n = 50
	rounds := h.RaceRounds
	if rounds <= 0 {
		rounds = 3
	}
	ctx := context.Background()
	e := newStoreEnv(t, h)
	for r := range rounds {
		user := fmt.Sprintf("race%d", r)
		results := make([]sessions.Created, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = e.peer(i).Create(ctx, sessions.NewSession{
					UserID: user, Username: user, DeviceID: fmt.Sprintf("%s-d%d", user, i), WarehouseID: "w1",
				}, defaultPolicy)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Create(%d) = %v", r, i, err)
			}
		}
		live := mustByUser(t, e.st, user)
		if len(live) != defaultPolicy.Cap {
			t.Fatalf("round %d: %d sessions survive %d concurrent creates; want %d", r, len(live), n, defaultPolicy.Cap)
		}
		alive := map[string]bool{}
		for _, s := range live {
			alive[s.ID] = true
		}
		evicted := 0
		for _, c := range results {
			evicted += len(c.Ended)
		}
		if evicted != n-defaultPolicy.Cap {
			t.Errorf("round %d: creates report %d ended sessions; want %d", r, evicted, n-defaultPolicy.Cap)
		}
		for i, c := range results {
			_, err := e.peer(i+1).Validate(ctx, c.Token)
			switch {
			case alive[c.Session.ID] && err != nil:
				t.Errorf("round %d: Validate(survivor %d) = %v; want nil", r, i, err)
			case !alive[c.Session.ID] && !errors.Is(err, sessions.ErrNotFound):
				t.Errorf("round %d: Validate(ended %d) = %v; want ErrNotFound", r, i, err)
			}
			if !alive[c.Session.ID] {
				pend := mustPending(t, e.st, c.Session.DeviceID)
				if len(pend) != 1 || pend[0].SessionID != c.Session.ID || pend[0].Reason != sessions.ReasonEvicted {
					t.Errorf("round %d: Pending(%s) = %v; want one eviction of %s", r, c.Session.DeviceID, pend, c.Session.ID)
				}
			}
		}
	}
}

func testValidateUnknownAndEnded(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	if _, err := e.st.Validate(ctx, sessions.NewToken()); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := e.st.Session(ctx, "ses_unknown"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Session(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := e.st.End(ctx, "ses_unknown", sessions.ReasonAdmin); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("End(unknown) = %v; want ErrNotFound", err)
	}
	c := e.create(t, "u1", "d1", "w1", defaultPolicy)
	if _, err := e.st.End(ctx, c.Session.ID, sessions.ReasonLogout); err != nil {
		t.Fatalf("End() = %v", err)
	}
	for i, p := range e.peers {
		if _, err := p.Validate(ctx, c.Token); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("peer %d: Validate(ended) = %v; want ErrNotFound", i, err)
		}
		if _, err := p.Session(ctx, c.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("peer %d: Session(ended) = %v; want ErrNotFound", i, err)
		}
	}
	if _, err := e.st.End(ctx, c.Session.ID, sessions.ReasonLogout); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("End(ended) = %v; want ErrNotFound", err)
	}
	if got := mustPending(t, e.st, "d1"); len(got) != 1 {
		t.Errorf("Pending(d1) = %d commands after End twice; want 1", len(got))
	}
}

func testIdleExpiry(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	w := startWatch(t, e.peer(2))
	c := e.create(t, "u1", "d1", "w1", defaultPolicy) // idle 30m
	// Activity keeps it alive past the idle timeout.
	for i := range 3 {
		e.clock.Advance(20 * time.Minute)
		if _, err := e.st.Validate(ctx, c.Token); err != nil {
			t.Fatalf("Validate after %d×20m of activity = %v; want nil", i+1, err)
		}
	}
	if n, err := e.st.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep() with nothing due = %d, %v; want 0, nil", n, err)
	}
	// Unused for longer than the idle timeout: ended, from the stored
	// timestamps alone, before any sweep.
	e.clock.Advance(31 * time.Minute)
	if _, err := e.st.Validate(ctx, c.Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate after 31m idle = %v; want ErrNotFound", err)
	}
	if _, err := e.st.Sweep(ctx); err != nil {
		t.Fatalf("Sweep() = %v", err)
	}
	pend := mustPending(t, e.st, "d1")
	if len(pend) != 1 || pend[0].SessionID != c.Session.ID || pend[0].Reason != sessions.ReasonIdle || pend[0].By != nil {
		t.Fatalf("Pending(d1) after idle expiry = %+v; want one idle command for %s", pend, c.Session.ID)
	}
	w.waitFor(t, "idle ended event", func(ev sessions.Event) bool {
		return ev.Kind == sessions.KindEnded && ev.Command != nil && ev.Command.ID == pend[0].ID && ev.Command.Reason == sessions.ReasonIdle
	})
	if got := mustByUser(t, e.st, "u1"); len(got) != 0 {
		t.Errorf("ByUser(u1) after idle expiry = %v; want none", sessionIDs(got))
	}
	if n, err := e.st.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second Sweep() = %d, %v; want 0, nil", n, err)
	}

	// A session nobody validates is ended by Sweep, which reports it.
	c2 := e.create(t, "u2", "d2", "w1", defaultPolicy)
	e.clock.Advance(29 * time.Minute)
	if n, err := e.st.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep() at 29m idle = %d, %v; want 0, nil", n, err)
	}
	e.clock.Advance(2 * time.Minute)
	if n, err := e.st.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("Sweep() at 31m idle = %d, %v; want 1, nil", n, err)
	}
	if _, err := e.st.Validate(ctx, c2.Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate(swept) = %v; want ErrNotFound", err)
	}
	if pend := mustPending(t, e.st, "d2"); len(pend) != 1 || pend[0].Reason != sessions.ReasonIdle {
		t.Errorf("Pending(d2) = %+v; want one idle command", pend)
	}
}

func testExpiredNotCounted(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	p := defaultPolicy
	p.Cap = 1
	p.DenyNew = true
	old := e.create(t, "u1", "d1", "w1", p)
	e.clock.Advance(31 * time.Minute)
	// The idle session is no longer live, swept or not: it neither counts
	// toward the cap nor is listed.
	if got := mustByUser(t, e.st, "u1"); len(got) != 0 {
		t.Errorf("ByUser(u1) with an idle-expired session = %v; want none", sessionIDs(got))
	}
	c := e.create(t, "u1", "d2", "w1", p)
	if _, err := e.st.Validate(ctx, c.Token); err != nil {
		t.Errorf("Validate(new) = %v; want nil", err)
	}
	if _, err := e.st.Validate(ctx, old.Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate(old) = %v; want ErrNotFound", err)
	}
	for _, cmd := range c.Ended {
		if cmd.Reason != sessions.ReasonIdle {
			t.Errorf("Create ended %s with reason %q; want idle", cmd.SessionID, cmd.Reason)
		}
	}
	if _, err := e.st.Sweep(ctx); err != nil {
		t.Fatalf("Sweep() = %v", err)
	}
	if pend := mustPending(t, e.st, "d1"); len(pend) != 1 || pend[0].Reason != sessions.ReasonIdle {
		t.Errorf("Pending(d1) = %+v; want one idle command", pend)
	}
}

func testAbsoluteExpiryAndWarning(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	w := startWatch(t, e.peer(1))
	p := defaultPolicy
	p.Absolute = time.Hour
	c := e.create(t, "u1", "d1", "w1", p)
	end := c.Session.ExpiresAt
	// Active every 10 minutes up to 1 second before the warning is due.
	for e.clock.Now().Add(10 * time.Minute).Before(end.Add(-sessions.WarningLead)) {
		e.clock.Advance(10 * time.Minute)
		if _, err := e.st.Validate(ctx, c.Token); err != nil {
			t.Fatalf("Validate() at %v = %v", e.clock.Now().Sub(c.Session.CreatedAt), err)
		}
	}
	e.clock.Advance(end.Add(-sessions.WarningLead - time.Second).Sub(e.clock.Now()))
	if _, err := e.st.Validate(ctx, c.Token); err != nil {
		t.Fatalf("Validate() just before the warning = %v", err)
	}
	sweepAll(t, e)
	evs := w.until(t, e, e.st)
	if n := countKind(evs, sessions.KindWarning); n != 0 {
		t.Errorf("%d warnings 5m+1s before the end; want 0", n)
	}
	e.clock.Advance(time.Second) // exactly WarningLead before the end
	sweepAll(t, e)
	sweepAll(t, e)
	evs = w.until(t, e, e.st)
	var warns []sessions.Warning
	for _, ev := range evs {
		if ev.Kind == sessions.KindWarning && ev.Warning != nil {
			warns = append(warns, *ev.Warning)
		}
	}
	if len(warns) != 1 {
		t.Fatalf("got %d warnings from repeated sweeps on every peer; want exactly 1", len(warns))
	}
	if g := warns[0]; g.SessionID != c.Session.ID || g.DeviceID != "d1" || !g.At.Equal(end) {
		t.Errorf("warning = %+v; want session %s, device d1, at %v", g, c.Session.ID, end)
	}
	e.clock.Advance(4 * time.Minute)
	if _, err := e.st.Validate(ctx, c.Token); err != nil {
		t.Fatalf("Validate() 1m before the end = %v", err)
	}
	sweepAll(t, e)
	if evs := w.until(t, e, e.st); countKind(evs, sessions.KindWarning)+countKind(evs, sessions.KindEnded) != 0 {
		t.Errorf("events 1m before the end = %+v; want none", evs)
	}
	e.clock.Advance(time.Minute) // the absolute end
	if _, err := e.st.Validate(ctx, c.Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate() at the absolute end = %v; want ErrNotFound", err)
	}
	if n := sweepAll(t, e); n != 1 {
		t.Errorf("Sweep() at the absolute end ended %d; want 1", n)
	}
	pend := mustPending(t, e.st, "d1")
	if len(pend) != 1 || pend[0].Reason != sessions.ReasonExpired || pend[0].SessionID != c.Session.ID {
		t.Fatalf("Pending(d1) = %+v; want one expired command", pend)
	}
	evs = w.until(t, e, e.st)
	if n := countKind(evs, sessions.KindEnded); n != 1 {
		t.Errorf("got %d ended events at the absolute end; want 1", n)
	}
	w.waitFor(t, "expired event", func(ev sessions.Event) bool {
		return ev.Kind == sessions.KindEnded && ev.Command != nil && ev.Command.ID == pend[0].ID && ev.Command.Reason == sessions.ReasonExpired
	})
}

func testSweepConcurrent(t *testing.T, h Harness) {
	const n = 30
	ctx := context.Background()
	e := newStoreEnv(t, h)
	p := defaultPolicy
	p.Idle, p.Absolute = 2*time.Hour, time.Hour
	for i := range n {
		e.create(t, fmt.Sprintf("u%d", i), fmt.Sprintf("d%d", i), "w1", p)
	}
	e.clock.Advance(time.Hour)
	total := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := e.peer(i).Sweep(ctx)
			if err != nil {
				t.Errorf("Sweep() = %v", err)
			}
			mu.Lock()
			total += got
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != n {
		t.Errorf("concurrent sweeps ended %d in all; want %d", total, n)
	}
	for i := range n {
		d := fmt.Sprintf("d%d", i)
		if pend := mustPending(t, e.st, d); len(pend) != 1 || pend[0].Reason != sessions.ReasonExpired {
			t.Errorf("Pending(%s) = %+v; want one expired command", d, pend)
		}
	}
}

func testTouchThrottled(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	c := e.create(t, "u1", "d1", "w1", defaultPolicy)
	// Twenty validations within one second write LastActiveAt at most once.
	seen := map[int64]bool{}
	for range 20 {
		e.clock.Advance(50 * time.Millisecond)
		if _, err := e.st.Validate(ctx, c.Token); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		s, err := e.st.Session(ctx, c.Session.ID)
		if err != nil {
			t.Fatalf("Session() = %v", err)
		}
		seen[s.LastActiveAt.UnixMilli()] = true
	}
	if len(seen) > 2 {
		t.Errorf("LastActiveAt took %d values in one second of validations; want at most 2", len(seen))
	}
	// After a minute's pause a validation moves it.
	e.clock.Advance(time.Minute)
	now := e.clock.Now()
	if _, err := e.st.Validate(ctx, c.Token); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	s, err := e.st.Session(ctx, c.Session.ID)
	if err != nil {
		t.Fatalf("Session() = %v", err)
	}
	if s.LastActiveAt.Before(now.Add(-time.Second)) || s.LastActiveAt.After(now) {
		t.Errorf("LastActiveAt = %v after a validation at %v; want that time", s.LastActiveAt, now)
	}
	// Session does not touch.
	e.clock.Advance(time.Minute)
	if _, err := e.st.Session(ctx, c.Session.ID); err != nil {
		t.Fatalf("Session() = %v", err)
	}
	s2, err := e.st.Session(ctx, c.Session.ID)
	if err != nil {
		t.Fatalf("Session() = %v", err)
	}
	if !s2.LastActiveAt.Equal(s.LastActiveAt) {
		t.Errorf("Session() moved LastActiveAt from %v to %v; want no touch", s.LastActiveAt, s2.LastActiveAt)
	}
}

func testLists(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	a := e.create(t, "u1", "d1", "w1", defaultPolicy)
	b := e.create(t, "u1", "d2", "w2", defaultPolicy)
	c := e.create(t, "u2", "d3", "w1", defaultPolicy)
	tests := []struct {
		name string
		list func() ([]sessions.Session, error)
		want []string
	}{
		{"ByUser(u1)", func() ([]sessions.Session, error) { return e.st.ByUser(ctx, "u1") }, []string{a.Session.ID, b.Session.ID}},
		{"ByUser(u2)", func() ([]sessions.Session, error) { return e.peer(1).ByUser(ctx, "u2") }, []string{c.Session.ID}},
		{"ByUser(none)", func() ([]sessions.Session, error) { return e.st.ByUser(ctx, "nobody") }, nil},
		{"ByDevice(d2)", func() ([]sessions.Session, error) { return e.peer(2).ByDevice(ctx, "d2") }, []string{b.Session.ID}},
		{"ByDevice(none)", func() ([]sessions.Session, error) { return e.st.ByDevice(ctx, "d9") }, nil},
		{"ByWarehouse(w1)", func() ([]sessions.Session, error) {
			s, _, err := e.st.ByWarehouse(ctx, "w1", sessions.PageRequest{})
			return s, err
		}, []string{a.Session.ID, c.Session.ID}},
		{"ByWarehouse(none)", func() ([]sessions.Session, error) {
			s, _, err := e.st.ByWarehouse(ctx, "w9", sessions.PageRequest{})
			return s, err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list()
			if err != nil {
				t.Fatalf("%s = %v", tt.name, err)
			}
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if ids := sessionIDs(got); !slices.Equal(ids, want) {
				t.Errorf("%s = %v; want %v", tt.name, ids, want)
			}
			for _, s := range got {
				if s.UserID == "" || s.DeviceID == "" || s.WarehouseID == "" || s.CreatedAt.IsZero() || s.ExpiresAt.IsZero() {
					t.Errorf("%s returned an incomplete session %+v", tt.name, s)
				}
			}
		})
	}
}

func testWarehousePages(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	const n = 250
	want := map[string]bool{}
	for i := range n {
		c := e.create(t, fmt.Sprintf("u%d", i), fmt.Sprintf("d%d", i), "w1", defaultPolicy)
		want[c.Session.ID] = true
		if i%10 == 0 {
			e.create(t, fmt.Sprintf("x%d", i), fmt.Sprintf("x%d", i), "w2", defaultPolicy)
		}
	}
	seen := map[string]bool{}
	var sizes []int
	after, last := "", ""
	for page := 0; ; page++ {
		if page == 10 {
			t.Fatalf("ByWarehouse did not finish in 10 pages")
		}
		items, next, err := e.peer(page).ByWarehouse(ctx, "w1", sessions.PageRequest{After: after, Limit: 100})
		if err != nil {
			t.Fatalf("ByWarehouse(page %d) = %v", page, err)
		}
		sizes = append(sizes, len(items))
		for _, s := range items {
			if s.WarehouseID != "w1" || !want[s.ID] {
				t.Errorf("ByWarehouse(w1) returned %s of %s", s.ID, s.WarehouseID)
			}
			if seen[s.ID] {
				t.Errorf("ByWarehouse(w1) returned %s twice", s.ID)
			}
			if s.ID <= last {
				t.Errorf("ByWarehouse(w1) returned %s after %s; want ascending ids", s.ID, last)
			}
			seen[s.ID], last = true, s.ID
		}
		if next == "" {
			break
		}
		after = next
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("page sizes = %v; want [100 100 50]", sizes)
	}
	if len(seen) != n {
		t.Errorf("pages hold %d sessions; want %d", len(seen), n)
	}
	items, _, err := e.st.ByWarehouse(ctx, "w1", sessions.PageRequest{})
	if err != nil || len(items) != 100 {
		t.Errorf("ByWarehouse(Limit 0) = %d items, %v; want 100", len(items), err)
	}
	items, _, err = e.st.ByWarehouse(ctx, "w1", sessions.PageRequest{Limit: 10000})
	if err != nil || len(items) != n {
		t.Errorf("ByWarehouse(Limit 10000) = %d items, %v; want %d (at most 500)", len(items), err, n)
	}
}

func testEnds(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	p := defaultPolicy
	p.Cap = 10
	w := startWatch(t, e.peer(1))
	type live struct {
		c    sessions.Created
		user string
		dev  string
		wh   string
	}
	var all []live
	add := func(user, dev, wh string) {
		all = append(all, live{e.create(t, user, dev, wh, p), user, dev, wh})
	}
	add("u1", "d1", "w1")
	add("u1", "d2", "w1")
	add("u1", "d3", "w2")
	add("u2", "d4", "w1")
	add("u3", "d5", "w2")
	add("u4", "d6", "w3")
	add("u5", "d7", "w1")

	check := func(name string, cmds []sessions.Command, err error, reason sessions.Reason, want ...int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s = %v", name, err)
		}
		var got, wantIDs []string
		for _, c := range cmds {
			got = append(got, c.SessionID)
			if c.Reason != reason || c.ID == "" || c.By != nil {
				t.Errorf("%s made command %+v; want reason %q, an id, no by", name, c, reason)
			}
		}
		for _, i := range want {
			wantIDs = append(wantIDs, all[i].c.Session.ID)
			if _, err := e.st.Validate(ctx, all[i].c.Token); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("%s: Validate(%s) = %v; want ErrNotFound", name, all[i].c.Session.ID, err)
			}
			pend := mustPending(t, e.st, all[i].dev)
			if len(pend) != 1 || pend[0].SessionID != all[i].c.Session.ID || pend[0].Reason != reason {
				t.Errorf("%s: Pending(%s) = %+v; want one %q command", name, all[i].dev, pend, reason)
			}
		}
		slices.Sort(got)
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Errorf("%s ended %v; want %v", name, got, wantIDs)
		}
		for _, c := range cmds {
			// Its own event, or (EndWarehouse) the warehouse's one.
			w.waitFor(t, name+" event", func(ev sessions.Event) bool {
				if ev.Kind == sessions.KindWarehouseEnded {
					return slices.ContainsFunc(ev.Commands, func(x sessions.Command) bool { return x.ID == c.ID })
				}
				return ev.Kind == sessions.KindEnded && ev.Command != nil && ev.Command.ID == c.ID
			})
		}
	}

	cmd, err := e.st.End(ctx, all[1].c.Session.ID, sessions.ReasonLogout)
	check("End", []sessions.Command{cmd}, err, sessions.ReasonLogout, 1)
	if cmd.UserID != "u1" || cmd.DeviceID != "d2" || cmd.WarehouseID != "w1" || !cmd.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("End() = %+v; want u1, d2, w1, created now", cmd)
	}
	cmds, err := e.peer(1).EndUser(ctx, "u1", sessions.ReasonUserSuspended)
	check("EndUser", cmds, err, sessions.ReasonUserSuspended, 0, 2)
	cmds, err = e.peer(2).EndDevice(ctx, "d4", sessions.ReasonDeviceRevoked)
	check("EndDevice", cmds, err, sessions.ReasonDeviceRevoked, 3)
	cmds, err = e.st.EndWarehouse(ctx, "w2", sessions.ReasonAdmin)
	check("EndWarehouse", cmds, err, sessions.ReasonAdmin, 4)

	for _, tt := range []struct {
		name string
		fn   func() ([]sessions.Command, error)
	}{
		{"EndUser(none)", func() ([]sessions.Command, error) { return e.st.EndUser(ctx, "u1", sessions.ReasonAdmin) }},
		{"EndDevice(none)", func() ([]sessions.Command, error) { return e.st.EndDevice(ctx, "d9", sessions.ReasonAdmin) }},
		{"EndWarehouse(none)", func() ([]sessions.Command, error) { return e.st.EndWarehouse(ctx, "w2", sessions.ReasonAdmin) }},
	} {
		if cmds, err := tt.fn(); err != nil || len(cmds) != 0 {
			t.Errorf("%s = %v, %v; want none, nil", tt.name, cmds, err)
		}
	}
	// Untouched: u4 in w3, u5 in w1.
	for _, i := range []int{5, 6} {
		if _, err := e.st.Validate(ctx, all[i].c.Token); err != nil {
			t.Errorf("Validate(%s) = %v; want nil", all[i].c.Session.ID, err)
		}
	}
}

func testCommands(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	// Three commands for d1, a second apart.
	var ids []string
	for i := range 3 {
		c := e.create(t, fmt.Sprintf("u%d", i), "d1", "w1", defaultPolicy)
		e.clock.Advance(time.Second)
		cmd, err := e.st.End(ctx, c.Session.ID, sessions.ReasonAdmin)
		if err != nil {
			t.Fatalf("End() = %v", err)
		}
		ids = append(ids, cmd.ID)
	}
	e.create(t, "other", "d2", "w1", defaultPolicy)
	if got := commandIDs(mustPending(t, e.peer(1), "d1")); !slices.Equal(got, ids) {
		t.Fatalf("Pending(d1) = %v; want %v, oldest first", got, ids)
	}
	if got := mustPending(t, e.st, "d2"); len(got) != 0 {
		t.Errorf("Pending(d2) = %v; want none", commandIDs(got))
	}
	status := func(id string) (sessions.Command, string) {
		t.Helper()
		c, err := e.peer(2).Command(ctx, id)
		if err != nil {
			t.Fatalf("Command(%s) = %v", id, err)
		}
		return c, c.Status(e.clock.Now())
	}
	if c, s := status(ids[0]); s != sessions.StatusPending || c.DeliveredAt != nil || c.AckedAt != nil {
		t.Errorf("Command(new) = %+v, %s; want pending", c, s)
	}

	e.clock.Advance(time.Second)
	delivered := e.clock.Now()
	if err := e.st.Delivered(ctx, ids[0]); err != nil {
		t.Fatalf("Delivered() = %v", err)
	}
	e.clock.Advance(time.Second)
	if err := e.peer(1).Delivered(ctx, ids[0]); err != nil {
		t.Fatalf("Delivered(again) = %v", err)
	}
	c, s := status(ids[0])
	if s != sessions.StatusDelivered || c.DeliveredAt == nil || !c.DeliveredAt.Equal(delivered) {
		t.Errorf("Command(delivered) = %+v, %s; want delivered at %v (the first time)", c, s, delivered)
	}
	if got := commandIDs(mustPending(t, e.st, "d1")); !slices.Equal(got, ids) {
		t.Errorf("Pending(d1) after Delivered = %v; want %v (still unacknowledged)", got, ids)
	}

	if err := e.st.Ack(ctx, "d2", ids[0]); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Ack(wrong device) = %v; want ErrNotFound", err)
	}
	if err := e.st.Ack(ctx, "d1", "cmd_unknown"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Ack(unknown) = %v; want ErrNotFound", err)
	}
	if _, s := status(ids[0]); s != sessions.StatusDelivered {
		t.Errorf("status after a wrong-device ack = %s; want delivered", s)
	}
	e.clock.Advance(time.Second)
	acked := e.clock.Now()
	if err := e.peer(2).Ack(ctx, "d1", ids[0]); err != nil {
		t.Fatalf("Ack() = %v", err)
	}
	if err := e.peer(1).Ack(ctx, "d1", ids[1]); err != nil { // never delivered
		t.Fatalf("Ack(undelivered) = %v", err)
	}
	c, s = status(ids[0])
	if s != sessions.StatusAcked || c.AckedAt == nil || !c.AckedAt.Equal(acked) {
		t.Errorf("Command(acked) = %+v, %s; want acked at %v", c, s, acked)
	}
	// An acknowledgement proves delivery: the command acknowledged before
	// its delivery was marked reads delivered at the ack's time.
	c, s = status(ids[1])
	if s != sessions.StatusAcked || c.DeliveredAt == nil || !c.DeliveredAt.Equal(acked) || c.AckedAt == nil {
		t.Errorf("Command(acked, never marked delivered) = %+v, %s; want acked and delivered at %v", c, s, acked)
	}
	if got := commandIDs(mustPending(t, e.st, "d1")); !slices.Equal(got, ids[2:]) {
		t.Errorf("Pending(d1) after acks = %v; want %v", got, ids[2:])
	}

	if _, err := e.st.Command(ctx, "cmd_unknown"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Command(unknown) = %v; want ErrNotFound", err)
	}
	if err := e.st.Delivered(ctx, "cmd_unknown"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Delivered(unknown) = %v; want ErrNotFound", err)
	}
}

func testCommandExpiry(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	c1 := e.create(t, "u1", "d1", "w1", defaultPolicy)
	first, err := e.st.End(ctx, c1.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	e.clock.Advance(time.Hour)
	c2 := e.create(t, "u2", "d1", "w1", defaultPolicy)
	second, err := e.st.End(ctx, c2.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	if err := e.st.Delivered(ctx, first.ID); err != nil {
		t.Fatalf("Delivered() = %v", err)
	}
	e.clock.Advance(sessions.CommandTTL - time.Hour - time.Millisecond)
	if got := commandIDs(mustPending(t, e.st, "d1")); !slices.Equal(got, []string{first.ID, second.ID}) {
		t.Errorf("Pending(d1) just before 24h = %v; want both", got)
	}
	e.clock.Advance(time.Millisecond) // the first is 24h old
	if _, err := e.st.Sweep(ctx); err != nil {
		t.Fatalf("Sweep() = %v", err)
	}
	if got := commandIDs(mustPending(t, e.st, "d1")); !slices.Equal(got, []string{second.ID}) {
		t.Errorf("Pending(d1) after 24h = %v; want [%s]", got, second.ID)
	}
	c, err := e.peer(1).Command(ctx, first.ID)
	if err != nil {
		t.Fatalf("Command(expired) = %v; want it still readable", err)
	}
	if s := c.Status(e.clock.Now()); s != sessions.StatusExpired {
		t.Errorf("Command(expired).Status = %s; want expired", s)
	}
	e.clock.Advance(time.Hour)
	if got := mustPending(t, e.st, "d1"); len(got) != 0 {
		t.Errorf("Pending(d1) after 25h = %v; want none", commandIDs(got))
	}
	c, err = e.st.Command(ctx, second.ID)
	if err != nil || c.Status(e.clock.Now()) != sessions.StatusExpired {
		t.Errorf("Command(second) = %+v, %v; want expired", c, err)
	}
}

func testLostMessages(t *testing.T, h Harness) {
	const n = 50
	ctx := context.Background()
	e := newStoreEnv(t, h)
	w := startWatch(t, e.st)
	var cs []sessions.Created
	for i := range n {
		cs = append(cs, e.create(t, fmt.Sprintf("u%d", i), fmt.Sprintf("d%d", i), "w1", defaultPolicy))
	}
	if err := w.stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Watch() after cancel = %v; want context.Canceled", err)
	}
	// The watcher is gone while every session ends.
	for i, c := range cs {
		if _, err := e.peer(i).End(ctx, c.Session.ID, sessions.ReasonAdmin); err != nil {
			t.Fatalf("End(%d) = %v", i, err)
		}
	}
	// Back: the queue holds every logout.
	w2 := startWatch(t, e.st)
	for i, c := range cs {
		pend := mustPending(t, e.peer(i+1), c.Session.DeviceID)
		if len(pend) != 1 || pend[0].SessionID != c.Session.ID || pend[0].Reason != sessions.ReasonAdmin {
			t.Errorf("Pending(%s) = %+v; want the logout of %s", c.Session.DeviceID, pend, c.Session.ID)
		}
	}
	// And the new watcher sees new ends.
	c := e.create(t, "late", "dlate", "w1", defaultPolicy)
	cmd, err := e.peer(1).End(ctx, c.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	w2.waitFor(t, "ended event after reconnecting", func(ev sessions.Event) bool {
		return ev.Kind == sessions.KindEnded && ev.Command != nil && ev.Command.ID == cmd.ID
	})
}

func testWatchPeers(t *testing.T, h Harness) {
	e := newStoreEnv(t, h)
	ctx := context.Background()
	w0 := startWatch(t, e.peer(0))
	w1 := startWatch(t, e.peer(0))
	w2 := startWatch(t, e.peer(2))
	evs := []sessions.Event{
		{Kind: sessions.KindDeviceRevoked, DeviceID: "d1"},
		{Kind: callerKind, DeviceID: "d2", Origin: "gw-a", Ref: "sock-1"},
		{Kind: sessions.KindWarning, Warning: &sessions.Warning{SessionID: "ses_x", DeviceID: "d3", At: e.clock.Now()}},
	}
	for _, ev := range evs {
		if err := e.peer(1).Publish(ctx, ev); err != nil {
			t.Fatalf("Publish(%s) = %v", ev.Kind, err)
		}
	}
	for i, w := range []*watcher{w0, w1, w2} {
		got := w.waitFor(t, "device_revoked", func(ev sessions.Event) bool {
			return ev.Kind == sessions.KindDeviceRevoked && ev.DeviceID == "d1"
		})
		_ = got
		w.waitFor(t, "caller's kind", func(ev sessions.Event) bool {
			return ev.Kind == callerKind && ev.DeviceID == "d2" && ev.Origin == "gw-a" && ev.Ref == "sock-1"
		})
		ev := w.waitFor(t, "warning", func(ev sessions.Event) bool {
			return ev.Kind == sessions.KindWarning && ev.Warning != nil && ev.Warning.SessionID == "ses_x"
		})
		if ev.Warning.DeviceID != "d3" || !ev.Warning.At.Equal(e.clock.Now()) {
			t.Errorf("watcher %d: warning = %+v; want d3 at %v", i, *ev.Warning, e.clock.Now())
		}
	}
}

// testWatchResync: a Watch says it has subscribed by calling ready once
// (no reset: the store has its data) before anything published.
func testWatchResync(t *testing.T, h Harness) {
	e := newStoreEnv(t, h)
	w := startWatch(t, e.peer(0))
	w.until(t, e, e.peer(0)) // a published event heard after ready
	w.mu.Lock()
	readies := slices.Clone(w.readies)
	w.mu.Unlock()
	if len(readies) == 0 || readies[0].before != 0 {
		t.Fatalf("Watch() readies = %+v; want ready before anything published", readies)
	}
	if readies[0].reset {
		t.Errorf("Watch() first ready has reset; want false (the store has lost nothing)")
	}
	if n := len(readies); n != 1 {
		t.Errorf("Watch() called ready %d times on a subscription never lost; want 1", n)
	}
}

// testPendingMany: PendingMany answers, for many devices at once, what
// Pending answers for each, and leaves out devices with nothing pending.
func testPendingMany(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	a := e.create(t, "u1", "d1", "w1", defaultPolicy)
	b := e.create(t, "u2", "d2", "w1", defaultPolicy)
	e.create(t, "u3", "d3", "w1", defaultPolicy)       // live: nothing pending
	a2 := e.create(t, "u1", "d1", "w1", defaultPolicy) // replaces a on d1
	ca, err := e.peer(1).End(ctx, a2.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	cb, err := e.peer(1).End(ctx, b.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	got, err := e.peer(2).PendingMany(ctx, []string{"d1", "d2", "d3", "d-none"})
	if err != nil {
		t.Fatalf("PendingMany() = %v", err)
	}
	for _, d := range []string{"d1", "d2"} {
		if want := commandIDs(mustPending(t, e.st, d)); !slices.Equal(commandIDs(got[d]), want) {
			t.Errorf("PendingMany()[%s] = %v; want Pending's %v", d, commandIDs(got[d]), want)
		}
	}
	sids := []string{}
	for _, c := range got["d1"] {
		sids = append(sids, c.SessionID)
	}
	slices.Sort(sids)
	if want := []string{a.Session.ID, ca.SessionID}; len(got["d1"]) != 2 || !slices.Equal(sids, sessionIDs([]sessions.Session{{ID: want[0]}, {ID: want[1]}})) {
		t.Errorf("PendingMany()[d1] = %+v; want the logouts of %v", got["d1"], want)
	}
	if len(got) != 2 {
		t.Errorf("PendingMany() has %d devices; want d1 and d2 only (d3 and d-none have nothing pending)", len(got))
	}
	if err := e.st.Ack(ctx, "d2", cb.ID); err != nil {
		t.Fatalf("Ack() = %v", err)
	}
	got, err = e.peer(0).PendingMany(ctx, []string{"d2"})
	if err != nil || len(got) != 0 {
		t.Errorf("PendingMany(d2) after its ack = %v, %v; want nothing", got, err)
	}
	if got, err := e.st.PendingMany(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("PendingMany(nil) = %v, %v; want an empty map", got, err)
	}
}

func testPresence(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	online := func(want map[string]bool) {
		t.Helper()
		ids := []string{"d1", "d2", "d3"}
		got, err := e.peer(2).Online(ctx, ids)
		if err != nil {
			t.Fatalf("Online() = %v", err)
		}
		for _, id := range ids {
			if got[id] != want[id] {
				t.Errorf("Online()[%s] = %v; want %v", id, got[id], want[id])
			}
		}
	}
	online(map[string]bool{})
	if err := e.st.MarkOnline(ctx, "gw-a", []string{"d1", "d2"}, 30*time.Second); err != nil {
		t.Fatalf("MarkOnline() = %v", err)
	}
	online(map[string]bool{"d1": true, "d2": true})
	e.clock.Advance(29 * time.Second)
	online(map[string]bool{"d1": true, "d2": true})
	if err := e.peer(1).MarkOnline(ctx, "gw-a", []string{"d1"}, 30*time.Second); err != nil {
		t.Fatalf("MarkOnline() = %v", err)
	}
	e.clock.Advance(2 * time.Second) // d2 lapsed, d1 refreshed
	online(map[string]bool{"d1": true})
	if err := e.st.MarkOffline(ctx, "gw-b", []string{"d1"}); err != nil {
		t.Fatalf("MarkOffline(other origin) = %v", err)
	}
	online(map[string]bool{"d1": true})
	if err := e.st.MarkOffline(ctx, "gw-a", []string{"d1"}); err != nil {
		t.Fatalf("MarkOffline() = %v", err)
	}
	online(map[string]bool{})
	// The socket moved: gw-b holds it now, gw-a's late offline is ignored.
	if err := e.st.MarkOnline(ctx, "gw-a", []string{"d3"}, time.Minute); err != nil {
		t.Fatalf("MarkOnline() = %v", err)
	}
	if err := e.st.MarkOnline(ctx, "gw-b", []string{"d3"}, time.Minute); err != nil {
		t.Fatalf("MarkOnline() = %v", err)
	}
	if err := e.st.MarkOffline(ctx, "gw-a", []string{"d3"}); err != nil {
		t.Fatalf("MarkOffline() = %v", err)
	}
	online(map[string]bool{"d3": true})
	if got, err := e.st.Online(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Online(nil) = %v, %v; want empty", got, err)
	}
}

// testPresenceOfflineBatch: an instance marks the devices whose sockets
// closed offline in one batch, some time after they closed. A device
// that reconnected to another instance before the batch landed keeps
// that instance's mark; the batch removes only the marks its own origin
// still holds, across more devices than one script carries.
func testPresenceOfflineBatch(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	ids := make([]string, 1100)
	for i := range ids {
		ids[i] = fmt.Sprintf("pb-%04d", i)
	}
	if err := e.st.MarkOnline(ctx, "gw-a", ids, time.Minute); err != nil {
		t.Fatalf("MarkOnline(gw-a) = %v", err)
	}
	// Three devices moved to gw-b (and gw-c) before gw-a's batch: one in
	// each 500 of the batch.
	moved := map[string]string{"pb-0007": "gw-b", "pb-0550": "gw-b", "pb-1099": "gw-c"}
	for id, origin := range moved {
		if err := e.peer(1).MarkOnline(ctx, origin, []string{id}, time.Minute); err != nil {
			t.Fatalf("MarkOnline(%s, %s) = %v", origin, id, err)
		}
	}
	// The batch also names a device never marked and one twice.
	batch := append(append([]string{"pb-none"}, ids...), "pb-0001")
	if err := e.st.MarkOffline(ctx, "gw-a", batch); err != nil {
		t.Fatalf("MarkOffline(gw-a, %d devices) = %v", len(batch), err)
	}
	got, err := e.peer(2).Online(ctx, ids)
	if err != nil {
		t.Fatalf("Online() = %v", err)
	}
	var still []string
	for _, id := range ids {
		if got[id] {
			still = append(still, id)
		}
	}
	if len(still) != len(moved) {
		t.Errorf("online after gw-a's offline batch = %v; want only the moved devices %v", still, moved)
	}
	for id := range moved {
		if !got[id] {
			t.Errorf("Online()[%s] = false; the device moved to %s before gw-a's batch and keeps that mark", id, moved[id])
		}
	}
	// The instances the devices moved to still own their marks.
	if err := e.peer(1).MarkOffline(ctx, "gw-b", []string{"pb-0007", "pb-0550", "pb-1099"}); err != nil {
		t.Fatalf("MarkOffline(gw-b) = %v", err)
	}
	got, err = e.st.Online(ctx, []string{"pb-0007", "pb-0550", "pb-1099"})
	if err != nil {
		t.Fatalf("Online() = %v", err)
	}
	if got["pb-0007"] || got["pb-0550"] || !got["pb-1099"] {
		t.Errorf("Online() after gw-b's batch = %v; want only pb-1099 (gw-c's) left", got)
	}
	if err := e.st.MarkOffline(ctx, "gw-a", nil); err != nil {
		t.Errorf("MarkOffline(nil) = %v; want nil", err)
	}
}

func testClearPINChange(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	c, err := e.st.Create(ctx, sessions.NewSession{UserID: "u1", Username: "u1", DeviceID: "d1", WarehouseID: "w1", PINChangeRequired: true}, defaultPolicy)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if s, err := e.st.Validate(ctx, c.Token); err != nil || !s.PINChangeRequired {
		t.Fatalf("Validate() = %+v, %v; want pin_change_required", s, err)
	}
	if err := e.peer(1).ClearPINChange(ctx, c.Session.ID); err != nil {
		t.Fatalf("ClearPINChange() = %v", err)
	}
	if s, err := e.st.Validate(ctx, c.Token); err != nil || s.PINChangeRequired {
		t.Errorf("Validate() after ClearPINChange = %+v, %v; want it cleared", s, err)
	}
	if s, err := e.peer(2).Session(ctx, c.Session.ID); err != nil || s.PINChangeRequired {
		t.Errorf("Session() after ClearPINChange = %+v, %v; want it cleared", s, err)
	}
	if err := e.st.ClearPINChange(ctx, "ses_unknown"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("ClearPINChange(unknown) = %v; want ErrNotFound", err)
	}
}

// sweepAll runs Sweep on every peer at once and returns how many
// sessions they ended in all.
func sweepAll(t *testing.T, e *storeEnv) int {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	for _, p := range e.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := p.Sweep(context.Background())
			if err != nil {
				t.Errorf("Sweep() = %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total
}

func checkSession(t *testing.T, name string, got, want sessions.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Username != want.Username ||
		got.DeviceID != want.DeviceID || got.WarehouseID != want.WarehouseID ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.LastActiveAt.Equal(want.LastActiveAt) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || got.IdleTimeout != want.IdleTimeout ||
		got.PINChangeRequired != want.PINChangeRequired {
		t.Errorf("%s = %+v; want %+v", name, got, want)
	}
}

func checkCommand(t *testing.T, name string, got, want sessions.Command) {
	t.Helper()
	byEqual := (got.By == nil) == (want.By == nil)
	if byEqual && got.By != nil {
		byEqual = got.By.DeviceID == want.By.DeviceID && got.By.WarehouseID == want.By.WarehouseID && got.By.At.Equal(want.By.At)
	}
	if got.ID != want.ID || got.SessionID != want.SessionID || got.UserID != want.UserID ||
		got.DeviceID != want.DeviceID || got.WarehouseID != want.WarehouseID || got.Reason != want.Reason ||
		!byEqual || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s command = %s; want %s", name, fmtCommand(got), fmtCommand(want))
	}
}

func fmtCommand(c sessions.Command) string {
	by := "<nil>"
	if c.By != nil {
		by = fmt.Sprintf("%+v", *c.By)
	}
	return fmt.Sprintf("{ID:%s Session:%s User:%s Device:%s Warehouse:%s Reason:%s By:%s Created:%v}",
		c.ID, c.SessionID, c.UserID, c.DeviceID, c.WarehouseID, c.Reason, by, c.CreatedAt)
}

func mustByUser(t *testing.T, st sessions.Store, user string) []sessions.Session {
	t.Helper()
	s, err := st.ByUser(context.Background(), user)
	if err != nil {
		t.Fatalf("ByUser(%q) = %v", user, err)
	}
	return s
}

func mustByDevice(t *testing.T, st sessions.Store, device string) []sessions.Session {
	t.Helper()
	s, err := st.ByDevice(context.Background(), device)
	if err != nil {
		t.Fatalf("ByDevice(%q) = %v", device, err)
	}
	return s
}

func mustPending(t *testing.T, st sessions.Store, device string) []sessions.Command {
	t.Helper()
	c, err := st.Pending(context.Background(), device)
	if err != nil {
		t.Fatalf("Pending(%q) = %v", device, err)
	}
	return c
}

// sessionIDs returns the ids, sorted.
func sessionIDs(ss []sessions.Session) []string {
	ids := make([]string, 0, len(ss))
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// commandIDs returns the ids in the order given.
func commandIDs(cs []sessions.Command) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func countKind(evs []sessions.Event, k sessions.EventKind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}
