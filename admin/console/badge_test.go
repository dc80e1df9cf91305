package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// TestBadgeForm: a user manager sets, replaces and removes a user's
// badge on the user's page; the value never appears on a page, and a bad
// value is refused with its reason and changes nothing.
func TestBadgeForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.reg.CreateUser(ctx, devices.ActorSystem, devices.UserInput{Username: "bo", FirstName: "Bo", LastName: "Li", WarehouseID: e.whA.ID, PIN: "4821"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.signIn("um-a@example.com")
	page := "/users/" + u.ID
	if p := b.get(page); p.status != 200 || !strings.Contains(p.body, "No badge.") {
		t.Fatalf("user page = %d; want one saying No badge.\n%.500s", p.status, pageText(p.body))
	}
	p := b.post(page+"/badge", url.Values{"badge": {"a b"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "The badge was not changed") || !strings.Contains(p.body, `id="badge-err"`) {
		t.Errorf("bad badge = %d; want 400 with the reason at the field\n%.800s", p.status, pageText(p.body))
	}
	if _, err := e.reg.Badge(ctx, u.ID); err == nil {
		t.Fatalf("a refused badge was set")
	}
	p = b.follow(b.post(page+"/badge", url.Values{"badge": {"SECRET-BADGE-1"}}))
	if !strings.Contains(p.body, "Badge set.") || strings.Contains(p.body, "SECRET-BADGE-1") || !strings.Contains(p.body, "Replace the badge") {
		t.Errorf("after set: %.800s", pageText(p.body))
	}
	p = b.follow(b.post(page+"/badge", url.Values{"badge": {"SECRET-BADGE-2"}}))
	if !strings.Contains(p.body, "Badge replaced") || strings.Contains(p.body, "SECRET-BADGE") {
		t.Errorf("after replace: %.800s", pageText(p.body))
	}
	if got, err := e.reg.AuthenticateBadge(ctx, "SECRET-BADGE-2", "4821"); err != nil || got.ID != u.ID {
		t.Errorf("AuthenticateBadge(new) = %q, %v; want bo", got.ID, err)
	}
	p = b.follow(b.post(page+"/badge/remove", url.Values{}))
	if !strings.Contains(p.body, "Badge removed") || !strings.Contains(p.body, "No badge.") {
		t.Errorf("after remove: %.800s", pageText(p.body))
	}
	if mm := e.signIn("mm-b@example.com"); mm.post(page+"/badge", url.Values{"badge": {"SECRET-BADGE-3"}}).status < 400 {
		t.Errorf("a mobile manager of another warehouse set a badge")
	}
}

// TestCustodyPage: the custody page lists a warehouse's records with
// their end and who forced it, shows its report, and refuses a filter
// that is not a time.
func TestCustodyPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.reg.StartCustody(ctx, devices.Custody{SessionID: "ses_page1", DeviceID: "dev_page1", UserID: "usr_page1", WarehouseID: e.whA.ID, Method: devices.MethodBadge}); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.EndCustody(ctx, devices.CustodyEnd{SessionID: "ses_page1", Reason: "admin", By: "manager:mgr_page"}); err != nil {
		t.Fatal(err)
	}
	b := e.signIn("admin@example.com")
	p := b.get("/custody?warehouse=" + url.QueryEscape(e.whA.ID))
	if p.status != 200 || !strings.Contains(p.body, "dev_page1") || !strings.Contains(p.body, "admin by manager:mgr_page") || !strings.Contains(p.body, "Report for") {
		t.Errorf("custody page = %d\n%.1500s", p.status, pageText(p.body))
	}
	if p := b.get("/custody?from=soon"); p.status != http.StatusBadRequest {
		t.Errorf("custody page with a bad time = %d; want 400", p.status)
	}
}
