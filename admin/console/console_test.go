package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/admin"
	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestEveryActionHasAnAPIRoute: every console route names the admin API
// routes behind it, and each is a route of the API (method and path
// pattern, from its OpenAPI document): the console has no other way to
// read or change anything.
func TestEveryActionHasAnAPIRoute(t *testing.T) {
	e := newEnv(t)
	res := e.browser().get(admin.BasePath + "/openapi.json")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(res.body), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	api := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			api[strings.ToUpper(method)+" "+strings.TrimPrefix(path, admin.BasePath)] = true
		}
	}
	if len(api) < 40 {
		t.Fatalf("openapi.json names %d routes; want the whole admin API", len(api))
	}
	for _, rt := range e.cons.routes() {
		if rt.Path == "/static/" {
			continue
		}
		if len(rt.API) == 0 {
			t.Errorf("console route %s %s names no admin API route", rt.Method, rt.Path)
		}
		for _, a := range rt.API {
			if !api[a] {
				t.Errorf("console route %s %s calls %q, which is not an admin API route", rt.Method, rt.Path, a)
			}
		}
		// Public actions: signing in, and setting a password with an
		// invitation or reset link (the link's code is the credential).
		if rt.Method != "GET" && rt.Public && rt.Path != "/signin" && rt.Path != admin.InvitationPath && rt.Path != admin.ResetPasswordPath && rt.Path != "/forgot-password" {
			t.Errorf("console route %s %s changes state without a signed-in manager", rt.Method, rt.Path)
		}
	}
}

// TestSecurityHeaders: every answer, pages, errors and files, carries
// the strict policy.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("admin@example.com")
	for _, path := range []string{"/signin", "/board", "/users", "/nowhere", "/static/console.css", "/users/usr_nope"} {
		p := b.get(path)
		h := p.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: Content-Security-Policy %q allows inline or eval", path, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := h.Get(k); got != want {
				t.Errorf("GET %s: %s = %q; want %q", path, k, got, want)
			}
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") || strings.Contains(p.body, " onclick=") {
			t.Errorf("GET %s holds an inline script or style", path)
		}
	}
}

// TestSessionCookie: sign-in sets the cookie as the house rules say,
// sign-out ends the token, and no token is ever in a URL.
func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := newEnv(t)
		e.secure = secure
		b := e.browser()
		p := b.post("/signin", url.Values{"email": {"admin@example.com"}, "password": {testPassword}, "next": {"//evil.example/x"}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
			t.Fatalf("sign in with next //evil.example = %d to %q; want 303 to /", p.status, p.header.Get("Location"))
		}
		var ck *http.Cookie
		for _, c := range (&http.Response{Header: p.header}).Cookies() {
			if c.Name == cookieName {
				ck = c
			}
		}
		if ck == nil {
			t.Fatalf("no %s cookie set: %v", cookieName, p.header)
		}
		if !strings.HasPrefix(ck.Value, devices.ManagerTokenPrefix) || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != secure {
			t.Errorf("cookie = %+v; want an fgm_ token, HttpOnly, SameSite=Strict, Path=/, Secure=%v", ck, secure)
		}
		if left := time.Until(ck.Expires); left < 11*time.Hour || left > 13*time.Hour {
			t.Errorf("cookie expires in %v; want the token's 12 hours", left)
		}
		if strings.Contains(p.header.Get("Location"), "fgm_") {
			t.Errorf("a token in the redirect")
		}
		tok := ck.Value
		if p := b.post("/signout", url.Values{}); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin") {
			t.Errorf("sign out = %d to %q; want 303 to /signin", p.status, p.header.Get("Location"))
		}
		req, _ := http.NewRequest("GET", e.srv.URL+admin.BasePath+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if res := b.send(req); res.status != http.StatusUnauthorized {
			t.Errorf("the signed-out token still answers GET /me: %d", res.status)
		}
		if p := b.get("/users"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/signin") {
			t.Errorf("after sign-out GET /users = %d %q; want a redirect to /signin", p.status, p.header.Get("Location"))
		}
	}
}

// TestIdleExpiry: a console session ends with its token, 15 minutes
// unused, and the next page asks to sign in again.
func TestIdleExpiry(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("admin@example.com")
	if p := b.get("/board"); p.status != http.StatusOK {
		t.Fatalf("GET /board = %d", p.status)
	}
	e.clock.Advance(16 * time.Minute)
	p := b.get("/board")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/signin?m=ended&next=%2Fboard" {
		t.Errorf("after 16 idle minutes GET /board = %d to %q; want /signin?m=ended&next=%%2Fboard", p.status, p.header.Get("Location"))
	}
}

// TestSignInRefusals: wrong passwords, throttling and empty fields are
// said in the page, never 5xx.
func TestSignInRefusals(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	tests := []struct {
		email, password string
		status          int
		says            string
	}{
		{"admin@example.com", "wrong", 401, "Wrong email or password."},
		{"nobody@example.com", "wrong", 401, "Wrong email or password."},
		{"", "", 400, "Enter your email and password."},
		{strings.Repeat("a", 400) + "@x.y", "p", 400, "Enter your email and password."},
	}
	for _, tc := range tests {
		p := b.post("/signin", url.Values{"email": {tc.email}, "password": {tc.password}})
		if p.status != tc.status || !strings.Contains(p.body, tc.says) {
			t.Errorf("sign in %.20q = %d; want %d saying %q", tc.email, p.status, tc.status, tc.says)
		}
	}
	// The throttle of the API applies: after enough failures, a wait.
	var last page
	for range 12 {
		last = b.post("/signin", url.Values{"email": {"um-a@example.com"}, "password": {"wrong"}})
		if last.status == http.StatusTooManyRequests {
			break
		}
		e.clock.Advance(time.Minute)
	}
	if last.status != http.StatusTooManyRequests || !strings.Contains(last.body, "Too many attempts") {
		t.Errorf("after many failures sign-in = %d; want 429 with Too many attempts", last.status)
	}
}

// TestCrossSitePostRefused: a state-changing request from another site
// is refused and changes nothing.
func TestCrossSitePostRefused(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("admin@example.com")
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/warehouses", strings.NewReader("name=Evil&code=EVL"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if p := b.send(req); p.status != http.StatusForbidden || !strings.Contains(p.body, "another site") {
			t.Errorf("cross-site POST with %v = %d; want 403 saying another site", hdr, p.status)
		}
	}
	if _, err := e.reg.WarehouseByCode(context.Background(), "EVL"); err == nil {
		t.Errorf("a cross-site POST created a warehouse")
	}
	if p := b.post("/warehouses", url.Values{"name": {"Good"}, "code": {"GOD"}}); p.status != http.StatusSeeOther {
		t.Errorf("same-origin POST /warehouses = %d; want 303", p.status)
	}
}

// TestTypedValuesAreText: a name holding markup is shown as text on
// every page that shows it.
func TestTypedValuesAreText(t *testing.T) {
	e := newEnv(t)
	u := e.mkUser("scripty", `<script>alert("x")</script>`, e.whA.ID)
	d := e.mkDevice("SER-X", e.whA.ID)
	e.mkSession(u, d)
	b := e.signIn("admin@example.com")
	for _, path := range []string{"/users", "/users/" + u.ID, "/board?warehouse=" + e.whA.ID} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, p.status)
		}
		if strings.Contains(p.body, `<script>alert`) {
			t.Errorf("GET %s renders the name as markup", path)
		}
		if !strings.Contains(p.body, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
			t.Errorf("GET %s does not show the name as text", path)
		}
	}
}

// TestScope: a user manager of A sees A's board and users, not B's.
func TestScope(t *testing.T) {
	e := newEnv(t)
	ub := e.mkUser("bravo1", "Bea", e.whB.ID)
	b := e.signIn("um-a@example.com")
	if p := b.get("/board"); p.status != http.StatusOK || !strings.Contains(p.body, "Alpha") || strings.Contains(p.body, "Bravo") {
		t.Errorf("the board of a user manager of A = %d, or it names Bravo", p.status)
	}
	for _, path := range []string{"/board?warehouse=" + e.whB.ID, "/board/events?warehouse=" + e.whB.ID, "/users/" + ub.ID, "/warehouses/" + e.whB.ID} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s as user manager of A = %d; want 404", path, p.status)
		}
	}
	if p := b.post("/users/"+ub.ID+"/suspend", url.Values{}); p.status != http.StatusNotFound {
		t.Errorf("suspend a user of B as user manager of A = %d; want 404", p.status)
	}
	if u, _ := e.reg.User(context.Background(), ub.ID); u.Status != devices.UserActive {
		t.Errorf("user of B is %s; want active", u.Status)
	}
	if p := b.get("/users?warehouse=" + e.whB.ID); p.status == http.StatusOK && strings.Contains(p.body, "bravo1") {
		t.Errorf("the users list of B shows bravo1 to a user manager of A")
	}
}

// TestBadInputChangesNothing: each form with bad input answers 4xx with
// the reason in the page, and the store is as it was.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	u := e.mkUser("keeper", "Kee", e.whA.ID)
	b := e.signIn("admin@example.com")
	tests := []struct {
		path string
		form url.Values
		says string
	}{
		{"/users", url.Values{"first_name": {"Jo"}, "last_name": {"X"}, "username": {"jox"}, "pin": {"1111"}, "warehouse_id": {e.whA.ID}}, "PIN was refused"},
		{"/users", url.Values{"first_name": {"Jo"}, "last_name": {"X"}, "username": {"keeper"}, "pin": {"4821"}, "warehouse_id": {e.whA.ID}}, "already taken"},
		{"/users", url.Values{"first_name": {""}, "last_name": {""}, "username": {"a b"}, "pin": {"4821"}, "warehouse_id": {"wh_nope"}}, "first_name is required"},
		{"/users/" + u.ID, url.Values{"username": {"bad name!"}}, "a username may hold only"},
		{"/users/" + u.ID + "/reset-pin", url.Values{"pin": {"12"}, "pin_change_required": {"0", "1"}}, "PIN"},
		{"/settings", url.Values{"session_cap": {"lots"}}, "must be a whole number"},
		{"/settings", url.Values{"session_cap": {"0"}}, "session_cap"},
		{"/warehouses/" + e.whA.ID, url.Values{"name": {"Alpha"}, "code": {"ALP"}, "pin_min_length": {"99"}}, "pin_min_length"},
		{"/warehouses", url.Values{"name": {"Dup"}, "code": {"ALP"}}, "another warehouse has this code"},
		{"/managers", url.Values{"email": {"new@example.com"}, "password": {"short"}, "first_name": {"N"}, "last_name": {"M"}}, "password"},
		{"/service-keys", url.Values{"name": {""}, "scope": {"root"}}, "scope must be introspect or admin"},
		{"/enrollment-tokens", url.Values{"warehouse_id": {e.whA.ID}, "uses": {"many"}}, "uses is a whole number"},
		{"/enrollment-tokens", url.Values{"warehouse_id": {e.whA.ID}, "uses": {"0.5"}}, "uses is a whole number"},
		{"/enrollment-tokens", url.Values{"warehouse_id": {e.whA.ID}, "uses": {"20000"}}, "uses is from 1"},
		{"/enrollment-tokens", url.Values{"warehouse_id": {e.whA.ID}, "expires_hours": {"-1"}}, "hours is a number"},
		{"/enrollment-tokens", url.Values{"warehouse_id": {""}}, "warehouse_id is required"},
		{"/account", url.Values{"email": {"admin@example.com"}, "first_name": {"A"}, "last_name": {"B"}, "password": {"Abcdefgh-1234"}, "password2": {"other"}}, "differ"},
		{"/users/import", url.Values{"step": {"check"}, "csv": {""}}, "Choose a CSV file"},
		{"/users/import", url.Values{"step": {"check"}, "csv": {"nonsense\n1,2\n"}}, "refused"},
	}
	before := snapshot(t, e)
	for _, tc := range tests {
		p := b.post(tc.path, tc.form)
		if p.status < 400 || p.status >= 500 || !strings.Contains(strings.ToLower(p.body), strings.ToLower(tc.says)) {
			t.Errorf("POST %s %v = %d; want 4xx saying %q\n%.2000s", tc.path, tc.form, p.status, tc.says, pageText(p.body))
		}
	}
	if after := snapshot(t, e); after != before {
		t.Errorf("bad input changed the registry:\n before %s\n after  %s", before, after)
	}
}

// snapshot sums up what the forms above could change.
func snapshot(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	us, _ := e.reg.Users(ctx, devices.UserFilter{Page: devices.Page{Limit: 500}})
	ws, _ := e.reg.Warehouses(ctx, devices.WarehouseFilter{Page: devices.Page{Limit: 500}})
	ms, _ := e.reg.Managers(ctx, devices.ManagerFilter{Page: devices.Page{Limit: 500}})
	st, _ := e.reg.Settings(ctx)
	ks, _ := e.reg.ServiceKeys(ctx, devices.Page{Limit: 500})
	ets, _ := e.reg.EnrollmentTokens(ctx, devices.EnrollmentTokenFilter{Page: devices.Page{Limit: 500}})
	b, _ := json.Marshal([]any{us, ws, ms, st, ks, ets})
	return string(b)
}

// pageText is the page's flash and field messages, for a failure.
func pageText(body string) string {
	var out []string
	for _, marker := range []string{`class="flash`, `class="ferr"`} {
		for _, part := range strings.Split(body, marker)[1:] {
			if i := strings.Index(part, "<"); i >= 0 {
				out = append(out, part[:i])
			}
		}
	}
	return strings.Join(out, " | ")
}

// TestStory drives the main pages as an admin: create a user with a
// suggested username, import a CSV with one bad row, act on a device,
// and follow a logout command.
func TestStory(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("admin@example.com")

	// A suggestion without JavaScript: the form comes back filled in.
	p := b.post("/users", url.Values{"first_name": {"María"}, "last_name": {"López"}, "username": {""}, "pin": {"4821"}, "warehouse_id": {e.whA.ID}, "pin_change_required": {"0", "1"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `value="marial"`) {
		t.Fatalf("suggestion = %d %s; want the form with marial", p.status, pageText(p.body))
	}
	p = b.follow(b.post("/users", url.Values{"first_name": {"María"}, "last_name": {"López"}, "username": {"marial"}, "pin": {"4821"}, "warehouse_id": {e.whA.ID}, "pin_change_required": {"0", "1"}}))
	if !strings.Contains(p.body, "User marial created.") || !strings.Contains(p.body, "chooses a new PIN at next sign-in") {
		t.Errorf("after create: %s", pageText(p.body))
	}
	// The script's check.
	p = b.get("/users/username?first_name=Mar%C3%ADa&last_name=L%C3%B3pez")
	if p.status != 200 || !strings.Contains(p.body, `"username":"marial2"`) {
		t.Errorf("username suggestion = %d %s; want marial2", p.status, p.body)
	}

	// Import: dry run, then the valid rows.
	csv := "username,first_name,last_name,pin,warehouse_code\nrow1,Ann,One,4821,ALP\nrow2,Bob,Two,1234,ALP\nrow3,Cy,Three,5820,ALP\n"
	p = b.post("/users/import", url.Values{"step": {"check"}, "csv": {csv}})
	if p.status != 200 || !strings.Contains(p.body, "Dry run:") || !strings.Contains(p.body, "3 rows, 2 valid, 1 with problems") || !strings.Contains(p.body, "consecutive") {
		t.Fatalf("dry run = %d: %.3000s", p.status, p.body)
	}
	if _, err := e.reg.UserByUsername(context.Background(), "row1"); err == nil {
		t.Fatalf("the dry run created row1")
	}
	p = b.post("/users/import", url.Values{"step": {"import"}, "mode": {"valid_only"}, "csv": {csv}})
	if p.status != 200 || !strings.Contains(p.body, "Imported: 2 users created, 1 rows refused") {
		t.Fatalf("import = %d %s", p.status, pageText(p.body))
	}

	// Suspended users stand out; export answers a CSV.
	u := e.mkUser("susie", "Sue", e.whA.ID)
	if p := b.post("/users/"+u.ID+"/suspend", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("suspend = %d", p.status)
	}
	if p := b.get("/users?status=suspended"); !strings.Contains(p.body, `class="user-suspended"`) {
		t.Errorf("the suspended user does not stand out")
	}
	if p := b.get("/users/export?warehouse=" + e.whA.ID); p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") || !strings.Contains(p.body, "row1") {
		t.Errorf("export = %d %s", p.status, p.header.Get("Content-Type"))
	}
	// Delete shows the restore date.
	b.post("/users/"+u.ID+"/delete", url.Values{})
	restore := e.clock.Now().Add(devices.RestoreWindow).UTC().Format("2006-01-02")
	if p := b.get("/users/" + u.ID); !strings.Contains(p.body, "restorable until <strong>"+restore) {
		t.Errorf("the deleted user's page does not show the restore date %s", restore)
	}

	// A device in use: log it out from the board, follow the command.
	d := e.mkDevice("SER-1", e.whA.ID)
	s := e.mkSession(e.mkUser("holder", "Hal", e.whA.ID), d)
	p = b.get("/board?warehouse=" + e.whA.ID)
	if !strings.Contains(p.body, "Hal Doe") || !strings.Contains(p.body, `data-tile="in_use">1<`) {
		t.Fatalf("the board does not show Hal on SER-1: %.4000s", p.body)
	}
	p = b.post("/sessions/"+s.Session.ID+"/end", url.Values{"back": {"/board?warehouse=" + e.whA.ID}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/board?warehouse="+e.whA.ID {
		t.Fatalf("end session = %d %q", p.status, p.header.Get("Location"))
	}
	p = b.follow(p)
	if !strings.Contains(p.body, "The session is ending.") || !strings.Contains(p.body, `class="status pending">pending`) {
		t.Errorf("after the logout the board shows no pending command: %s", pageText(p.body))
	}
	cmds, _ := e.sess.Pending(context.Background(), d.ID)
	if len(cmds) != 1 {
		t.Fatalf("pending commands of SER-1 = %d; want 1", len(cmds))
	}
	if err := e.sess.Ack(context.Background(), d.ID, cmds[0].ID); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/commands?id=" + cmds[0].ID); !strings.Contains(p.body, `class="status acked">acked`) {
		t.Errorf("the command page does not show acked")
	}
	// The whole-warehouse logout asks first.
	if p := b.post("/warehouses/"+e.whA.ID+"/logout", url.Values{}); p.status != http.StatusSeeOther || !strings.Contains(b.follow(p).body, "Tick the box") {
		t.Errorf("a warehouse logout without confirmation went through")
	}
}

// TestBoardLive: the board's event stream pushes the holders table after
// a login event of its warehouse, without a reload.
func TestBoardLive(t *testing.T) {
	e := newEnv(t)
	b := e.signIn("admin@example.com")
	req, _ := http.NewRequest("GET", e.srv.URL+"/board/events?warehouse="+e.whA.ID, nil)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := b.c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name string
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data.WriteString(strings.TrimPrefix(line, "data: "))
			case line == "":
				if name != "" {
					events <- [2]string{name, data.String()}
				}
				name = ""
				data.Reset()
			}
		}
		close(events)
	}()
	next := func(want string) string {
		t.Helper()
		for ev := range events {
			if ev[0] == want {
				return ev[1]
			}
		}
		t.Fatalf("the stream ended before a %q event", want)
		return ""
	}
	if first := next("holders"); !strings.Contains(first, "Nobody is signed in") {
		t.Fatalf("first holders = %s", first)
	}
	s := e.mkSession(e.mkUser("livey", "Liv", e.whA.ID), e.mkDevice("SER-L", e.whA.ID))
	e.feed.Publish(sessions.Event{Kind: sessions.KindActivity, WarehouseID: e.whB.ID}) // not this board
	e.feed.Publish(sessions.Event{Kind: sessions.KindActivity, WarehouseID: e.whA.ID})
	if h := next("holders"); !strings.Contains(h, "Liv Doe") {
		t.Fatalf("holders after the login = %s; want Liv", h)
	}
	if _, err := e.sess.End(context.Background(), s.Session.ID, sessions.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	e.feed.Publish(sessions.Event{Kind: sessions.KindEnded, Command: &sessions.Command{WarehouseID: e.whA.ID}})
	if h := next("holders"); !strings.Contains(h, "Nobody is signed in") {
		t.Fatalf("holders after the logout = %s", h)
	}
}

// FuzzLocalPath: whatever a sign-in's next says, the browser stays here.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/users?q=a", "//evil.example", "/\\evil", "https://evil.example/", "javascript:alert(1)", "/a\r\nb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := localPath(s)
		u, err := url.Parse(p)
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || err != nil || u.Host != "" || u.Scheme != "" {
			t.Errorf("localPath(%q) = %q; want a path on this site", s, p)
		}
	})
}

// TestNoStoreAccess: the console's code names no registry, store or
// throttle, so it cannot read or change anything but through the API.
func TestNoStoreAccess(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"devices.Registry", "devices.Store", "sessions.Store", "sessions.Throttle", "devices/sqlite", "devices/postgres", "sessions/memory", "sessions/redis"}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range forbidden {
			if strings.Contains(string(b), name) {
				t.Errorf("%s names %s: the console goes through the admin API only", f, name)
			}
		}
	}
}

// TestLimits drives the console's limits: the upload size, and the
// logout commands one change follows in its page.
func TestLimits(t *testing.T) {
	e := newEnv(t)
	e.cons.cfg.MaxUpload = 1 << 10
	b := e.signIn("admin@example.com")
	big := "username,first_name,last_name,pin,warehouse_code\n" + strings.Repeat("someone,Some,One,4821,ALP\n", 100)
	if p := b.post("/users/import", url.Values{"step": {"check"}, "csv": {big}}); p.status != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "too large") {
		t.Errorf("an upload over MaxUpload = %d %s; want 413 saying too large", p.status, pageText(p.body))
	}

	// A change that ends more sessions than a page follows sends the
	// browser to the warehouse's list instead.
	for i := range maxFlashCommands + 1 {
		u := e.mkUser(fmt.Sprintf("many%02d", i), "Many", e.whB.ID)
		e.mkSession(u, e.mkDevice(fmt.Sprintf("SER-M%02d", i), e.whB.ID))
	}
	p := b.post("/warehouses/"+e.whB.ID+"/logout", url.Values{"confirm": {"yes"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/commands?warehouse="+e.whB.ID {
		t.Fatalf("a logout of %d sessions = %d to %q; want the warehouse's commands", maxFlashCommands+1, p.status, p.header.Get("Location"))
	}
	page := b.follow(p)
	if n := strings.Count(page.body, `<tr class="st-pending"`); n < maxFlashCommands {
		t.Errorf("the commands page lists %d pending commands; want all %d", n, maxFlashCommands+1)
	}
	if !strings.Contains(page.body, "and 1 more") {
		t.Errorf("the page does not say that one command is not followed at the top")
	}
}

// TestFirstStart: on a registry with no warehouse, the admin's board
// offers to add the first one, and adding it shows its board.
func TestFirstStart(t *testing.T) {
	fresh := newEnvEmpty(t)
	b := fresh.signIn("admin@example.com")
	p := b.get("/board")
	if p.status != http.StatusOK || !strings.Contains(p.body, "There is no warehouse yet") || !strings.Contains(p.body, `action="/warehouses"`) {
		t.Fatalf("the first board = %d %s; want the offer to add a warehouse", p.status, pageText(p.body))
	}
	p = b.post("/warehouses", url.Values{"name": {"Dock North"}, "code": {"DN1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("add the first warehouse = %d", p.status)
	}
	if p := b.get("/board"); !strings.Contains(p.body, "Dock North") || !strings.Contains(p.body, `data-tile="in_use">0<`) {
		t.Errorf("the board after the first warehouse: %s", pageText(p.body))
	}
}

// TestAuditNamesReferences: the audit tables name the people, devices
// and warehouses they refer to, as text, linked to their pages; what has
// no page (the system) stays as it is.
func TestAuditNamesReferences(t *testing.T) {
	e := newEnv(t)
	u := e.mkUser("scripty", `<b>Zed</b>`, e.whA.ID)
	b := e.signIn("admin@example.com")
	for _, path := range []string{"/audit", "/users/" + u.ID} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, p.status)
		}
		link := `<a href="/users/` + u.ID + `" title="user:` + u.ID + `">&lt;b&gt;Zed&lt;/b&gt; Doe (scripty)</a>`
		if !strings.Contains(p.body, link) {
			t.Errorf("GET %s does not name the user as a link: want %s", path, link)
		}
		if strings.Contains(p.body, "<b>Zed") {
			t.Errorf("GET %s renders the name as markup", path)
		}
		if !strings.Contains(p.body, `<span class="ref">system</span>`) {
			t.Errorf("GET %s does not show the system actor as it is", path)
		}
	}
	p := b.get("/audit")
	wh := `<a href="/warehouses/` + e.whA.ID + `" title="warehouse:` + e.whA.ID + `">Alpha (ALP)</a>`
	if !strings.Contains(p.body, wh) {
		t.Errorf("GET /audit does not name warehouse A: want %s", wh)
	}
}

// TestSessionsNameDevices: the session tables show the device's label,
// linked to its page, rather than its id.
func TestSessionsNameDevices(t *testing.T) {
	e := newEnv(t)
	u := e.mkUser("sessy", "Sam", e.whA.ID)
	d := e.mkDevice("SER-LBL", e.whA.ID)
	e.mkSession(u, d)
	b := e.signIn("admin@example.com")
	link := `<a href="/devices/` + d.ID + `" title="device:` + d.ID + `">` + d.Label + `</a>`
	for _, path := range []string{"/users/" + u.ID, "/sessions?warehouse=" + e.whA.ID} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, p.status)
		}
		if !strings.Contains(p.body, link) {
			t.Errorf("GET %s does not name the device: want %s", path, link)
		}
	}
}
