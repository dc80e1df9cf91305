package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestOpenAPIMatchesRouter fails when a route chi serves is missing from
// the document, or the document names a route chi does not serve.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	served := map[string]bool{}
	err := chi.Walk(e.api.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[strings.ToLower(method)+" "+strings.TrimSuffix(route, "/")] = true
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	r := e.expect(http.StatusOK, "", "GET", "/openapi.json", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.decode(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q; want 3.1.0", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[method+" "+path] = true
			var o struct {
				Responses  map[string]any `json:"responses"`
				Parameters []struct {
					Name, In string
				} `json:"parameters"`
			}
			if err := json.Unmarshal(op, &o); err != nil {
				t.Fatalf("operation %s %s: %v", method, path, err)
			}
			if len(o.Responses) < 2 {
				t.Errorf("%s %s documents %d responses; want a success and its errors", method, path, len(o.Responses))
			}
			if strings.Contains(path, "{id}") && !slices.ContainsFunc(o.Parameters, func(p struct{ Name, In string }) bool { return p.Name == "id" && p.In == "path" }) {
				t.Errorf("%s %s does not document its id parameter", method, path)
			}
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("route %s is served but not in openapi.json", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("openapi.json names %s, which the router does not serve", k)
		}
	}
	if len(served) < 40 {
		t.Errorf("router serves %d routes; want the whole admin table", len(served))
	}
}

// apiTable is the admin API's table of fixed routes (docs/ADMIN.md): fixed paths that scripts rely on.
var apiTable = []string{
	"POST /login",
	"GET /warehouses", "POST /warehouses", "GET /warehouses/{id}", "PATCH /warehouses/{id}",
	"GET /managers", "POST /managers", "GET /managers/{id}", "PATCH /managers/{id}", "DELETE /managers/{id}",
	"GET /users", "POST /users", "GET /users/{id}", "PATCH /users/{id}", "DELETE /users/{id}",
	"POST /users/{id}/suspend", "POST /users/{id}/activate", "POST /users/{id}/restore", "POST /users/{id}/unlock", "POST /users/{id}/logout",
	"POST /users/{id}/reset-pin", "POST /users/import", "GET /users/export",
	"GET /devices", "GET /devices/{id}", "PATCH /devices/{id}",
	"POST /devices/{id}/revoke", "POST /devices/{id}/logout", "POST /devices/{id}/unlock",
	"GET /sessions", "DELETE /sessions/{id}", "POST /warehouses/{id}/logout",
	"GET /commands/{id}", "GET /audit", "GET /audit/export",
	"GET /settings", "PATCH /settings",
	"GET /service-keys", "POST /service-keys", "DELETE /service-keys/{id}",
	"GET /openapi.json",
}

// TestAPITableServed: every method and path of the admin API's fixed table is
// in the route table (which the router serves and the document names).
func TestAPITableServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	served := map[string]bool{}
	for _, rt := range e.api.routes {
		served[rt.Method+" "+rt.Path] = true
	}
	for _, want := range apiTable {
		if !served[want] {
			t.Errorf("the fixed route %s is not served", want)
		}
	}
}

// coverage records which route patterns a test reached.
type coverage struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (c *coverage) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := chi.NewRouteContext()
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		h.ServeHTTP(w, r)
		c.mu.Lock()
		c.seen[r.Method+" "+rctx.RoutePattern()] = true
		c.mu.Unlock()
	})
}

// TestEveryRoute drives every route of the table at least once, as an
// admin, through one story, on every backend.
func TestEveryRoute(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		cov := &coverage{seen: map[string]bool{}}
		e.srv.Config.Handler = cov.wrap(e.api.Handler())
		ctx := context.Background()

		e.expect(200, "", "GET", "/openapi.json", nil)
		// Sign in, who am I, sign out.
		var lr LoginResponse
		e.expect(200, "", "POST", "/login", LoginRequest{Email: "admin@example.com", Password: testPassword}).decode(t, &lr)
		if !strings.HasPrefix(lr.Token, "fgm_") || lr.Manager.Email != "admin@example.com" || !lr.ExpiresAt.After(e.clock.Now()) {
			t.Fatalf("login = %+v; want an fgm_ token for admin@example.com", lr)
		}
		e.tokens["fresh"] = lr.Token
		var me Me
		e.expect(200, "fresh", "GET", "/me", nil).decode(t, &me)
		if !me.Admin || me.Manager == nil || me.Manager.ID != e.managers["admin"].ID {
			t.Errorf("me = %+v; want the admin", me)
		}
		e.expect(204, "fresh", "POST", "/logout", nil)
		if r := e.call("fresh", "GET", "/me", nil); r.status != 401 || r.code() != "invalid_token" {
			t.Errorf("after logout GET /me = %d %s; want 401 invalid_token", r.status, r.body)
		}

		// Warehouses and settings.
		var wh WarehouseView
		e.expect(201, "admin", "POST", "/warehouses", devices.WarehouseInput{Name: "Charlie", Code: "chr"}).decode(t, &wh)
		var whs Page[devices.Warehouse]
		e.expect(200, "admin", "GET", "/warehouses", nil).decode(t, &whs)
		if len(whs.Items) != 3 {
			t.Errorf("GET /warehouses lists %d; want 3", len(whs.Items))
		}
		cap5 := 5
		e.expect(200, "admin", "PATCH", "/warehouses/"+wh.ID, map[string]any{"settings": map[string]any{"session_cap": cap5}}).decode(t, &wh)
		e.expect(200, "admin", "GET", "/warehouses/"+wh.ID, nil).decode(t, &wh)
		if wh.EffectiveSettings == nil || wh.EffectiveSettings.SessionCap != 5 {
			t.Errorf("effective settings = %+v; want session_cap 5", wh.EffectiveSettings)
		}
		var st devices.Settings
		e.expect(200, "admin", "PATCH", "/settings", map[string]any{"idle_timeout_s": 600}).decode(t, &st)
		e.expect(200, "admin", "GET", "/settings", nil).decode(t, &st)
		if st.IdleTimeoutS != 600 {
			t.Errorf("settings idle_timeout_s = %d; want 600", st.IdleTimeoutS)
		}
		if r := e.call("admin", "PATCH", "/settings", map[string]any{"session_cap": 0}); r.status != 400 || r.code() != "invalid_request" {
			t.Errorf("PATCH /settings session_cap 0 = %d %s; want 400 invalid_request", r.status, r.body)
		}

		// Managers.
		var m devices.Manager
		e.expect(201, "admin", "POST", "/managers", devices.ManagerInput{Email: "mia@example.com", FirstName: "Mia", LastName: "Lind", Password: testPassword,
			Roles: []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: wh.ID}}}).decode(t, &m)
		var ms Page[devices.Manager]
		e.expect(200, "admin", "GET", "/managers?role=mobile_manager&warehouse_id="+wh.ID, nil).decode(t, &ms)
		if len(ms.Items) != 1 || ms.Items[0].ID != m.ID {
			t.Errorf("GET /managers filtered = %+v; want mia", ms.Items)
		}
		e.expect(200, "admin", "GET", "/managers/"+m.ID, nil)
		e.expect(200, "admin", "PATCH", "/managers/"+m.ID, map[string]any{"first_name": "Mía"})
		e.expect(200, "admin", "POST", "/managers/"+m.ID+"/unlock", nil)
		e.expect(204, "admin", "DELETE", "/managers/"+m.ID, nil)
		e.expect(404, "admin", "GET", "/managers/"+m.ID, nil)

		// Users.
		var u devices.User
		e.expect(201, "admin", "POST", "/users", CreateUserRequest{Username: "jsmith", FirstName: "Jo", LastName: "Smith", PIN: "4827", WarehouseID: e.whA.ID, EmployeeID: "E-1"}).decode(t, &u)
		if !u.PINChangeRequired {
			t.Errorf("created user pin_change_required = false; want the default true")
		}
		var us Page[devices.User]
		e.expect(200, "admin", "GET", "/users?warehouse_id="+e.whA.ID+"&q=js", nil).decode(t, &us)
		if len(us.Items) != 1 || us.Items[0].ID != u.ID {
			t.Errorf("GET /users?q=js = %+v; want jsmith", us.Items)
		}
		e.expect(200, "admin", "GET", "/users/"+u.ID, nil)
		var act UserActionResponse
		e.expect(200, "admin", "PATCH", "/users/"+u.ID, map[string]any{"language": "es"}).decode(t, &act)
		if act.User.Language != "es" {
			t.Errorf("PATCH language = %q; want es", act.User.Language)
		}
		s1 := e.mkSession(u, e.devA)
		e.expect(200, "admin", "POST", "/users/"+u.ID+"/suspend", nil).decode(t, &act)
		if act.User.Status != devices.UserSuspended || len(act.CommandIDs) != 1 {
			t.Fatalf("suspend = %+v; want suspended with one command", act)
		}
		var cmd CommandView
		e.expect(200, "admin", "GET", "/commands/"+act.CommandIDs[0], nil).decode(t, &cmd)
		if cmd.Reason != sessions.ReasonUserSuspended || cmd.SessionID != s1.Session.ID || cmd.Status != sessions.StatusPending {
			t.Errorf("command = %+v; want pending user_suspended for %s", cmd, s1.Session.ID)
		}
		if err := e.sess.Ack(ctx, e.devA.ID, cmd.CommandID); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		e.expect(200, "admin", "GET", "/commands/"+act.CommandIDs[0], nil).decode(t, &cmd)
		if cmd.Status != sessions.StatusAcked || cmd.AckedAt == nil {
			t.Errorf("command after ack = %+v; want acked", cmd)
		}
		e.expect(200, "admin", "POST", "/users/"+u.ID+"/activate", nil)
		e.mkSession(u, e.devA)
		e.expect(200, "admin", "POST", "/users/"+u.ID+"/reset-pin", ResetPINRequest{PIN: "5938"}).decode(t, &act)
		if !act.User.PINChangeRequired || len(act.CommandIDs) != 1 {
			t.Errorf("reset-pin = %+v; want pin_change_required and one command", act)
		}
		if r := e.call("admin", "POST", "/users/"+u.ID+"/reset-pin", ResetPINRequest{PIN: "1234"}); r.status != 422 || r.code() != "weak_pin" {
			t.Errorf("reset-pin 1234 = %d %s; want 422 weak_pin", r.status, r.body)
		}
		e.expect(200, "admin", "POST", "/users/"+u.ID+"/unlock", nil)
		e.mkSession(u, e.devA)
		e.expect(200, "admin", "POST", "/users/"+u.ID+"/logout", nil).decode(t, &act)
		if len(act.CommandIDs) != 1 {
			t.Errorf("logout command_ids = %v; want one", act.CommandIDs)
		}
		e.mkSession(u, e.devA)
		e.expect(200, "admin", "DELETE", "/users/"+u.ID, nil).decode(t, &act)
		if act.User.Status != devices.UserDeleted || len(act.CommandIDs) != 1 {
			t.Errorf("delete = %+v; want deleted with one command", act)
		}
		e.expect(200, "admin", "POST", "/users/"+u.ID+"/restore", nil).decode(t, &act)
		if act.User.Status != devices.UserActive {
			t.Errorf("restore status = %s; want active", act.User.Status)
		}

		// Import and export.
		var rep ImportReport
		e.expect(200, "admin", "POST", "/users/import?mode=valid_only", "username,first_name,last_name,pin,warehouse_code\nkim,Kim,Lee,5829,ALP\n").decode(t, &rep)
		if rep.Created != 1 {
			t.Errorf("import = %+v; want 1 created", rep)
		}
		r := e.expect(200, "admin", "GET", "/users/export?warehouse_id="+e.whA.ID, nil)
		if !strings.Contains(string(r.body), "kim,Kim,Lee") || strings.Contains(string(r.body), "5829") {
			t.Errorf("export = %s; want kim without the PIN", r.body)
		}

		// Devices.
		var dv DeviceView
		e.mkSession(e.userA, e.devA)
		if err := e.sess.MarkOnline(ctx, "i1", []string{e.devA.ID}, time.Minute); err != nil {
			t.Fatalf("MarkOnline: %v", err)
		}
		var dl Page[DeviceView]
		e.expect(200, "admin", "GET", "/devices?online=true", nil).decode(t, &dl)
		if len(dl.Items) != 1 || dl.Items[0].ID != e.devA.ID {
			t.Errorf("GET /devices?online=true = %+v; want device A", dl.Items)
		}
		e.expect(200, "admin", "GET", "/devices/"+e.devA.ID, nil).decode(t, &dv)
		if !dv.Online || dv.Session == nil {
			t.Errorf("device A = %+v; want online with a session", dv)
		}
		e.expect(200, "admin", "PATCH", "/devices/"+e.devA.ID, map[string]any{"label": "Dock 9"}).decode(t, &dv)
		if dv.Label != "Dock 9" {
			t.Errorf("label = %q; want Dock 9", dv.Label)
		}
		e.expect(200, "admin", "POST", "/devices/"+e.devA.ID+"/unlock", nil)
		var da DeviceActionResponse
		e.expect(200, "admin", "POST", "/devices/"+e.devA.ID+"/logout", nil).decode(t, &da)

		// Sessions.
		var sl Page[SessionView]
		e.expect(200, "admin", "GET", "/sessions?user_id="+e.userB.ID, nil).decode(t, &sl)
		if len(sl.Items) != 1 || sl.Items[0].ID != e.sessB.Session.ID {
			t.Errorf("sessions of user B = %+v; want %s", sl.Items, e.sessB.Session.ID)
		}
		e.expect(200, "admin", "GET", "/sessions?device_id="+e.devB.ID, nil)
		// The board's routes (board_test.go checks what they answer).
		e.expect(200, "admin", "GET", "/warehouses/"+e.whB.ID+"/summary", nil)
		e.expect(200, "admin", "GET", "/warehouses/"+e.whB.ID+"/holders", nil)
		e.expect(200, "admin", "GET", "/warehouses/"+e.whB.ID+"/commands", nil)
		e.expect(200, "admin", "GET", "/users/username?first_name=Jo&last_name=Smith", nil)
		e.expect(200, "admin", "GET", "/sessions?warehouse_id="+e.whB.ID, nil)
		var ci CommandIDsResponse
		e.expect(200, "admin", "DELETE", "/sessions/"+e.sessB.Session.ID, nil).decode(t, &ci)
		if len(ci.CommandIDs) != 1 {
			t.Errorf("DELETE session command_ids = %v; want one", ci.CommandIDs)
		}
		e.mkSession(e.userB, e.devB)
		e.expect(200, "admin", "POST", "/warehouses/"+e.whB.ID+"/logout", nil).decode(t, &ci)
		if len(ci.CommandIDs) != 1 {
			t.Errorf("warehouse logout command_ids = %v; want one", ci.CommandIDs)
		}
		e.mkSession(e.userA, e.devA)
		e.expect(200, "admin", "POST", "/devices/"+e.devA.ID+"/revoke", nil).decode(t, &da)
		if da.Device.Status != devices.DeviceRevoked || len(da.CommandIDs) != 1 {
			t.Errorf("revoke = %+v; want revoked with one command", da)
		}

		// Audit.
		var al Page[devices.Event]
		e.expect(200, "admin", "GET", "/audit?type=user.&page_size=2", nil).decode(t, &al)
		if len(al.Items) != 2 || al.NextPageToken == "" {
			t.Errorf("audit page = %d items, next %q; want 2 and a next page", len(al.Items), al.NextPageToken)
		}
		e.expect(200, "admin", "GET", "/audit?type=user.&page_size=2&page_token="+al.NextPageToken, nil)
		r = e.expect(200, "admin", "GET", "/audit/export?subject=user:"+u.ID, nil)
		if !strings.HasPrefix(string(r.body), "id,at,actor,type") || !strings.Contains(string(r.body), "user.suspend") {
			t.Errorf("audit export = %s; want a CSV with user.suspend", r.body)
		}

		// Service keys.
		var ck CreatedServiceKey
		e.expect(201, "admin", "POST", "/service-keys", CreateServiceKeyRequest{Name: "wms-2", Scope: devices.ScopeIntrospect}).decode(t, &ck)
		if !strings.HasPrefix(ck.Key, "fgk_") {
			t.Errorf("service key = %q; want fgk_…", ck.Key)
		}
		var kl Page[devices.ServiceKey]
		e.expect(200, "admin", "GET", "/service-keys", nil).decode(t, &kl)
		if len(kl.Items) != 3 {
			t.Errorf("service keys listed %d; want 3", len(kl.Items))
		}
		if strings.Contains(string(e.call("admin", "GET", "/service-keys", nil).body), ck.Key) {
			t.Errorf("the list shows a key's secret")
		}
		e.expect(200, "admin", "DELETE", "/service-keys/"+ck.ID, nil)

		// Enrollment tokens.
		var ce CreatedEnrollmentToken
		e.expect(201, "admin", "POST", "/enrollment-tokens", devices.EnrollmentTokenInput{WarehouseID: e.whA.ID}).decode(t, &ce)
		var el Page[EnrollmentTokenView]
		e.expect(200, "admin", "GET", "/enrollment-tokens?state=active", nil).decode(t, &el)
		if len(el.Items) != 1 || el.Items[0].UsesLeft != 1 {
			t.Errorf("enrollment tokens = %+v; want one with a use left", el.Items)
		}
		e.expect(200, "admin", "GET", "/enrollment-tokens/"+ce.EnrollmentToken.ID, nil)
		e.expect(200, "admin", "DELETE", "/enrollment-tokens/"+ce.EnrollmentToken.ID, nil)

		// Badges: set, read (never the value), taken by another, removed.
		var ba BadgeActionResponse
		e.expect(200, "admin", "PUT", "/users/"+u.ID+"/badge", SetBadgeRequest{Badge: "04A2197FC3"}).decode(t, &ba)
		if !ba.Badge.Set || ba.Replaced {
			t.Errorf("PUT badge = %+v; want set, nothing replaced", ba)
		}
		if r := e.expect(200, "admin", "GET", "/users/"+u.ID+"/badge", nil); strings.Contains(string(r.body), "04A2197FC3") {
			t.Errorf("GET badge shows the value: %s", r.body)
		}
		e.expect(200, "admin", "DELETE", "/users/"+u.ID+"/badge", nil)

		// Custody: a record, its list, export and report.
		if err := e.reg.StartCustody(context.Background(), devices.Custody{SessionID: "ses_routes", DeviceID: e.devA.ID, UserID: u.ID, WarehouseID: e.whA.ID}); err != nil {
			t.Fatal(err)
		}
		var cl Page[devices.Custody]
		e.expect(200, "admin", "GET", "/custody?warehouse_id="+e.whA.ID+"&device_id="+e.devA.ID, nil).decode(t, &cl)
		if len(cl.Items) != 1 || cl.Items[0].SessionID != "ses_routes" {
			t.Errorf("custody = %+v; want the one record", cl.Items)
		}
		if r := e.expect(200, "admin", "GET", "/custody/export?user_id="+u.ID, nil); !strings.Contains(string(r.body), "ses_routes") {
			t.Errorf("custody export = %s; want the record", r.body)
		}
		var crep CustodyReport
		e.expect(200, "admin", "GET", "/custody/report?warehouse_id="+e.whA.ID, nil).decode(t, &crep)
		if len(crep.SignedIn) != 1 {
			t.Errorf("custody report signed in = %+v; want the open record", crep.SignedIn)
		}

		// Invitations and reset links.
		var cm CreatedManager
		e.expect(201, "admin", "POST", "/managers", map[string]any{"email": "routes-inv@example.com", "first_name": "R", "last_name": "I",
			"roles": []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID}}}).decode(t, &cm)
		var il IssuedLink
		e.expect(201, "admin", "POST", "/managers/"+cm.ID+"/invitation", nil).decode(t, &il)
		e.expect(200, "", "POST", "/invitation/accept", LinkRequest{Token: linkToken(t, &il, "/invitation"), Password: "Routes-Horse-5-Battery"})
		e.expect(409, "admin", "DELETE", "/managers/"+cm.ID+"/invitation", nil)
		e.expect(201, "admin", "POST", "/managers/"+cm.ID+"/reset-link", nil).decode(t, &il)
		e.expect(200, "", "POST", "/password-reset", LinkRequest{Token: linkToken(t, &il, "/reset-password"), Password: "Routes-Horse-6-Battery"})
		e.expect(202, "", "POST", "/forgot-password", ForgotPasswordRequest{Email: "routes-inv@example.com"})

		// A person's data (admins).
		var ud UserDataExport
		e.expect(200, "admin", "GET", "/users/"+u.ID+"/data-export", nil).decode(t, &ud)
		if ud.User.ID != u.ID || len(ud.Sessions) != 1 {
			t.Errorf("user data export = %+v; want the user and the custody record", ud)
		}
		var md ManagerDataExport
		e.expect(200, "admin", "GET", "/managers/"+cm.ID+"/data-export", nil).decode(t, &md)
		if md.Manager.ID != cm.ID || len(md.Events) == 0 {
			t.Errorf("manager data export = %+v; want the manager and their events", md)
		}

		for _, rt := range e.api.routes {
			if k := rt.Method + " " + BasePath + rt.Path; !cov.seen[k] {
				t.Errorf("route %s was not driven", k)
			}
		}
	})
}

// TestErrors checks the problem documents of malformed requests.
func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	tests := []struct {
		name, method, path string
		body               any
		ctype              string
		status             int
		code               string
	}{
		{"unknown field", "POST", "/users", `{"username":"x","bogus":1}`, "application/json", 400, "invalid_request"},
		{"wrong type", "POST", "/users", `{"username":5}`, "application/json", 400, "invalid_request"},
		{"malformed", "POST", "/users", `{"username":`, "application/json", 400, "invalid_request"},
		{"trailing", "POST", "/users", `{} {}`, "application/json", 400, "invalid_request"},
		{"empty", "POST", "/users", ``, "application/json", 400, "invalid_request"},
		{"too large", "POST", "/users", `{"username":"` + strings.Repeat("a", 2<<20) + `"}`, "application/json", 413, "too_large"},
		{"taken", "POST", "/users", fmt.Sprintf(`{"username":"ALICE","first_name":"A","last_name":"B","pin":"5829","warehouse_id":%q}`, e.whA.ID), "application/json", 409, "conflict"},
		{"invalid user", "POST", "/users", `{"username":"a b","first_name":"A","last_name":"B","pin":"5829","warehouse_id":"nope"}`, "application/json", 400, "invalid_request"},
		{"unknown route", "GET", "/nothing", nil, "", 404, "not_found"},
		{"unknown user", "GET", "/users/usr_nope", nil, "", 404, "not_found"},
		{"bad page size", "GET", "/users?page_size=501", nil, "", 400, "invalid_request"},
		{"bad page token", "GET", "/users?page_token=%21%21", nil, "", 400, "invalid_request"},
		{"bad status", "GET", "/users?status=gone", nil, "", 400, "invalid_request"},
		{"sessions no filter", "GET", "/sessions", nil, "", 400, "invalid_request"},
		{"bad time", "GET", "/audit?from=yesterday", nil, "", 400, "invalid_request"},
		{"restore active", "POST", "/users/" + e.userA.ID + "/restore", nil, "", 409, "conflict"},
		{"patch status", "PATCH", "/users/" + e.userA.ID, `{"status":"suspended"}`, "application/json", 400, "invalid_request"},
		{"bad settings", "PATCH", "/settings", `{"session_cap":101,"pin_min_length":3,"cap_policy":"random","throttle":{"user_lock_s":-1}}`, "application/json", 400, "invalid_request"},
		{"huge throttle", "PATCH", "/settings", `{"throttle":{"pair_max_delay_s":9223372036854775807}}`, "application/json", 400, "invalid_request"},
		{"page size 0", "GET", "/devices?page_size=0", nil, "", 400, "invalid_request"},
		{"bad online", "GET", "/devices?online=maybe", nil, "", 400, "invalid_request"},
		{"bad scope", "POST", "/service-keys", `{"name":"k","scope":"root"}`, "application/json", 400, "invalid_request"},
		{"unknown command", "GET", "/commands/cmd_nope", nil, "", 404, "not_found"},
		{"unknown session", "DELETE", "/sessions/ses_nope", nil, "", 404, "not_found"},
		{"wrong method", "PUT", "/users", nil, "", 405, "method_not_allowed"},
		{"import bad mode", "POST", "/users/import?mode=some", "username\n", "text/csv", 400, "invalid_request"},
		{"import json", "POST", "/users/import", `{}`, "application/json", 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if s, ok := tc.body.(string); ok {
				body = []byte(s)
			}
			req, _ := http.NewRequest(tc.method, e.srv.URL+BasePath+tc.path, nil)
			if body != nil {
				req, _ = http.NewRequest(tc.method, e.srv.URL+BasePath+tc.path, strings.NewReader(tc.body.(string)))
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.Header.Set("Authorization", "Bearer "+e.tokens["admin"])
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var p Problem
			if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
				t.Fatalf("decode problem: %v", err)
			}
			if res.StatusCode != tc.status || p.Code != tc.code || p.Status != tc.status {
				t.Errorf("%s %s = %d %+v; want %d %s", tc.method, tc.path, res.StatusCode, p, tc.status, tc.code)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			if tc.status == 400 && tc.code == "invalid_request" && len(p.Errors) == 0 {
				t.Errorf("400 lists no errors: %+v", p)
			}
		})
	}
}
