package devicestest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// testRegistryUserData checks the data exports through the Registry: a
// user's record, badge, warehouse, the devices of their sessions and
// the sessions themselves from custody (past a page), and the events
// about them (as actor, as subject, under their username or badge; past
// a page; each once, newest first), nobody else's; a manager's record,
// roles' warehouses and events; no hash in either's JSON; ErrNotFound
// for an id that names nobody.
func testRegistryUserData(t *testing.T, h Harness) {
	e := newRegEnv(t, h)
	w, w2 := e.warehouse("DX1"), e.warehouse("DX2")
	u := e.user("dora", w.ID, "4821")
	v := e.user("vic", w.ID, "5931")
	m := e.manager("mia.dx@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: w.ID},
		devices.Role{Role: devices.RoleUserManager, WarehouseID: w2.ID})
	var devs []devices.Device
	for i := range 2 {
		d, _, _, err := e.reg.Enroll(e.ctx, m.ID, devices.EnrollInput{WarehouseID: w.ID, Serial: fmt.Sprintf("DX-%d", i), Model: "TC52"})
		regWantErr(t, "Enroll", err, nil)
		devs = append(devs, d)
	}
	_, _, err := e.reg.SetBadge(e.ctx, regAdmin, u.ID, "DX-BADGE-1")
	regWantErr(t, "SetBadge", err, nil)

	// 520 sessions of dora (past a page of 500), on both devices; one of vic.
	for i := range 520 {
		c := devices.Custody{SessionID: fmt.Sprintf("ses_dx_%04d", i), DeviceID: devs[i%2].ID, UserID: u.ID, WarehouseID: w.ID,
			Method: devices.MethodPIN, StartedAt: regStart.Add(time.Duration(i) * time.Minute)}
		regWantErr(t, "StartCustody", e.reg.StartCustody(e.ctx, c), nil)
	}
	regWantErr(t, "StartCustody(vic)", e.reg.StartCustody(e.ctx, devices.Custody{SessionID: "ses_dx_vic", DeviceID: devs[0].ID,
		UserID: v.ID, WarehouseID: w.ID, Method: devices.MethodPIN, StartedAt: regStart}), nil)

	// 505 events by dora (past a page), one about her by a device, one
	// under her username, one about her badge, one by and about her
	// (once in the export), and vic's.
	var evs []devices.Event
	for i := range 505 {
		evs = append(evs, devices.Event{Actor: devices.UserActor(u.ID), Action: "logout", Subject: devices.DeviceActor(devs[0].ID),
			At: regStart.Add(time.Duration(i) * time.Second)})
	}
	evs = append(evs,
		devices.Event{Actor: devices.DeviceActor(devs[1].ID), Action: "sessions.end", Subject: devices.UserActor(u.ID)},
		devices.Event{Actor: devices.DeviceActor(devs[1].ID), Action: "login.failure", Subject: "username:" + u.UsernameKey},
		devices.Event{Actor: regAdmin, Action: "user.badge_test", Subject: devices.UserBadgeSubject(u.ID)},
		devices.Event{Actor: devices.UserActor(u.ID), Action: "login.success", Subject: devices.UserActor(u.ID)},
		devices.Event{Actor: devices.UserActor(v.ID), Action: "login.success", Subject: devices.UserActor(v.ID)},
		devices.Event{Actor: devices.DeviceActor(devs[1].ID), Action: "login.failure", Subject: "username:" + v.UsernameKey},
	)
	regWantErr(t, "Record", e.reg.Record(e.ctx, evs...), nil)

	d, err := e.reg.UserData(e.ctx, u.ID)
	regWantErr(t, "UserData(dora)", err, nil)
	if d.User.ID != u.ID || d.Warehouse.ID != w.ID || d.Badge == nil || d.Badge.SetBy != regAdmin {
		t.Errorf("UserData(dora) = user %s, warehouse %s, badge %+v; want dora, %s, her badge", d.User.ID, d.Warehouse.ID, d.Badge, w.ID)
	}
	if len(d.Sessions) != 520 || d.Sessions[0].SessionID != "ses_dx_0519" || d.Sessions[519].SessionID != "ses_dx_0000" {
		t.Errorf("UserData(dora): %d sessions; want 520, newest first", len(d.Sessions))
	}
	for _, c := range d.Sessions {
		if c.UserID != u.ID {
			t.Errorf("UserData(dora) holds session %+v", c)
		}
	}
	if len(d.Devices) != 2 {
		t.Errorf("UserData(dora): devices %+v; want the two", d.Devices)
	}
	counts := map[string]int{}
	seen := map[string]bool{}
	for i, ev := range d.Events {
		counts[ev.Action]++
		if seen[ev.ID] {
			t.Errorf("UserData(dora): event %s twice", ev.ID)
		}
		seen[ev.ID] = true
		if i > 0 && d.Events[i-1].ID < ev.ID {
			t.Errorf("UserData(dora): events not newest first at %d", i)
		}
		if strings.Contains(ev.Actor+ev.Subject, v.ID) || ev.Subject == "username:"+v.UsernameKey {
			t.Errorf("UserData(dora) holds vic's event %+v", ev)
		}
	}
	for action, n := range map[string]int{"logout": 505, "sessions.end": 1, "login.failure": 1, "user.badge_test": 1, "login.success": 1, "user.create": 1, "user.badge_set": 1} {
		if counts[action] != n {
			t.Errorf("UserData(dora): %d %s events; want %d (all: %v)", counts[action], action, n, counts)
		}
	}
	if len(d.Truncated) != 0 {
		t.Errorf("UserData(dora).Truncated = %v; want none", d.Truncated)
	}
	stored, err := e.store.User(e.ctx, u.ID)
	regWantErr(t, "store.User", err, nil)
	key, err := e.store.Badge(e.ctx, u.ID)
	regWantErr(t, "store.Badge", err, nil)
	j, err := json.Marshal(d)
	regWantErr(t, "json.Marshal(UserData)", err, nil)
	for _, secret := range []string{stored.PINHash, key.Key, "DX-BADGE-1"} {
		if strings.Contains(string(j), secret) {
			t.Errorf("UserData(dora) JSON holds %q", secret)
		}
	}

	// A user with nothing but their record.
	d, err = e.reg.UserData(e.ctx, v.ID)
	regWantErr(t, "UserData(vic)", err, nil)
	if d.Badge != nil || len(d.Sessions) != 1 || len(d.Devices) != 1 {
		t.Errorf("UserData(vic) = badge %+v, %d sessions, %d devices; want none, 1, 1", d.Badge, len(d.Sessions), len(d.Devices))
	}
	_, err = e.reg.UserData(e.ctx, "usr_missing")
	regWantErr(t, "UserData(missing)", err, devices.ErrNotFound)
	_, err = e.reg.UserData(e.ctx, m.ID)
	regWantErr(t, "UserData(a manager's id)", err, devices.ErrNotFound)

	// A manager.
	regWantErr(t, "Record(manager)", e.reg.Record(e.ctx,
		devices.Event{Actor: devices.DeviceActor(devs[0].ID), Action: "manager.login_failure", Subject: "email:mia.dx@example.com"},
		devices.Event{Actor: devices.ManagerActor(m.ID), Action: "user.suspend", Subject: devices.UserActor(v.ID)}), nil)
	tok, _, err := e.reg.IssueManagerToken(e.ctx, m.ID)
	regWantErr(t, "IssueManagerToken", err, nil)
	md, err := e.reg.ManagerData(e.ctx, m.ID)
	regWantErr(t, "ManagerData", err, nil)
	if len(md.SignIns) != 1 || md.SignIns[0].ManagerID != m.ID {
		t.Errorf("ManagerData.SignIns = %+v; want the one token", md.SignIns)
	}
	if j, _ := json.Marshal(md); strings.Contains(string(j), tok.Reveal()) || strings.Contains(string(j), tok.Hash()) {
		t.Errorf("ManagerData JSON holds the token or its hash")
	}
	if md.Manager.ID != m.ID || len(md.Manager.Roles) != 2 || len(md.Warehouses) != 2 {
		t.Errorf("ManagerData = %+v; want mia with two roles in two warehouses", md)
	}
	counts = map[string]int{}
	for _, ev := range md.Events {
		counts[ev.Action]++
	}
	for action, n := range map[string]int{"manager.create": 1, "device.enroll": 2, "manager.login_failure": 1, "user.suspend": 1} {
		if counts[action] != n {
			t.Errorf("ManagerData: %d %s events; want %d (all: %v)", counts[action], action, n, counts)
		}
	}
	sm, err := e.store.Manager(e.ctx, m.ID)
	regWantErr(t, "store.Manager", err, nil)
	if j, _ := json.Marshal(md); sm.PasswordHash == "" || strings.Contains(string(j), sm.PasswordHash) {
		t.Errorf("ManagerData JSON holds the password hash (or there is none)")
	}
	_, err = e.reg.ManagerData(e.ctx, "mgr_missing")
	regWantErr(t, "ManagerData(missing)", err, devices.ErrNotFound)
}
