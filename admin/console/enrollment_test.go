package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// TestEnrollmentTokensPage: a mobile manager makes a token for their
// warehouse and sees it once, with its QR code and managed
// configuration; the list afterwards never shows it; revoking works;
// a user manager is refused.
func TestEnrollmentTokensPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.signIn("mm-b@example.com")
	p := b.post("/enrollment-tokens", url.Values{"warehouse_id": {e.whB.ID}, "uses": {"5"}, "expires_hours": {"8"}, "name": {"Dock <b>7</b>"}})
	if p.status != http.StatusCreated {
		t.Fatalf("create = %d; want 201\n%s", p.status, pageText(p.body))
	}
	tok := regexp.MustCompile(`value="(fge_[A-Za-z0-9_-]+)"`).FindStringSubmatch(p.body)
	if tok == nil || !strings.Contains(p.body, "<svg") || !strings.Contains(p.body, "&#34;enrollment_token&#34;") {
		t.Fatalf("created page shows no token, QR code or managed configuration:\n%.3000s", p.body)
	}
	ets, err := e.reg.EnrollmentTokens(context.Background(), devices.EnrollmentTokenFilter{})
	if err != nil || len(ets) != 1 || ets[0].MaxUses != 5 || ets[0].Hash != devices.Token(tok[1]).Hash() {
		t.Fatalf("tokens = %+v, %v; want one of 5 uses, the page's", ets, err)
	}
	list := b.get("/enrollment-tokens")
	if list.status != 200 || strings.Contains(list.body, tok[1]) || !strings.Contains(list.body, "5 of 5") || strings.Contains(list.body, "<b>7</b>") {
		t.Errorf("list = %d; want the token listed (5 of 5, name escaped) without its secret", list.status)
	}
	p = b.follow(b.post("/enrollment-tokens/"+ets[0].ID+"/revoke", url.Values{}))
	if !strings.Contains(p.body, "revoked") {
		t.Errorf("after revoke: %.500s", pageText(p.body))
	}
	if got, _ := e.reg.EnrollmentToken(context.Background(), ets[0].ID); got.RevokedAt == nil {
		t.Errorf("token not revoked")
	}
	um := e.signIn("um-a@example.com")
	if p := um.post("/enrollment-tokens", url.Values{"warehouse_id": {e.whA.ID}}); p.status != http.StatusForbidden {
		t.Errorf("user manager creating a token = %d; want 403", p.status)
	}
}
