package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
	"github.com/floorgate/floorgate/sessions"
)

// fieldsOf lists the field names of a problem's errors.
func fieldsOf(r response) []string {
	var p Problem
	_ = json.Unmarshal(r.body, &p)
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

func TestEnroll(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.be.reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{
		Email: "sam@example.com", FirstName: "Sam", LastName: "Hill", Password: managerPassword,
		Roles: []devices.Role{{Role: devices.RoleUserManager, WarehouseID: h.wh.ID}},
	}); err != nil {
		t.Fatalf("CreateManager: %v", err)
	}
	with := func(edit func(m map[string]any)) map[string]any {
		b := h.enrollBody("S21-0001")
		edit(b)
		return b
	}
	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
		wantFields []string
	}{
		{"malformed json", `{"email":`, 400, CodeInvalidRequest, []string{"body"}},
		{"not an object", `[1,2]`, 400, CodeInvalidRequest, []string{"body"}},
		{"empty body", ``, 400, CodeInvalidRequest, []string{"body"}},
		{"lone surrogate in the label", `{"email":"mia@example.com","password":"x","warehouse_id":"w","device":{"serial":"S1","label":"Dock \ud800"}}`, 400, CodeInvalidRequest, []string{"device.label"}},
		{"invalid utf-8 serial", "{\"email\":\"mia@example.com\",\"password\":\"x\",\"warehouse_id\":\"w\",\"device\":{\"serial\":\"S\xc0\"}}", 400, CodeInvalidRequest, []string{"device.serial"}},
		{"missing fields", `{"email":"mia@example.com"}`, 400, CodeInvalidRequest, []string{"password", "warehouse_id", "device"}},
		{"missing serial", with(func(m map[string]any) { m["device"] = map[string]any{"model": "TC52"} }), 400, CodeInvalidRequest, []string{"device.serial"}},
		{"wrong type", with(func(m map[string]any) { m["warehouse_id"] = 7 }), 400, CodeInvalidRequest, []string{"warehouse_id"}},
		{"bad email", with(func(m map[string]any) { m["email"] = "no-at-sign" }), 400, CodeInvalidRequest, []string{"email"}},
		{"wrong password", with(func(m map[string]any) { m["password"] = "Wrong-Horse-9-battery" }), 401, CodeInvalidCredentials, nil},
		{"unknown manager", with(func(m map[string]any) { m["email"] = "nobody@example.com" }), 401, CodeInvalidCredentials, nil},
		{"no mobile_manager role", with(func(m map[string]any) { m["email"] = "sam@example.com" }), 403, CodeForbidden, nil},
		{"role on another warehouse", with(func(m map[string]any) { m["warehouse_id"] = h.other.ID }), 403, CodeForbidden, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/enroll", "", tt.body)
			if r.status != tt.wantStatus || r.code() != tt.wantCode {
				t.Fatalf("POST /v1/enroll = %d %s; want %d %s", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			for _, f := range tt.wantFields {
				if !slices.Contains(fieldsOf(r), f) {
					t.Errorf("errors = %v; want a field %q", fieldsOf(r), f)
				}
			}
		})
	}

	t.Run("unknown warehouse for an admin", func(t *testing.T) {
		if _, err := h.be.reg.CreateManager(ctx, devices.ActorSystem, devices.ManagerInput{
			Email: "ada@example.com", FirstName: "Ada", LastName: "Admin", Password: managerPassword,
			Roles: []devices.Role{{Role: devices.RoleAdmin}},
		}); err != nil {
			t.Fatalf("CreateManager: %v", err)
		}
		b := h.enrollBody("S21-0002")
		b["email"], b["warehouse_id"] = "ada@example.com", "wh_nosuchwarehouse"
		r := h.do("POST", "/v1/enroll", "", b)
		if r.status != 400 || r.code() != CodeInvalidRequest || !slices.Contains(fieldsOf(r), "warehouse_id") {
			t.Fatalf("POST /v1/enroll = %d %s; want 400 invalid_request on warehouse_id", r.status, r.body)
		}
	})

	t.Run("success", func(t *testing.T) {
		r := h.do("POST", "/v1/enroll", "", h.enrollBody("S21-0003"))
		if r.status != http.StatusCreated {
			t.Fatalf("POST /v1/enroll = %d %s; want 201", r.status, r.body)
		}
		m := r.json(t)
		if tok, _ := m["device_token"].(string); len(tok) < 26 || tok[:4] != "fgd_" {
			t.Errorf("device_token = %q; want fgd_…", tok)
		}
		if m["warehouse_id"] != h.wh.ID || m["device_id"] == "" {
			t.Errorf("body = %v; want device_id and warehouse_id %s", m, h.wh.ID)
		}
	})

	t.Run("re-enroll replaces", func(t *testing.T) {
		old := h.enroll("S21-0004")
		h.user("renee", h.wh.ID)
		tok, _ := h.mustLogin(old, "renee")
		c, _ := h.connect(h.ts.URL, old)
		fresh := h.enroll("S21-0004")
		if fresh.id == old.id {
			t.Fatalf("re-enroll kept device id %s", old.id)
		}
		if code := closeCode(t, c); code != closeRevoked {
			t.Errorf("old socket closed with %d; want %d", code, closeRevoked)
		}
		if r := h.login(old, "renee", goodPIN); r.status != 401 || r.code() != CodeInvalidToken {
			t.Errorf("login with the replaced token = %d %s; want 401 invalid_token", r.status, r.body)
		}
		if r := h.do("GET", "/v1/session", tok, nil); r.status != 401 || r.code() != CodeInvalidToken {
			t.Errorf("GET /v1/session of the replaced device = %d %s; want 401 invalid_token", r.status, r.body)
		}
		cmds, err := h.be.store.Pending(ctx, old.id)
		if err != nil || len(cmds) != 1 || cmds[0].Reason != sessions.ReasonDeviceRevoked {
			t.Errorf("Pending(old) = %v, %v; want one device_revoked command", cmds, err)
		}
		h.mustLogin(fresh, "renee")
	})
}

func TestLoginSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-0100")
	u := h.user("JSmith", h.wh.ID)
	r := h.login(d, "jsmith", goodPIN)
	if r.status != 200 {
		t.Fatalf("login = %d %s; want 200", r.status, r.body)
	}
	m := r.json(t)
	for _, k := range []string{"session_token", "session_id", "expires_at", "pin_change_required", "user", "evicted"} {
		if _, ok := m[k]; !ok {
			t.Errorf("login body lacks %q: %s", k, r.body)
		}
	}
	user := m["user"].(map[string]any)
	want := map[string]any{"id": u.ID, "username": "JSmith", "first_name": "Jo", "last_name": "Smith", "warehouse_id": h.wh.ID, "language": "en"}
	for k, v := range want {
		if user[k] != v {
			t.Errorf("user.%s = %v; want %v", k, user[k], v)
		}
	}
	if ev, ok := m["evicted"].([]any); !ok || len(ev) != 0 {
		t.Errorf("evicted = %v; want []", m["evicted"])
	}
	if _, err := time.Parse(time.RFC3339, m["expires_at"].(string)); err != nil {
		t.Errorf("expires_at = %v: %v", m["expires_at"], err)
	}
	evs, err := h.be.reg.Events(context.Background(), devices.EventFilter{Action: "login.success"})
	if err != nil || len(evs) != 1 || evs[0].DeviceID != d.id {
		t.Errorf("login.success events = %v, %v; want one for device %s", evs, err, d.id)
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	d := h.enroll("S21-0200")
	h.user("alice", h.wh.ID)
	h.user("olga", h.other.ID)
	sus := h.user("sus", h.wh.ID)
	if _, err := h.be.reg.SuspendUser(ctx, devices.ActorSystem, sus.ID); err != nil {
		t.Fatalf("SuspendUser: %v", err)
	}
	aliceTok, _ := h.mustLogin(h.enroll("S21-0201"), "alice")

	tests := []struct {
		name       string
		token      string
		body       any
		wantStatus int
		wantCode   string
		wantFields []string
	}{
		{"no bearer", "", `{"username":"alice","pin":"4821"}`, 401, CodeInvalidToken, nil},
		{"garbage bearer", "fgd_short", `{"username":"alice","pin":"4821"}`, 401, CodeInvalidToken, nil},
		{"unknown device token", string(token.New(devices.DeviceTokenPrefix)), `{"username":"alice","pin":"4821"}`, 401, CodeInvalidToken, nil},
		{"session token instead of device token", aliceTok, `{"username":"alice","pin":"4821"}`, 401, CodeInvalidToken, nil},
		{"malformed json", d.token, `{"username":"alice",`, 400, CodeInvalidRequest, []string{"body"}},
		{"trailing data", d.token, `{"username":"alice","pin":"4821"} {}`, 400, CodeInvalidRequest, []string{"body"}},
		{"missing pin", d.token, `{"username":"alice"}`, 400, CodeInvalidRequest, []string{"pin"}},
		{"pin as number", d.token, `{"username":"alice","pin":4821}`, 400, CodeInvalidRequest, []string{"pin"}},
		{"too large", d.token, `{"username":"alice","pin":"` + strings.Repeat("7", 20<<10) + `"}`, 400, CodeInvalidRequest, []string{"body"}},
		{"wrong pin", d.token, `{"username":"alice","pin":"9157"}`, 401, CodeInvalidCredentials, nil},
		{"unknown user", d.token, `{"username":"nobody","pin":"4821"}`, 401, CodeInvalidCredentials, nil},
		{"suspended, right pin", d.token, `{"username":"sus","pin":"4821"}`, 403, CodeAccountDisabled, nil},
		{"user of another warehouse", d.token, `{"username":"olga","pin":"4821"}`, 403, CodeWrongWarehouse, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/login", tt.token, tt.body)
			if r.status != tt.wantStatus || r.code() != tt.wantCode {
				t.Fatalf("login = %d %s; want %d %s", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			for _, f := range tt.wantFields {
				if !slices.Contains(fieldsOf(r), f) {
					t.Errorf("errors = %v; want a field %q", fieldsOf(r), f)
				}
			}
			if tt.wantStatus == 401 && tt.wantCode == CodeInvalidToken && r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 invalid_token without WWW-Authenticate")
			}
		})
	}

	t.Run("revoked device", func(t *testing.T) {
		rd := h.enroll("S21-0202")
		if _, err := h.be.reg.RevokeDevice(ctx, devices.ActorSystem, rd.id); err != nil {
			t.Fatalf("RevokeDevice: %v", err)
		}
		if r := h.login(rd, "alice", goodPIN); r.status != 401 || r.code() != CodeInvalidToken {
			t.Fatalf("login on a revoked device = %d %s; want 401 invalid_token", r.status, r.body)
		}
	})

	t.Run("app version below the minimum", func(t *testing.T) {
		min := "4.10"
		h.setWarehouse(devices.SettingsOverride{MinAppVersion: &min})
		defer h.setWarehouse(devices.SettingsOverride{})
		r := h.login(d, "alice", goodPIN)
		if r.status != http.StatusUpgradeRequired || r.code() != CodeAppVersionUnsupported {
			t.Fatalf("login with app 4.2.0 under minimum 4.10 = %d %s; want 426", r.status, r.body)
		}
		// Claiming a newer app at login does not lift a device enrolled
		// with an older one: the lower of the two counts.
		r = h.do("POST", "/v1/login", d.token, map[string]string{"username": "alice", "pin": goodPIN, "app_version": "4.10.1"})
		if r.status != http.StatusUpgradeRequired || r.code() != CodeAppVersionUnsupported {
			t.Fatalf("login claiming 4.10.1 on a device enrolled with 4.2.0 = %d %s; want 426", r.status, r.body)
		}
		// A device enrolled with the newer app signs in, unless it
		// claims an older one.
		body := h.enrollBody("S21-0205")
		body["device"].(map[string]any)["app_version"] = "4.10.1"
		er := h.do("POST", "/v1/enroll", "", body)
		if er.status != http.StatusCreated {
			t.Fatalf("enroll with 4.10.1 = %d %s", er.status, er.body)
		}
		newer := device{id: er.json(t)["device_id"].(string), token: er.json(t)["device_token"].(string)}
		if r := h.login(newer, "alice", goodPIN); r.status != 200 {
			t.Fatalf("login on a device enrolled with 4.10.1 = %d %s; want 200", r.status, r.body)
		}
		r = h.do("POST", "/v1/login", newer.token, map[string]string{"username": "alice", "pin": goodPIN, "app_version": "4.2.0"})
		if r.status != http.StatusUpgradeRequired {
			t.Fatalf("login claiming 4.2.0 on a device enrolled with 4.10.1 = %d %s; want 426", r.status, r.body)
		}
	})

	t.Run("deny_new at the cap", func(t *testing.T) {
		one, deny := 1, devices.DenyNew
		h.setWarehouse(devices.SettingsOverride{SessionCap: &one, CapPolicy: &deny})
		defer h.setWarehouse(devices.SettingsOverride{})
		h.user("capped", h.wh.ID)
		h.mustLogin(h.enroll("S21-0203"), "capped")
		r := h.login(h.enroll("S21-0204"), "capped", goodPIN)
		if r.status != http.StatusConflict || r.code() != CodeSessionLimit {
			t.Fatalf("second login under deny_new cap 1 = %d %s; want 409 session_limit", r.status, r.body)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	t.Run("too many attempts", func(t *testing.T) {
		h := newHarness(t)
		d := h.enroll("S21-0300")
		h.user("bob", h.wh.ID)
		var r response
		for i := range 12 {
			r = h.login(d, "bob", "9157")
			if r.status == http.StatusTooManyRequests {
				break
			}
			if r.status != 401 {
				t.Fatalf("failure %d = %d %s; want 401 or 429", i, r.status, r.body)
			}
		}
		if r.status != 429 || r.code() != CodeTooManyAttempts {
			t.Fatalf("after repeated failures login = %d %s; want 429 too_many_attempts", r.status, r.body)
		}
		p := r.json(t)
		ra, _ := p["retry_after"].(float64)
		if ra < 1 || r.header.Get("Retry-After") != strconv.Itoa(int(ra)) {
			t.Errorf("retry_after = %v, Retry-After = %q; want equal and at least 1", p["retry_after"], r.header.Get("Retry-After"))
		}
		// The right PIN is refused too until the delay has passed.
		if r := h.login(d, "bob", goodPIN); r.status != 429 {
			t.Errorf("right PIN during the delay = %d %s; want 429", r.status, r.body)
		}
		h.clk.Advance(time.Duration(ra+1) * time.Second)
		if r := h.login(d, "bob", goodPIN); r.status != 200 {
			t.Errorf("right PIN after the delay = %d %s; want 200", r.status, r.body)
		}
	})

	t.Run("spray alarm", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		h := newHarness(t, func(c *Config) { c.Metrics = reg })
		h.setWarehouse(devices.SettingsOverride{Throttle: &devices.Throttle{SprayUsers: 3, PairFreeFailures: 50}})
		var devs []device
		for i := range 3 {
			devs = append(devs, h.enroll("S21-031"+strconv.Itoa(i)))
		}
		for i, d := range devs {
			if r := h.login(d, "spray"+strconv.Itoa(i), "9157"); r.status != 401 {
				t.Fatalf("failure %d = %d %s; want 401", i, r.status, r.body)
			}
		}
		evs, err := h.be.reg.Events(context.Background(), devices.EventFilter{Action: "throttle.spray_alarm"})
		if err != nil || len(evs) != 1 || evs[0].WarehouseID != h.wh.ID {
			t.Errorf("spray alarm events = %v, %v; want one for warehouse %s", evs, err, h.wh.ID)
		}
		if got := counterValue(t, reg, "floorgate_signin_spray_alarms_total", ""); got != 1 {
			t.Errorf("spray_alarms_total = %v; want 1", got)
		}
		if got := counterValue(t, reg, "floorgate_gateway_logins_total", outcomeBadCredentials); got != 3 {
			t.Errorf("logins_total{outcome=invalid_credentials} = %v; want 3", got)
		}
		if _, err := New(Config{Registry: h.be.reg, Sessions: h.be.store, SignIn: h.srv.signin, Metrics: reg}); err == nil {
			t.Errorf("New on a registry that already holds the gateway's metrics = nil; want an error")
		}
	})

	t.Run("device quarantined", func(t *testing.T) {
		h := newHarness(t)
		h.setWarehouse(devices.SettingsOverride{Throttle: &devices.Throttle{DeviceFailures: 3, PairFreeFailures: 50}})
		d := h.enroll("S21-0301")
		h.user("carol", h.wh.ID)
		for i := range 3 {
			if r := h.login(d, "guess"+strconv.Itoa(i), "9157"); r.status != 401 {
				t.Fatalf("failure %d = %d %s; want 401", i, r.status, r.body)
			}
		}
		r := h.login(d, "carol", goodPIN)
		if r.status != 403 || r.code() != CodeDeviceQuarantined {
			t.Fatalf("login on a quarantined device = %d %s; want 403 device_quarantined", r.status, r.body)
		}
		if err := h.srv.signin.UnlockDevice(context.Background(), d.id); err != nil {
			t.Fatalf("UnlockDevice: %v", err)
		}
		if r := h.login(d, "carol", goodPIN); r.status != 200 {
			t.Errorf("login after unlock = %d %s; want 200", r.status, r.body)
		}
	})
}

// TestNoEnumeration: an unknown user, a wrong PIN and a suspended user
// with a wrong PIN get byte-identical answers.
func TestNoEnumeration(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-0400")
	h.user("known", h.wh.ID)
	sus := h.user("suspended", h.wh.ID)
	if _, err := h.be.reg.SuspendUser(context.Background(), devices.ActorSystem, sus.ID); err != nil {
		t.Fatalf("SuspendUser: %v", err)
	}
	cases := []struct{ name, username, pin string }{
		{"unknown user", "stranger", "9157"},
		{"wrong pin", "known", "9157"},
		{"suspended, wrong pin", "suspended", "9157"},
		{"invalid username", "no spaces allowed", "9157"},
	}
	var first response
	for i, c := range cases {
		r := h.login(d, c.username, c.pin)
		if r.status != 401 || r.code() != CodeInvalidCredentials {
			t.Fatalf("%s: login = %d %s; want 401 invalid_credentials", c.name, r.status, r.body)
		}
		if i == 0 {
			first = r
			continue
		}
		if string(r.body) != string(first.body) {
			t.Errorf("%s: body %s; want the same as %s: %s", c.name, r.body, cases[0].name, first.body)
		}
	}
}

func TestPINChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	d := h.enroll("S21-0500")
	u := h.user("dana", h.wh.ID)
	if _, err := h.be.reg.ResetPIN(ctx, devices.ActorSystem, u.ID, "5830", true); err != nil {
		t.Fatalf("ResetPIN: %v", err)
	}
	r := h.login(d, "dana", "5830")
	if r.status != 200 {
		t.Fatalf("login = %d %s; want 200", r.status, r.body)
	}
	m := r.json(t)
	if m["pin_change_required"] != true {
		t.Fatalf("pin_change_required = %v; want true", m["pin_change_required"])
	}
	tok := m["session_token"].(string)
	if r := h.do("GET", "/v1/session", tok, nil); r.status != 403 || r.code() != CodeForbidden {
		t.Errorf("GET /v1/session before the PIN change = %d %s; want 403 forbidden", r.status, r.body)
	}
	if r := h.do("POST", "/v1/introspect", h.svcKey, map[string]string{"token": tok}); r.status != 200 || r.json(t)["active"] != false {
		t.Errorf("introspect before the PIN change = %d %s; want active false", r.status, r.body)
	}

	tests := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"missing new pin", `{"current_pin":"5830"}`, 400, CodeInvalidRequest},
		{"wrong current pin", map[string]string{"current_pin": "0000", "new_pin": "7294"}, 401, CodeInvalidCredentials},
		{"weak new pin", map[string]string{"current_pin": "5830", "new_pin": "1234"}, 422, CodeWeakPIN},
		{"common new pin: keypad column", map[string]string{"current_pin": "5830", "new_pin": "8520"}, 422, CodeWeakPIN},
		{"common new pin: keypad column from 0", map[string]string{"current_pin": "5830", "new_pin": "0258"}, 422, CodeWeakPIN},
		{"common new pin: year", map[string]string{"current_pin": "5830", "new_pin": "1990"}, 422, CodeWeakPIN},
		{"common new pin: date", map[string]string{"current_pin": "5830", "new_pin": "0101"}, 422, CodeWeakPIN},
		{"letters", map[string]string{"current_pin": "5830", "new_pin": "12ab"}, 422, CodeWeakPIN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/pin", tok, tt.body)
			if r.status != tt.wantStatus || r.code() != tt.wantCode {
				t.Fatalf("POST /v1/pin = %d %s; want %d %s", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if tt.wantCode == CodeWeakPIN && r.json(t)["detail"] == "" {
				t.Errorf("weak_pin without detail: %s", r.body)
			}
		})
	}
	if r := h.do("POST", "/v1/pin", tok, map[string]string{"current_pin": "5830", "new_pin": "7294"}); r.status != 204 {
		t.Fatalf("POST /v1/pin = %d %s; want 204", r.status, r.body)
	}
	if r := h.do("GET", "/v1/session", tok, nil); r.status != 200 {
		t.Errorf("GET /v1/session after the PIN change = %d %s; want 200", r.status, r.body)
	}
	if r := h.login(h.enroll("S21-0501"), "dana", "7294"); r.status != 200 {
		t.Errorf("login with the new PIN = %d %s; want 200", r.status, r.body)
	}
}

func TestSessionAndLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-0600")
	u := h.user("erin", h.wh.ID)
	tok, lm := h.mustLogin(d, "erin")
	r := h.do("GET", "/v1/session", tok, nil)
	if r.status != 200 {
		t.Fatalf("GET /v1/session = %d %s; want 200", r.status, r.body)
	}
	m := r.json(t)
	for _, k := range []string{"session_id", "user", "device_id", "created_at", "expires_at", "idle_expires_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("session body lacks %q: %s", k, r.body)
		}
	}
	if m["session_id"] != lm["session_id"] || m["device_id"] != d.id || m["user"].(map[string]any)["id"] != u.ID {
		t.Errorf("session = %s; want session %v of user %s on device %s", r.body, lm["session_id"], u.ID, d.id)
	}
	if r := h.do("POST", "/v1/logout", d.token, nil); r.status != 401 || r.code() != CodeInvalidToken {
		t.Errorf("logout with a device token = %d %s; want 401 invalid_token", r.status, r.body)
	}
	if r := h.do("POST", "/v1/logout", tok, nil); r.status != 204 {
		t.Fatalf("POST /v1/logout = %d %s; want 204", r.status, r.body)
	}
	if r := h.do("GET", "/v1/session", tok, nil); r.status != 401 || r.code() != CodeInvalidToken {
		t.Errorf("GET /v1/session after logout = %d %s; want 401 invalid_token", r.status, r.body)
	}
	cmds, err := h.be.store.Pending(context.Background(), d.id)
	if err != nil || len(cmds) != 1 || cmds[0].Reason != sessions.ReasonLogout {
		t.Errorf("Pending = %v, %v; want one logout command", cmds, err)
	}
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-0700")
	u := h.user("finn", h.wh.ID)
	tok, lm := h.mustLogin(d, "finn")
	tests := []struct {
		name       string
		key        string
		body       any
		wantStatus int
		wantCode   string
		wantActive bool
	}{
		{"no key", "", map[string]string{"token": tok}, 401, CodeInvalidToken, false},
		{"device token as key", d.token, map[string]string{"token": tok}, 401, CodeInvalidToken, false},
		{"unknown key", string(token.New(devices.ServiceKeyPrefix)), map[string]string{"token": tok}, 401, CodeInvalidToken, false},
		{"malformed body", h.svcKey, `{"token":`, 400, CodeInvalidRequest, false},
		{"missing token", h.svcKey, `{}`, 400, CodeInvalidRequest, false},
		{"active", h.svcKey, map[string]string{"token": tok}, 200, "", true},
		{"garbage token", h.svcKey, map[string]string{"token": "not-a-token"}, 200, "", false},
		{"unknown token", h.svcKey, map[string]string{"token": string(sessions.NewToken())}, 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/introspect", tt.key, tt.body)
			if r.status != tt.wantStatus || r.code() != tt.wantCode {
				t.Fatalf("introspect = %d %s; want %d %q", r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if r.status != 200 {
				return
			}
			m := r.json(t)
			if m["active"] != tt.wantActive {
				t.Fatalf("active = %v; want %v", m["active"], tt.wantActive)
			}
			if !tt.wantActive {
				if len(m) != 1 {
					t.Errorf("inactive body = %s; want only active", r.body)
				}
				return
			}
			want := map[string]any{"session_id": lm["session_id"], "user_id": u.ID, "username": "finn", "warehouse_id": h.wh.ID, "device_id": d.id, "expires_at": lm["expires_at"]}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v; want %v", k, m[k], v)
				}
			}
		})
	}
	t.Run("ended session", func(t *testing.T) {
		if r := h.do("POST", "/v1/logout", tok, nil); r.status != 204 {
			t.Fatalf("logout = %d", r.status)
		}
		r := h.do("POST", "/v1/introspect", h.svcKey, map[string]string{"token": tok})
		if r.status != 200 || string(r.body) != "{\"active\":false}\n" {
			t.Errorf("introspect of an ended session = %d %s; want {\"active\":false}", r.status, r.body)
		}
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.do("GET", "/v1/nope", "", nil); r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET /v1/nope = %d %q; want 404 problem", r.status, r.header.Get("Content-Type"))
	}
	if r := h.do("GET", "/v1/login", "", nil); r.status != 405 {
		t.Errorf("GET /v1/login = %d; want 405", r.status)
	}
}

// counterValue reads a counter from reg: the one whose first label has
// value label ("" for an unlabelled counter).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
