package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin console in a real browser: Debian's chromium, headless,
// driven with chromedp against the real run of floorgate on free ports.
// One browser for the whole test; each person is a browser context of
// their own (separate cookies), each page a tab.

// findBrowser returns the path of chromium; without one the test skips,
// or fails under CI (.ci/run installs it).
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium found: install it (apt-get install -y chromium) to run the console's browser tests"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts one headless chromium for t.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findBrowser(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// Start the browser now, so that a missing library fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// person opens a tab in a browser context of its own (its own cookies).
func person(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	open(t, ctx)
	return ctx
}

// open creates ctx's tab with a first call that has no timeout: the tab
// lives as long as the context of that call.
func open(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
}

// tab opens another tab of the same person.
func tab(t *testing.T, of context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(of)
	t.Cleanup(cancel)
	open(t, ctx)
	return ctx
}

// do runs steps with a bound, failing t with what.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		bc, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		body, _ := chromedp.Run(bc, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("%s: %v\npage: %.1500s", what, err, body)
	}
}

// value runs one action that answers a value, with a bound.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text returns the text of the first element matching sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// waitText waits until the element sel holds want, checking every
// 20ms for at most 20s.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := fmt.Sprintf(`(function(){var e=document.querySelector(%q);return !!e && e.textContent.indexOf(%q) >= 0})()`, sel, want)
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
	}
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	page, err := chromedp.Run(c, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	t.Fatalf("%q never appeared in %s (last error %v)\npage (%v): %.1500s", want, sel, last, err, page)
}

// signInAs fills the sign-in form at base.
func signInAs(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	do(t, ctx, "sign in as "+email,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("header.top")),
	)
}

// TestConsoleInBrowser is issue 11's browser test: sign in, create a
// user with a suggested username, import a CSV with a bad row, see a
// device API login on the live board within a second, force a logout
// and see it reach acknowledged, a user manager of A kept out of B, a
// script-bearing name shown as text, and a cross-site POST refused.
func TestConsoleInBrowser(t *testing.T) {
	browser := newBrowser(t)
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)
	base := in.AdminURL

	admin := person(t, browser)
	signInAs(t, admin, base, e2eAdminEmail, e2eAdminPassword)
	waitText(t, admin, "main h1", "Dock North")

	t.Run("create a user with the suggested username", func(t *testing.T) {
		do(t, admin, "fill the new-user form",
			chromedp.Navigate(base+"/users/new"),
			chromedp.WaitVisible(chromedp.CSS("#first_name")),
			chromedp.SendKeys(chromedp.CSS("#first_name"), "María"),
			chromedp.SendKeys(chromedp.CSS("#last_name"), "López"),
		)
		// The suggestion follows the typing: the one for "María" alone
		// may land first, then the one for the whole name.
		username := ""
		for deadline := time.Now().Add(20 * time.Second); username != "marial" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			username = value(t, admin, "read the suggestion", chromedp.Value(chromedp.CSS("#username")))
		}
		if username != "marial" {
			t.Fatalf("suggested username = %q; want marial", username)
		}
		waitText(t, admin, "#username-status", "is free")
		do(t, admin, "add the user",
			chromedp.SendKeys(chromedp.CSS("#pin"), "4827"),
			chromedp.Submit(chromedp.CSS("#pin")),
		)
		waitText(t, admin, ".flash.ok", "User marial created.")
	})

	t.Run("import a CSV with one bad row", func(t *testing.T) {
		csv := "username,first_name,last_name,pin,warehouse_code\nimp1,Ina,One,4821,DN1\nimp2,Ivo,Two,1111,DN1\nimp3,Ida,Three,5820,DN1\n"
		do(t, admin, "dry run",
			chromedp.Navigate(base+"/users/import"),
			chromedp.WaitVisible(chromedp.CSS("#csv")),
			chromedp.SetValue(chromedp.CSS("#csv"), csv),
			chromedp.Submit(chromedp.CSS("#csv")),
			chromedp.WaitVisible(chromedp.CSS("table.report")),
		)
		waitText(t, admin, "main", "3 rows, 2 valid, 1 with problems")
		if row := text(t, admin, "tr.outcome-error"); !strings.Contains(row, "imp2") || !strings.Contains(row, "pin") {
			t.Errorf("the refused row reads %q; want imp2 and its PIN problem", row)
		}
		do(t, admin, "import the valid rows", chromedp.Click(chromedp.CSS("#m-valid")), chromedp.Submit(chromedp.CSS("#m-valid")))
		waitText(t, admin, ".flash.ok", "Imported: 2 users created")
	})

	t.Run("an admin downloads a user's data from their page", func(t *testing.T) {
		var list struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		call(t, "GET", base+"/admin/v1/users?q=imp1", f.adminToken, nil, &list, http.StatusOK)
		if len(list.Items) != 1 {
			t.Fatalf("users imp1: %+v; want one", list.Items)
		}
		id := list.Items[0].ID
		link := "a[download][href='/users/" + id + "/data-export']"
		do(t, admin, "open the user's page", chromedp.Navigate(base+"/users/"+id), chromedp.WaitVisible(chromedp.CSS(link)))
		waitText(t, admin, link, "Download data")
		// What the button fetches, with the console's cookie: the JSON
		// attachment of the user's data.
		got := value(t, admin, "fetch the button's target", chromedp.Evaluate[string](`fetch(document.querySelector(`+strconv.Quote(link)+`).href).then(async r =>
			[r.status, r.headers.get("content-type"), r.headers.get("content-disposition"), (await r.json()).user.username].join("|"))`, chromedp.EvalAwaitPromise))
		if want := "200|application/json|attachment; filename=\"floorgate-user-" + id + ".json\"|imp1"; got != want {
			t.Errorf("the Download data button fetches %q; want %q", got, want)
		}
	})

	// The board in its own tab, live.
	board := tab(t, admin)
	do(t, board, "open the board", chromedp.Navigate(base+"/board?warehouse="+f.warehouseID), chromedp.WaitVisible(chromedp.CSS("[data-part=holders]")))
	waitText(t, board, "[data-livetext]", "Live")

	d := f.enroll(t, in, "S21-0777")
	s := dial(t, in, d, "handheld")
	s.welcome(t, d)
	t.Run("a device login shows on the board live", func(t *testing.T) {
		l := f.login(t, in, d)
		loginDone := time.Now()
		if l.SessionID == "" {
			t.Fatal("login gave no session")
		}
		waitText(t, board, "[data-part=holders]", "Jo Smith")
		updated := value(t, board, "read when the table changed", chromedp.AttributeValue(chromedp.CSS("[data-live]"), "data-updated")).Value
		ms, err := strconv.ParseInt(updated, 10, 64)
		if err != nil {
			t.Fatalf("data-updated = %q", updated)
		}
		lag := time.UnixMilli(ms).Sub(loginDone)
		t.Logf("the board showed the login %v after the device API answered", lag)
		if lag > pushWait {
			t.Errorf("the board showed the login %v after it; want within %v", lag, pushWait)
		}
		waitText(t, board, "[data-tile=in_use]", "1")
	})

	t.Run("a forced logout reaches acknowledged", func(t *testing.T) {
		do(t, board, "log out from the board", chromedp.Click(chromedp.CSS("tr[data-device='"+d.ID+"'] form[action$='/end'] button")))
		waitText(t, board, ".flash.ok", "The session is ending.")
		waitText(t, board, ".followed [data-part=commands]", "delivered")
		lo := s.expect(t, 5*time.Second, "logout")
		s.ack(t, lo.CommandID)
		waitText(t, board, ".followed [data-part=commands]", "acked")
		waitText(t, board, ".followed [data-part=commands] td[data-label=Acknowledged]", "after ")
		f.waitAcked(t, in, lo.CommandID)
	})

	// Warehouse B, a user manager of A, and a name with markup in A.
	var whB struct {
		ID string `json:"id"`
	}
	call(t, "POST", base+"/admin/v1/warehouses", f.adminToken, map[string]string{"name": "Dock South", "code": "DS2"}, &whB, http.StatusCreated)
	call(t, "POST", base+"/admin/v1/managers", f.adminToken, map[string]any{
		"email": "uma@example.com", "first_name": "Uma", "last_name": "A", "password": "Floor-Manager-A-1",
		"roles": []map[string]string{{"role": "user_manager", "warehouse_id": f.warehouseID}},
	}, nil, http.StatusCreated)
	call(t, "POST", base+"/admin/v1/users", f.adminToken, map[string]any{
		"username": "scripty", "first_name": `<script>window.pwned=1</script>`, "last_name": `<img src=x onerror="window.pwned=2">`,
		"pin": "4821", "warehouse_id": f.warehouseID,
	}, nil, http.StatusCreated)
	call(t, "POST", base+"/admin/v1/users", f.adminToken, map[string]any{
		"username": "southie", "first_name": "Sam", "last_name": "South", "pin": "4821", "warehouse_id": whB.ID,
	}, nil, http.StatusCreated)

	um := person(t, browser)
	t.Run("a user manager of A cannot see B", func(t *testing.T) {
		signInAs(t, um, base, "uma@example.com", "Floor-Manager-A-1")
		waitText(t, um, "main h1", "Dock North")
		options := text(t, um, "#warehouse")
		if strings.Contains(options, "Dock South") {
			t.Errorf("the picker of a user manager of A offers %q", options)
		}
		do(t, um, "open B's board", chromedp.Navigate(base+"/board?warehouse="+whB.ID), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if h := text(t, um, "main"); !strings.Contains(h, "outside the warehouses your roles cover") {
			t.Errorf("B's board for a user manager of A reads %q", h)
		}
		do(t, um, "list users", chromedp.Navigate(base+"/users?q=southie"), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if strings.Contains(text(t, um, "main"), "southie") {
			t.Errorf("a user manager of A sees southie of B")
		}
	})

	t.Run("a script-bearing name is shown as text", func(t *testing.T) {
		do(t, um, "list users", chromedp.Navigate(base+"/users?q=scripty"), chromedp.WaitVisible(chromedp.CSS("table.users")))
		name := text(t, um, "table.users td[data-label=Name]")
		if !strings.Contains(name, "<script>window.pwned=1</script>") || !strings.Contains(name, `<img src=x onerror=`) {
			t.Errorf("the name reads %q; want the markup as text", name)
		}
		pwned := value(t, um, "check nothing ran", chromedp.Evaluate[bool](`typeof window.pwned !== "undefined"`))
		if pwned {
			t.Errorf("the name's markup ran as script")
		}
	})

	t.Run("a cross-site POST is refused", func(t *testing.T) {
		// A page on another site (localhost is not 127.0.0.1) that posts
		// a form to the console as soon as it loads.
		target := strings.Replace(base, "localhost", "127.0.0.1", 1) + "/warehouses"
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s"><input name="name" value="Evil"><input name="code" value="EVL"></form><script>document.getElementById("f").submit()</script>`, target)
		}))
		defer evil.Close()
		evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
		do(t, admin, "visit the other site", chromedp.Navigate(evilURL), chromedp.WaitVisible(chromedp.CSS("main")))
		if body := text(t, admin, "main"); !strings.Contains(body, "came from another site and was refused") {
			t.Errorf("after the cross-site POST the page reads %q; want the refusal", body)
		}
		var list struct {
			Items []struct {
				Code string `json:"code"`
			} `json:"items"`
		}
		call(t, "GET", base+"/admin/v1/warehouses", f.adminToken, nil, &list, http.StatusOK)
		for _, w := range list.Items {
			if w.Code == "EVL" {
				t.Errorf("the cross-site POST created a warehouse")
			}
		}
	})
}
