package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/signin"
)

// TestDataExport drives the data exports over HTTP on both backends: an
// admin downloads a mobile user's data (record, badge, warehouse,
// devices and sessions from custody, events about them) and a manager's
// (record, roles, warehouses, events), as JSON attachments that hold no
// hash nor secret; each download is audited; every other role is
// refused the same way whether or not the id exists; an unknown or
// malformed id is a 404 problem.
func TestDataExport(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		u := e.userA
		const badge = "EXPORT-BADGE-77"
		e.expect(200, "admin", "PUT", "/users/"+u.ID+"/badge", SetBadgeRequest{Badge: badge})
		set, err := e.reg.EffectiveSettings(ctx, e.whA.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.signin.Login(ctx, signin.Login{Device: e.devA, Settings: set, Badge: badge, PIN: "4821"})
		if err != nil {
			t.Fatalf("badge login: %v", err)
		}
		// A refused sign-in under the username is about them too.
		if _, err := e.signin.Login(ctx, signin.Login{Device: e.devA, Settings: set, Username: u.Username, PIN: "0000"}); err == nil {
			t.Fatalf("login with a wrong PIN succeeded")
		}
		stored, err := e.store.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, err := e.store.Badge(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}

		r := e.expect(200, "admin", "GET", "/users/"+u.ID+"/data-export", nil)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q; want application/json", ct)
		}
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="floorgate-user-`+u.ID+`.json"` {
			t.Errorf("Content-Disposition = %q; want an attachment", cd)
		}
		body := string(r.body)
		for _, secret := range []string{stored.PINHash, key.Key, badge, string(res.Created.Token), "pin_hash", "badge_changes", "token_hash"} {
			if secret != "" && strings.Contains(body, secret) {
				t.Errorf("the user's export holds %q", secret)
			}
		}
		var ud UserDataExport
		r.decode(t, &ud)
		if ud.Kind != "user" || ud.User.ID != u.ID || ud.User.Username != u.Username || ud.Warehouse.ID != e.whA.ID {
			t.Errorf("export = %+v; want alice in warehouse A", ud)
		}
		if ud.Badge == nil || ud.Badge.SetBy != devices.ManagerActor(e.managers["admin"].ID) {
			t.Errorf("badge = %+v; want set by the admin", ud.Badge)
		}
		if len(ud.Sessions) != 1 || ud.Sessions[0].SessionID != res.Created.Session.ID || ud.Sessions[0].Method != devices.MethodBadge {
			t.Errorf("sessions = %+v; want the badge session", ud.Sessions)
		}
		if len(ud.Devices) != 1 || ud.Devices[0].ID != e.devA.ID {
			t.Errorf("devices = %+v; want device A", ud.Devices)
		}
		actions := map[string]bool{}
		for _, ev := range ud.Events {
			actions[ev.Action] = true
		}
		for _, want := range []string{"user.create", "user.badge_set", "login.success", "login.failure"} {
			if !actions[want] {
				t.Errorf("events %v: no %s", actions, want)
			}
		}
		if len(ud.Truncated) != 0 {
			t.Errorf("truncated = %v; want nothing", ud.Truncated)
		}
		// The download is audited, naming who and whom.
		evs := e.events(devices.EventFilter{Action: "user.data_export"})
		if len(evs) != 1 || evs[0].Actor != devices.ManagerActor(e.managers["admin"].ID) || evs[0].Subject != devices.UserActor(u.ID) ||
			evs[0].WarehouseID != e.whA.ID || evs[0].Details["sessions"] != "1" {
			t.Errorf("data export events = %+v; want one by the admin about alice", evs)
		}

		// A manager's export.
		m := e.managers["um_a_mm_b"]
		stm, err := e.store.Manager(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		r = e.expect(200, "key_admin", "GET", "/managers/"+m.ID+"/data-export", nil)
		if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
			t.Errorf("Content-Disposition = %q; want an attachment", cd)
		}
		if strings.Contains(string(r.body), stm.PasswordHash) || strings.Contains(string(r.body), e.tokens["um_a_mm_b"]) {
			t.Errorf("the manager's export holds their password hash or token")
		}
		var md ManagerDataExport
		r.decode(t, &md)
		if md.Kind != "manager" || md.Manager.ID != m.ID || len(md.Manager.Roles) != 2 || len(md.Warehouses) != 2 || len(md.SignIns) != 1 {
			t.Errorf("manager export = %+v; want two roles in two warehouses and their one sign-in", md)
		}
		if len(md.Events) == 0 || md.Events[len(md.Events)-1].Action != "manager.create" {
			t.Errorf("manager events = %+v; want their creation last (newest first)", md.Events)
		}
		if evs := e.events(devices.EventFilter{Action: "manager.data_export"}); len(evs) != 1 || evs[0].Subject != devices.ManagerActor(m.ID) {
			t.Errorf("manager data export events = %+v; want one", evs)
		}

		// Every other role: 403, the same for an id that exists (in or
		// out of their warehouses) and one that does not; nothing is
		// exported or recorded as exported.
		var first []byte
		for _, role := range []string{"um_a", "mm_a", "um_b", "mm_b", "um_a_mm_b", "key_introspect"} {
			for _, path := range []string{"/users/" + u.ID, "/users/" + e.userB.ID, "/users/usr_nobody", "/managers/" + m.ID, "/managers/mgr_nobody"} {
				r := e.call(role, "GET", path+"/data-export", nil)
				if role == "key_introspect" {
					if r.status != 401 && r.status != 403 {
						t.Errorf("GET %s/data-export as %s = %d; want refused", path, role, r.status)
					}
					continue
				}
				if r.status != 403 || r.code() != "forbidden" {
					t.Errorf("GET %s/data-export as %s = %d %s; want 403 forbidden", path, role, r.status, r.body)
				}
				if first == nil {
					first = r.body
				} else if string(r.body) != string(first) {
					t.Errorf("GET %s/data-export as %s = %s; want the same body as every refusal (%s)", path, role, r.body, first)
				}
			}
		}
		if evs := e.events(devices.EventFilter{Action: "user.data_export"}); len(evs) != 1 {
			t.Errorf("%d user data exports recorded after the refusals; want 1", len(evs))
		}
		if evs := e.events(devices.EventFilter{Action: "authz.denied", Subject: devices.UserActor("usr_nobody")}); len(evs) == 0 {
			t.Errorf("a refused export is not audited")
		}

		// Unknown and malformed ids: a 404 problem, nothing recorded.
		for _, path := range []string{"/users/usr_nobody", "/managers/mgr_nobody", "/users/%20", "/users/..%2F..", "/managers/" + strings.Repeat("x", 300), "/users/" + m.ID, "/managers/" + u.ID} {
			r := e.call("admin", "GET", path+"/data-export", nil)
			var p Problem
			if err := json.Unmarshal(r.body, &p); r.status != 404 || err != nil || p.Code != "not_found" ||
				!strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("GET %s/data-export = %d %s %s; want a 404 not_found problem", path, r.status, r.header.Get("Content-Type"), r.body)
			}
		}
		if n := len(e.events(devices.EventFilter{Action: "user.data_export"})) + len(e.events(devices.EventFilter{Action: "manager.data_export"})); n != 2 {
			t.Errorf("%d exports recorded; want 2", n)
		}

		// A deleted user's data can still be exported (until the purge).
		e.expect(200, "admin", "DELETE", "/users/"+e.userB.ID, nil)
		var del UserDataExport
		e.expect(200, "admin", "GET", "/users/"+e.userB.ID+"/data-export", nil).decode(t, &del)
		if del.User.Status != devices.UserDeleted {
			t.Errorf("deleted user's export status = %q; want deleted", del.User.Status)
		}
	})
}
