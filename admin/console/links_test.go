package console

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestInvitationPages: an admin adds a manager with no password and sees
// the invitation link once (the code after #, never in a path); the
// invitee's browser opens the page, posts the code and a password, and
// is signed in; the link then fails with a clear message; a resend and a
// revoke work from the manager's page; typed values come back escaped.
func TestInvitationPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signIn("admin@example.com")
	p := admin.post("/managers", url.Values{"email": {"newbie@example.com"}, "first_name": {"New"}, "last_name": {"Bie"},
		"role_mobile_manager": {e.whA.ID}, "roles_shown": {"1"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create = %d; want 201\n%s", p.status, pageText(p.body))
	}
	m := regexp.MustCompile(`value="(http[^"]*/invitation#(fgi_[A-Za-z0-9_-]+))"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no invitation link on the page:\n%.3000s", pageText(p.body))
	}
	code := m[2]

	guest := e.browser()
	if g := guest.get("/invitation"); g.status != 200 || !strings.Contains(g.body, `data-linkcode`) {
		t.Fatalf("GET /invitation = %d", g.status)
	}
	bad := guest.post("/invitation", url.Values{"code": {code + `"><script>x</script>`}, "password": {"Newbie-Horse-4-Battery"}, "password2": {"Newbie-Horse-4-Battery"}})
	if bad.status < 400 || strings.Contains(bad.body, "<script>x") {
		t.Errorf("junk code: %d, escaped: %v", bad.status, !strings.Contains(bad.body, "<script>x"))
	}
	if p := guest.post("/invitation", url.Values{"code": {code}, "password": {"Newbie-Horse-4-Battery"}, "password2": {"other"}}); p.status != 400 {
		t.Errorf("passwords that differ = %d; want 400", p.status)
	}
	ok := guest.post("/invitation", url.Values{"code": {code}, "password": {"Newbie-Horse-4-Battery"}, "password2": {"Newbie-Horse-4-Battery"}})
	if ok.status != http.StatusSeeOther {
		t.Fatalf("accept = %d; want 303\n%s", ok.status, pageText(ok.body))
	}
	if acc := guest.follow(ok); acc.status != 200 || !strings.Contains(acc.body, "newbie@example.com") {
		t.Errorf("after accepting: %d; want the account page, signed in", acc.status)
	}
	again := e.browser().post("/invitation", url.Values{"code": {code}, "password": {"Newbie-Horse-4-Battery"}, "password2": {"Newbie-Horse-4-Battery"}})
	if again.status != http.StatusNotFound || !strings.Contains(html.UnescapeString(again.body), "used already") {
		t.Errorf("second use = %d; want 404 saying it was used\n%s", again.status, pageText(again.body))
	}

	// Resend and revoke from the manager's page; the list says invited.
	p = admin.post("/managers", url.Values{"email": {"later@example.com"}, "first_name": {"La"}, "last_name": {"Ter"},
		"role_mobile_manager": {e.whA.ID}, "roles_shown": {"1"}})
	id := regexp.MustCompile(`action="/managers/(mgr_[A-Za-z0-9]+)/invitation"`).FindStringSubmatch(p.body)
	if id == nil {
		t.Fatalf("no resend button:\n%.2000s", pageText(p.body))
	}
	if l := admin.get("/managers"); !strings.Contains(l.body, "invited") {
		t.Errorf("managers list does not say invited")
	}
	p = admin.post("/managers/"+id[1]+"/invitation", url.Values{})
	m2 := regexp.MustCompile(`#(fgi_[A-Za-z0-9_-]+)"`).FindStringSubmatch(p.body)
	if p.status != http.StatusCreated || m2 == nil {
		t.Fatalf("resend = %d, link %v", p.status, m2)
	}
	p = admin.follow(admin.post("/managers/"+id[1]+"/invitation/revoke", url.Values{}))
	if !strings.Contains(p.body, "revoked") {
		t.Errorf("after revoke: %s", pageText(p.body))
	}
	if p := e.browser().post("/invitation", url.Values{"code": {m2[1]}, "password": {"Later-Horse-4-Battery"}, "password2": {"Later-Horse-4-Battery"}}); p.status != http.StatusNotFound {
		t.Errorf("revoked link = %d; want 404", p.status)
	}
}
