package devicestest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/token"
)

// runStore checks the Store contract itself, the same for every backend:
// round trips that keep every field (times to the microsecond, returned in
// UTC or any zone, compared with Equal), ErrNotFound and ErrExists at the
// edge, the unique rules, the filters and keyset pages of store.go, the
// all-or-nothing writes, and the append-only audit log.
//
// Conventions the suite fixes where store.go is silent:
//   - An Event with an empty ID is not appended (an Update fn that changed
//     nothing returns the zero Event).
//   - Creating or updating a record that points at a missing warehouse or
//     manager returns ErrNotFound.
//   - Update methods call fn only when the record exists; the record's id
//     cannot be changed by fn.
//   - EventFilter.From is inclusive and To exclusive.
//   - ManagerFilter.WarehouseIDs (not nil) keeps managers holding a
//     per-warehouse role (of Role, when set) on one of those warehouses;
//     the organisation-wide admin role matches no warehouse.
//   - EnrollDevice revokes the replaced device with RevokedAt = the new
//     device's EnrolledAt.
//   - TouchDevices never moves LastSeenAt backwards (an older sighting
//     changes nothing, app version included) and ignores unknown ids;
//     TouchServiceKey and TouchManagerToken return ErrNotFound for unknown
//     ones; DeleteManagerTokens only deletes the given manager's tokens,
//     and deleting nothing is not an error.
//   - UserFilter.Q also matches a prefix of UsernameKey; % and _ in Q are
//     literal.
//   - Page.Limit above 500 is treated as 500, not refused.
//   - Concurrent EnrollDevice calls for one serial each succeed or return
//     ErrExists, and leave exactly one active record.
//   - PurgeUsers removes users deleted strictly before the cutoff.
//   - Manager.Roles come back in any order.
func runStore(t *testing.T, h Harness) {
	t.Run("Ping", func(t *testing.T) {
		s := h.Open(t)
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("Ping = %v; want nil", err)
		}
	})
	t.Run("Settings", func(t *testing.T) { t.Parallel(); testSettings(t, h) })
	t.Run("Warehouses", func(t *testing.T) { t.Parallel(); testWarehouses(t, h) })
	t.Run("Managers", func(t *testing.T) { t.Parallel(); testManagers(t, h) })
	t.Run("ManagerTokens", func(t *testing.T) { t.Parallel(); testManagerTokens(t, h) })
	t.Run("Users", func(t *testing.T) { t.Parallel(); testUsers(t, h) })
	t.Run("UserFilters", func(t *testing.T) { t.Parallel(); testUserFilters(t, h) })
	t.Run("UpdateUser", func(t *testing.T) { t.Parallel(); testUpdateUser(t, h) })
	t.Run("PurgeUsers", func(t *testing.T) { t.Parallel(); testPurgeUsers(t, h) })
	t.Run("Devices", func(t *testing.T) { t.Parallel(); testDevices(t, h) })
	t.Run("DeviceFilters", func(t *testing.T) { t.Parallel(); testDeviceFilters(t, h) })
	t.Run("ServiceKeys", func(t *testing.T) { t.Parallel(); testServiceKeys(t, h) })
	t.Run("EnrollmentTokens", func(t *testing.T) { t.Parallel(); testEnrollmentTokens(t, h) })
	t.Run("Badges", func(t *testing.T) { t.Parallel(); testBadges(t, h) })
	t.Run("Custody", func(t *testing.T) { t.Parallel(); testCustody(t, h) })
	t.Run("ManagerLinks", func(t *testing.T) { t.Parallel(); testManagerLinks(t, h) })
	t.Run("Events", func(t *testing.T) { t.Parallel(); testEvents(t, h) })
	t.Run("AuditImmutable", func(t *testing.T) { t.Parallel(); testAuditImmutable(t, h) })
	t.Run("AuditChain", func(t *testing.T) { t.Parallel(); testAuditChain(t, h) })
	t.Run("ErrorContract", func(t *testing.T) { t.Parallel(); testErrorContract(t, h) })
}

// t0 has microseconds but no nanoseconds: every backend keeps it exactly.
var t0 = time.Date(2025, 3, 14, 6, 30, 15, 123456000, time.UTC)

// fixture hands out ids and times that grow by a millisecond each call, so
// that ids sort in the order they were made (NewID has millisecond
// resolution).
type fixture struct {
	t   *testing.T
	s   devices.Store
	ctx context.Context
	at  time.Time
}

func newFixture(t *testing.T, h Harness) *fixture {
	t.Helper()
	return &fixture{t: t, s: h.Open(t), ctx: context.Background(), at: t0}
}

// id returns a fresh id with prefix and the time it was made at.
func (f *fixture) id(prefix string) (string, time.Time) {
	f.at = f.at.Add(time.Millisecond)
	return id.New(prefix, f.at), f.at
}

// event returns an event about subject.
func (f *fixture) event(action, subject, warehouseID string) devices.Event {
	id, at := f.id("evt_")
	return devices.Event{
		ID:          id,
		At:          at,
		Actor:       devices.ActorSystem,
		Action:      action,
		Subject:     subject,
		WarehouseID: warehouseID,
	}
}

func (f *fixture) warehouse(code string) devices.Warehouse {
	f.t.Helper()
	id, at := f.id("wh_")
	w := devices.Warehouse{ID: id, Name: "Warehouse " + code, Code: code, CreatedAt: at, UpdatedAt: at}
	if err := f.s.CreateWarehouse(f.ctx, w, f.event("warehouse.create", devices.WarehouseSubject(id), id)); err != nil {
		f.t.Fatalf("CreateWarehouse(%q) = %v; want nil", code, err)
	}
	return w
}

func (f *fixture) newUser(warehouseID, username string) devices.User {
	id, at := f.id("usr_")
	return devices.User{
		ID:                id,
		Username:          username,
		UsernameKey:       strings.ToLower(username),
		FirstName:         "First " + username,
		LastName:          "Last " + username,
		WarehouseID:       warehouseID,
		PINHash:           "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
		PINChangeRequired: true,
		Status:            devices.UserActive,
		CreatedAt:         at,
		UpdatedAt:         at,
	}
}

func (f *fixture) user(warehouseID, username string) devices.User {
	f.t.Helper()
	u := f.newUser(warehouseID, username)
	if err := f.s.CreateUsers(f.ctx, []devices.User{u}, []devices.Event{f.event("user.create", devices.UserActor(u.ID), warehouseID)}); err != nil {
		f.t.Fatalf("CreateUsers(%q) = %v; want nil", username, err)
	}
	return u
}

func (f *fixture) manager(email string, roles ...devices.Role) devices.Manager {
	f.t.Helper()
	id, at := f.id("mgr_")
	m := devices.Manager{
		ID:           id,
		Email:        email,
		FirstName:    "Manager",
		LastName:     email,
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$cGFzcw",
		Status:       devices.ManagerActive,
		Roles:        roles,
		CreatedAt:    at,
		UpdatedAt:    at,
	}
	if err := f.s.CreateManager(f.ctx, m, f.event("manager.create", devices.ManagerActor(id), "")); err != nil {
		f.t.Fatalf("CreateManager(%q) = %v; want nil", email, err)
	}
	return m
}

func (f *fixture) newDevice(warehouseID, serial string) devices.Device {
	id, at := f.id("dev_")
	return devices.Device{
		ID:          id,
		Serial:      serial,
		WarehouseID: warehouseID,
		Label:       "Dock " + serial,
		Model:       "TC52",
		OSVersion:   "13",
		AppVersion:  "4.2.0",
		// EnrolledAppVersion differs from AppVersion, so that a store
		// mixing the two up fails the suite.
		EnrolledAppVersion: "4.1.0",
		EnrolledBy:         "mgr_x",
		EnrolledAt:         at,
		Status:             devices.DeviceActive,
		TokenHash:          token.New(devices.DeviceTokenPrefix).Hash(),
	}
}

func (f *fixture) device(warehouseID, serial string) devices.Device {
	f.t.Helper()
	d := f.newDevice(warehouseID, serial)
	if _, err := f.s.EnrollDevice(f.ctx, d, f.event("device.enroll", devices.DeviceActor(d.ID), warehouseID)); err != nil {
		f.t.Fatalf("EnrollDevice(%q) = %v; want nil", serial, err)
	}
	return d
}

// events returns every event whose subject is subject, newest first.
func (f *fixture) events(subject string) []devices.Event {
	f.t.Helper()
	evs, err := f.s.Events(f.ctx, devices.EventFilter{Subject: subject, Page: devices.Page{Limit: 500}})
	if err != nil {
		f.t.Fatalf("Events(subject %q) = %v; want nil", subject, err)
	}
	return evs
}

// allEvents returns up to 500 events, newest first.
func (f *fixture) allEvents() []devices.Event {
	f.t.Helper()
	evs, err := f.s.Events(f.ctx, devices.EventFilter{Page: devices.Page{Limit: 500}})
	if err != nil {
		f.t.Fatalf("Events() = %v; want nil", err)
	}
	return evs
}

// wantErr fails unless errors.Is(err, want) (or err is nil when want is).
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s = %v; want nil", call, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s = %v; want %v", call, err, want)
	}
}

// same fails unless got and want are equal after canonical.
func same[T any](t *testing.T, call string, got, want T) {
	t.Helper()
	g, w := canonical(got), canonical(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s =\n  %+v\nwant\n  %+v", call, g, w)
	}
}

// canonical returns a deep copy of x in which every time is in UTC and
// truncated to the microsecond, every empty slice or map is nil and every
// Manager's roles are sorted, so that values read from any backend compare
// with reflect.DeepEqual.
func canonical[T any](x T) T {
	v := reflect.New(reflect.TypeOf(&x).Elem()).Elem()
	v.Set(reflect.ValueOf(&x).Elem())
	canon(v)
	return v.Interface().(T)
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	managerType = reflect.TypeOf(devices.Manager{})
)

func canon(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		tm := v.Interface().(time.Time)
		v.Set(reflect.ValueOf(tm.UTC().Truncate(time.Microsecond)))
		return
	case v.Type() == managerType:
		m := v.Addr().Interface().(*devices.Manager)
		m.Roles = slices.Clone(m.Roles)
		slices.SortFunc(m.Roles, func(a, b devices.Role) int {
			return strings.Compare(string(a.Role)+"/"+a.WarehouseID, string(b.Role)+"/"+b.WarehouseID)
		})
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(v.Elem())
		canon(p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				canon(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := 0; i < c.Len(); i++ {
			canon(c.Index(i))
		}
		v.Set(c)
	case reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// ids returns the ids of a list, for messages and comparisons.
func ids[T any](list []T) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, reflect.ValueOf(x).FieldByName("ID").String())
	}
	return out
}

// wantIDs fails unless the list holds exactly the ids of want, in order.
func wantIDs[T any](t *testing.T, call string, got []T, want ...string) {
	t.Helper()
	g := ids(got)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(g, want) {
		t.Errorf("%s = ids %v; want %v", call, g, want)
	}
}

// pages reads a whole list three items at a time through list, checking
// that each page but the last is full and that the pages join to want.
func pages[T any](t *testing.T, name string, want []string, list func(devices.Page) ([]T, error)) {
	t.Helper()
	var got []string
	after := ""
	for i := 0; i <= len(want)/3+1; i++ {
		page, err := list(devices.Page{After: after, Limit: 3})
		if err != nil {
			t.Fatalf("%s page %d (after %q) = %v; want nil", name, i, after, err)
		}
		if len(page) > 3 {
			t.Fatalf("%s page %d has %d items; want at most 3", name, i, len(page))
		}
		got = append(got, ids(page)...)
		if len(page) < 3 {
			break
		}
		after = ids(page)[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s by pages of 3 = %v; want %v", name, got, want)
	}
}

func ptr[T any](v T) *T { return &v }
