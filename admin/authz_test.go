package admin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// action is one admin call, its path built from the env's world.
type action struct {
	name   string
	method string
	path   func(e *env) string
	body   func(e *env) any
}

func act(name, method string, path func(e *env) string, body func(e *env) any) action {
	return action{name: name, method: method, path: path, body: body}
}

func fixed(s string) func(*env) string { return func(*env) string { return s } }

var (
	listUsersA    = act("list users of A", "GET", func(e *env) string { return "/users?warehouse_id=" + e.whA.ID }, nil)
	listUsersAll  = act("list users", "GET", fixed("/users"), nil)
	readUserA     = act("read user of A", "GET", func(e *env) string { return "/users/" + e.userA.ID }, nil)
	suspendUserA  = act("suspend user of A", "POST", func(e *env) string { return "/users/" + e.userA.ID + "/suspend" }, nil)
	suspendUserB  = act("suspend user of B", "POST", func(e *env) string { return "/users/" + e.userB.ID + "/suspend" }, nil)
	deleteUserB   = act("delete user of B", "DELETE", func(e *env) string { return "/users/" + e.userB.ID }, nil)
	resetPINUserB = act("reset PIN of user of B", "POST", func(e *env) string { return "/users/" + e.userB.ID + "/reset-pin" }, func(*env) any { return ResetPINRequest{PIN: "5829"} })
	patchUserB    = act("rename user of B", "PATCH", func(e *env) string { return "/users/" + e.userB.ID }, func(*env) any { return map[string]string{"first_name": "X"} })
	moveUserAToB  = act("move user of A to B", "PATCH", func(e *env) string { return "/users/" + e.userA.ID }, func(e *env) any { return map[string]string{"warehouse_id": e.whB.ID} })
	logoutUserA   = act("log out user of A", "POST", func(e *env) string { return "/users/" + e.userA.ID + "/logout" }, nil)
	unlockUserB   = act("unlock user of B", "POST", func(e *env) string { return "/users/" + e.userB.ID + "/unlock" }, nil)
	createUserA   = act("create user in A", "POST", fixed("/users"), func(e *env) any {
		return CreateUserRequest{Username: "newbie", FirstName: "N", LastName: "B", PIN: "5829", WarehouseID: e.whA.ID}
	})
	createUserB = act("create user in B", "POST", fixed("/users"), func(e *env) any {
		return CreateUserRequest{Username: "newbie", FirstName: "N", LastName: "B", PIN: "5829", WarehouseID: e.whB.ID}
	})
	importUsersA = act("import into A", "POST", fixed("/users/import"), func(e *env) any {
		return "username,first_name,last_name,pin,warehouse_id\nimp1,I,P,5829," + e.whA.ID + "\n"
	})
	exportUsersB   = act("export users of B", "GET", func(e *env) string { return "/users/export?warehouse_id=" + e.whB.ID }, nil)
	readDeviceA    = act("read device of A", "GET", func(e *env) string { return "/devices/" + e.devA.ID }, nil)
	listDevicesA   = act("list devices of A", "GET", func(e *env) string { return "/devices?warehouse_id=" + e.whA.ID }, nil)
	renameDeviceA  = act("rename device of A", "PATCH", func(e *env) string { return "/devices/" + e.devA.ID }, func(*env) any { return map[string]string{"label": "L"} })
	revokeDeviceA  = act("revoke device of A", "POST", func(e *env) string { return "/devices/" + e.devA.ID + "/revoke" }, nil)
	unlockDeviceA  = act("unlock device of A", "POST", func(e *env) string { return "/devices/" + e.devA.ID + "/unlock" }, nil)
	logoutDeviceB  = act("log out device of B", "POST", func(e *env) string { return "/devices/" + e.devB.ID + "/logout" }, nil)
	sessionsWhA    = act("sessions of A", "GET", func(e *env) string { return "/sessions?warehouse_id=" + e.whA.ID }, nil)
	sessionsUserB  = act("sessions of user of B", "GET", func(e *env) string { return "/sessions?user_id=" + e.userB.ID }, nil)
	endSessionA    = act("end session in A", "DELETE", func(e *env) string { return "/sessions/" + e.sessA.Session.ID }, nil)
	endSessionB    = act("end session in B", "DELETE", func(e *env) string { return "/sessions/" + e.sessB.Session.ID }, nil)
	logoutWhA      = act("log out warehouse A", "POST", func(e *env) string { return "/warehouses/" + e.whA.ID + "/logout" }, nil)
	listWarehouses = act("list warehouses", "GET", fixed("/warehouses"), nil)
	readWhB        = act("read warehouse B", "GET", func(e *env) string { return "/warehouses/" + e.whB.ID }, nil)
	createWh       = act("create warehouse", "POST", fixed("/warehouses"), func(*env) any { return devices.WarehouseInput{Name: "New", Code: "NEW"} })
	patchWhA       = act("change warehouse A", "PATCH", func(e *env) string { return "/warehouses/" + e.whA.ID }, func(*env) any { return map[string]string{"name": "Renamed"} })
	patchSettings  = act("change settings", "PATCH", fixed("/settings"), func(*env) any { return map[string]int{"session_cap": 4} })
	readSettings   = act("read settings", "GET", fixed("/settings"), nil)
	listKeys       = act("list service keys", "GET", fixed("/service-keys"), nil)
	createKey      = act("create service key", "POST", fixed("/service-keys"), func(*env) any { return CreateServiceKeyRequest{Name: "k", Scope: "admin"} })
	listAuditAll   = act("list audit", "GET", fixed("/audit"), nil)
	auditB         = act("audit of B", "GET", func(e *env) string { return "/audit?warehouse_id=" + e.whB.ID }, nil)
	createMMA      = act("create mobile manager of A", "POST", fixed("/managers"), func(e *env) any {
		return devices.ManagerInput{Email: "new@example.com", FirstName: "N", LastName: "M", Password: testPassword, Roles: []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID}}}
	})
	createUMA = act("create user manager of A", "POST", fixed("/managers"), func(e *env) any {
		return devices.ManagerInput{Email: "new@example.com", FirstName: "N", LastName: "M", Password: testPassword, Roles: []devices.Role{{Role: devices.RoleUserManager, WarehouseID: e.whA.ID}}}
	})
	createAdmin = act("create admin", "POST", fixed("/managers"), func(e *env) any {
		return devices.ManagerInput{Email: "new@example.com", FirstName: "N", LastName: "M", Password: testPassword, Roles: []devices.Role{{Role: devices.RoleAdmin}}}
	})
	readMMOther   = act("read another mobile manager of A", "GET", func(e *env) string { return "/managers/" + e.managers["mm_a_other"].ID }, nil)
	deleteMMOther = act("delete another mobile manager of A", "DELETE", func(e *env) string { return "/managers/" + e.managers["mm_a_other"].ID }, nil)
	readUMB       = act("read user manager of B", "GET", func(e *env) string { return "/managers/" + e.managers["um_b"].ID }, nil)
	promoteSelf   = act("grant self admin", "PATCH", func(e *env) string { return "/managers/" + e.managers["um_a"].ID }, func(*env) any {
		return map[string]any{"roles": []devices.Role{{Role: devices.RoleAdmin}}}
	})
	readCommandA = act("read command of A", "GET", func(e *env) string { return "/commands/" + e.mkSession(e.userA, e.devA).Ended[0].ID }, nil)
)

// TestAuthorization is the role × action table: each role's allowed and
// refused actions. A refused action changes nothing and is audited.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	type tc struct {
		role string
		a    action
		want int
	}
	tests := []tc{
		// admin: everything.
		{"admin", suspendUserB, 200}, {"admin", createWh, 201}, {"admin", patchWhA, 200}, {"admin", patchSettings, 200},
		{"admin", createKey, 201}, {"admin", createAdmin, 201}, {"admin", revokeDeviceA, 200}, {"admin", listAuditAll, 200},
		// an admin service key: like an admin.
		{"key_admin", listUsersAll, 200}, {"key_admin", createWh, 201}, {"key_admin", suspendUserB, 200}, {"key_admin", listKeys, 200},
		// an introspect key, no token, a garbage token: 401.
		{"key_introspect", listUsersAll, 401}, {"", listUsersAll, 401}, {"fgm_garbage", listUsersAll, 401}, {"fgm_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", readSettings, 401},
		// user_manager of A: users of A, sessions of A.
		{"um_a", listUsersA, 200}, {"um_a", listUsersAll, 200}, {"um_a", readUserA, 200}, {"um_a", suspendUserA, 200},
		{"um_a", createUserA, 201}, {"um_a", importUsersA, 200}, {"um_a", logoutUserA, 200}, {"um_a", sessionsWhA, 200},
		{"um_a", endSessionA, 200}, {"um_a", logoutWhA, 200}, {"um_a", listWarehouses, 200}, {"um_a", readSettings, 200},
		{"um_a", listAuditAll, 200}, {"um_a", createMMA, 201}, {"um_a", readMMOther, 200}, {"um_a", deleteMMOther, 204},
		// ... and nothing of B (404), no devices (403), no admin work (403).
		{"um_a", suspendUserB, 404}, {"um_a", deleteUserB, 404}, {"um_a", resetPINUserB, 404}, {"um_a", patchUserB, 404},
		{"um_a", unlockUserB, 404}, {"um_a", createUserB, 404}, {"um_a", exportUsersB, 404}, {"um_a", moveUserAToB, 404},
		{"um_a", sessionsUserB, 404}, {"um_a", endSessionB, 404}, {"um_a", readWhB, 404}, {"um_a", auditB, 404},
		{"um_a", readDeviceA, 403}, {"um_a", revokeDeviceA, 403}, {"um_a", listDevicesA, 403},
		{"um_a", createWh, 403}, {"um_a", patchWhA, 403}, {"um_a", patchSettings, 403}, {"um_a", listKeys, 403},
		{"um_a", createKey, 403}, {"um_a", createUMA, 403}, {"um_a", createAdmin, 403}, {"um_a", readUMB, 404}, {"um_a", promoteSelf, 403},
		// mobile_manager of A: devices of A, sessions of A.
		{"mm_a", readDeviceA, 200}, {"mm_a", listDevicesA, 200}, {"mm_a", renameDeviceA, 200}, {"mm_a", unlockDeviceA, 200},
		{"mm_a", revokeDeviceA, 200}, {"mm_a", sessionsWhA, 200}, {"mm_a", endSessionA, 200}, {"mm_a", readCommandA, 200},
		{"mm_a", listWarehouses, 200},
		{"mm_a", listUsersA, 403}, {"mm_a", readUserA, 403}, {"mm_a", suspendUserA, 403}, {"mm_a", createUserA, 403},
		{"mm_a", importUsersA, 403}, {"mm_a", listUsersAll, 403}, {"mm_a", createMMA, 403}, {"mm_a", createKey, 403},
		{"mm_a", logoutDeviceB, 404}, {"mm_a", suspendUserB, 404}, {"mm_a", endSessionB, 404}, {"mm_a", readWhB, 404},
		// user_manager of A and mobile_manager of B.
		{"um_a_mm_b", logoutDeviceB, 200}, {"um_a_mm_b", readWhB, 200}, {"um_a_mm_b", suspendUserB, 403}, {"um_a_mm_b", createUserB, 403},
		{"um_a_mm_b", suspendUserA, 200},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		// Refusals change nothing (checked below), so they share one
		// world; allowed actions each get a fresh one.
		shared := newEnv(t, b)
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/%s", tc.role, tc.a.name), func(t *testing.T) {
				e := shared
				if tc.want < 400 {
					// An allowed action changes its own world: it runs
					// beside the others once the refusals are done.
					t.Parallel()
					e = newEnv(t, b)
				}
				e.t = t
				e.clock.Advance(time.Second)
				var body any
				if tc.a.body != nil {
					body = tc.a.body(e)
				}
				path := tc.a.path(e)
				before := len(e.events(devices.EventFilter{}))
				userB := e.userB
				r := e.call(tc.role, tc.a.method, path, body)
				if r.status != tc.want {
					t.Fatalf("%s %s as %s = %d %s; want %d", tc.a.method, path, tc.role, r.status, r.body, tc.want)
				}
				switch tc.want {
				case 401:
					if r.code() != "invalid_token" {
						t.Errorf("code = %q; want invalid_token", r.code())
					}
				case 403, 404:
					want := map[int]string{403: "forbidden", 404: "not_found"}[tc.want]
					if r.code() != want {
						t.Errorf("code = %q; want %s", r.code(), want)
					}
					denied := e.events(devices.EventFilter{Action: "authz.denied", From: e.clock.Now()})
					if len(denied) != 1 {
						t.Errorf("refusal not audited")
					} else if denied[0].Actor == "" || denied[0].Details["status"] != fmt.Sprint(tc.want) {
						t.Errorf("audit = %+v; want actor and status %d", denied[0], tc.want)
					}
					if after := e.events(devices.EventFilter{}); len(after) != before+1 {
						t.Errorf("audit grew by %d; want only the authz.denied event", len(after)-before)
					}
					// Nothing changed: user B, its session, device A.
					u, err := e.reg.User(context.Background(), userB.ID)
					if err != nil || u.Status != devices.UserActive || u.FirstName != userB.FirstName || u.WarehouseID != userB.WarehouseID || !u.UpdatedAt.Equal(userB.UpdatedAt) {
						t.Errorf("user B after refusal = %+v, %v; want unchanged", u, err)
					}
					if _, err := e.sess.Session(context.Background(), e.sessB.Session.ID); err != nil {
						t.Errorf("session B after refusal: %v; want live", err)
					}
					if d, err := e.reg.Device(context.Background(), e.devA.ID); err != nil || d.Status != devices.DeviceActive || d.Label != e.devA.Label {
						t.Errorf("device A after refusal = %+v, %v; want unchanged", d, err)
					}
				}
			})
		}
	})
}

// TestScopedLists checks that lists hold only what the caller's roles cover.
func TestScopedLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	var us Page[devices.User]
	e.expect(200, "um_a", "GET", "/users", nil).decode(t, &us)
	if len(us.Items) != 1 || us.Items[0].ID != e.userA.ID {
		t.Errorf("users seen by um_a = %+v; want only alice", us.Items)
	}
	var ws Page[devices.Warehouse]
	e.expect(200, "mm_a", "GET", "/warehouses", nil).decode(t, &ws)
	if len(ws.Items) != 1 || ws.Items[0].ID != e.whA.ID {
		t.Errorf("warehouses seen by mm_a = %+v; want only A", ws.Items)
	}
	var ds Page[DeviceView]
	e.expect(200, "mm_a", "GET", "/devices", nil).decode(t, &ds)
	if len(ds.Items) != 1 || ds.Items[0].ID != e.devA.ID {
		t.Errorf("devices seen by mm_a = %+v; want only device A", ds.Items)
	}
	var ms Page[devices.Manager]
	e.expect(200, "um_a", "GET", "/managers", nil).decode(t, &ms)
	for _, m := range ms.Items {
		if m.ID != e.managers["mm_a"].ID && m.ID != e.managers["mm_a_other"].ID {
			t.Errorf("um_a sees manager %s (%v); want only mobile managers of A", m.Email, m.Roles)
		}
	}
	if len(ms.Items) != 2 {
		t.Errorf("um_a sees %d managers; want 2", len(ms.Items))
	}
	var evs Page[devices.Event]
	e.expect(200, "um_a", "GET", "/audit", nil).decode(t, &evs)
	for _, ev := range evs.Items {
		if ev.WarehouseID != e.whA.ID {
			t.Errorf("um_a sees audit event %+v of another warehouse", ev)
		}
	}
	r := e.expect(200, "um_a", "GET", "/users/export", nil)
	if want := "alice"; !contains(r.body, want) || contains(r.body, "bruno") {
		t.Errorf("um_a export = %s; want alice only", r.body)
	}
}

func contains(b []byte, s string) bool {
	return len(s) > 0 && string(b) != "" && stringsContains(string(b), s)
}

func stringsContains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
