package admin

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/mail"
	"github.com/floorgate/floorgate/internal/testenv"
)

// mailTo points the API's mails at addr (smtp://, STARTTLS when offered).
func (e *env) mailTo(addr string, srv *testenv.SMTPServer) {
	e.t.Helper()
	s, err := mail.ParseURL("smtp://" + addr)
	if err != nil {
		e.t.Fatal(err)
	}
	o := mail.Options{Timeout: 5 * time.Second}
	if srv != nil {
		o.TLS = srv.ClientTLS()
	}
	c, err := mail.New(s, "Floorgate <floorgate@example.com>", o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.api.mail = c
}

var mailedLink = regexp.MustCompile(`https://console\.example\.com/(invitation|reset-password)#(fg[ir]_[A-Za-z0-9_-]+)`)

// TestInvitationMailed (issue 13, item 3): with a mail server, the
// invitation goes by mail (over STARTTLS) and the answer holds no link;
// the mailed link works. With the mail server down, the admin call still
// succeeds at once, says the mail was not sent and answers the link; a
// resend once the server is back mails a new one and the old one dies.
func TestInvitationMailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.api.cfg.ConsoleURL = "https://console.example.com"
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{STARTTLS: true})
	e.mailTo(srv.Addr, srv)
	roles := []devices.Role{{Role: devices.RoleMobileManager, WarehouseID: e.whA.ID}}

	var cm CreatedManager
	e.expect(201, "admin", "POST", "/managers", map[string]any{"email": "mailed@example.com", "first_name": "Mai", "last_name": "Led", "roles": roles}).decode(t, &cm)
	if cm.Link == nil || !cm.Link.Mailed || cm.Link.URL != "" || cm.Link.MailError != "" {
		t.Fatalf("link = %+v; want mailed, no URL in the answer", cm.Link)
	}
	msg := srv.WaitMessages(t, 1)[0]
	m := mailedLink.FindStringSubmatch(msg.Data)
	if len(msg.To) != 1 || msg.To[0] != "mailed@example.com" || !msg.TLS || m == nil || m[1] != "invitation" ||
		!strings.Contains(msg.Data, "Subject: Your Floorgate invitation") || !strings.Contains(msg.Data, "Hello Mai,") {
		t.Fatalf("mail = %+v; want the invitation to mailed@, over TLS", msg)
	}
	e.expect(200, "", "POST", "/invitation/accept", LinkRequest{Token: m[2], Password: "Mailed-Horse-3-Battery"})

	// The mail server down during an invitation.
	e.mailTo(testenv.DeadAddr(t), nil)
	e.expect(201, "admin", "POST", "/managers", map[string]any{"email": "down@example.com", "first_name": "Do", "last_name": "Wn", "roles": roles}).decode(t, &cm)
	if cm.Link == nil || cm.Link.Mailed || cm.Link.MailError == "" || !strings.Contains(cm.Link.URL, "#fgi_") {
		t.Fatalf("link with the mail server down = %+v; want not mailed, a reason and the link", cm.Link)
	}
	if evs := e.events(devices.EventFilter{Subject: devices.ManagerActor(cm.ID), Action: "manager.invitation.mail_failed"}); len(evs) != 1 {
		t.Errorf("mail_failed events = %d; want 1", len(evs))
	}
	old := linkToken(t, cm.Link, "/invitation")
	e.mailTo(srv.Addr, srv)
	var again IssuedLink
	e.expect(201, "admin", "POST", "/managers/"+cm.ID+"/invitation", nil).decode(t, &again)
	if !again.Mailed {
		t.Fatalf("resend = %+v; want mailed", again)
	}
	msgs := srv.WaitMessages(t, 2)
	m = mailedLink.FindStringSubmatch(msgs[1].Data)
	if msgs[1].To[0] != "down@example.com" || m == nil {
		t.Fatalf("second mail = %+v", msgs[1])
	}
	e.expect(404, "", "POST", "/invitation/accept", LinkRequest{Token: old, Password: "Mailed-Horse-3-Battery"})
	e.expect(200, "", "POST", "/invitation/accept", LinkRequest{Token: m[2], Password: "Mailed-Horse-3-Battery"})

	// An admin's reset link goes by mail too.
	var rl IssuedLink
	e.expect(201, "admin", "POST", "/managers/"+e.managers["mm_b"].ID+"/reset-link", nil).decode(t, &rl)
	msgs = srv.WaitMessages(t, 3)
	if m = mailedLink.FindStringSubmatch(msgs[2].Data); !rl.Mailed || m == nil || m[1] != "reset-password" || msgs[2].To[0] != "mm_b@example.com" {
		t.Errorf("reset mail = %+v, %+v", rl, msgs[2])
	}
}

// TestForgotPassword (issue 13, item 2): the answer is the same for a
// known and an unknown email (status, body, headers); a known active
// manager gets one reset link by mail, and no second one within the
// cooldown; using it ends the manager's tokens.
func TestForgotPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.api.cfg.ConsoleURL = "https://console.example.com"
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{})
	e.mailTo(srv.Addr, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.api.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	norm := func(r response) string {
		h := r.header.Clone()
		h.Del("Date")
		var b strings.Builder
		h.Write(&b)
		return b.String() + "\n" + string(r.body)
	}
	// An invited manager and a disabled one: accounts that get no link.
	e.expect(201, "admin", "POST", "/managers", map[string]any{"email": "invited@example.com", "first_name": "I", "last_name": "N",
		"roles": []map[string]string{{"role": "mobile_manager", "warehouse_id": e.whA.ID}}})
	base := len(srv.WaitMessages(t, 1)) // the invitation
	e.expect(200, "admin", "PATCH", "/managers/"+e.managers["mm_a_other"].ID, map[string]any{"status": "disabled"})
	known := e.expect(202, "", "POST", "/forgot-password", ForgotPasswordRequest{Email: "MM_A@example.com"})
	for _, email := range []string{"nobody@example.com", "not-an-email", "invited@example.com", "mm_a_other@example.com", " mm_a@example.com "} {
		if r := e.expect(202, "", "POST", "/forgot-password", ForgotPasswordRequest{Email: email}); norm(r) != norm(known) {
			t.Errorf("answer for %q differs from a known active manager's:\n%s\n---\n%s", email, norm(r), norm(known))
		}
	}
	e.expect(400, "", "POST", "/forgot-password", map[string]any{})
	msg := srv.WaitMessages(t, base+1)[base]
	m := mailedLink.FindStringSubmatch(msg.Data)
	if msg.To[0] != "mm_a@example.com" || m == nil || m[1] != "reset-password" {
		t.Fatalf("mail = %+v; want a reset link to mm_a", msg)
	}
	// Within the cooldown, asking again sends nothing more; a request
	// after it is handled once Run reaches it (the unknown one above
	// was handled before, in order).
	e.expect(202, "", "POST", "/forgot-password", ForgotPasswordRequest{Email: "mm_a@example.com"})
	e.expect(202, "", "POST", "/forgot-password", ForgotPasswordRequest{Email: "mm_b@example.com"})
	msgs := srv.WaitMessages(t, base+2)
	if len(msgs) != base+2 || msgs[base+1].To[0] != "mm_b@example.com" {
		t.Errorf("mails = %d (second to %v); want mm_b's only, mm_a is in its cooldown", len(msgs), msgs[len(msgs)-1].To)
	}
	other := e.signIn(e.managers["mm_a"].Email, testPassword)
	e.expect(200, "", "POST", "/password-reset", LinkRequest{Token: m[2], Password: "Forgot-Horse-2-Battery"})
	e.expect(401, other, "GET", "/me", nil)
	e.expect(401, "mm_a", "GET", "/me", nil)
	if r := e.call("", "POST", "/forgot-password", ForgotPasswordRequest{Email: strings.Repeat("a", 400) + "@example.com"}); r.status != http.StatusBadRequest {
		t.Errorf("a 400-character email = %d; want 400", r.status)
	}
}
