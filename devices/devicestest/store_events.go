package devicestest

import (
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// This file checks the audit log: appends, filters, newest-first pages,
// and that the database itself refuses to change a row.

func testEvents(t *testing.T, h Harness) {
	f := newFixture(t, h)
	ctx := f.ctx

	e := f.event("login.failure", "user:usr_1", "wh_a")
	e.Actor = devices.DeviceActor("dev_1")
	e.DeviceID = "dev_1"
	e.Details = map[string]string{"reason": "bad_pin", "username": "ana", "note": "ünïcødé \"quoted\""}
	wantErr(t, "AppendEvents(one)", f.s.AppendEvents(ctx, e), nil)
	got := f.allEvents()
	if len(got) != 1 {
		t.Fatalf("Events() = %v; want [%s]", ids(got), e.ID)
	}
	same(t, "Events()[0]", got[0], e)
	wantErr(t, "AppendEvents(none)", f.s.AppendEvents(ctx), nil)

	t.Run("Exists", func(t *testing.T) {
		fresh := f.event("x.y", "s", "")
		err := f.s.AppendEvents(ctx, fresh, e)
		wantErr(t, "AppendEvents(fresh, duplicate id)", err, devices.ErrExists)
		if evs := f.allEvents(); len(evs) != 1 {
			t.Errorf("Events() after failed AppendEvents = %v; want only %s", ids(evs), e.ID)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		f := newFixture(t, h)
		type spec struct{ actor, action, subject, warehouse string }
		specs := []spec{
			{"manager:m1", "user.create", "user:u1", "wh_a"},         // 0
			{"manager:m1", "user.update", "user:u1", "wh_a"},         // 1
			{"manager:m2", "user.suspend", "user:u2", "wh_b"},        // 2
			{"device:d1", "login.success", "user:u1", "wh_a"},        // 3
			{"device:d1", "login.failure", "user:u2", "wh_a"},        // 4
			{"manager:m2", "device.revoke", "device:d1", "wh_a"},     // 5
			{"system", "settings.update", "settings", ""},            // 6
			{"manager:m1", "users.import", "warehouse:wh_b", "wh_b"}, // 7
			{"device:d2", "login.failure", "user:u3", "wh_b"},        // 8
			{"manager:m1", "user.delete", "user:u3", "wh_b"},         // 9
			{"manager:m1", "user", "user:u3", "wh_b"},                // 10
			{"service_key:k1", "user.create", "user:u4", "wh_c"},     // 11
			{"manager:m1", "user.restore", "user:u3", "wh_b"},        // 12
			{"manager:m2", "manager.create", "manager:m3", ""},       // 13
		}
		var evs []devices.Event
		for _, sp := range specs {
			ev := f.event(sp.action, sp.subject, sp.warehouse)
			ev.Actor = sp.actor
			evs = append(evs, ev)
		}
		// Append in two batches, the second of one.
		wantErr(t, "AppendEvents(13)", f.s.AppendEvents(f.ctx, evs[:13]...), nil)
		wantErr(t, "AppendEvents(1)", f.s.AppendEvents(f.ctx, evs[13]), nil)
		newest := func(i ...int) []string { // ids of events i, newest first
			var out []string
			for j := len(i) - 1; j >= 0; j-- {
				out = append(out, evs[i[j]].ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    devices.EventFilter
			want []string
		}{
			{"all", devices.EventFilter{}, newest(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)},
			{"actor m1", devices.EventFilter{Actor: "manager:m1"}, newest(0, 1, 7, 9, 10, 12)},
			{"actor m (no prefix match)", devices.EventFilter{Actor: "manager:m"}, nil},
			{"subject u1", devices.EventFilter{Subject: "user:u1"}, newest(0, 1, 3)},
			{"action exact", devices.EventFilter{Action: "login.failure"}, newest(4, 8)},
			{"action prefix user.", devices.EventFilter{Action: "user."}, newest(0, 1, 2, 9, 11, 12)},
			{"action user (exact, not prefix)", devices.EventFilter{Action: "user"}, newest(10)},
			{"action prefix login.", devices.EventFilter{Action: "login."}, newest(3, 4, 8)},
			{"action login (exact)", devices.EventFilter{Action: "login"}, nil},
			{"warehouse b", devices.EventFilter{WarehouseIDs: []string{"wh_b"}}, newest(2, 7, 8, 9, 10, 12)},
			{"warehouses a c", devices.EventFilter{WarehouseIDs: []string{"wh_c", "wh_a"}}, newest(0, 1, 3, 4, 5, 11)},
			{"warehouses none", devices.EventFilter{WarehouseIDs: []string{}}, nil},
			{"from 3", devices.EventFilter{From: evs[3].At}, newest(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)},
			{"to 3 (exclusive)", devices.EventFilter{To: evs[3].At}, newest(0, 1, 2)},
			{"from 3 to 6", devices.EventFilter{From: evs[3].At, To: evs[6].At}, newest(3, 4, 5)},
			{"from 3 to 6, later zone", devices.EventFilter{From: evs[3].At.In(time.FixedZone("x", 3600)), To: evs[6].At.In(time.FixedZone("y", -7200))}, newest(3, 4, 5)},
			{"actor m1, action user., warehouse b", devices.EventFilter{Actor: "manager:m1", Action: "user.", WarehouseIDs: []string{"wh_b"}}, newest(9, 12)},
			{"actor m1, subject u3, to 12", devices.EventFilter{Actor: "manager:m1", Subject: "user:u3", To: evs[12].At}, newest(9, 10)},
			{"after 9", devices.EventFilter{Page: devices.Page{After: evs[9].ID}}, newest(0, 1, 2, 3, 4, 5, 6, 7, 8)},
			{"after 9, limit 2", devices.EventFilter{Page: devices.Page{After: evs[9].ID, Limit: 2}}, newest(7, 8)},
			{"actor m1 after 9", devices.EventFilter{Actor: "manager:m1", Page: devices.Page{After: evs[9].ID}}, newest(0, 1, 7)},
		} {
			list, err := f.s.Events(f.ctx, tc.f)
			wantErr(t, "Events("+tc.name+")", err, nil)
			wantIDs(t, "Events("+tc.name+")", list, tc.want...)
		}
		pages(t, "Events()", newest(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), func(p devices.Page) ([]devices.Event, error) {
			return f.s.Events(f.ctx, devices.EventFilter{Page: p})
		})
		pages(t, "Events(action user.)", newest(0, 1, 2, 9, 11, 12), func(p devices.Page) ([]devices.Event, error) {
			return f.s.Events(f.ctx, devices.EventFilter{Action: "user.", Page: p})
		})
		list, _ := f.s.Events(f.ctx, devices.EventFilter{Subject: "device:d1"})
		if len(list) == 1 {
			same(t, "Events(subject device:d1)[0]", list[0], evs[5])
		}
	})

	t.Run("DefaultLimit", func(t *testing.T) {
		f := newFixture(t, h)
		var evs []devices.Event
		for range 120 {
			evs = append(evs, f.event("login.success", "user:u", "wh_a"))
		}
		wantErr(t, "AppendEvents(120)", f.s.AppendEvents(f.ctx, evs...), nil)
		list, err := f.s.Events(f.ctx, devices.EventFilter{})
		if err != nil || len(list) != 100 {
			t.Fatalf("Events(limit 0) = %d events, %v; want 100, nil", len(list), err)
		}
		if list[0].ID != evs[119].ID || list[99].ID != evs[20].ID {
			t.Errorf("Events(limit 0) runs %s..%s; want %s..%s", list[0].ID, list[99].ID, evs[119].ID, evs[20].ID)
		}
		users, err := f.s.Users(f.ctx, devices.UserFilter{Page: devices.Page{Limit: 100000}})
		if err != nil || len(users) != 0 {
			t.Errorf("Users(limit 100000) on no users = %d, %v; want 0, nil", len(users), err)
		}
	})
}

func testAuditImmutable(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Fatal("Harness.Tamper is nil; every backend must show its audit rows cannot be changed")
	}
	f := newFixture(t, h)
	e := f.event("user.create", "user:usr_1", "wh_a")
	e.Details = map[string]string{"k": "v"}
	wantErr(t, "AppendEvents()", f.s.AppendEvents(f.ctx, e), nil)
	updateErr, deleteErr := h.Tamper(t, f.s, e.ID)
	if updateErr == nil {
		t.Errorf("UPDATE of an audit row succeeded; want an error")
	}
	if deleteErr == nil {
		t.Errorf("DELETE of an audit row succeeded; want an error")
	}
	got := f.allEvents()
	if len(got) != 1 {
		t.Fatalf("Events() after tampering = %v; want [%s]", ids(got), e.ID)
	}
	same(t, "Events()[0] after tampering", got[0], e)
	// Sealing is the one change allowed, once; a sealed row is as fixed.
	if n, err := f.s.SealAudit(f.ctx, 10); n != 1 || err != nil {
		t.Fatalf("SealAudit() = %d, %v; want 1, nil", n, err)
	}
	updateErr, deleteErr = h.Tamper(t, f.s, e.ID)
	if updateErr == nil || deleteErr == nil {
		t.Errorf("UPDATE, DELETE of a sealed audit row = %v, %v; want errors", updateErr, deleteErr)
	}
	got = f.allEvents()
	if len(got) != 1 {
		t.Fatalf("Events() after tampering = %v; want [%s]", ids(got), e.ID)
	}
	same(t, "Events()[0] after tampering a sealed row", got[0], e)
}
