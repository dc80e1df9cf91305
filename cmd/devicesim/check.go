package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// violation is a protocol violation: what the scenario expected and what
// Floorgate did.
type violation struct {
	step, expected, got string
}

func (v *violation) Error() string {
	return fmt.Sprintf("FAIL %s\n  expected: %s\n  got:      %s", v.step, v.expected, v.got)
}

// checker runs the scripted scenario, printing one line per step, and
// stops at the first violation.
type checker struct {
	c     *Client
	out   io.Writer
	step  string
	steps int
	wait  time.Duration // how long a pushed frame may take
}

func (k *checker) begin(step string) { k.step = step }

func (k *checker) pass() {
	k.steps++
	fmt.Fprintf(k.out, "ok   %s\n", k.step)
}

func (k *checker) fail(expected string, got any) error {
	return &violation{step: k.step, expected: expected, got: fmt.Sprint(got)}
}

// expectStatus checks a response's status and, for errors, its code.
func (k *checker) expectStatus(res *Response, status int, code string) error {
	if res.Status != status {
		return k.fail(fmt.Sprintf("status %d %s", status, code), fmt.Sprintf("status %d: %.300s", res.Status, res.Body))
	}
	if code != "" {
		if res.Problem == nil || res.Problem.Code != code {
			return k.fail("problem+json with code "+code, fmt.Sprintf("%.300s", res.Body))
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			return k.fail("Content-Type application/problem+json", ct)
		}
	}
	return nil
}

// expectFrame waits for a frame of the given type (and reason, if set).
func (k *checker) expectFrame(s *Socket, typ, reason string) (Frame, error) {
	f, err := s.Next(k.wait)
	if err != nil {
		return f, k.fail(fmt.Sprintf("a %q frame %s", typ, reason), err)
	}
	if f.Type != typ || (reason != "" && f.Reason != reason) {
		return f, k.fail(fmt.Sprintf("a %q frame with reason %q", typ, reason), fmt.Sprintf("%+v", f))
	}
	return f, nil
}

// expectClose waits for the server to close the socket with code.
func (k *checker) expectClose(s *Socket, code int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		f, err := s.Next(time.Until(deadline))
		var c *Closed
		switch {
		case errors.As(err, &c):
			if c.Code != code {
				return k.fail(fmt.Sprintf("close code %d", code), fmt.Sprintf("close code %d %q", c.Code, c.Text))
			}
			return nil
		case err != nil:
			return k.fail(fmt.Sprintf("close code %d", code), err)
		case f.Type == "logout":
			// A logout may precede the close (a revoked device's session
			// ends too); acknowledge it and keep waiting.
			s.Ack(f.CommandID)
		}
	}
}

// expectAcked polls the admin API until the command reads acked.
func (k *checker) expectAcked(ctx context.Context, a *Admin, id string) error {
	deadline := time.Now().Add(k.wait)
	var last Command
	for time.Now().Before(deadline) {
		c, err := a.command(ctx, id)
		if err != nil {
			return k.fail("GET /admin/v1/commands/{id} answers 200", err)
		}
		last = c
		if c.Status == "acked" && c.AckedAt != nil && c.DeliveredAt != nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return k.fail("command status acked with delivered_at and acked_at", fmt.Sprintf("%+v", last))
}

// checkConfig is what the check scenario needs to reach Floorgate.
type checkConfig struct {
	AdminEmail, AdminPassword string
	SkipSlow                  bool // skip the 10-second authentication timeout step
}

// runCheck drives the scenario. It returns a *violation at the first
// protocol violation.
func runCheck(ctx context.Context, c *Client, cfg checkConfig, out io.Writer) error {
	k := &checker{c: c, out: out, wait: 5 * time.Second}

	k.begin("admin signs in (POST /admin/v1/login)")
	a, err := adminLogin(ctx, c, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return k.fail("200 with a token", err)
	}
	k.pass()

	sfx := randomSuffix()
	k.begin("admin creates two warehouses, a mobile manager, two users, a service key")
	whA, err := a.createWarehouse(ctx, "Sim A "+sfx, "SA"+strings.ToUpper(sfx))
	if err != nil {
		return k.fail("201", err)
	}
	whB, err := a.createWarehouse(ctx, "Sim B "+sfx, "SB"+strings.ToUpper(sfx))
	if err != nil {
		return k.fail("201", err)
	}
	mgrEmail, mgrPassword := "mia-"+sfx+"@example.com", "Sim-Manager-"+sfx+"-9!"
	if _, err := a.createManager(ctx, mgrEmail, mgrPassword,
		[]map[string]string{{"role": "mobile_manager", "warehouse_id": whA}}); err != nil {
		return k.fail("201", err)
	}
	user, pin := "sim.jo."+sfx, randomPIN()
	if _, err := a.createUser(ctx, user, pin, whA); err != nil {
		return k.fail("201", err)
	}
	userB, pinB := "sim.bo."+sfx, randomPIN()
	if _, err := a.createUser(ctx, userB, pinB, whB); err != nil {
		return k.fail("201", err)
	}
	key, err := a.createServiceKey(ctx, "devicesim "+sfx, "introspect")
	if err != nil || !strings.HasPrefix(key, "fgk_") {
		return k.fail("201 with a key starting fgk_", fmt.Sprint(key, err))
	}
	k.pass()

	k.begin("enroll with a wrong password answers 401 invalid_credentials")
	dev := func(i int) DeviceInfo {
		return DeviceInfo{Serial: fmt.Sprintf("SIM-%s-%d", sfx, i), Model: "TC52", OSVersion: "13", AppVersion: "4.2.0", Label: fmt.Sprintf("Sim %d", i)}
	}
	res, err := c.Enroll(ctx, mgrEmail, mgrPassword+"x", whA, dev(0))
	if err != nil {
		return k.fail("a response", err)
	}
	if err := k.expectStatus(res, 401, "invalid_credentials"); err != nil {
		return err
	}
	k.pass()

	k.begin("enroll into a warehouse the manager has no role on answers 403 forbidden")
	res, err = c.Enroll(ctx, mgrEmail, mgrPassword, whB, dev(0))
	if err != nil {
		return k.fail("a response", err)
	}
	if err := k.expectStatus(res, 403, "forbidden"); err != nil {
		return err
	}
	k.pass()

	k.begin("enroll four devices (201, fgd_ tokens)")
	devs := make([]Enrolled, 4)
	for i := range devs {
		res, err := c.Enroll(ctx, mgrEmail, mgrPassword, whA, dev(i+1))
		if err != nil {
			return k.fail("201", err)
		}
		if err := res.decode(http.StatusCreated, &devs[i]); err != nil {
			return k.fail("201 with device_id, device_token, warehouse_id", err)
		}
		if !strings.HasPrefix(devs[i].DeviceToken, "fgd_") || devs[i].DeviceID == "" || devs[i].WarehouseID != whA {
			return k.fail("device_token fgd_…, a device_id and warehouse_id "+whA, fmt.Sprintf("%.300s", res.Body))
		}
	}
	k.pass()

	k.begin("four sockets open (header and first-message auth) and each gets welcome with session null")
	socks := make([]*Socket, 4)
	for i := range socks {
		s, _, err := Dial(ctx, c.Gateway, devs[i].DeviceToken, i%2 == 0, nil)
		if err != nil {
			return k.fail("websocket upgrade", err)
		}
		defer s.Close()
		socks[i] = s
		f, err := k.expectFrame(s, "welcome", "")
		if err != nil {
			return err
		}
		if f.DeviceID != devs[i].DeviceID || (len(f.Session) > 0 && string(f.Session) != "null") {
			return k.fail("welcome for "+devs[i].DeviceID+" with session null", fmt.Sprintf("%+v session=%s", f, f.Session))
		}
	}
	k.pass()

	k.begin("wrong PIN and unknown user answer the same 401 invalid_credentials body")
	wrong := "0" + pin[1:]
	if wrong == pin {
		wrong = "1" + pin[1:]
	}
	r1, err := c.Login(ctx, devs[0].DeviceToken, user, wrong)
	if err != nil {
		return k.fail("a response", err)
	}
	r2, err := c.Login(ctx, devs[0].DeviceToken, "nobody-"+sfx, pin)
	if err != nil {
		return k.fail("a response", err)
	}
	if err := k.expectStatus(r1, 401, "invalid_credentials"); err != nil {
		return err
	}
	if err := k.expectStatus(r2, 401, "invalid_credentials"); err != nil {
		return err
	}
	if string(r1.Body) != string(r2.Body) {
		return k.fail("identical bodies", fmt.Sprintf("%s vs %s", r1.Body, r2.Body))
	}
	k.pass()

	k.begin("a user of another warehouse answers 403 wrong_warehouse")
	res, err = c.Login(ctx, devs[0].DeviceToken, userB, pinB)
	if err != nil {
		return k.fail("a response", err)
	}
	if err := k.expectStatus(res, 403, "wrong_warehouse"); err != nil {
		return err
	}
	k.pass()

	k.begin("the user signs in on devices 1 to 3 (200, nothing evicted)")
	logins := make([]LoggedIn, 4)
	for i := 0; i < 3; i++ {
		res, err := c.Login(ctx, devs[i].DeviceToken, user, pin)
		if err != nil {
			return k.fail("200", err)
		}
		if err := res.decode(http.StatusOK, &logins[i]); err != nil {
			return k.fail("200 with a session", err)
		}
		if !strings.HasPrefix(logins[i].SessionToken, "fgs_") || len(logins[i].Evicted) != 0 || logins[i].User.WarehouseID != whA {
			return k.fail("session_token fgs_…, evicted [], user in "+whA, fmt.Sprintf("%.400s", res.Body))
		}
	}
	k.pass()

	k.begin("a fourth login evicts the oldest: device 1 gets logout evicted with by naming device 4")
	res, err = c.Login(ctx, devs[3].DeviceToken, user, pin)
	if err != nil {
		return k.fail("200", err)
	}
	if err := res.decode(http.StatusOK, &logins[3]); err != nil {
		return k.fail("200", err)
	}
	if len(logins[3].Evicted) != 1 || logins[3].Evicted[0].SessionID != logins[0].SessionID || logins[3].Evicted[0].DeviceID != devs[0].DeviceID {
		return k.fail("evicted [{session of device 1}]", fmt.Sprintf("%.400s", res.Body))
	}
	f, err := k.expectFrame(socks[0], "logout", "evicted")
	if err != nil {
		return err
	}
	if f.SessionID != logins[0].SessionID || f.CommandID == "" || f.By == nil || f.By.DeviceID != devs[3].DeviceID || f.By.WarehouseID != whA || f.At == "" {
		return k.fail("logout with command_id, session_id of device 1, at, by {device 4, warehouse A}", fmt.Sprintf("%+v by=%+v", f, f.By))
	}
	k.pass()

	k.begin("device 1 acknowledges; the admin API reads the command acked")
	if err := socks[0].Ack(f.CommandID); err != nil {
		return k.fail("ack sent", err)
	}
	if err := k.expectAcked(ctx, a, f.CommandID); err != nil {
		return err
	}
	k.pass()

	k.begin("the evicted token answers 401 invalid_token; a live one reads its session")
	res, err = c.Session(ctx, logins[0].SessionToken)
	if err != nil {
		return k.fail("a response", err)
	}
	if err := k.expectStatus(res, 401, "invalid_token"); err != nil {
		return err
	}
	res, err = c.Session(ctx, logins[3].SessionToken)
	if err != nil {
		return k.fail("a response", err)
	}
	var sess struct {
		SessionID     string `json:"session_id"`
		DeviceID      string `json:"device_id"`
		CreatedAt     string `json:"created_at"`
		ExpiresAt     string `json:"expires_at"`
		IdleExpiresAt string `json:"idle_expires_at"`
		User          struct {
			Username string `json:"username"`
		} `json:"user"`
	}
	if err := res.decode(200, &sess); err != nil {
		return k.fail("200", err)
	}
	if sess.SessionID != logins[3].SessionID || sess.DeviceID != devs[3].DeviceID || sess.ExpiresAt == "" || sess.IdleExpiresAt == "" || sess.CreatedAt == "" {
		return k.fail("session_id, device_id, created_at, expires_at, idle_expires_at", fmt.Sprintf("%.400s", res.Body))
	}
	k.pass()

	k.begin("introspect: a live token is active, an ended one and garbage are not")
	res, err = c.Introspect(ctx, key, logins[3].SessionToken)
	if err != nil {
		return k.fail("200", err)
	}
	var in struct {
		Active    bool   `json:"active"`
		SessionID string `json:"session_id"`
		UserID    string `json:"user_id"`
		Username  string `json:"username"`
		Warehouse string `json:"warehouse_id"`
		DeviceID  string `json:"device_id"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := res.decode(200, &in); err != nil || !in.Active || in.SessionID != logins[3].SessionID || in.DeviceID != devs[3].DeviceID || in.Warehouse != whA || in.ExpiresAt == "" {
		return k.fail("active true with session_id, user_id, username, warehouse_id, device_id, expires_at", fmt.Sprintf("%v %.300s", err, res.Body))
	}
	for _, tok := range []string{logins[0].SessionToken, "fgs_garbage"} {
		res, err = c.Introspect(ctx, key, tok)
		if err != nil {
			return k.fail("200", err)
		}
		if err := res.decode(200, &in); err != nil || in.Active || strings.TrimSpace(string(res.Body)) != `{"active":false}` {
			return k.fail(`200 {"active":false}`, fmt.Sprintf("%v %.300s", err, res.Body))
		}
	}
	res, err = c.Introspect(ctx, "", logins[3].SessionToken)
	if err != nil {
		return k.fail("401", err)
	}
	if err := k.expectStatus(res, 401, "invalid_token"); err != nil {
		return err
	}
	k.pass()

	k.begin("logout on device 2 answers 204 and the device is told (reason logout)")
	res, err = c.Logout(ctx, logins[1].SessionToken)
	if err != nil {
		return k.fail("204", err)
	}
	if err := k.expectStatus(res, 204, ""); err != nil {
		return err
	}
	f, err = k.expectFrame(socks[1], "logout", "logout")
	if err != nil {
		return err
	}
	socks[1].Ack(f.CommandID)
	k.pass()

	k.begin("suspending the user pushes logout user_suspended to devices 3 and 4")
	userID := logins[3].User.ID
	var suspended commandIDs
	if err := a.do(ctx, http.MethodPost, "/users/"+userID+"/suspend", nil, 200, &suspended); err != nil {
		return k.fail("200 with command_ids", err)
	}
	if len(suspended.CommandIDs) != 2 {
		return k.fail("2 command_ids", suspended.CommandIDs)
	}
	for _, i := range []int{2, 3} {
		f, err := k.expectFrame(socks[i], "logout", "user_suspended")
		if err != nil {
			return err
		}
		socks[i].Ack(f.CommandID)
		if err := k.expectAcked(ctx, a, f.CommandID); err != nil {
			return err
		}
	}
	k.pass()

	k.begin("a suspended user with the right PIN answers 403 account_disabled")
	res, err = c.Login(ctx, devs[2].DeviceToken, user, pin)
	if err != nil {
		return k.fail("403", err)
	}
	if err := k.expectStatus(res, 403, "account_disabled"); err != nil {
		return err
	}
	if err := a.do(ctx, http.MethodPost, "/users/"+userID+"/activate", nil, 200, nil); err != nil {
		return k.fail("activate answers 200", err)
	}
	k.pass()

	k.begin("an offline device gets a forced logout right after welcome when it reconnects")
	res, err = c.Login(ctx, devs[2].DeviceToken, user, pin)
	if err != nil {
		return k.fail("200", err)
	}
	var l3 LoggedIn
	if err := res.decode(200, &l3); err != nil {
		return k.fail("200", err)
	}
	socks[2].Close()
	var forced commandIDs
	if err := a.do(ctx, http.MethodDelete, "/sessions/"+l3.SessionID, nil, 200, &forced); err != nil || len(forced.CommandIDs) != 1 {
		return k.fail("200 with one command_id", fmt.Sprint(forced.CommandIDs, err))
	}
	s3, _, err := Dial(ctx, c.Gateway, devs[2].DeviceToken, true, nil)
	if err != nil {
		return k.fail("websocket upgrade", err)
	}
	defer s3.Close()
	if _, err := k.expectFrame(s3, "welcome", ""); err != nil {
		return err
	}
	f, err = k.expectFrame(s3, "logout", "admin")
	if err != nil {
		return err
	}
	if f.CommandID != forced.CommandIDs[0] || f.SessionID != l3.SessionID {
		return k.fail("the queued command "+forced.CommandIDs[0], fmt.Sprintf("%+v", f))
	}
	s3.Ack(f.CommandID)
	if err := k.expectAcked(ctx, a, f.CommandID); err != nil {
		return err
	}
	k.pass()

	k.begin("a second socket for device 1 replaces the first (4409)")
	s1b, _, err := Dial(ctx, c.Gateway, devs[0].DeviceToken, true, nil)
	if err != nil {
		return k.fail("websocket upgrade", err)
	}
	defer s1b.Close()
	if _, err := k.expectFrame(s1b, "welcome", ""); err != nil {
		return err
	}
	if err := k.expectClose(socks[0], 4409, k.wait); err != nil {
		return err
	}
	k.pass()

	k.begin("an unknown device token is closed with 4401; a token in the query string is refused")
	bogus := "fgd_" + strings.Repeat("A", 43)
	sb, _, err := Dial(ctx, c.Gateway, bogus, false, nil)
	if err == nil {
		err = k.expectClose(sb, 4401, k.wait)
		sb.Close()
		if err != nil {
			return err
		}
	} else {
		return k.fail("upgrade, then close 4401", err)
	}
	_, qres, err := dialer.DialContext(ctx, wsURL(c.Gateway)+"?device_token="+bogus, nil)
	if err == nil {
		return k.fail("the upgrade refused", "upgraded")
	}
	if qres == nil || qres.StatusCode < 400 {
		return k.fail("an HTTP error status", fmt.Sprint(qres))
	}
	k.pass()

	k.begin("an Origin not on the allow-list is refused")
	_, ores, err := dialer.DialContext(ctx, wsURL(c.Gateway), http.Header{
		"Authorization": {"Bearer " + devs[1].DeviceToken}, "Origin": {"https://evil.example"}})
	if err == nil || ores == nil || ores.StatusCode != http.StatusForbidden {
		return k.fail("403 before the upgrade", fmt.Sprint(err))
	}
	k.pass()

	k.begin("an oversized frame closes the socket with 1009")
	s2, _, err := Dial(ctx, c.Gateway, devs[1].DeviceToken, true, nil)
	if err != nil {
		return k.fail("websocket upgrade", err)
	}
	if _, err := k.expectFrame(s2, "welcome", ""); err != nil {
		return err
	}
	big, _ := json.Marshal(map[string]string{"type": "ack", "command_id": strings.Repeat("x", 8192)})
	s2.SendRaw(big)
	if err := k.expectClose(s2, 1009, k.wait); err != nil {
		return err
	}
	s2.Close()
	k.pass()

	k.begin("revoking device 4 closes its socket with 4403 and its token stops working")
	var revoked commandIDs
	if err := a.do(ctx, http.MethodPost, "/devices/"+devs[3].DeviceID+"/revoke", nil, 200, &revoked); err != nil {
		return k.fail("200", err)
	}
	if err := k.expectClose(socks[3], 4403, k.wait); err != nil {
		return err
	}
	res, err = c.Login(ctx, devs[3].DeviceToken, user, pin)
	if err != nil {
		return k.fail("401", err)
	}
	if err := k.expectStatus(res, 401, "invalid_token"); err != nil {
		return err
	}
	k.pass()

	if !cfg.SkipSlow {
		k.begin("a socket that never authenticates is closed with 4408 (waits 10 s)")
		sn, _, err := Dial(ctx, c.Gateway, "", false, nil)
		if err != nil {
			return k.fail("websocket upgrade", err)
		}
		err = k.expectClose(sn, 4408, 15*time.Second)
		sn.Close()
		if err != nil {
			return err
		}
		k.pass()
	}

	fmt.Fprintf(out, "PASS %d checks\n", k.steps)
	return nil
}
