package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
)

// linkToken is the token in an issued link's fragment.
func linkToken(t *testing.T, l *IssuedLink, page string) string {
	t.Helper()
	if l == nil {
		t.Fatal("no link in the answer")
	}
	base, tok, ok := strings.Cut(l.URL, "#")
	if !ok || !strings.HasSuffix(base, page) || strings.Contains(base, "fgi_") || strings.Contains(base, "fgr_") {
		t.Fatalf("link %q: want the token after # on %s, never in the path or query", l.URL, page)
	}
	return tok
}

// TestInvitations (issue 13, item 1) over HTTP: an invitation used twice
// (the second refused), used after 48 hours (refused with its own code),
// resent (the old link dead), revoked; who may invite; bad input changes
// nothing; the list shows invited, expired and active.
func TestInvitations(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.api.cfg.ConsoleURL = "https://console.example.com/"
		const pw = "Invited-Horse-7-Battery"
		invite := func(role, email string, roles ...devices.Role) CreatedManager {
			t.Helper()
			var cm CreatedManager
			e.expect(201, role, "POST", "/managers", map[string]any{"email": email, "first_name": "In", "last_name": "Vited", "roles": roles}).decode(t, &cm)
			return cm
		}
		mmA := devices.Role{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID}
		cm := invite("admin", "new@example.com", mmA)
		if cm.Status != devices.ManagerInvited || cm.Link == nil || cm.Link.Mailed || cm.Link.Kind != "invitation" ||
			!cm.Link.ExpiresAt.Equal(e.clock.Now().Add(48*time.Hour)) || !strings.HasPrefix(cm.Link.URL, "https://console.example.com/invitation#fgi_") {
			t.Fatalf("created = %+v, link %+v; want invited with a 48 h link to the console", cm.Manager, cm.Link)
		}
		tok := linkToken(t, cm.Link, "/invitation")
		// An invited manager cannot sign in.
		e.expect(401, "", "POST", "/login", LoginRequest{Email: "new@example.com", Password: pw})

		// Bad input changes nothing.
		if r := e.expect(400, "", "POST", "/invitation/accept", map[string]any{"password": pw}); !hasField(r, "token") {
			t.Errorf("no token: %s", r.body)
		}
		if r := e.expect(400, "", "POST", "/invitation/accept", LinkRequest{Token: tok, Password: "short"}); !hasField(r, "password") {
			t.Errorf("weak password: %s", r.body)
		}
		if r := e.expect(404, "", "POST", "/invitation/accept", LinkRequest{Token: "fgi_nothing", Password: pw}); r.code() != "invalid_link" {
			t.Errorf("junk token: code %q; want invalid_link", r.code())
		}
		e.expect(404, "", "POST", "/password-reset", LinkRequest{Token: tok, Password: pw}) // an invitation is no reset

		// Used once: signed in; used twice: refused.
		var in LoginResponse
		e.expect(200, "", "POST", "/invitation/accept", LinkRequest{Token: tok, Password: pw}).decode(t, &in)
		if in.Manager.Status != devices.ManagerActive || in.Manager.ID != cm.ID {
			t.Errorf("accepted: %+v; want the manager, active", in.Manager)
		}
		e.expect(200, in.Token, "GET", "/me", nil)
		if r := e.expect(404, "", "POST", "/invitation/accept", LinkRequest{Token: tok, Password: pw}); r.code() != "invalid_link" {
			t.Errorf("second use: code %q; want invalid_link", r.code())
		}
		e.signIn("new@example.com", pw)
		if evs := e.events(devices.EventFilter{Subject: devices.ManagerActor(cm.ID), Action: "manager.invitation."}); len(evs) != 2 {
			t.Errorf("invitation events = %d; want issue and accept", len(evs))
		}

		// Past 48 hours: refused with its own code; the list says expired;
		// a resend gives a new link and kills the old one.
		late := invite("admin", "late@example.com", mmA)
		lateTok := linkToken(t, late.Link, "/invitation")
		e.clock.Advance(48*time.Hour + time.Second)
		e.reissue("admin", "um_a", "mm_a") // their tokens were idle too
		if r := e.expect(410, "", "POST", "/invitation/accept", LinkRequest{Token: lateTok, Password: pw}); r.code() != "link_expired" {
			t.Errorf("after 48 h: code %q; want link_expired", r.code())
		}
		var list Page[devices.Manager]
		e.expect(200, "admin", "GET", "/managers", nil).decode(t, &list)
		states := map[string]string{}
		for _, m := range list.Items {
			states[m.Email] = string(m.Status)
			if m.Invitation != nil {
				states[m.Email] += "/" + m.Invitation.State
			}
		}
		if states["late@example.com"] != "invited/expired" || states["new@example.com"] != "active" {
			t.Errorf("list states = %v; want late invited/expired, new active", states)
		}
		var again IssuedLink
		e.expect(201, "admin", "POST", "/managers/"+late.ID+"/invitation", nil).decode(t, &again)
		newTok := linkToken(t, &again, "/invitation")
		if newTok == lateTok {
			t.Fatal("resend gave the same token")
		}
		e.expect(404, "", "POST", "/invitation/accept", LinkRequest{Token: lateTok, Password: pw})
		e.expect(200, "", "POST", "/invitation/accept", LinkRequest{Token: newTok, Password: pw})
		e.expect(409, "admin", "POST", "/managers/"+late.ID+"/invitation", nil) // accepted: nothing to resend

		// The invitation TTL is configurable.
		e.api.cfg.InvitationTTL = 2 * time.Hour
		short := invite("admin", "short@example.com", mmA)
		if !short.Link.ExpiresAt.Equal(e.clock.Now().Add(2 * time.Hour)) {
			t.Errorf("expires_at = %v; want 2 h from now", short.Link.ExpiresAt)
		}
		// Revoked: dead.
		var revoked devices.Manager
		e.expect(200, "admin", "DELETE", "/managers/"+short.ID+"/invitation", nil).decode(t, &revoked)
		if revoked.Invitation == nil || revoked.Invitation.State != "revoked" {
			t.Errorf("revoked = %+v; want invitation revoked", revoked.Invitation)
		}
		e.expect(404, "", "POST", "/invitation/accept", LinkRequest{Token: linkToken(t, short.Link, "/invitation"), Password: pw})

		// Who may invite: a user manager, for the roles they may grant.
		invite("um_a", "um-invite@example.com", mmA)
		e.expect(403, "um_a", "POST", "/managers", map[string]any{"email": "x1@example.com", "first_name": "X", "last_name": "Y",
			"roles": []devices.Role{{Role: devices.RoleUserManager, WarehouseID: e.whA.ID}}})
		e.expect(404, "um_a", "POST", "/managers", map[string]any{"email": "x2@example.com", "first_name": "X", "last_name": "Y",
			"roles": []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: e.whB.ID}}})
		e.expect(403, "mm_a", "POST", "/managers", map[string]any{"email": "x3@example.com", "first_name": "X", "last_name": "Y", "roles": []devices.Role{mmA}})
		other := invite("admin", "umb-target@example.com", devices.Role{Role: devices.RoleMobileManager, WarehouseID: e.whB.ID})
		e.expect(404, "um_a", "POST", "/managers/"+other.ID+"/invitation", nil)
		e.expect(404, "um_a", "DELETE", "/managers/"+other.ID+"/invitation", nil)
		for _, email := range []string{"x1@example.com", "x2@example.com", "x3@example.com"} {
			e.expect(401, "", "POST", "/login", LoginRequest{Email: email, Password: pw})
		}
		e.expect(400, "admin", "POST", "/managers", map[string]any{"email": "not-an-email", "first_name": "X", "last_name": "Y", "roles": []devices.Role{mmA}})
	})
}

// TestResetLinks (issue 13, item 2): an admin issues a reset link (no one
// else may); using it sets the password, ends the manager's tokens and
// signs them in; it works once.
func TestResetLinks(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		const pw = "Reset-Horse-8-Battery"
		mm := e.managers["mm_a"]
		other := e.signIn(mm.Email, testPassword)
		e.expect(403, "um_a", "POST", "/managers/"+mm.ID+"/reset-link", nil)
		e.expect(403, "mm_a", "POST", "/managers/"+mm.ID+"/reset-link", nil)
		var l IssuedLink
		e.expect(201, "admin", "POST", "/managers/"+mm.ID+"/reset-link", nil).decode(t, &l)
		if l.Kind != "reset" || !l.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
			t.Errorf("reset link = %+v; want 1 h", l)
		}
		tok := linkToken(t, &l, "/reset-password")
		e.expect(200, "mm_a", "GET", "/me", nil) // nothing ends before the link is used
		e.expect(404, "", "POST", "/invitation/accept", LinkRequest{Token: tok, Password: pw})
		var in LoginResponse
		e.expect(200, "", "POST", "/password-reset", LinkRequest{Token: tok, Password: pw}).decode(t, &in)
		e.expect(401, "mm_a", "GET", "/me", nil)
		e.expect(401, other, "GET", "/me", nil)
		e.expect(200, in.Token, "GET", "/me", nil)
		e.signIn(mm.Email, pw)
		e.expect(404, "", "POST", "/password-reset", LinkRequest{Token: tok, Password: "Third-Horse-9-Battery"})
		// An hour later a new link is dead.
		e.expect(201, "admin", "POST", "/managers/"+mm.ID+"/reset-link", nil).decode(t, &l)
		e.clock.Advance(time.Hour)
		e.reissue("admin")
		if r := e.expect(410, "", "POST", "/password-reset", LinkRequest{Token: linkToken(t, &l, "/reset-password"), Password: "Third-Horse-9-Battery"}); r.code() != "link_expired" {
			t.Errorf("after 1 h: %q; want link_expired", r.code())
		}
		e.signIn(mm.Email, pw)
		if evs := e.events(devices.EventFilter{Subject: devices.ManagerActor(mm.ID), Action: "manager.reset.use"}); len(evs) != 1 {
			t.Errorf("manager.reset.use events = %d; want 1", len(evs))
		}
	})
}

// reissue gives the named roles fresh tokens (after the clock moved past
// their idle end).
func (e *env) reissue(roles ...string) {
	e.t.Helper()
	for _, role := range roles {
		tok, _, err := e.reg.IssueManagerToken(context.Background(), e.managers[role].ID)
		if err != nil {
			e.t.Fatalf("IssueManagerToken(%s): %v", role, err)
		}
		e.tokens[role] = tok.Reveal()
	}
}
