package admin

import (
	"encoding/json"

	"testing"

	"github.com/floorgate/floorgate/devices"
)

// signIn signs in over HTTP and returns the token.
func (e *env) signIn(email, password string) string {
	e.t.Helper()
	var out LoginResponse
	e.expect(200, "", "POST", "/login", LoginRequest{Email: email, Password: password}).decode(e.t, &out)
	return out.Token
}

// TestManagerPasswordChanges (issue 15, item 6): a user manager cannot
// set a mobile manager's password (the takeover), a manager changing
// their own gives the current one, and every change ends the account's
// other sign-ins.
func TestManagerPasswordChanges(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		const newPW = "Another-Horse-7-Staple"
		mm := e.managers["mm_a"]
		mmOther := e.signIn(mm.Email, testPassword)

		// The takeover: um_a manages mm_a's account, but not its password.
		r := e.expect(403, "um_a", "PATCH", "/managers/"+mm.ID, map[string]any{"password": newPW})
		if r.code() != "forbidden" {
			t.Errorf("code = %q; want forbidden", r.code())
		}
		if evs := e.events(devices.EventFilter{Action: "authz.denied", Subject: devices.ManagerActor(mm.ID)}); len(evs) != 1 {
			t.Errorf("authz.denied events = %d; want 1", len(evs))
		}
		e.expect(200, "mm_a", "GET", "/me", nil)
		e.signIn(mm.Email, testPassword) // unchanged
		// um_a may still change the names.
		e.expect(200, "um_a", "PATCH", "/managers/"+mm.ID, map[string]any{"first_name": "Mo"})

		// One's own: the current password is required and must be right.
		if r := e.expect(400, "mm_a", "PATCH", "/managers/"+mm.ID, map[string]any{"password": newPW}); r.code() != "invalid_request" || !hasField(r, "current_password") {
			t.Errorf("without current_password: %s", r.body)
		}
		if r := e.expect(400, "mm_a", "PATCH", "/managers/"+mm.ID, map[string]any{"password": newPW, "current_password": "Wrong-Horse-1-Battery"}); !hasField(r, "current_password") {
			t.Errorf("wrong current_password: %s", r.body)
		}
		if evs := e.events(devices.EventFilter{Action: "manager.password.failure"}); len(evs) != 1 {
			t.Errorf("manager.password.failure events = %d; want 1", len(evs))
		}
		e.signIn(mm.Email, testPassword) // still the old one
		e.expect(200, "mm_a", "PATCH", "/managers/"+mm.ID, map[string]any{"password": newPW, "current_password": testPassword})
		// The caller's own sign-in goes on; the other one ended.
		e.expect(200, "mm_a", "GET", "/me", nil)
		e.expect(401, mmOther, "GET", "/me", nil)
		e.expect(401, "", "POST", "/login", LoginRequest{Email: mm.Email, Password: testPassword})
		e.signIn(mm.Email, newPW)

		// An admin sets another manager's password without the current
		// one, and every sign-in of that account ends.
		mb := e.managers["mm_b"]
		mbOther := e.signIn(mb.Email, testPassword)
		e.expect(200, "admin", "PATCH", "/managers/"+mb.ID, map[string]any{"password": newPW})
		e.expect(401, "mm_b", "GET", "/me", nil)
		e.expect(401, mbOther, "GET", "/me", nil)
		e.signIn(mb.Email, newPW)

		// Bad input changes nothing.
		e.expect(400, "admin", "PATCH", "/managers/"+mb.ID, map[string]any{"password": "short"})
		e.signIn(mb.Email, newPW)
	})
}

// hasField reports whether a problem answer names field.
func hasField(r response, field string) bool {
	var p Problem
	_ = json.Unmarshal(r.body, &p)
	for _, f := range p.Errors {
		if f.Field == field {
			return true
		}
	}
	return false
}
