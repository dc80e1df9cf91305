package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/devices/sqlite"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/memory"
	"github.com/floorgate/floorgate/throttle"
	thmemory "github.com/floorgate/floorgate/throttle/memory"
)

const (
	password = "Correct-Horse-9-battery"
	goodPIN  = "4821"
)

// env is a Policy over an embedded registry, in-process sessions and
// throttle, with a warehouse, a mobile manager, a user and a device.
type env struct {
	t     *testing.T
	clock *clock.Clock
	reg   *devices.Registry
	th    throttle.Throttle
	p     *Policy
	wh    devices.Warehouse
	mgr   devices.Manager
	user  devices.User
	dev   devices.Device
}

func newEnv(t *testing.T, wrap func(throttle.Throttle) throttle.Throttle) *env {
	t.Helper()
	return newEnvStore(t, wrap, nil)
}

// newEnvStore is newEnv with the registry's store wrapped by wrapStore
// (when not nil).
func newEnvStore(t *testing.T, wrap func(throttle.Throttle) throttle.Throttle, wrapStore func(devices.Store) devices.Store) *env {
	t.Helper()
	ctx := context.Background()
	clk := clock.New(time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC))
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "registry.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { sq.Close() })
	var st devices.Store = sq
	if wrapStore != nil {
		st = wrapStore(sq)
	}
	reg, err := devices.NewRegistry(st, devices.Options{
		Pepper: []byte("a test pepper of enough bytes"), Now: clk.Now,
		Hash: devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	var th throttle.Throttle = thmemory.New(thmemory.Options{Now: clk.Now})
	if wrap != nil {
		th = wrap(th)
	}
	p, err := New(Config{Registry: reg, Sessions: memory.New(memory.Options{Now: clk.Now}), Throttle: th, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := &env{t: t, clock: clk, reg: reg, th: th, p: p}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	e.wh, err = reg.CreateWarehouse(ctx, devices.ActorSystem, devices.WarehouseInput{Name: "North", Code: "NORTH"})
	must("CreateWarehouse", err)
	e.mgr, err = reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{Email: "mia@example.com", FirstName: "Mia", LastName: "Stone",
		Password: password, Roles: []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: e.wh.ID}}})
	must("CreateManager", err)
	e.user, err = reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{Username: "max", FirstName: "Max", LastName: "Lee", WarehouseID: e.wh.ID, PIN: goodPIN})
	must("CreateUser", err)
	e.dev, _, _, err = reg.Enroll(ctx, e.mgr.ID, devices.EnrollInput{WarehouseID: e.wh.ID, Serial: "S-1"})
	must("Enroll", err)
	return e
}

func (e *env) settings() devices.Settings {
	e.t.Helper()
	set, err := e.reg.EffectiveSettings(context.Background(), e.wh.ID)
	if err != nil {
		e.t.Fatalf("EffectiveSettings: %v", err)
	}
	return set
}

func (e *env) login(username, pin string) error {
	_, err := e.p.Login(context.Background(), Login{Device: e.dev, Settings: e.settings(), Username: username, PIN: pin})
	return err
}

func (e *env) managerLogin(email, pw string) error {
	_, err := e.p.ManagerLogin(context.Background(), ManagerLogin{Email: email, Password: pw, ClientIP: "192.0.2.1"})
	return err
}

func TestKeys(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{UserSubject(" Max "), "u:max"},
		{UserSubject("m:mia@example.com"), "u:m:mia@example.com"},
		{UserSubject("mgr:mia@example.com"), "u:mgr:mia@example.com"},
		{ManagerSubject("Mia@Example.com"), "m:mia@example.com"},
		{ManagerSubject("not an email"), "m:not an email"},
		{DeviceSource("dev_1"), "d:dev_1"},
		{AddressSource("192.0.2.1"), "ip:192.0.2.1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("key = %q; want %q", tt.got, tt.want)
		}
	}
	// No username's subject is a manager's, whatever is typed.
	for _, typed := range []string{"m:mia@example.com", "M:MIA@EXAMPLE.COM", "mgr:mia@example.com", "u:x", ":m:mia@example.com"} {
		if s := UserSubject(typed); s == ManagerSubject("mia@example.com") || s[:2] != "u:" {
			t.Errorf("UserSubject(%q) = %q; want it in the u: namespace, apart from the manager's", typed, s)
		}
	}
}

// TestUsernameCannotLockManager: PIN failures under a username that
// spells a manager's key lock that username, never the manager.
func TestUsernameCannotLockManager(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	l := Limits(e.settings().Throttle)
	for range l.UserFailures + 1 {
		if err := e.login("m:mia@example.com", "9157"); err != nil && !errors.Is(err, devices.ErrInvalidCredentials) && !errors.Is(err, ErrThrottled) {
			t.Fatalf("login = %v", err)
		}
		e.clock.Advance(time.Minute) // past the pair delays
	}
	if err := e.login("m:mia@example.com", "9157"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("login after %d failures = %v; want ErrThrottled (the username locked)", l.UserFailures+1, err)
	}
	if err := e.managerLogin("mia@example.com", password); err != nil {
		t.Errorf("ManagerLogin of the manager the username spells = %v; want nil", err)
	}
}

// TestInFlight: while an attempt for a username (or from a device, or of
// a manager's email) is between its throttle check and its failure
// count, another is ErrInFlight at once, for a known and an unknown
// account alike; a finished attempt gives its keys back.
func TestInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	other, _, _, err := e.reg.Enroll(context.Background(), e.mgr.ID, devices.EnrollInput{WarehouseID: e.wh.ID, Serial: "S-2"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, held string
		try        func() error
		after      error // what the attempt gives once the other ended
	}{
		{"known user", "u:max", func() error {
			_, err := e.p.Login(context.Background(), Login{Device: other, Settings: e.settings(), Username: "max", PIN: goodPIN})
			return err
		}, nil},
		{"unknown user", "u:nobody", func() error {
			_, err := e.p.Login(context.Background(), Login{Device: other, Settings: e.settings(), Username: "Nobody", PIN: goodPIN})
			return err
		}, devices.ErrInvalidCredentials},
		{"same device", "d:" + e.dev.ID, func() error { return e.login("max", goodPIN) }, nil},
		{"manager", "m:mia@example.com", func() error { return e.managerLogin("MIA@example.com", password) }, nil},
		{"enroll", "m:mia@example.com", func() error {
			_, err := e.p.Enroll(context.Background(), Enrollment{Email: "mia@example.com", Password: password, ClientIP: "192.0.2.9",
				Device: devices.EnrollInput{WarehouseID: e.wh.ID, Serial: "S-3"}})
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// Another attempt holds the key: on this instance or another
			// one sharing the throttle's store.
			if ok, err := e.th.Claim(ctx, []string{tt.held}, "other", ClaimTTL); err != nil || !ok {
				t.Fatalf("Claim(%q) = %v, %v on an idle policy", tt.held, ok, err)
			}
			err := tt.try()
			if err := e.th.Release(ctx, []string{tt.held}, "other"); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(err, ErrInFlight) {
				t.Fatalf("attempt while %q is held = %v; want ErrInFlight", tt.held, err)
			}
			if err := tt.try(); !errors.Is(err, tt.after) {
				t.Errorf("attempt after the other ended = %v; want %v", err, tt.after)
			}
			if ok, err := e.th.Claim(ctx, []string{tt.held}, "next", ClaimTTL); err != nil || !ok {
				t.Errorf("a finished attempt still holds %q", tt.held)
			}
			_ = e.th.Release(ctx, []string{tt.held}, "next")
		})
	}
}

// failingThrottle checks but cannot count.
type failingThrottle struct{ throttle.Throttle }

func (failingThrottle) Fail(context.Context, throttle.Attempt, throttle.Limits) (throttle.Decision, error) {
	return throttle.Decision{}, fmt.Errorf("%w: connection refused", throttle.ErrUnavailable)
}

// downThrottle answers nothing.
type downThrottle struct{ failingThrottle }

func (downThrottle) Check(context.Context, throttle.Attempt, throttle.Limits) (throttle.Decision, error) {
	return throttle.Decision{}, fmt.Errorf("%w: connection refused", throttle.ErrUnavailable)
}

// TestFailClosed: a wrong secret the throttle cannot count, and any
// attempt it cannot check, is ErrUnavailable for every kind of sign-in;
// a right secret needs no count and goes through.
func TestFailClosed(t *testing.T) {
	t.Parallel()
	kinds := func(e *env, pin, pw string) map[string]error {
		ctx := context.Background()
		_, enrollErr := e.p.Enroll(ctx, Enrollment{Email: "mia@example.com", Password: pw, ClientIP: "192.0.2.9",
			Device: devices.EnrollInput{WarehouseID: e.wh.ID, Serial: "S-9"}})
		sess, err := e.p.sessions.Create(ctx, sessions.NewSession{UserID: e.user.ID, Username: "max", DeviceID: e.dev.ID, WarehouseID: e.wh.ID}, SessionPolicy(e.settings()))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]error{
			"login":      e.login("max", pin),
			"manager":    e.managerLogin("mia@example.com", pw),
			"enroll":     enrollErr,
			"pin change": e.p.ChangePIN(ctx, PINChange{Session: sess.Session, Settings: e.settings(), Current: pin, New: "7294"}),
		}
	}
	t.Run("cannot count", func(t *testing.T) {
		e := newEnv(t, func(th throttle.Throttle) throttle.Throttle { return failingThrottle{th} })
		for name, err := range kinds(e, "9157", "Wrong-password-1") {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s with a wrong secret = %v; want ErrUnavailable", name, err)
			}
		}
		for name, err := range kinds(e, goodPIN, password) {
			if err != nil {
				t.Errorf("%s with the right secret = %v; want nil", name, err)
			}
		}
	})
	t.Run("cannot check", func(t *testing.T) {
		e := newEnv(t, func(th throttle.Throttle) throttle.Throttle { return downThrottle{failingThrottle{th}} })
		for name, err := range kinds(e, goodPIN, password) {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s = %v; want ErrUnavailable", name, err)
			}
		}
	})
}

// TestPoolBusy: with every slot taken, an attempt is ErrBusy once the
// wait is over, and its claim is given back.
func TestPoolBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.p.pool = NewPool(1, time.Millisecond)
	release, err := e.p.pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.login("max", goodPIN); !errors.Is(err, ErrBusy) {
		t.Errorf("login with no free slot = %v; want ErrBusy", err)
	}
	release()
	if err := e.login("max", goodPIN); err != nil {
		t.Errorf("login with a free slot = %v; want nil", err)
	}
}

// TestAddressLimits: an address source is never quarantined, however
// many emails fail from it.
func TestAddressLimits(t *testing.T) {
	t.Parallel()
	l := AddressLimits(Limits(devices.DefaultThrottle()))
	if l.DeviceFailures != 0 || l.SprayUsers != 0 || l.UserFailures == 0 || l.PairFreeFailures == 0 {
		t.Errorf("AddressLimits = %+v; want no quarantine, no spray alarm, the user and pair rules kept", l)
	}
}

// lookups counts the registry's reads of a user by username.
type lookups struct {
	devices.Store
	n atomic.Int64
}

func (l *lookups) UserByUsername(ctx context.Context, key string) (devices.User, error) {
	l.n.Add(1)
	return l.Store.UserByUsername(ctx, key)
}

// patient is a throttle that answers a claim and a check whatever the
// caller's context: an attempt whose client is gone reaches the pool.
type patient struct{ throttle.Throttle }

func (p patient) Claim(ctx context.Context, keys []string, id string, ttl time.Duration) (bool, error) {
	return p.Throttle.Claim(context.WithoutCancel(ctx), keys, id, ttl)
}

func (p patient) Check(ctx context.Context, a throttle.Attempt, l throttle.Limits) (throttle.Decision, error) {
	return p.Throttle.Check(context.WithoutCancel(ctx), a, l)
}

// TestLoginSlotForHashOnly: a PIN login reads its user before it takes a
// hashing slot, so that the slot is held for the hash alone; and the
// pool admits at most its slots and a quarter more (at least one more:
// two for a pool of one) to that read at once, so that a
// storm reaches the registry no more than that while the slots are
// taken. With the only slot held, two logins are admitted and have read
// their user; a third is ErrBusy (answered 429) without reading it; once
// the slot is free, the two admitted ones sign in.
func TestLoginSlotForHashOnly(t *testing.T) {
	t.Parallel()
	counted := &lookups{}
	e := newEnvStore(t, func(th throttle.Throttle) throttle.Throttle { return patient{th} },
		func(st devices.Store) devices.Store { counted.Store = st; return counted })
	e.p.pool = NewPool(1, time.Minute)
	ctx := context.Background()
	type pair struct {
		dev  devices.Device
		name string
	}
	pairs := make([]pair, 3)
	for i := range pairs {
		name := fmt.Sprintf("kim%d", i)
		if _, err := e.reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{Username: name, FirstName: "Kim", LastName: "Ito", WarehouseID: e.wh.ID, PIN: goodPIN}); err != nil {
			t.Fatal(err)
		}
		dev, _, _, err := e.reg.Enroll(ctx, e.mgr.ID, devices.EnrollInput{WarehouseID: e.wh.ID, Serial: fmt.Sprintf("S-L%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		pairs[i] = pair{dev, name}
	}
	login := func(ctx context.Context, p pair) error {
		_, err := e.p.Login(ctx, Login{Device: p.dev, Settings: e.settings(), Username: p.name, PIN: goodPIN})
		return err
	}
	release, err := e.p.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := counted.n.Load()
	errs := make(chan error, 2)
	for _, p := range pairs[:2] {
		go func() { errs <- login(ctx, p) }()
	}
	deadline := time.Now().Add(10 * time.Second) // a safety net, not a timed assertion
	for counted.n.Load()-before < 2 {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("users read with the slot held = %d; want 2 (the read comes before the slot)", counted.n.Load()-before)
		}
		time.Sleep(time.Millisecond)
	}
	// The third finds no entry: its client gives up (a cancelled
	// context) rather than the test waiting out the pool's minute.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := login(gone, pairs[2]); !errors.Is(err, ErrBusy) {
		t.Errorf("a third login with two admitted = %v; want ErrBusy", err)
	}
	if n := counted.n.Load() - before; n != 2 {
		t.Errorf("users read = %d; want 2 (the refused login reads nothing)", n)
	}
	release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("admitted login once the slot is free = %v; want nil", err)
		}
	}
}
