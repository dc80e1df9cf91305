package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/floorgate/floorgate/internal/testenv"
)

// privateRedis starts a redis-server of the test's own on a free port of
// 127.0.0.1 and returns its URL and a func that kills it (also run at
// cleanup).
func privateRedis(t *testing.T) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.SkipOrFail(t, "redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(kill)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://127.0.0.1:" + port + "/0", kill
}

// TestEvery503CarriesRetryAfter walks every route of both listeners (the
// device API and its websocket upgrade, every route of the admin API's
// OpenAPI document, the console's pages and sign-in, /readyz and
// /healthz) with the session store down, then the registry too, and
// checks that every 503 carries a Retry-After of whole seconds (and a
// problem's retry_after, when the answer is a problem). It requires
// each kind of 503 to be met, so that it cannot pass by meeting none.
func TestEvery503CarriesRetryAfter(t *testing.T) {
	t.Parallel()
	pgURL := postgresURL(t)
	redisURL, killRedis := privateRedis(t)
	env := e2eEnv(t)
	env["FLOORGATE_POSTGRES_URL"] = pgURL
	env["FLOORGATE_REDIS_URL"] = redisURL
	in := startFloorgate(t, env)
	f := setUpFloor(t, in)
	d := f.enroll(t, in, "SN-503-1")
	var login struct {
		SessionToken string `json:"session_token"`
	}
	call(t, "POST", in.GatewayURL+"/v1/login", d.Token, map[string]string{"username": f.username, "pin": f.pin}, &login, http.StatusOK)
	var key struct {
		Key string `json:"key"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/service-keys", f.adminToken, map[string]string{"name": "backend", "scope": "introspect"}, &key, http.StatusCreated)

	// The console, signed in while the stores answer.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	consoleSignIn := func() *http.Response {
		form := url.Values{"email": {e2eAdminEmail}, "password": {e2eAdminPassword}, "next": {"/board"}}
		req, _ := http.NewRequest("POST", in.AdminURL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := consoleSignIn(); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("console sign-in = %d; want 303", res.StatusCode)
	}

	// The admin API's routes, from its own OpenAPI document.
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	call(t, "GET", in.AdminURL+"/admin/v1/openapi.json", "", nil, &doc, http.StatusOK)
	ids := map[string]string{"warehouses": f.warehouseID, "users": f.userID, "devices": d.ID}
	var adminGets []string
	for p, ops := range doc.Paths {
		if _, ok := ops["get"]; !ok {
			continue
		}
		parts := strings.Split(p, "/")
		for i, part := range parts {
			if strings.HasPrefix(part, "{") {
				id := "x_unknown"
				if i > 0 && ids[parts[i-1]] != "" {
					id = ids[parts[i-1]]
				}
				parts[i] = id
			}
		}
		adminGets = append(adminGets, strings.Join(parts, "/"))
	}
	sort.Strings(adminGets)
	if len(adminGets) < 15 {
		t.Fatalf("the OpenAPI document lists %d GET routes; want the admin API's", len(adminGets))
	}
	consolePages := []string{"/", "/board", "/board/events?warehouse=" + f.warehouseID, "/users", "/users/new", "/users/" + f.userID,
		"/users/export", "/users/import", "/users/username?username=ana&warehouse_id=" + f.warehouseID,
		"/devices", "/devices/" + d.ID, "/sessions", "/managers", "/managers/new", "/warehouses", "/warehouses/" + f.warehouseID,
		"/warehouses/" + f.warehouseID + "/logout", "/settings", "/enrollment-tokens", "/service-keys", "/audit", "/audit/export",
		"/account", "/commands?id=cmd_x", "/signin"}

	type answer struct {
		what   string
		status int
	}
	walk := func(t *testing.T) (seen []answer) {
		check := func(what string, res *http.Response) {
			t.Helper()
			body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			res.Body.Close()
			seen = append(seen, answer{what, res.StatusCode})
			if res.StatusCode != http.StatusServiceUnavailable {
				return
			}
			ra := res.Header.Get("Retry-After")
			if n, err := strconv.Atoi(ra); err != nil || n < 1 {
				t.Errorf("%s = 503 with Retry-After %q; want whole seconds", what, ra)
			}
			if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				var p struct {
					RetryAfter int `json:"retry_after"`
				}
				if json.Unmarshal(body, &p) != nil || strconv.Itoa(p.RetryAfter) != ra {
					t.Errorf("%s = 503 problem %.200s; want retry_after %s", what, body, ra)
				}
			}
		}
		do := func(client *http.Client, method, u, token, contentType, body string) {
			t.Helper()
			req, _ := http.NewRequest(method, u, strings.NewReader(body))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := client.Do(req)
			if err != nil {
				t.Errorf("%s %s: %v", method, u, err)
				return
			}
			check(method+" "+strings.TrimPrefix(strings.TrimPrefix(u, in.GatewayURL), in.AdminURL), res)
		}
		const js = "application/json"
		for _, base := range []string{in.GatewayURL, in.AdminURL} {
			do(httpClient, "GET", base+"/readyz", "", "", "")
			do(httpClient, "GET", base+"/healthz", "", "", "")
		}
		do(httpClient, "POST", in.GatewayURL+"/v1/enroll", "", js, fmt.Sprintf(`{"email":%q,"password":%q,"warehouse_id":%q,"device":{"serial":"SN-503-2","model":"TC52","os_version":"13","app_version":"4.2.0"}}`, f.managerEmail, f.managerPassword, f.warehouseID))
		do(httpClient, "POST", in.GatewayURL+"/v1/login", d.Token, js, fmt.Sprintf(`{"username":%q,"pin":%q}`, f.username, f.pin))
		do(httpClient, "GET", in.GatewayURL+"/v1/session", login.SessionToken, "", "")
		do(httpClient, "POST", in.GatewayURL+"/v1/pin", login.SessionToken, js, `{"current_pin":"4821","new_pin":"7294"}`)
		do(httpClient, "POST", in.GatewayURL+"/v1/introspect", key.Key, js, fmt.Sprintf(`{"token":%q}`, login.SessionToken))
		do(httpClient, "POST", in.GatewayURL+"/v1/logout", login.SessionToken, js, "")
		// The websocket: a refused upgrade is an HTTP answer.
		h := http.Header{"Authorization": {"Bearer " + d.Token}}
		c, res, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial(strings.Replace(in.GatewayURL, "http", "ws", 1)+"/v1/ws", h)
		switch {
		case res != nil && res.StatusCode != http.StatusSwitchingProtocols:
			check("GET /v1/ws (upgrade)", res)
		case err != nil:
			t.Errorf("GET /v1/ws: %v", err)
		default: // upgraded: the socket must close for the outage
			seen = append(seen, answer{"GET /v1/ws (upgraded)", http.StatusSwitchingProtocols})
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := c.ReadMessage(); err == nil {
				t.Errorf("GET /v1/ws with a store down: a frame; want a close")
			}
			c.Close()
		}
		do(httpClient, "POST", in.AdminURL+"/admin/v1/login", "", js, fmt.Sprintf(`{"email":%q,"password":%q}`, e2eAdminEmail, e2eAdminPassword))
		for _, p := range adminGets {
			do(httpClient, "GET", in.AdminURL+p, f.adminToken, "", "")
		}
		do(httpClient, "GET", in.AdminURL+"/admin/v1/sessions?warehouse_id="+f.warehouseID, f.adminToken, "", "")
		do(httpClient, "POST", in.AdminURL+"/admin/v1/users/"+f.userID+"/logout", f.adminToken, js, "")
		for _, p := range consolePages {
			do(browser, "GET", in.AdminURL+p, "", "", "")
		}
		do(browser, "POST", in.AdminURL+"/users/"+f.userID+"/logout", "", "application/x-www-form-urlencoded", "")
		res = consoleSignIn()
		check("POST /signin (console)", res)
		return seen
	}
	want503 := func(t *testing.T, seen []answer, whats ...string) {
		t.Helper()
		got := map[string]int{}
		n := 0
		for _, a := range seen {
			got[a.what] = a.status
			if a.status == http.StatusServiceUnavailable {
				n++
			}
		}
		for _, w := range whats {
			if got[w] != http.StatusServiceUnavailable {
				t.Errorf("%s = %d; want 503 (the walk must meet it)", w, got[w])
			}
		}
		t.Logf("%d answers, %d of them 503", len(seen), n)
	}

	t.Run("sessions down", func(t *testing.T) {
		killRedis()
		seen := walk(t)
		want503(t, seen, "GET /readyz", "POST /v1/login", "GET /v1/session", "POST /v1/introspect",
			"GET /admin/v1/sessions?warehouse_id="+f.warehouseID, "GET /sessions", "POST /admin/v1/users/"+f.userID+"/logout")
	})
	t.Run("registry down too", func(t *testing.T) {
		// The schema's tables are gone from the search_path: every query
		// of the registry fails, as against a database that lost them.
		conn, err := pgx.Connect(context.Background(), pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		schema := conn.Config().RuntimeParams["search_path"]
		if _, err := conn.Exec(context.Background(), "ALTER SCHEMA "+schema+" RENAME TO "+schema+"_gone"); err != nil {
			t.Fatal(err)
		}
		defer func() { // before the connection closes: the schema is dropped at cleanup
			if _, err := conn.Exec(context.Background(), "ALTER SCHEMA "+schema+"_gone RENAME TO "+schema); err != nil {
				t.Errorf("rename the schema back: %v", err)
			}
		}()
		seen := walk(t)
		want503(t, seen, "GET /readyz", "POST /v1/enroll", "POST /v1/login", "GET /v1/ws (upgrade)",
			"POST /admin/v1/login", "GET /admin/v1/users", "GET /users", "POST /signin (console)")
	})
}
