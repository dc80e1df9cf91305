package devicestest

import (
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// This file checks the organisation's records: settings, warehouses,
// managers with their roles, and manager tokens.

func testSettings(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx

	got, err := f.s.Settings(ctx)
	if err != nil {
		t.Fatalf("Settings() = %v; want nil", err)
	}
	same(t, "Settings() before any save", got, devices.DefaultSettings())

	boom := errors.New("boom")
	_, err = f.s.UpdateSettings(ctx, func(s *devices.Settings) (devices.Event, error) {
		s.SessionCap = 9
		return f.event("settings.update", "settings", ""), boom
	})
	wantErr(t, "UpdateSettings(fn fails)", err, boom)
	got, _ = f.s.Settings(ctx)
	same(t, "Settings() after failed update", got, devices.DefaultSettings())

	ev := f.event("settings.update", "settings", "")
	want := devices.DefaultSettings()
	want.SessionCap = 5
	want.CapPolicy = devices.DenyNew
	want.MinAppVersion = "4.2.0"
	want.Throttle.SprayUsers = 7
	updated, err := f.s.UpdateSettings(ctx, func(s *devices.Settings) (devices.Event, error) {
		same(t, "UpdateSettings fn argument", *s, devices.DefaultSettings())
		*s = want
		return ev, nil
	})
	if err != nil {
		t.Fatalf("UpdateSettings() = %v; want nil", err)
	}
	same(t, "UpdateSettings() result", updated, want)
	got, _ = f.s.Settings(ctx)
	same(t, "Settings() after update", got, want)
	wantIDs(t, "Events(subject settings)", f.events("settings"), ev.ID)

	// A second update sees the first.
	_, err = f.s.UpdateSettings(ctx, func(s *devices.Settings) (devices.Event, error) {
		if s.SessionCap != 5 {
			t.Errorf("second UpdateSettings fn sees SessionCap %d; want 5", s.SessionCap)
		}
		s.IdleTimeoutS = 60
		return devices.Event{}, nil
	})
	if err != nil {
		t.Fatalf("UpdateSettings() = %v; want nil", err)
	}
	got, _ = f.s.Settings(ctx)
	want.IdleTimeoutS = 60
	same(t, "Settings() after second update", got, want)
	wantIDs(t, "Events(subject settings) after an update with no event", f.events("settings"), ev.ID)
}

func testWarehouses(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx

	id, at := f.id("wh_")
	w := devices.Warehouse{
		ID:   id,
		Name: "Rotterdam North",
		Code: "RTM1",
		Settings: devices.SettingsOverride{
			SessionCap:    ptr(2),
			CapPolicy:     ptr(devices.DenyNew),
			MinAppVersion: ptr(""),
			Throttle:      &devices.Throttle{PairFreeFailures: 1},
		},
		CreatedAt: at,
		UpdatedAt: at.Add(time.Second),
	}
	ev := f.event("warehouse.create", devices.WarehouseSubject(id), id)
	if err := f.s.CreateWarehouse(ctx, w, ev); err != nil {
		t.Fatalf("CreateWarehouse() = %v; want nil", err)
	}
	got, err := f.s.Warehouse(ctx, id)
	wantErr(t, "Warehouse(id)", err, nil)
	same(t, "Warehouse(id)", got, w)
	got, err = f.s.WarehouseByCode(ctx, "RTM1")
	wantErr(t, "WarehouseByCode(RTM1)", err, nil)
	same(t, "WarehouseByCode(RTM1)", got, w)
	wantIDs(t, "Events(subject warehouse)", f.events(devices.WarehouseSubject(id)), ev.ID)

	t.Run("NotFound", func(t *testing.T) {
		_, err := f.s.Warehouse(ctx, "wh_missing")
		wantErr(t, "Warehouse(missing)", err, devices.ErrNotFound)
		_, err = f.s.WarehouseByCode(ctx, "NOPE")
		wantErr(t, "WarehouseByCode(NOPE)", err, devices.ErrNotFound)
		called := false
		_, err = f.s.UpdateWarehouse(ctx, "wh_missing", func(*devices.Warehouse) (devices.Event, error) {
			called = true
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateWarehouse(missing)", err, devices.ErrNotFound)
		if called {
			t.Errorf("UpdateWarehouse(missing) called fn")
		}
	})

	t.Run("Exists", func(t *testing.T) {
		dupCode := devices.Warehouse{ID: "wh_other", Name: "x", Code: "RTM1", CreatedAt: at, UpdatedAt: at}
		err := f.s.CreateWarehouse(ctx, dupCode, f.event("warehouse.create", "warehouse:wh_other", ""))
		wantErr(t, "CreateWarehouse(same code)", err, devices.ErrExists)
		dupID := w
		dupID.Code = "RTM9"
		err = f.s.CreateWarehouse(ctx, dupID, f.event("warehouse.create", "warehouse:dup", ""))
		wantErr(t, "CreateWarehouse(same id)", err, devices.ErrExists)
		if evs := f.events("warehouse:wh_other"); len(evs) != 0 {
			t.Errorf("failed CreateWarehouse left events %v", ids(evs))
		}
	})

	t.Run("Update", func(t *testing.T) {
		other := f.warehouse("AMS1")
		uev := f.event("warehouse.update", devices.WarehouseSubject(id), id)
		want := w
		want.Name = "Rotterdam"
		want.Settings = devices.SettingsOverride{IdleTimeoutS: ptr(600)}
		want.UpdatedAt = f.at
		got, err := f.s.UpdateWarehouse(ctx, id, func(x *devices.Warehouse) (devices.Event, error) {
			same(t, "UpdateWarehouse fn argument", *x, w)
			x.Name = want.Name
			x.Settings = want.Settings
			x.UpdatedAt = want.UpdatedAt
			return uev, nil
		})
		wantErr(t, "UpdateWarehouse()", err, nil)
		same(t, "UpdateWarehouse()", got, want)
		got, _ = f.s.Warehouse(ctx, id)
		same(t, "Warehouse() after update", got, want)
		wantIDs(t, "Events(subject warehouse)", f.events(devices.WarehouseSubject(id)), uev.ID, ev.ID)

		_, err = f.s.UpdateWarehouse(ctx, id, func(x *devices.Warehouse) (devices.Event, error) {
			x.Code = other.Code
			return f.event("warehouse.update", devices.WarehouseSubject(id), id), nil
		})
		wantErr(t, "UpdateWarehouse(code taken)", err, devices.ErrExists)
		got, _ = f.s.Warehouse(ctx, id)
		same(t, "Warehouse() after failed update", got, want)
		wantIDs(t, "Events(subject warehouse) after failed update", f.events(devices.WarehouseSubject(id)), uev.ID, ev.ID)
	})

	t.Run("List", func(t *testing.T) {
		f := newFixture(t, h)
		var all []string
		for _, code := range []string{"A", "B", "C", "D", "E", "F", "G"} {
			all = append(all, f.warehouse(code).ID)
		}
		pages(t, "Warehouses()", all, func(p devices.Page) ([]devices.Warehouse, error) {
			return f.s.Warehouses(ctx, devices.WarehouseFilter{Page: p})
		})
		list, err := f.s.Warehouses(ctx, devices.WarehouseFilter{IDs: []string{}})
		wantErr(t, "Warehouses(IDs empty)", err, nil)
		wantIDs(t, "Warehouses(IDs empty)", list)
		scope := []string{all[5], all[1], all[3], "wh_missing"}
		list, err = f.s.Warehouses(ctx, devices.WarehouseFilter{IDs: scope})
		wantErr(t, "Warehouses(IDs)", err, nil)
		wantIDs(t, "Warehouses(IDs)", list, all[1], all[3], all[5])
		list, err = f.s.Warehouses(ctx, devices.WarehouseFilter{IDs: scope, Page: devices.Page{After: all[1], Limit: 1}})
		wantErr(t, "Warehouses(IDs, after)", err, nil)
		wantIDs(t, "Warehouses(IDs, after, limit 1)", list, all[3])
	})
}

func testManagers(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	wa, wb := f.warehouse("WA"), f.warehouse("WB")

	id, at := f.id("mgr_")
	m := devices.Manager{
		ID:           id,
		Email:        "Ann.Lee@Example.com",
		FirstName:    "Ann",
		LastName:     "Lee",
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$cGFzcw",
		Status:       devices.ManagerActive,
		Roles: []devices.Role{
			{Role: devices.RoleUserManager, WarehouseID: wb.ID},
			{Role: devices.RoleAdmin},
			{Role: devices.RoleMobileManager, WarehouseID: wa.ID},
			{Role: devices.RoleUserManager, WarehouseID: wa.ID},
		},
		CreatedAt: at,
		UpdatedAt: at,
	}
	ev := f.event("manager.create", devices.ManagerActor(id), "")
	if err := f.s.CreateManager(ctx, m, ev); err != nil {
		t.Fatalf("CreateManager() = %v; want nil", err)
	}
	got, err := f.s.Manager(ctx, id)
	wantErr(t, "Manager(id)", err, nil)
	same(t, "Manager(id)", got, m)
	got, err = f.s.ManagerByEmail(ctx, "ann.lee@example.com")
	wantErr(t, "ManagerByEmail(ann.lee@example.com)", err, nil)
	same(t, "ManagerByEmail(ann.lee@example.com)", got, m)
	wantIDs(t, "Events(subject manager)", f.events(devices.ManagerActor(id)), ev.ID)

	t.Run("NotFound", func(t *testing.T) {
		_, err := f.s.Manager(ctx, "mgr_missing")
		wantErr(t, "Manager(missing)", err, devices.ErrNotFound)
		_, err = f.s.ManagerByEmail(ctx, "nobody@example.com")
		wantErr(t, "ManagerByEmail(nobody)", err, devices.ErrNotFound)
		_, err = f.s.UpdateManager(ctx, "mgr_missing", func(*devices.Manager) (devices.Event, error) {
			t.Errorf("UpdateManager(missing) called fn")
			return devices.Event{}, nil
		})
		wantErr(t, "UpdateManager(missing)", err, devices.ErrNotFound)
		err = f.s.DeleteManager(ctx, "mgr_missing", f.event("manager.delete", "manager:mgr_missing", ""))
		wantErr(t, "DeleteManager(missing)", err, devices.ErrNotFound)
		if evs := f.events("manager:mgr_missing"); len(evs) != 0 {
			t.Errorf("DeleteManager(missing) appended events %v", ids(evs))
		}
		bad := devices.Manager{ID: "mgr_badrole", Email: "bad@example.com", Status: devices.ManagerActive,
			Roles: []devices.Role{{Role: devices.RoleUserManager, WarehouseID: "wh_missing"}}, CreatedAt: f.at, UpdatedAt: f.at}
		err = f.s.CreateManager(ctx, bad, f.event("manager.create", "manager:mgr_badrole", ""))
		wantErr(t, "CreateManager(role on missing warehouse)", err, devices.ErrNotFound)
		_, err = f.s.Manager(ctx, "mgr_badrole")
		wantErr(t, "Manager(after failed create)", err, devices.ErrNotFound)
	})

	t.Run("Exists", func(t *testing.T) {
		for _, email := range []string{"ann.lee@example.com", "ANN.LEE@EXAMPLE.COM"} {
			dup := m
			dup.ID = "mgr_dup"
			dup.Email = email
			err := f.s.CreateManager(ctx, dup, f.event("manager.create", "manager:mgr_dup", ""))
			wantErr(t, "CreateManager("+email+")", err, devices.ErrExists)
		}
		dupID := m
		dupID.Email = "someone.else@example.com"
		err := f.s.CreateManager(ctx, dupID, f.event("manager.create", "manager:dup", ""))
		wantErr(t, "CreateManager(same id)", err, devices.ErrExists)
		if evs := f.events("manager:mgr_dup"); len(evs) != 0 {
			t.Errorf("failed CreateManager appended events %v", ids(evs))
		}
	})

	t.Run("Update", func(t *testing.T) {
		uev := f.event("manager.update", devices.ManagerActor(id), "")
		want := m
		want.Email = "ann@example.com"
		want.FirstName = "Annie"
		want.Status = devices.ManagerDisabled
		want.PasswordHash = "new-hash"
		want.Roles = []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: wb.ID}}
		want.UpdatedAt = f.at
		got, err := f.s.UpdateManager(ctx, id, func(x *devices.Manager) (devices.Event, error) {
			same(t, "UpdateManager fn argument", *x, m)
			*x = want
			return uev, nil
		})
		wantErr(t, "UpdateManager()", err, nil)
		same(t, "UpdateManager()", got, want)
		got, _ = f.s.Manager(ctx, id)
		same(t, "Manager() after update", got, want)
		_, err = f.s.ManagerByEmail(ctx, "ann.lee@example.com")
		wantErr(t, "ManagerByEmail(old email)", err, devices.ErrNotFound)
		got, err = f.s.ManagerByEmail(ctx, "ann@example.com")
		wantErr(t, "ManagerByEmail(new email)", err, nil)
		same(t, "ManagerByEmail(new email)", got, want)

		other := f.manager("other@example.com")
		_, err = f.s.UpdateManager(ctx, other.ID, func(x *devices.Manager) (devices.Event, error) {
			x.Email = "Ann@example.com"
			return f.event("manager.update", devices.ManagerActor(other.ID), ""), nil
		})
		wantErr(t, "UpdateManager(email taken)", err, devices.ErrExists)
		got, _ = f.s.Manager(ctx, other.ID)
		same(t, "Manager() after failed update", got, other)

		boom := errors.New("boom")
		_, err = f.s.UpdateManager(ctx, id, func(x *devices.Manager) (devices.Event, error) {
			x.Roles = nil
			return f.event("manager.update", devices.ManagerActor(id), ""), boom
		})
		wantErr(t, "UpdateManager(fn fails)", err, boom)
		got, _ = f.s.Manager(ctx, id)
		same(t, "Manager() after fn failed", got, want)
		wantIDs(t, "Events(subject manager)", f.events(devices.ManagerActor(id)), uev.ID, ev.ID)
	})

	t.Run("Delete", func(t *testing.T) {
		m := f.manager("gone@example.com", devices.Role{Role: devices.RoleAdmin}, devices.Role{Role: devices.RoleUserManager, WarehouseID: wa.ID})
		tok := devices.ManagerToken{Hash: token.New(devices.ManagerTokenPrefix).Hash(), ManagerID: m.ID, CreatedAt: f.at, LastUsedAt: f.at, ExpiresAt: f.at.Add(time.Hour)}
		if err := f.s.CreateManagerToken(ctx, tok); err != nil {
			t.Fatalf("CreateManagerToken() = %v; want nil", err)
		}
		dev := f.event("manager.delete", devices.ManagerActor(m.ID), "")
		if err := f.s.DeleteManager(ctx, m.ID, dev); err != nil {
			t.Fatalf("DeleteManager() = %v; want nil", err)
		}
		_, err := f.s.Manager(ctx, m.ID)
		wantErr(t, "Manager(deleted)", err, devices.ErrNotFound)
		_, err = f.s.ManagerByEmail(ctx, "gone@example.com")
		wantErr(t, "ManagerByEmail(deleted)", err, devices.ErrNotFound)
		_, err = f.s.ManagerToken(ctx, tok.Hash)
		wantErr(t, "ManagerToken(of deleted manager)", err, devices.ErrNotFound)
		evs := f.events(devices.ManagerActor(m.ID))
		if len(evs) != 2 || evs[0].ID != dev.ID {
			t.Errorf("Events(subject deleted manager) = %v; want [%s, create event]", ids(evs), dev.ID)
		}
		// The email is free again, and no role of the old account remains.
		again := f.manager("gone@example.com")
		got, _ := f.s.Manager(ctx, again.ID)
		same(t, "Manager(recreated)", got, again)
		err = f.s.DeleteManager(ctx, m.ID, f.event("manager.delete", devices.ManagerActor(m.ID), ""))
		wantErr(t, "DeleteManager(twice)", err, devices.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		f := newFixture(t, h)
		wa, wb, wc := f.warehouse("WA"), f.warehouse("WB"), f.warehouse("WC")
		admin := f.manager("admin@example.com", devices.Role{Role: devices.RoleAdmin})
		umA := f.manager("um-a@example.com", devices.Role{Role: devices.RoleUserManager, WarehouseID: wa.ID})
		mmB := f.manager("mm-b@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: wb.ID})
		both := f.manager("both@example.com",
			devices.Role{Role: devices.RoleMobileManager, WarehouseID: wa.ID},
			devices.Role{Role: devices.RoleUserManager, WarehouseID: wb.ID},
			devices.Role{Role: devices.RoleUserManager, WarehouseID: wc.ID})
		none := f.manager("none@example.com")
		extra := []string{
			f.manager("e1@example.com").ID,
			f.manager("e2@example.com").ID,
		}
		all := append([]string{admin.ID, umA.ID, mmB.ID, both.ID, none.ID}, extra...)
		pages(t, "Managers()", all, func(p devices.Page) ([]devices.Manager, error) {
			return f.s.Managers(ctx, devices.ManagerFilter{Page: p})
		})
		list, err := f.s.Managers(ctx, devices.ManagerFilter{})
		wantErr(t, "Managers()", err, nil)
		if len(list) == 7 {
			same(t, "Managers()[3]", list[3], both)
		}
		for _, tc := range []struct {
			name string
			f    devices.ManagerFilter
			want []string
		}{
			{"role admin", devices.ManagerFilter{Role: devices.RoleAdmin}, []string{admin.ID}},
			{"role user_manager", devices.ManagerFilter{Role: devices.RoleUserManager}, []string{umA.ID, both.ID}},
			{"role mobile_manager", devices.ManagerFilter{Role: devices.RoleMobileManager}, []string{mmB.ID, both.ID}},
			{"warehouse A", devices.ManagerFilter{WarehouseIDs: []string{wa.ID}}, []string{umA.ID, both.ID}},
			{"warehouses B C", devices.ManagerFilter{WarehouseIDs: []string{wb.ID, wc.ID}}, []string{mmB.ID, both.ID}},
			{"warehouses none", devices.ManagerFilter{WarehouseIDs: []string{}}, nil},
			{"user_manager of A", devices.ManagerFilter{Role: devices.RoleUserManager, WarehouseIDs: []string{wa.ID}}, []string{umA.ID}},
			{"mobile_manager of A", devices.ManagerFilter{Role: devices.RoleMobileManager, WarehouseIDs: []string{wa.ID}}, []string{both.ID}},
			{"admin of A", devices.ManagerFilter{Role: devices.RoleAdmin, WarehouseIDs: []string{wa.ID}}, nil},
			{"user_manager after umA", devices.ManagerFilter{Role: devices.RoleUserManager, Page: devices.Page{After: umA.ID}}, []string{both.ID}},
		} {
			list, err := f.s.Managers(ctx, tc.f)
			wantErr(t, "Managers("+tc.name+")", err, nil)
			wantIDs(t, "Managers("+tc.name+")", list, tc.want...)
		}
	})
}

func testManagerTokens(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx
	m1, m2 := f.manager("one@example.com"), f.manager("two@example.com")
	token := func(managerID string) devices.ManagerToken {
		_, at := f.id("")
		return devices.ManagerToken{
			Hash:       token.New(devices.ManagerTokenPrefix).Hash(),
			ManagerID:  managerID,
			CreatedAt:  at,
			LastUsedAt: at,
			ExpiresAt:  at.Add(12 * time.Hour),
		}
	}
	a, b, c := token(m1.ID), token(m1.ID), token(m2.ID)
	for _, tok := range []devices.ManagerToken{a, b, c} {
		if err := f.s.CreateManagerToken(ctx, tok); err != nil {
			t.Fatalf("CreateManagerToken() = %v; want nil", err)
		}
	}
	got, err := f.s.ManagerToken(ctx, a.Hash)
	wantErr(t, "ManagerToken(a)", err, nil)
	same(t, "ManagerToken(a)", got, a)
	// ManagerTokensOf: one manager's, newest first (b was made after a).
	list, err := f.s.ManagerTokensOf(ctx, m1.ID)
	wantErr(t, "ManagerTokensOf(m1)", err, nil)
	same(t, "ManagerTokensOf(m1)", list, []devices.ManagerToken{b, a})
	list, err = f.s.ManagerTokensOf(ctx, "mgr_missing")
	wantErr(t, "ManagerTokensOf(missing)", err, nil)
	if list == nil || len(list) != 0 {
		t.Errorf("ManagerTokensOf(missing) = %#v; want an empty list", list)
	}

	wantErr(t, "CreateManagerToken(same hash)", f.s.CreateManagerToken(ctx, a), devices.ErrExists)
	wantErr(t, "CreateManagerToken(missing manager)", f.s.CreateManagerToken(ctx, token("mgr_missing")), devices.ErrNotFound)
	_, err = f.s.ManagerToken(ctx, "0000")
	wantErr(t, "ManagerToken(missing)", err, devices.ErrNotFound)
	wantErr(t, "TouchManagerToken(missing)", f.s.TouchManagerToken(ctx, "0000", f.at), devices.ErrNotFound)

	used := f.at.Add(time.Minute)
	wantErr(t, "TouchManagerToken(a)", f.s.TouchManagerToken(ctx, a.Hash, used), nil)
	got, _ = f.s.ManagerToken(ctx, a.Hash)
	a.LastUsedAt = used
	same(t, "ManagerToken(a) after touch", got, a)

	wantErr(t, "DeleteManagerTokens(m1, a)", f.s.DeleteManagerTokens(ctx, m1.ID, a.Hash), nil)
	_, err = f.s.ManagerToken(ctx, a.Hash)
	wantErr(t, "ManagerToken(a) after delete", err, devices.ErrNotFound)
	_, err = f.s.ManagerToken(ctx, b.Hash)
	wantErr(t, "ManagerToken(b) after deleting a", err, nil)
	// A hash of another manager is not deleted through m2.
	wantErr(t, "DeleteManagerTokens(m2, b)", f.s.DeleteManagerTokens(ctx, m2.ID, b.Hash), nil)
	_, err = f.s.ManagerToken(ctx, b.Hash)
	wantErr(t, "ManagerToken(b) after DeleteManagerTokens(m2, b)", err, nil)

	wantErr(t, "DeleteManagerTokens(m1, all)", f.s.DeleteManagerTokens(ctx, m1.ID, ""), nil)
	_, err = f.s.ManagerToken(ctx, b.Hash)
	wantErr(t, "ManagerToken(b) after deleting all of m1", err, devices.ErrNotFound)
	_, err = f.s.ManagerToken(ctx, c.Hash)
	wantErr(t, "ManagerToken(c of m2) after deleting all of m1", err, nil)
	wantErr(t, "DeleteManagerTokens(m1, all) again", f.s.DeleteManagerTokens(ctx, m1.ID, ""), nil)

	// DeleteOtherManagerTokens keeps the one named and other managers'.
	d, e2 := token(m1.ID), token(m1.ID)
	wantErr(t, "CreateManagerToken(d)", f.s.CreateManagerToken(ctx, d), nil)
	wantErr(t, "CreateManagerToken(e)", f.s.CreateManagerToken(ctx, e2), nil)
	wantErr(t, "DeleteOtherManagerTokens(m1, keep d)", f.s.DeleteOtherManagerTokens(ctx, m1.ID, d.Hash), nil)
	_, err = f.s.ManagerToken(ctx, d.Hash)
	wantErr(t, "ManagerToken(d) kept", err, nil)
	_, err = f.s.ManagerToken(ctx, e2.Hash)
	wantErr(t, "ManagerToken(e) after DeleteOtherManagerTokens", err, devices.ErrNotFound)
	_, err = f.s.ManagerToken(ctx, c.Hash)
	wantErr(t, "ManagerToken(c of m2) after DeleteOtherManagerTokens(m1)", err, nil)
	wantErr(t, "DeleteOtherManagerTokens(m1, keep none)", f.s.DeleteOtherManagerTokens(ctx, m1.ID, ""), nil)
	_, err = f.s.ManagerToken(ctx, d.Hash)
	wantErr(t, "ManagerToken(d) after DeleteOtherManagerTokens(m1, none)", err, devices.ErrNotFound)
}
