package devicestest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/internal/token"
)

// runRegistry checks the Registry's rules over the store: the same rules
// must hold whichever backend keeps the data.
func runRegistry(t *testing.T, h Harness) {
	t.Run("UsernameRace", func(t *testing.T) { t.Parallel(); testUsernameRace(t, h) })
	t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testLifecycle(t, h) })
	t.Run("EmployeeID", func(t *testing.T) { t.Parallel(); testEmployeeID(t, h) })
	t.Run("CreateUsersAllOrNone", func(t *testing.T) { t.Parallel(); testCreateUsersAllOrNone(t, h) })
	t.Run("UpdateUser", func(t *testing.T) { t.Parallel(); testRegistryUpdateUser(t, h) })
	t.Run("AuthenticateUser", func(t *testing.T) { t.Parallel(); testAuthenticateUser(t, h) })
	t.Run("PIN", func(t *testing.T) { t.Parallel(); testPIN(t, h) })
	t.Run("Rehash", func(t *testing.T) { t.Parallel(); testRehash(t, h) })
	t.Run("Enroll", func(t *testing.T) { t.Parallel(); testEnroll(t, h) })
	t.Run("Seen", func(t *testing.T) { t.Parallel(); testSeen(t, h) })
	t.Run("Managers", func(t *testing.T) { t.Parallel(); testRegistryManagers(t, h) })
	t.Run("EnsureAdmin", func(t *testing.T) { t.Parallel(); testEnsureAdmin(t, h) })
	t.Run("ManagerTokens", func(t *testing.T) { t.Parallel(); testRegistryManagerTokens(t, h) })
	t.Run("ServiceKeys", func(t *testing.T) { t.Parallel(); testRegistryServiceKeys(t, h) })
	t.Run("EnrollmentTokens", func(t *testing.T) { t.Parallel(); testRegistryEnrollmentTokens(t, h) })
	t.Run("ManagerLinks", func(t *testing.T) { t.Parallel(); testRegistryManagerLinks(t, h) })
	t.Run("SettingsAndWarehouses", func(t *testing.T) { t.Parallel(); testSettingsAndWarehouses(t, h) })
	t.Run("Badges", func(t *testing.T) { t.Parallel(); testRegistryBadges(t, h) })
	t.Run("Custody", func(t *testing.T) { t.Parallel(); testRegistryCustody(t, h) })
	t.Run("CustodyEndMany", func(t *testing.T) { t.Parallel(); testRegistryCustodyEndMany(t, h) })
	t.Run("CustodyEndConcurrent", func(t *testing.T) { t.Parallel(); testRegistryCustodyEndConcurrent(t, h) })
	t.Run("Record", func(t *testing.T) { t.Parallel(); testRecord(t, h) })
	t.Run("UserData", func(t *testing.T) { t.Parallel(); testRegistryUserData(t, h) })
}

// regPepper and regParams keep the suite fast: a real deployment uses a
// secret pepper and DefaultHashParams.
var (
	regPepper = []byte("devicestest-pepper-0123456789")
	regParams = devices.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}
	regStart  = time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	regAdmin  = devices.ManagerActor("mgr_suite_admin")
)

// regEnv is a Registry over a fresh store with a fake clock.
type regEnv struct {
	t     *testing.T
	ctx   context.Context
	store devices.Store
	clock *clock.Clock
	reg   *devices.Registry
}

func newRegEnv(t *testing.T, h Harness) *regEnv {
	t.Helper()
	e := &regEnv{t: t, ctx: context.Background(), store: h.Open(t), clock: clock.New(regStart)}
	e.reg = e.registry(regParams, 0)
	return e
}

// registry returns another Registry over the same store and clock, as a
// second instance (or a restart with other parameters) would be.
func (e *regEnv) registry(p devices.HashParams, keyCache time.Duration) *devices.Registry {
	e.t.Helper()
	r, err := devices.NewRegistry(e.store, devices.Options{
		Pepper:          regPepper,
		Now:             e.clock.Now,
		Hash:            p,
		ServiceKeyCache: keyCache,
	})
	if err != nil {
		e.t.Fatalf("NewRegistry() = %v; want nil", err)
	}
	return r
}

func (e *regEnv) warehouse(code string) devices.Warehouse {
	e.t.Helper()
	w, err := e.reg.CreateWarehouse(e.ctx, regAdmin, devices.WarehouseInput{Name: "Warehouse " + code, Code: code})
	if err != nil {
		e.t.Fatalf("CreateWarehouse(%q) = %v; want nil", code, err)
	}
	return w
}

func (e *regEnv) user(username, warehouseID, pin string) devices.User {
	e.t.Helper()
	u, err := e.reg.CreateUser(e.ctx, regAdmin, devices.UserInput{
		Username: username, FirstName: "Jo", LastName: "Smith", WarehouseID: warehouseID, PIN: pin,
	})
	if err != nil {
		e.t.Fatalf("CreateUser(%q) = %v; want nil", username, err)
	}
	return u
}

func (e *regEnv) manager(email string, roles ...devices.Role) devices.Manager {
	e.t.Helper()
	m, err := e.reg.CreateManager(e.ctx, regAdmin, devices.ManagerInput{
		Email: email, FirstName: "Mia", LastName: "Lopez", Password: regPassword, Roles: roles,
	})
	if err != nil {
		e.t.Fatalf("CreateManager(%q) = %v; want nil", email, err)
	}
	return m
}

const regPassword = "Correct-Horse-42"

// events returns the audit events about subject with action, newest first.
func (e *regEnv) events(subject, action string) []devices.Event {
	e.t.Helper()
	evs, err := e.reg.Events(e.ctx, devices.EventFilter{Subject: subject, Action: action, Page: devices.Page{Limit: 500}})
	if err != nil {
		e.t.Fatalf("Events(%s, %s) = %v; want nil", subject, action, err)
	}
	return evs
}

// wantEvents fails unless exactly n events about subject with action exist.
func (e *regEnv) wantEvents(subject, action string, n int) []devices.Event {
	e.t.Helper()
	evs := e.events(subject, action)
	if len(evs) != n {
		e.t.Errorf("audit events %s about %s: %d; want %d", action, subject, len(evs), n)
	}
	return evs
}

// regWantErr fails unless errors.Is(err, want), or err is nil when want is.
func regWantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s = %v; want %v", call, err, want)
	}
}

// testUsernameRace: 100 concurrent creates of the same name in four
// spellings across five warehouses make exactly one user.
func testUsernameRace(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	var whs []string
	for i := range 5 {
		whs = append(whs, e.warehouse(fmt.Sprintf("R%d", i)).ID)
	}
	spellings := []string{"alice", "Alice", "ALICE", "ａｌｉｃｅ"}
	const n = 100
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.reg.CreateUser(e.ctx, regAdmin, devices.UserInput{
				Username: spellings[i%len(spellings)], FirstName: "Alice", LastName: "Race",
				WarehouseID: whs[i%len(whs)], PIN: "4821",
			})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, devices.ErrExists):
			t.Errorf("CreateUser(%q) #%d = %v; want nil or ErrExists", spellings[i%len(spellings)], i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent CreateUser calls succeeded; want exactly 1", ok, n)
	}
	u, err := e.reg.UserByUsername(e.ctx, "ＡＬＩＣＥ")
	if err != nil || u.UsernameKey != "alice" {
		t.Fatalf("UserByUsername(ＡＬＩＣＥ) = %+v, %v; want the one alice", u, err)
	}
	users, err := e.reg.Users(e.ctx, devices.UserFilter{Page: devices.Page{Limit: 500}})
	if err != nil || len(users) != 1 {
		t.Errorf("Users() = %d users, %v; want 1", len(users), err)
	}
	e.wantEvents(devices.UserActor(u.ID), "user.create", 1)
	all, err := e.reg.Events(e.ctx, devices.EventFilter{Action: "user.create", Page: devices.Page{Limit: 500}})
	if err != nil || len(all) != 1 {
		t.Errorf("Events(user.create) = %d, %v; want 1", len(all), err)
	}
}

// testLifecycle: suspend, activate, soft delete, restore through day 30,
// refusal after, purge (idempotent) freeing the username.
func testLifecycle(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("L1")
	u := e.user("alice", w.ID, "4821")
	subject := devices.UserActor(u.ID)
	e.wantEvents(subject, "user.create", 1)

	got, err := e.reg.SuspendUser(e.ctx, regAdmin, u.ID)
	if err != nil || got.Status != devices.UserSuspended {
		t.Fatalf("SuspendUser() = %s, %v; want suspended", got.Status, err)
	}
	e.wantEvents(subject, "user.suspend", 1)
	if got, err = e.reg.SuspendUser(e.ctx, regAdmin, u.ID); err != nil || got.Status != devices.UserSuspended {
		t.Errorf("SuspendUser(again) = %s, %v; want suspended, nil", got.Status, err)
	}
	e.wantEvents(subject, "user.suspend", 1) // no change, no event
	if got, err = e.reg.ActivateUser(e.ctx, regAdmin, u.ID); err != nil || got.Status != devices.UserActive {
		t.Fatalf("ActivateUser() = %s, %v; want active", got.Status, err)
	}
	e.wantEvents(subject, "user.activate", 1)
	_, err = e.reg.RestoreUser(e.ctx, regAdmin, u.ID)
	regWantErr(t, "RestoreUser(active)", err, devices.ErrState)

	// Delete on day 0, restore on day 29.
	got, err = e.reg.DeleteUser(e.ctx, regAdmin, u.ID)
	if err != nil || got.Status != devices.UserDeleted || got.DeletedAt == nil || !got.DeletedAt.Equal(e.clock.Now()) {
		t.Fatalf("DeleteUser() = %s at %v, %v; want deleted now", got.Status, got.DeletedAt, err)
	}
	e.wantEvents(subject, "user.delete", 1)
	_, err = e.reg.SuspendUser(e.ctx, regAdmin, u.ID)
	regWantErr(t, "SuspendUser(deleted)", err, devices.ErrState)
	_, err = e.reg.ActivateUser(e.ctx, regAdmin, u.ID)
	regWantErr(t, "ActivateUser(deleted)", err, devices.ErrState)
	_, err = e.reg.UpdateUser(e.ctx, regAdmin, u.ID, devices.UserPatch{FirstName: ptrTo("Al")})
	regWantErr(t, "UpdateUser(deleted)", err, devices.ErrState)
	_, err = e.reg.ResetPIN(e.ctx, regAdmin, u.ID, "7351", true)
	regWantErr(t, "ResetPIN(deleted)", err, devices.ErrState)
	_, err = e.reg.AuthenticateUser(e.ctx, "alice", "4821")
	regWantErr(t, "AuthenticateUser(deleted, right PIN)", err, devices.ErrDisabled)
	_, err = e.reg.CreateUser(e.ctx, regAdmin, devices.UserInput{Username: "ALICE", FirstName: "A", LastName: "B", WarehouseID: w.ID, PIN: "7351"})
	regWantErr(t, "CreateUser(name of a deleted user)", err, devices.ErrExists)

	e.clock.Advance(29 * 24 * time.Hour)
	if n, err := e.reg.PurgeDeleted(e.ctx); err != nil || n != 0 {
		t.Errorf("PurgeDeleted(day 29) = %d, %v; want 0, nil", n, err)
	}
	got, err = e.reg.RestoreUser(e.ctx, regAdmin, u.ID)
	if err != nil || got.Status != devices.UserActive || got.DeletedAt != nil {
		t.Fatalf("RestoreUser(day 29) = %s, %v, %v; want active, nil", got.Status, got.DeletedAt, err)
	}
	e.wantEvents(subject, "user.restore", 1)
	if _, err := e.reg.AuthenticateUser(e.ctx, "Alice", "4821"); err != nil {
		t.Errorf("AuthenticateUser(restored) = %v; want nil", err)
	}

	// Delete again, restore on day 31 is refused, purge removes it once.
	if _, err := e.reg.DeleteUser(e.ctx, regAdmin, u.ID); err != nil {
		t.Fatalf("DeleteUser() = %v", err)
	}
	e.clock.Advance(31 * 24 * time.Hour)
	_, err = e.reg.RestoreUser(e.ctx, regAdmin, u.ID)
	regWantErr(t, "RestoreUser(day 31)", err, devices.ErrRestoreExpired)
	if got, err := e.reg.User(e.ctx, u.ID); err != nil || got.Status != devices.UserDeleted {
		t.Errorf("User() after refused restore = %s, %v; want deleted", got.Status, err)
	}
	e.wantEvents(subject, "user.restore", 1)

	if n, err := e.reg.PurgeDeleted(e.ctx); err != nil || n != 1 {
		t.Fatalf("PurgeDeleted(day 31) = %d, %v; want 1, nil", n, err)
	}
	if n, err := e.reg.PurgeDeleted(e.ctx); err != nil || n != 0 {
		t.Errorf("PurgeDeleted(again) = %d, %v; want 0, nil", n, err)
	}
	_, err = e.reg.User(e.ctx, u.ID)
	regWantErr(t, "User(purged)", err, devices.ErrNotFound)
	_, err = e.reg.AuthenticateUser(e.ctx, "alice", "4821")
	regWantErr(t, "AuthenticateUser(purged)", err, devices.ErrInvalidCredentials)
	purged := e.wantEvents(subject, "user.purge", 1)
	for _, ev := range purged {
		if ev.Actor != devices.ActorSystem || len(ev.Details) != 0 {
			t.Errorf("purge event = %+v; want actor system and no details", ev)
		}
	}
	// The history stays, naming only the id.
	if evs := e.events(subject, ""); len(evs) < 7 {
		t.Errorf("events about the purged user: %d; want its whole history", len(evs))
	}
	again := e.user("alice", w.ID, "7351")
	if again.ID == u.ID {
		t.Errorf("CreateUser(alice) after purge reused id %s", u.ID)
	}
}

// testEmployeeID: unique when present, any number of users without one.
func testEmployeeID(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("E1")
	in := func(username, emp string) devices.UserInput {
		return devices.UserInput{Username: username, FirstName: "A", LastName: "B", EmployeeID: emp, WarehouseID: w.ID, PIN: "4821"}
	}
	if _, err := e.reg.CreateUser(e.ctx, regAdmin, in("emp1", "B-1001")); err != nil {
		t.Fatalf("CreateUser(emp1, B-1001) = %v", err)
	}
	_, err := e.reg.CreateUser(e.ctx, regAdmin, in("emp2", "B-1001"))
	regWantErr(t, "CreateUser(taken employee id)", err, devices.ErrExists)
	_, err = e.reg.CreateUser(e.ctx, regAdmin, in("emp3", ""))
	regWantErr(t, "CreateUser(no employee id)", err, nil)
	u4, err := e.reg.CreateUser(e.ctx, regAdmin, in("emp4", ""))
	regWantErr(t, "CreateUser(no employee id, again)", err, nil)
	_, err = e.reg.UpdateUser(e.ctx, regAdmin, u4.ID, devices.UserPatch{EmployeeID: ptrTo("B-1001")})
	regWantErr(t, "UpdateUser(taken employee id)", err, devices.ErrExists)
	_, err = e.reg.UpdateUser(e.ctx, regAdmin, u4.ID, devices.UserPatch{EmployeeID: ptrTo("B-1002")})
	regWantErr(t, "UpdateUser(free employee id)", err, nil)
	_, err = e.reg.CreateUser(e.ctx, regAdmin, in("emp5", "has space"))
	regWantErr(t, "CreateUser(employee id with a space)", err, devices.ErrInvalid)
}

// testCreateUsersAllOrNone: one conflict in a batch writes nothing.
func testCreateUsersAllOrNone(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("B1")
	e.user("taken", w.ID, "4821")
	var batch []devices.User
	for _, name := range []string{"new1", "new2", "TAKEN"} {
		u, err := e.reg.PrepareUser(e.ctx, devices.UserInput{Username: name, FirstName: "A", LastName: "B", WarehouseID: w.ID, PIN: "4821"})
		if err != nil {
			t.Fatalf("PrepareUser(%q) = %v", name, err)
		}
		batch = append(batch, u)
	}
	err := e.reg.CreateUsers(e.ctx, regAdmin, batch)
	regWantErr(t, "CreateUsers(one taken)", err, devices.ErrExists)
	for _, u := range batch[:2] {
		_, err := e.reg.User(e.ctx, u.ID)
		regWantErr(t, "User("+u.Username+") after a refused batch", err, devices.ErrNotFound)
		e.wantEvents(devices.UserActor(u.ID), "user.create", 0)
	}
	if err := e.reg.CreateUsers(e.ctx, regAdmin, batch[:2]); err != nil {
		t.Fatalf("CreateUsers(two free) = %v", err)
	}
	for _, u := range batch[:2] {
		e.wantEvents(devices.UserActor(u.ID), "user.create", 1)
	}

	// PrepareUser reports every problem at once, the PIN among them.
	_, err = e.reg.PrepareUser(e.ctx, devices.UserInput{Username: "a b", WarehouseID: "wh_missing", PIN: "1234", Language: "not a tag!"})
	var v *devices.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("PrepareUser(all wrong) = %v; want a *ValidationError", err)
	}
	fields := map[string]string{}
	for _, f := range v.Fields {
		fields[f.Field] = f.Code
	}
	for field, code := range map[string]string{"username": "invalid_characters", "first_name": "required", "last_name": "required",
		"warehouse_id": "unknown", "pin": "sequence", "language": "invalid"} {
		if fields[field] != code {
			t.Errorf("PrepareUser(all wrong) field %s = %q; want %q (all: %v)", field, fields[field], code, fields)
		}
	}
	// Only the PIN wrong: the *PolicyError itself.
	_, err = e.reg.PrepareUser(e.ctx, devices.UserInput{Username: "ok", FirstName: "A", LastName: "B", WarehouseID: w.ID, PIN: "１２３４"})
	var pe *devices.PolicyError
	if !errors.As(err, &pe) || pe.Rule != "not_ascii_digits" {
		t.Errorf("PrepareUser(full-width PIN) = %v; want a *PolicyError not_ascii_digits", err)
	}
	u, err := e.reg.PrepareUser(e.ctx, devices.UserInput{Username: " Zoë ", FirstName: "Zoë", LastName: "B", WarehouseID: w.ID, PIN: "4821", Language: "pt-br"})
	if err != nil || u.Username != "Zoë" || u.UsernameKey != "zoë" || u.Language != "pt-BR" || u.PINHash == "" || strings.Contains(u.PINHash, "4821") {
		t.Errorf("PrepareUser(Zoë) = %+v, %v; want trimmed name, folded key, pt-BR and a hash", u, err)
	}
}

// testRegistryUpdateUser: a rename keeps the normalised key unique.
func testRegistryUpdateUser(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w1, w2 := e.warehouse("U1"), e.warehouse("U2")
	e.user("bob", w1.ID, "4821")
	u := e.user("carol", w1.ID, "4821")
	_, err := e.reg.UpdateUser(e.ctx, regAdmin, u.ID, devices.UserPatch{Username: ptrTo("ＢＯＢ")})
	regWantErr(t, "UpdateUser(rename to ＢＯＢ)", err, devices.ErrExists)
	got, err := e.reg.UpdateUser(e.ctx, regAdmin, u.ID, devices.UserPatch{Username: ptrTo("Caroline"), WarehouseID: ptrTo(w2.ID), Language: ptrTo("es")})
	if err != nil || got.UsernameKey != "caroline" || got.WarehouseID != w2.ID || got.Language != "es" {
		t.Fatalf("UpdateUser(Caroline, %s, es) = %+v, %v", w2.ID, got, err)
	}
	evs := e.wantEvents(devices.UserActor(u.ID), "user.update", 1)
	if len(evs) == 1 && (evs[0].WarehouseID != w2.ID || evs[0].Details["from_warehouse_id"] != w1.ID) {
		t.Errorf("user.update event = %+v; want the move from %s to %s", evs[0], w1.ID, w2.ID)
	}
	if _, err := e.reg.AuthenticateUser(e.ctx, "CAROLINE", "4821"); err != nil {
		t.Errorf("AuthenticateUser(CAROLINE) = %v; want nil", err)
	}
	if _, err := e.reg.UpdateUser(e.ctx, regAdmin, u.ID, devices.UserPatch{}); err != nil {
		t.Errorf("UpdateUser(empty patch) = %v; want nil", err)
	}
	e.wantEvents(devices.UserActor(u.ID), "user.update", 1) // nothing changed, no event
	_, err = e.reg.UpdateUser(e.ctx, regAdmin, u.ID, devices.UserPatch{WarehouseID: ptrTo("wh_missing")})
	regWantErr(t, "UpdateUser(unknown warehouse)", err, devices.ErrInvalid)
	_, err = e.reg.UpdateUser(e.ctx, regAdmin, "usr_missing", devices.UserPatch{FirstName: ptrTo("X")})
	regWantErr(t, "UpdateUser(missing)", err, devices.ErrNotFound)
}

// testAuthenticateUser: one answer for unknown user and wrong PIN.
func testAuthenticateUser(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("A1")
	u := e.user("dave", w.ID, "4821")
	for _, tt := range []struct {
		username, pin string
		want          error
	}{
		{"dave", "4821", nil},
		{"DAVE", "4821", nil},
		{"ｄａｖｅ", "4821", nil},
		{"dave", "4822", devices.ErrInvalidCredentials},
		{"dave", "", devices.ErrInvalidCredentials},
		{"nobody", "4821", devices.ErrInvalidCredentials},
		{"not a name!", "4821", devices.ErrInvalidCredentials},
	} {
		got, err := e.reg.AuthenticateUser(e.ctx, tt.username, tt.pin)
		regWantErr(t, fmt.Sprintf("AuthenticateUser(%q)", tt.username), err, tt.want)
		if tt.want == nil && got.ID != u.ID {
			t.Errorf("AuthenticateUser(%q) = %s; want %s", tt.username, got.ID, u.ID)
		}
		if tt.want != nil && got.ID != "" {
			t.Errorf("AuthenticateUser(%q) returned user %s with %v; want none", tt.username, got.ID, err)
		}
	}
	if _, err := e.reg.SuspendUser(e.ctx, regAdmin, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := e.reg.AuthenticateUser(e.ctx, "dave", "4821")
	regWantErr(t, "AuthenticateUser(suspended, right PIN)", err, devices.ErrDisabled)
	if got.ID != u.ID {
		t.Errorf("AuthenticateUser(suspended, right PIN) = %q; want the user", got.ID)
	}
	_, err = e.reg.AuthenticateUser(e.ctx, "dave", "4822")
	regWantErr(t, "AuthenticateUser(suspended, wrong PIN)", err, devices.ErrInvalidCredentials)
}

// testPIN: reset and change under the warehouse's PIN policy.
func testPIN(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	six := 6
	w, err := e.reg.CreateWarehouse(e.ctx, regAdmin, devices.WarehouseInput{Name: "Six", Code: "P6", Settings: devices.SettingsOverride{PINMinLength: &six}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.reg.CreateUser(e.ctx, regAdmin, devices.UserInput{Username: "erin", FirstName: "A", LastName: "B", WarehouseID: w.ID, PIN: "4821"})
	var pe *devices.PolicyError
	if !errors.As(err, &pe) || pe.Rule != "too_short" {
		t.Errorf("CreateUser(4-digit PIN where 6 are required) = %v; want too_short", err)
	}
	if err := e.reg.CheckPIN(e.ctx, w.ID, "4821"); !errors.As(err, &pe) || pe.Rule != "too_short" {
		t.Errorf("CheckPIN(%s, 4 digits) = %v; want too_short", w.ID, err)
	}
	if err := e.reg.CheckPIN(e.ctx, "", "4821"); err != nil {
		t.Errorf("CheckPIN(organisation, 4 digits) = %v; want nil", err)
	}
	u := e.user("erin", w.ID, "482193")
	subject := devices.UserActor(u.ID)

	for pin, rule := range map[string]string{"123456": "sequence", "111111": "repeated", "123123": "common", "４８２１９３": "not_ascii_digits", "48219": "too_short"} {
		_, err := e.reg.ResetPIN(e.ctx, regAdmin, u.ID, pin, true)
		if !errors.As(err, &pe) || pe.Rule != rule {
			t.Errorf("ResetPIN(%q) = %v; want rule %s", pin, err, rule)
		}
	}
	e.wantEvents(subject, "user.pin_reset", 0)
	got, err := e.reg.ResetPIN(e.ctx, regAdmin, u.ID, "735190", true)
	if err != nil || !got.PINChangeRequired {
		t.Fatalf("ResetPIN(735190) = %v, %v; want pin_change_required", got.PINChangeRequired, err)
	}
	e.wantEvents(subject, "user.pin_reset", 1)
	_, err = e.reg.AuthenticateUser(e.ctx, "erin", "482193")
	regWantErr(t, "AuthenticateUser(old PIN after reset)", err, devices.ErrInvalidCredentials)
	if got, err = e.reg.AuthenticateUser(e.ctx, "erin", "735190"); err != nil || !got.PINChangeRequired {
		t.Errorf("AuthenticateUser(new PIN) = %v, %v; want pin_change_required, nil", got.PINChangeRequired, err)
	}

	_, err = e.reg.ChangePIN(e.ctx, u.ID, "999999", "602718")
	regWantErr(t, "ChangePIN(wrong current)", err, devices.ErrInvalidCredentials)
	_, err = e.reg.ChangePIN(e.ctx, u.ID, "735190", "654321")
	if !errors.As(err, &pe) || pe.Rule != "sequence" {
		t.Errorf("ChangePIN(to 654321) = %v; want rule sequence", err)
	}
	_, err = e.reg.ChangePIN(e.ctx, u.ID, "735190", "735190")
	if !errors.As(err, &pe) || pe.Rule != "same_as_current" {
		t.Errorf("ChangePIN(to the same PIN) = %v; want rule same_as_current", err)
	}
	e.wantEvents(subject, "user.pin_change", 0)
	got, err = e.reg.ChangePIN(e.ctx, u.ID, "735190", "602718")
	if err != nil || got.PINChangeRequired {
		t.Fatalf("ChangePIN() = %v, %v; want pin_change_required cleared, nil", got.PINChangeRequired, err)
	}
	evs := e.wantEvents(subject, "user.pin_change", 1)
	if len(evs) == 1 && evs[0].Actor != subject {
		t.Errorf("user.pin_change actor = %q; want %q", evs[0].Actor, subject)
	}
	if _, err := e.reg.AuthenticateUser(e.ctx, "erin", "602718"); err != nil {
		t.Errorf("AuthenticateUser(changed PIN) = %v; want nil", err)
	}
	for _, ev := range e.events(subject, "") {
		for k, v := range ev.Details {
			for _, pin := range []string{"482193", "735190", "602718"} {
				if strings.Contains(v, pin) {
					t.Errorf("event %s detail %s holds a PIN", ev.Action, k)
				}
			}
		}
	}
}

// testRehash: raising the hash parameters upgrades hashes at the next
// successful sign-in, and the pepper is needed to verify at all.
func testRehash(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("H1")
	u := e.user("frank", w.ID, "4821")
	m := e.manager("frank@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: w.ID})
	if !strings.Contains(u.PINHash, "$m=64,t=1,p=1$") {
		t.Fatalf("PIN hash = %q; want the suite's parameters", u.PINHash)
	}
	raised := e.registry(devices.HashParams{MemoryKiB: 128, Time: 2, Threads: 1}, 0)

	_, err := raised.AuthenticateUser(e.ctx, "frank", "4822")
	regWantErr(t, "AuthenticateUser(wrong PIN, raised params)", err, devices.ErrInvalidCredentials)
	if got, _ := e.reg.User(e.ctx, u.ID); got.PINHash != u.PINHash {
		t.Errorf("a failed sign-in changed the PIN hash")
	}
	if _, err := raised.AuthenticateUser(e.ctx, "frank", "4821"); err != nil {
		t.Fatalf("AuthenticateUser(raised params) = %v", err)
	}
	got, _ := e.reg.User(e.ctx, u.ID)
	if !strings.Contains(got.PINHash, "$m=128,t=2,p=1$") {
		t.Errorf("PIN hash after sign-in with raised params = %q; want m=128,t=2", got.PINHash)
	}
	e.wantEvents(devices.UserActor(u.ID), "user.pin_rehash", 1)
	if _, err := e.reg.AuthenticateUser(e.ctx, "frank", "4821"); err != nil {
		t.Errorf("AuthenticateUser(old params, new hash) = %v; want nil", err)
	}

	if _, err := raised.AuthenticateManager(e.ctx, "FRANK@example.com", regPassword); err != nil {
		t.Fatalf("AuthenticateManager(raised params) = %v", err)
	}
	gm, _ := e.reg.Manager(e.ctx, m.ID)
	if !strings.Contains(gm.PasswordHash, "$m=128,t=2,p=1$") {
		t.Errorf("password hash after sign-in with raised params = %q; want m=128,t=2", gm.PasswordHash)
	}

	other, err := devices.NewRegistry(e.store, devices.Options{Pepper: []byte("another-pepper-0123456789"), Now: e.clock.Now, Hash: regParams})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.AuthenticateUser(e.ctx, "frank", "4821")
	regWantErr(t, "AuthenticateUser(right PIN, other pepper)", err, devices.ErrInvalidCredentials)
	_, err = other.AuthenticateManager(e.ctx, "frank@example.com", regPassword)
	regWantErr(t, "AuthenticateManager(right password, other pepper)", err, devices.ErrInvalidCredentials)
}

// testEnroll: enrollment, re-enrollment revoking the old token, revoke.
func testEnroll(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("D1")
	m := e.manager("mia@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: w.ID})
	in := devices.EnrollInput{WarehouseID: w.ID, Serial: "S21-0042", Model: "TC52", OSVersion: "13", AppVersion: "4.2.0", Label: "Dock 3"}
	d1, tok1, replaced, err := e.reg.Enroll(e.ctx, m.ID, in)
	if err != nil || replaced != nil {
		t.Fatalf("Enroll() = %v, replaced %v; want nil, none", err, replaced)
	}
	if !strings.HasPrefix(tok1.Reveal(), devices.DeviceTokenPrefix) || d1.TokenHash != tok1.Hash() || d1.EnrolledBy != m.ID || d1.Status != devices.DeviceActive {
		t.Errorf("Enroll() = %+v; want an active device with the token's hash, enrolled by %s", d1, m.ID)
	}
	evs := e.wantEvents(devices.DeviceActor(d1.ID), "device.enroll", 1)
	if len(evs) == 1 && (evs[0].Actor != devices.ManagerActor(m.ID) || evs[0].DeviceID != d1.ID || evs[0].WarehouseID != w.ID) {
		t.Errorf("device.enroll event = %+v", evs[0])
	}
	got, err := e.reg.AuthenticateDevice(e.ctx, tok1)
	if err != nil || got.ID != d1.ID {
		t.Fatalf("AuthenticateDevice(token 1) = %s, %v; want %s", got.ID, err, d1.ID)
	}

	d2, tok2, replaced, err := e.reg.Enroll(e.ctx, m.ID, in)
	if err != nil || replaced == nil || replaced.ID != d1.ID || d2.ID == d1.ID {
		t.Fatalf("Enroll(same serial) = %v, replaced %+v; want d1 replaced by a new id", err, replaced)
	}
	old, err := e.reg.AuthenticateDevice(e.ctx, tok1)
	if err == nil && old.Status != devices.DeviceRevoked || err != nil && !errors.Is(err, devices.ErrInvalidCredentials) {
		t.Errorf("AuthenticateDevice(replaced token) = %s, %v; want revoked or ErrInvalidCredentials", old.Status, err)
	}
	if got, err := e.reg.Device(e.ctx, d1.ID); err != nil || got.Status != devices.DeviceRevoked || got.RevokedAt == nil {
		t.Errorf("Device(replaced) = %s, %v; want revoked", got.Status, err)
	}
	e.wantEvents(devices.DeviceActor(d1.ID), "device.revoke", 1)
	if got, err := e.reg.AuthenticateDevice(e.ctx, tok2); err != nil || got.ID != d2.ID || got.Status != devices.DeviceActive {
		t.Errorf("AuthenticateDevice(token 2) = %+v, %v; want %s active", got, err, d2.ID)
	}
	for _, bad := range []devices.Token{"", "fgd_short", token.New(devices.DeviceTokenPrefix), devices.Token("fgk_" + strings.TrimPrefix(tok2.Reveal(), "fgd_"))} {
		_, err := e.reg.AuthenticateDevice(e.ctx, bad)
		regWantErr(t, "AuthenticateDevice(bad token)", err, devices.ErrInvalidCredentials)
	}

	label := "Dock 4"
	if got, err := e.reg.UpdateDevice(e.ctx, regAdmin, d2.ID, devices.DevicePatch{Label: &label}); err != nil || got.Label != label {
		t.Errorf("UpdateDevice(label) = %q, %v", got.Label, err)
	}
	e.wantEvents(devices.DeviceActor(d2.ID), "device.update", 1)
	got, err = e.reg.RevokeDevice(e.ctx, regAdmin, d2.ID)
	if err != nil || got.Status != devices.DeviceRevoked {
		t.Fatalf("RevokeDevice() = %s, %v; want revoked", got.Status, err)
	}
	if got, err := e.reg.RevokeDevice(e.ctx, regAdmin, d2.ID); err != nil || got.Status != devices.DeviceRevoked {
		t.Errorf("RevokeDevice(again) = %s, %v; want revoked, nil", got.Status, err)
	}
	e.wantEvents(devices.DeviceActor(d2.ID), "device.revoke", 1)
	if got, err := e.reg.AuthenticateDevice(e.ctx, tok2); err == nil && got.Status != devices.DeviceRevoked {
		t.Errorf("AuthenticateDevice(revoked) = %s; want revoked", got.Status)
	}

	_, _, _, err = e.reg.Enroll(e.ctx, m.ID, devices.EnrollInput{WarehouseID: "wh_missing", Serial: "S2"})
	regWantErr(t, "Enroll(unknown warehouse)", err, devices.ErrInvalid)
	_, _, _, err = e.reg.Enroll(e.ctx, m.ID, devices.EnrollInput{WarehouseID: w.ID})
	regWantErr(t, "Enroll(no serial)", err, devices.ErrInvalid)
}

// testSeen: last-seen notes reach the store only when flushed.
func testSeen(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("S1")
	m := e.manager("seen@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: w.ID})
	d, _, _, err := e.reg.Enroll(e.ctx, m.ID, devices.EnrollInput{WarehouseID: w.ID, Serial: "SEEN-1", AppVersion: "4.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	e.reg.Seen(d.ID, "4.3.0")
	e.clock.Advance(time.Minute)
	e.reg.Seen(d.ID, "")
	seenAt := e.clock.Now()
	if got, _ := e.reg.Device(e.ctx, d.ID); got.LastSeenAt != nil {
		t.Errorf("Device().LastSeenAt before a flush = %v; want nil (no write per request)", got.LastSeenAt)
	}
	if err := e.reg.FlushSeen(e.ctx); err != nil {
		t.Fatalf("FlushSeen() = %v", err)
	}
	got, err := e.reg.Device(e.ctx, d.ID)
	if err != nil || got.LastSeenAt == nil || !got.LastSeenAt.Equal(seenAt) || got.AppVersion != "4.3.0" {
		t.Errorf("Device() after flush = last seen %v, app %q, %v; want %v, 4.3.0", got.LastSeenAt, got.AppVersion, err, seenAt)
	}

	// RunSeenFlusher writes what is left when its context ends.
	e.clock.Advance(time.Minute)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.reg.RunSeenFlusher(ctx, time.Hour) }()
	e.reg.Seen(d.ID, "4.4.0")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunSeenFlusher() = %v; want nil", err)
	}
	if got, _ := e.reg.Device(e.ctx, d.ID); got.AppVersion != "4.4.0" || !got.LastSeenAt.Equal(e.clock.Now()) {
		t.Errorf("Device() after RunSeenFlusher = %q at %v; want 4.4.0 at %v", got.AppVersion, got.LastSeenAt, e.clock.Now())
	}
	// The version recorded at enrollment is never moved by a sighting.
	if got, _ := e.reg.Device(e.ctx, d.ID); got.EnrolledAppVersion != "4.2.0" {
		t.Errorf("Device().EnrolledAppVersion after sightings = %q; want 4.2.0 (the enrollment's)", got.EnrolledAppVersion)
	}
}

// testRegistryManagers: validation, email uniqueness, authentication,
// the last admin.
func testRegistryManagers(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("M1")
	admin := e.manager("root@example.com", devices.Role{Role: devices.RoleAdmin})
	e.wantEvents(devices.ManagerActor(admin.ID), "manager.create", 1)
	mm := e.manager("Mia@Example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: w.ID})
	if mm.PasswordHash == "" || strings.Contains(mm.PasswordHash, regPassword) {
		t.Errorf("CreateManager() password hash = %q", mm.PasswordHash)
	}
	_, err := e.reg.CreateManager(e.ctx, regAdmin, devices.ManagerInput{Email: " mia@EXAMPLE.com", FirstName: "A", LastName: "B", Password: regPassword})
	regWantErr(t, "CreateManager(taken email, other case)", err, devices.ErrExists)

	for name, in := range map[string]devices.ManagerInput{
		"weak password":      {Email: "w@example.com", FirstName: "A", LastName: "B", Password: "password"},
		"bad email":          {Email: "nope", FirstName: "A", LastName: "B", Password: regPassword},
		"admin with a site":  {Email: "x@example.com", FirstName: "A", LastName: "B", Password: regPassword, Roles: []devices.Role{{Role: devices.RoleAdmin, WarehouseID: w.ID}}},
		"manager with none":  {Email: "y@example.com", FirstName: "A", LastName: "B", Password: regPassword, Roles: []devices.Role{{Role: devices.RoleUserManager}}},
		"unknown warehouse":  {Email: "z@example.com", FirstName: "A", LastName: "B", Password: regPassword, Roles: []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: "wh_missing"}}},
		"unknown role":       {Email: "v@example.com", FirstName: "A", LastName: "B", Password: regPassword, Roles: []devices.Role{{Role: "owner"}}},
		"missing first name": {Email: "u@example.com", LastName: "B", Password: regPassword},
	} {
		_, err := e.reg.CreateManager(e.ctx, regAdmin, in)
		regWantErr(t, "CreateManager("+name+")", err, devices.ErrInvalid)
	}
	var pe *devices.PolicyError
	if _, err := e.reg.CreateManager(e.ctx, regAdmin, devices.ManagerInput{Email: "w@example.com", FirstName: "A", LastName: "B", Password: "correct-horse-42"}); !errors.As(err, &pe) || pe.Rule != "missing_upper" {
		t.Errorf("CreateManager(no upper-case) = %v; want rule missing_upper", err)
	}

	for _, tt := range []struct {
		email, pw string
		want      error
	}{
		{"mia@example.com", regPassword, nil},
		{" MIA@example.com ", regPassword, nil},
		{"mia@example.com", "Correct-Horse-43", devices.ErrInvalidCredentials},
		{"nobody@example.com", regPassword, devices.ErrInvalidCredentials},
		{"not an email", regPassword, devices.ErrInvalidCredentials},
	} {
		_, err := e.reg.AuthenticateManager(e.ctx, tt.email, tt.pw)
		regWantErr(t, fmt.Sprintf("AuthenticateManager(%q)", tt.email), err, tt.want)
	}
	disabled := devices.ManagerDisabled
	if _, err := e.reg.UpdateManager(e.ctx, regAdmin, mm.ID, devices.ManagerPatch{Status: &disabled}); err != nil {
		t.Fatalf("UpdateManager(disable) = %v", err)
	}
	e.wantEvents(devices.ManagerActor(mm.ID), "manager.update", 1)
	_, err = e.reg.AuthenticateManager(e.ctx, "mia@example.com", regPassword)
	regWantErr(t, "AuthenticateManager(disabled, right password)", err, devices.ErrDisabled)

	// The last active admin stays.
	_, err = e.reg.UpdateManager(e.ctx, regAdmin, admin.ID, devices.ManagerPatch{Status: &disabled})
	regWantErr(t, "UpdateManager(disable the last admin)", err, devices.ErrState)
	_, err = e.reg.UpdateManager(e.ctx, regAdmin, admin.ID, devices.ManagerPatch{Roles: &[]devices.Role{{Role: devices.RoleUserManager, WarehouseID: w.ID}}})
	regWantErr(t, "UpdateManager(demote the last admin)", err, devices.ErrState)
	err = e.reg.DeleteManager(e.ctx, regAdmin, admin.ID)
	regWantErr(t, "DeleteManager(the last admin)", err, devices.ErrState)
	second := e.manager("second@example.com", devices.Role{Role: devices.RoleAdmin})
	if err := e.reg.DeleteManager(e.ctx, regAdmin, admin.ID); err != nil {
		t.Fatalf("DeleteManager(an admin of two) = %v", err)
	}
	e.wantEvents(devices.ManagerActor(admin.ID), "manager.delete", 1)
	_, err = e.reg.Manager(e.ctx, admin.ID)
	regWantErr(t, "Manager(deleted)", err, devices.ErrNotFound)
	_, err = e.reg.AuthenticateManager(e.ctx, "root@example.com", regPassword)
	regWantErr(t, "AuthenticateManager(deleted)", err, devices.ErrInvalidCredentials)

	// A password change takes effect at once.
	pw := "Another-Horse-77"
	if _, err := e.reg.UpdateManager(e.ctx, regAdmin, second.ID, devices.ManagerPatch{Password: &pw}); err != nil {
		t.Fatalf("UpdateManager(password) = %v", err)
	}
	_, err = e.reg.AuthenticateManager(e.ctx, "second@example.com", regPassword)
	regWantErr(t, "AuthenticateManager(old password)", err, devices.ErrInvalidCredentials)
	_, err = e.reg.AuthenticateManager(e.ctx, "second@example.com", pw)
	regWantErr(t, "AuthenticateManager(new password)", err, nil)
	weak := "short"
	_, err = e.reg.UpdateManager(e.ctx, regAdmin, second.ID, devices.ManagerPatch{Password: &weak})
	regWantErr(t, "UpdateManager(weak password)", err, devices.ErrInvalid)
}

// testEnsureAdmin: the first admin is created once, with a generated
// password that passes the policy.
func testEnsureAdmin(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	m, created, generated, err := e.reg.EnsureAdmin(e.ctx, "Boss@Example.com", "")
	if err != nil || !created || generated == "" {
		t.Fatalf("EnsureAdmin(empty store) = created %v, generated %d characters, %v; want created with a password", created, len(generated), err)
	}
	if err := e.reg.CheckPassword(generated); err != nil {
		t.Errorf("generated password fails the policy: %v", err)
	}
	if got, err := e.reg.AuthenticateManager(e.ctx, "boss@example.com", generated); err != nil || got.ID != m.ID {
		t.Errorf("AuthenticateManager(generated) = %s, %v; want %s", got.ID, err, m.ID)
	}
	if len(m.Roles) != 1 || m.Roles[0].Role != devices.RoleAdmin {
		t.Errorf("EnsureAdmin() roles = %v; want admin", m.Roles)
	}
	e.wantEvents(devices.ManagerActor(m.ID), "manager.create", 1)
	again, created, generated, err := e.reg.EnsureAdmin(e.ctx, "other@example.com", "")
	if err != nil || created || generated != "" || again.ID != m.ID {
		t.Errorf("EnsureAdmin(again) = %s, created %v, generated %q, %v; want %s, false, \"\", nil", again.ID, created, generated, err, m.ID)
	}

	e2 := newRegEnv(t, h)
	_, created, generated, err = e2.reg.EnsureAdmin(e2.ctx, "", "Given-Password-99")
	if err != nil || !created || generated != "" {
		t.Errorf("EnsureAdmin(given password) = created %v, generated %q, %v; want created, none generated", created, generated, err)
	}
	if _, err := e2.reg.AuthenticateManager(e2.ctx, devices.DefaultAdminEmail, "Given-Password-99"); err != nil {
		t.Errorf("AuthenticateManager(%s) = %v; want nil", devices.DefaultAdminEmail, err)
	}
}

// testRegistryManagerTokens: idle and absolute expiry on the clock.
func testRegistryManagerTokens(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w := e.warehouse("T1")
	m := e.manager("tok@example.com", devices.Role{Role: devices.RoleUserManager, WarehouseID: w.ID})
	tok, mt, err := e.reg.IssueManagerToken(e.ctx, m.ID)
	if err != nil || !strings.HasPrefix(tok.Reveal(), devices.ManagerTokenPrefix) || mt.Hash != tok.Hash() {
		t.Fatalf("IssueManagerToken() = %+v, %v", mt, err)
	}
	if !mt.ExpiresAt.Equal(e.clock.Now().Add(devices.ManagerTokenAbsolute)) {
		t.Errorf("ExpiresAt = %v; want now + 12h", mt.ExpiresAt)
	}
	check := func(when string, want error) {
		t.Helper()
		got, err := e.reg.AuthenticateManagerToken(e.ctx, tok)
		regWantErr(t, "AuthenticateManagerToken("+when+")", err, want)
		if want == nil && got.ID != m.ID {
			t.Errorf("AuthenticateManagerToken(%s) = %s; want %s", when, got.ID, m.ID)
		}
	}
	check("fresh", nil)
	e.clock.Advance(14 * time.Minute)
	check("after 14 idle minutes", nil)
	e.clock.Advance(14 * time.Minute)
	check("14 minutes after the last use", nil)
	e.clock.Advance(15 * time.Minute)
	check("after 15 idle minutes", devices.ErrInvalidCredentials)
	check("after expiry, again", devices.ErrInvalidCredentials)

	// In use every 10 minutes, it still ends 12 hours after it began.
	tok, mt, err = e.reg.IssueManagerToken(e.ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for e.clock.Now().Add(10 * time.Minute).Before(mt.ExpiresAt) {
		e.clock.Advance(10 * time.Minute)
		check(e.clock.Now().Sub(mt.CreatedAt).String()+" after issue", nil)
	}
	e.clock.Advance(10 * time.Minute)
	check("after 12 hours", devices.ErrInvalidCredentials)

	// Revoked, disabled and garbage tokens fail.
	tok, _, _ = e.reg.IssueManagerToken(e.ctx, m.ID)
	check("new", nil)
	if err := e.reg.RevokeManagerTokens(e.ctx, m.ID, tok); err != nil {
		t.Fatal(err)
	}
	check("revoked", devices.ErrInvalidCredentials)
	tok, _, _ = e.reg.IssueManagerToken(e.ctx, m.ID)
	disabled := devices.ManagerDisabled
	if _, err := e.reg.UpdateManager(e.ctx, regAdmin, m.ID, devices.ManagerPatch{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	check("of a disabled manager", devices.ErrInvalidCredentials)
	_, _, err = e.reg.IssueManagerToken(e.ctx, m.ID)
	regWantErr(t, "IssueManagerToken(disabled)", err, devices.ErrDisabled)
	for _, bad := range []devices.Token{"", "fgm_x", token.New(devices.ManagerTokenPrefix), token.New(devices.DeviceTokenPrefix)} {
		_, err := e.reg.AuthenticateManagerToken(e.ctx, bad)
		regWantErr(t, "AuthenticateManagerToken(garbage)", err, devices.ErrInvalidCredentials)
	}
}

// testRegistryServiceKeys: create, authenticate, revoke, and the cache
// of another instance expiring on the clock.
func testRegistryServiceKeys(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	k, tok, err := e.reg.CreateServiceKey(e.ctx, regAdmin, "WMS", devices.ScopeIntrospect)
	if err != nil || !strings.HasPrefix(tok.Reveal(), devices.ServiceKeyPrefix) || k.Hash != tok.Hash() {
		t.Fatalf("CreateServiceKey() = %+v, %v", k, err)
	}
	e.wantEvents(devices.ServiceKeyActor(k.ID), "service_key.create", 1)
	_, _, err = e.reg.CreateServiceKey(e.ctx, regAdmin, "bad", "root")
	regWantErr(t, "CreateServiceKey(unknown scope)", err, devices.ErrInvalid)

	other := e.registry(regParams, 5*time.Second)
	for name, r := range map[string]*devices.Registry{"this": e.reg, "other": other} {
		got, err := r.AuthenticateServiceKey(e.ctx, tok)
		if err != nil || got.ID != k.ID || got.Scope != devices.ScopeIntrospect {
			t.Fatalf("AuthenticateServiceKey(%s instance) = %+v, %v; want %s", name, got, err, k.ID)
		}
	}
	if got, _ := e.store.ServiceKey(e.ctx, k.ID); got.LastUsedAt == nil || !got.LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("LastUsedAt = %v; want %v", got.LastUsedAt, e.clock.Now())
	}
	if _, err := e.reg.RevokeServiceKey(e.ctx, regAdmin, k.ID); err != nil {
		t.Fatalf("RevokeServiceKey() = %v", err)
	}
	e.wantEvents(devices.ServiceKeyActor(k.ID), "service_key.revoke", 1)
	_, err = e.reg.AuthenticateServiceKey(e.ctx, tok)
	regWantErr(t, "AuthenticateServiceKey(revoked here)", err, devices.ErrInvalidCredentials)
	_, err = other.AuthenticateServiceKey(e.ctx, tok)
	regWantErr(t, "AuthenticateServiceKey(revoked elsewhere, within the cache time)", err, nil)
	e.clock.Advance(5 * time.Second)
	_, err = other.AuthenticateServiceKey(e.ctx, tok)
	regWantErr(t, "AuthenticateServiceKey(revoked elsewhere, after the cache time)", err, devices.ErrInvalidCredentials)
	for _, bad := range []devices.Token{"", "fgk_x", token.New(devices.ServiceKeyPrefix)} {
		_, err := e.reg.AuthenticateServiceKey(e.ctx, bad)
		regWantErr(t, "AuthenticateServiceKey(garbage)", err, devices.ErrInvalidCredentials)
	}
	keys, err := e.reg.ServiceKeys(e.ctx, devices.Page{})
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Errorf("ServiceKeys() = %+v, %v; want the one revoked key", keys, err)
	}
}

// testSettingsAndWarehouses: validation, overrides, unique codes.
func testSettingsAndWarehouses(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	s, err := e.reg.Settings(e.ctx)
	if err != nil || s.SessionCap != devices.DefaultSettings().SessionCap {
		t.Fatalf("Settings() = %+v, %v; want the defaults", s, err)
	}
	zero, five := 0, 5
	_, err = e.reg.UpdateSettings(e.ctx, regAdmin, devices.SettingsOverride{SessionCap: &zero})
	var v *devices.ValidationError
	if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[0].Field != "session_cap" {
		t.Errorf("UpdateSettings(session_cap 0) = %v; want a problem with session_cap", err)
	}
	e.wantEvents("settings", "settings.update", 0)
	s, err = e.reg.UpdateSettings(e.ctx, regAdmin, devices.SettingsOverride{SessionCap: &five})
	if err != nil || s.SessionCap != 5 {
		t.Fatalf("UpdateSettings(session_cap 5) = %+v, %v", s, err)
	}
	e.wantEvents("settings", "settings.update", 1)

	two, deny := 2, devices.DenyNew
	w, err := e.reg.CreateWarehouse(e.ctx, regAdmin, devices.WarehouseInput{Name: "North", Code: "nrt-1",
		Settings: devices.SettingsOverride{SessionCap: &two, CapPolicy: &deny}})
	if err != nil || w.Code != "NRT-1" {
		t.Fatalf("CreateWarehouse(nrt-1) = %+v, %v; want code NRT-1", w, err)
	}
	e.wantEvents(devices.WarehouseSubject(w.ID), "warehouse.create", 1)
	eff, err := e.reg.EffectiveSettings(e.ctx, w.ID)
	if err != nil || eff.SessionCap != 2 || eff.CapPolicy != devices.DenyNew || eff.IdleTimeoutS != s.IdleTimeoutS || eff.Throttle.UserLockS == 0 {
		t.Errorf("EffectiveSettings(%s) = %+v, %v; want cap 2, deny_new, the rest inherited", w.ID, eff, err)
	}
	_, err = e.reg.CreateWarehouse(e.ctx, regAdmin, devices.WarehouseInput{Name: "Other", Code: " NRT-1 "})
	regWantErr(t, "CreateWarehouse(taken code)", err, devices.ErrExists)
	if got, err := e.reg.WarehouseByCode(e.ctx, "nrt-1"); err != nil || got.ID != w.ID {
		t.Errorf("WarehouseByCode(nrt-1) = %s, %v; want %s", got.ID, err, w.ID)
	}
	short := 30
	_, err = e.reg.CreateWarehouse(e.ctx, regAdmin, devices.WarehouseInput{Name: "Bad", Code: "BAD", Settings: devices.SettingsOverride{IdleTimeoutS: &short}})
	regWantErr(t, "CreateWarehouse(idle 30s)", err, devices.ErrInvalid)
	_, err = e.reg.CreateWarehouse(e.ctx, regAdmin, devices.WarehouseInput{Name: "", Code: "a b"})
	if !errors.As(err, &v) || len(v.Fields) != 2 {
		t.Errorf("CreateWarehouse(no name, bad code) = %v; want two problems", err)
	}
	name := "North 2"
	got, err := e.reg.UpdateWarehouse(e.ctx, regAdmin, w.ID, devices.WarehousePatch{Name: &name})
	if err != nil || got.Name != name || got.Code != "NRT-1" || got.Settings.SessionCap == nil {
		t.Errorf("UpdateWarehouse(name) = %+v, %v", got, err)
	}
	e.wantEvents(devices.WarehouseSubject(w.ID), "warehouse.update", 1)
	_, err = e.reg.UpdateSettings(e.ctx, "", devices.SettingsOverride{SessionCap: &five})
	regWantErr(t, "UpdateSettings(no actor)", err, devices.ErrInvalid)
}

// testRecord: callers' events get an id and a time.
func testRecord(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	err := e.reg.Record(e.ctx, devices.Event{Actor: devices.DeviceActor("dev_x"), Action: "login.failure", Subject: "user:usr_x", DeviceID: "dev_x"})
	if err != nil {
		t.Fatalf("Record() = %v", err)
	}
	evs := e.wantEvents("user:usr_x", "login.failure", 1)
	if len(evs) == 1 && (!strings.HasPrefix(evs[0].ID, "evt_") || !evs[0].At.Equal(e.clock.Now())) {
		t.Errorf("recorded event = %+v; want an evt_ id at %v", evs[0], e.clock.Now())
	}
	err = e.reg.Record(e.ctx, devices.Event{Subject: "user:usr_x"})
	regWantErr(t, "Record(no actor or action)", err, devices.ErrInvalid)
}

func ptrTo[T any](v T) *T { return &v }
