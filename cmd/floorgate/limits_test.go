package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/internal/testenv"
)

func TestLimitsSize(t *testing.T) {
	def := limits{MaxConnsPerAddr: defaultMaxConnsPerAddr, MaxSocketsPerAddr: defaultMaxSocketsPerAddr,
		AdminMaxConns: defaultAdminMaxConns, FDReserve: defaultFDReserve, MessagesPerMinute: 6, MessageBurst: 20}
	with := func(f func(*limits)) limits {
		l := def
		f(&l)
		return l
	}
	tests := []struct {
		name        string
		l           limits
		files       int
		proxy       bool
		want        caps
		err         string
		warnsFleet  bool
		warnsLowers bool
	}{
		{name: "defaults at 20,000 files", l: def, files: 20000,
			want: caps{Conns: 19232, ConnsPerAddr: 6000, Sockets: 17308, SocketsPerAddr: 3000, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "unknown limit counts as 20,000", l: def, files: 0,
			want: caps{Conns: 19232, ConnsPerAddr: 6000, Sockets: 17308, SocketsPerAddr: 3000, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "a huge limit is bounded", l: def, files: 1 << 30,
			want: caps{Conns: maxAutoConns, ConnsPerAddr: 6000, Sockets: maxAutoConns * 9 / 10, SocketsPerAddr: 3000, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "behind a proxy the per-address connection cap is off", l: def, files: 20000, proxy: true,
			want: caps{Conns: 19232, ConnsPerAddr: 0, Sockets: 17308, SocketsPerAddr: 3000, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "explicit caps", l: with(func(l *limits) {
			l.MaxConns, l.MaxSockets, l.MaxConnsPerAddr, l.MaxSocketsPerAddr = 10000, 8000, 4500, 2500
		}), files: 20000,
			want: caps{Conns: 10000, ConnsPerAddr: 4500, Sockets: 8000, SocketsPerAddr: 2500, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "a low file limit halves the per-address caps", l: def, files: 1024, warnsFleet: true, warnsLowers: true,
			want: caps{Conns: 256, ConnsPerAddr: 128, Sockets: 230, SocketsPerAddr: 115, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "per-address caps off", l: with(func(l *limits) { l.MaxConnsPerAddr, l.MaxSocketsPerAddr = 0, 0 }), files: 20000,
			want: caps{Conns: 19232, Sockets: 17308, AdminConns: 256, AdminConnsPerAddr: 64}},
		{name: "too few files", l: def, files: 700, err: "open-files limit 700"},
		{name: "more than the files allow", l: with(func(l *limits) { l.MaxConns = 19233 }), files: 20000, err: "-max-conns 19233"},
		{name: "more websockets than connections", l: with(func(l *limits) { l.MaxConns, l.MaxSockets = 100, 101 }), files: 20000, err: "-max-websockets 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.l.size(tt.files, tt.proxy)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("size(%d) = %v; want an error naming %q", tt.files, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("size(%d) = %v", tt.files, err)
			}
			warnings := strings.Join(got.warnings, "; ")
			if strings.Contains(warnings, "do not fit") != tt.warnsFleet || strings.Contains(warnings, "lowered") != tt.warnsLowers {
				t.Errorf("size(%d) warnings = %q; want fleet warning %v, lowered %v", tt.files, warnings, tt.warnsFleet, tt.warnsLowers)
			}
			got.warnings, got.FileLimit, got.MessageRate, got.MessageBurst = nil, 0, 0, 0
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("size(%d) = %+v; want %+v", tt.files, got, tt.want)
			}
		})
	}
}

// answer is what a raw connection read back.
type answer struct {
	status     int
	retryAfter string
	code       string
	err        error
}

// readAnswer reads one HTTP answer from c within wait.
func readAnswer(c net.Conn, br *bufio.Reader, wait time.Duration) answer {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var p struct {
		Code string `json:"code"`
	}
	if b, err := io.ReadAll(resp.Body); err == nil {
		_ = json.Unmarshal(b, &p)
	}
	a.code = p.Code
	return a
}

// idleKeepAlive opens a connection from from, makes one request on it
// and keeps it open and idle: what a crowd of idle keep-alive clients
// holds. It returns the answer to that request.
func idleKeepAlive(t *testing.T, from, addr string) answer {
	t.Helper()
	c := testenv.DialFrom(t, from, addr)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: floorgate\r\n\r\n")
	return readAnswer(c, bufio.NewReader(c), 10*time.Second)
}

// slowBody opens a connection from from and sends a login's headers and
// the first byte of a body it never finishes. It returns what came back
// within wait: nothing (a timeout) while the server waits for the body.
func slowBody(t *testing.T, from, addr string, wait time.Duration) (net.Conn, answer) {
	t.Helper()
	c := testenv.DialFrom(t, from, addr)
	fmt.Fprintf(c, "POST /v1/login HTTP/1.1\r\nHost: floorgate\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	return c, readAnswer(c, bufio.NewReader(c), wait)
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// refused reports whether a is the quick refusal of a full cap.
func refused(a answer) bool {
	return a.status == http.StatusServiceUnavailable && a.code == "unavailable" && a.retryAfter != ""
}

// TestConnectionCaps is issue 15's item 3 as an attack over the network,
// with the caps made small: one address opens idle keep-alive and
// slow-body connections in a bounded loop; beyond its cap each is
// answered 503 with Retry-After at once, while a device at another
// address still logs in and opens its socket. Then websockets from one
// address, then enough addresses to fill the instance: still 503 at
// once, and the admin listener keeps working.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	env := e2eEnv(t)
	env["FLOORGATE_MAX_CONNS"] = "40"
	env["FLOORGATE_MAX_CONNS_PER_ADDR"] = "12"
	env["FLOORGATE_MAX_WEBSOCKETS"] = "30"
	env["FLOORGATE_MAX_WEBSOCKETS_PER_ADDR"] = "4"
	in := startFloorgate(t, env)
	f := setUpFloor(t, in)
	dev := f.enroll(t, in, "SN-CAPS-1")

	// One attacker address: 12 connections held, 8 more refused.
	const attacker = "127.0.0.2"
	held, refusedN := 0, 0
	for i := range 20 {
		var a answer
		if i%2 == 0 {
			a = idleKeepAlive(t, attacker, in.Gateway)
		} else {
			_, a = slowBody(t, attacker, in.Gateway, 300*time.Millisecond)
		}
		switch {
		case refused(a):
			refusedN++
		case a.status == http.StatusOK || isTimeoutErr(a.err):
			held++
		default:
			t.Fatalf("attacker connection %d: %+v; want held (200 or waiting) or refused (503 with Retry-After)", i, a)
		}
	}
	if held != 12 || refusedN != 8 {
		t.Fatalf("from one address: %d held, %d refused; want 12 and 8", held, refusedN)
	}

	// Meanwhile a device at another address logs in and opens its socket.
	f.login(t, in, dev)
	sock := dial(t, in, dev, "device")
	sock.welcome(t, dev)

	// Websockets from one address: 4 open, the fifth refused before the
	// upgrade, with Retry-After.
	wsFrom := func(from string) (*http.Response, error) {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second,
			NetDial: func(network, addr string) (net.Conn, error) {
				nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
				return nd.Dial(network, addr)
			}}
		c, resp, err := d.Dial("ws://"+in.Gateway+"/v1/ws", nil)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return resp, err
	}
	for i := range 5 {
		resp, err := wsFrom("127.0.0.3")
		if i < 4 {
			if err != nil {
				t.Fatalf("websocket %d from one address: %v; want it open", i, err)
			}
			continue
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("fifth websocket from one address: %v, %+v; want 503 with Retry-After", err, resp)
		}
	}

	// Fill the instance from more addresses: 40 connections in all, then
	// everyone is refused at once, and the admin listener still answers.
	for _, from := range []string{"127.0.0.4", "127.0.0.5", "127.0.0.6"} {
		for range 12 {
			idleKeepAlive(t, from, in.Gateway)
		}
	}
	if a := idleKeepAlive(t, "127.0.0.7", in.Gateway); !refused(a) {
		t.Fatalf("a connection to a full instance: %+v; want 503 with Retry-After", a)
	}
	var who struct {
		Email string `json:"email"`
	}
	call(t, "GET", in.AdminURL+"/admin/v1/me", f.adminToken, nil, &who, http.StatusOK)
	status, body := get(t, in.AdminURL+"/metrics")
	for _, want := range []string{`floorgate_listener_refusals_total{listener="gateway",reason="per_address"} 8`,
		`floorgate_listener_refusals_total{listener="gateway",reason="instance"}`,
		`floorgate_gateway_socket_refusals_total{reason="per_address"} 1`} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("admin /metrics = %d, lacks %s", status, want)
		}
	}
}

// TestSlowClientsAreCut: a connection that sends its headers or its body
// too slowly is closed by the server, and its slot is free again. Each
// waits for a real timeout (5 s for headers, 15 s for a body), in
// parallel.
func TestSlowClientsAreCut(t *testing.T) {
	t.Parallel()
	env := e2eEnv(t)
	env["FLOORGATE_MAX_CONNS_PER_ADDR"] = "2"
	env["FLOORGATE_MAX_CONNS"] = "100"
	in := startFloorgate(t, env)
	for _, tt := range []struct {
		name, from, send string
		within           time.Duration
	}{
		{"headers", "127.0.0.8", "GET /healthz HTTP/1.1\r\nHost: floorgate\r\nX-Slow: ", headerTimeout + 10*time.Second},
		{"body", "127.0.0.9", "POST /v1/login HTTP/1.1\r\nHost: floorgate\r\nContent-Length: 100\r\n\r\n{", deviceReadTimeout + 10*time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Two held connections fill the address's cap...
			var conns []net.Conn
			for range 2 {
				c := testenv.DialFrom(t, tt.from, in.Gateway)
				io.WriteString(c, tt.send)
				conns = append(conns, c)
			}
			if a := idleKeepAlive(t, tt.from, in.Gateway); !refused(a) {
				t.Fatalf("third connection: %+v; want 503 while two are held", a)
			}
			// ...until the server cuts them (the body's gets a 400 or
			// nothing, then the close).
			for i, c := range conns {
				_ = c.SetReadDeadline(time.Now().Add(tt.within))
				if _, err := io.Copy(io.Discard, c); isTimeoutErr(err) {
					t.Fatalf("held connection %d still open after %v", i, tt.within)
				}
			}
			// The slots are free again (the server releases a slot as it
			// closes, just before the client sees the close).
			for range 100 {
				if a := idleKeepAlive(t, tt.from, in.Gateway); a.status == http.StatusOK {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatal("the address's slots were not freed after its connections were cut")
		})
	}
}

// TestAdminDeadlines drives the admin listener's two deadlines over the
// network with short values: a body sent too slowly is cut, a handler
// that works longer than the deadline after reading its body keeps its
// context and answers; an answer the client does not read is cut, a
// handler that computes longer than the deadline before writing answers.
func TestAdminDeadlines(t *testing.T) {
	t.Parallel()
	const d = 300 * time.Millisecond
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/read":
			if _, err := io.ReadAll(r.Body); err != nil {
				return // the deadline cut the body: nothing to answer
			}
			select {
			case <-time.After(3 * d): // work after the body: not cut
			case <-r.Context().Done():
				http.Error(w, "cancelled", http.StatusTeapot)
				return
			}
			io.WriteString(w, "done")
		case "/big":
			chunk := strings.Repeat("x", 64<<10)
			for range 1 << 12 { // 256 MiB at most: far beyond the buffers
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}
	})
	srv := httptest.NewServer(writeStall(d, bodyDeadline(d, handler)))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	t.Run("slow body is cut", func(t *testing.T) {
		c := testenv.DialFrom(t, "127.0.0.1", addr)
		io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); isTimeoutErr(err) {
			t.Fatal("a body never finished kept the connection open")
		}
	})
	t.Run("work after the body is not cut", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/read", "text/plain", strings.NewReader("whole body"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "done" {
			t.Fatalf("POST /read = %d %q; want 200 done", resp.StatusCode, b)
		}
	})
	t.Run("a client that stops reading is cut", func(t *testing.T) {
		c := testenv.DialFrom(t, "127.0.0.1", addr)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(3 * d) // not reading: the server's writes stall
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if isTimeoutErr(err) || n >= 1<<28 {
			t.Fatalf("read %d bytes, %v; want the server to cut the answer", n, err)
		}
	})
}

// TestDeviceMetrics: /metrics is off on the device listener unless the
// operator turns it on, and even then it never shows the admin API's
// metrics or an admin sign-in's outcome.
func TestDeviceMetrics(t *testing.T) {
	t.Parallel()
	off := startFloorgate(t, e2eEnv(t))
	if status, _ := get(t, off.GatewayURL+"/metrics"); status != http.StatusNotFound {
		t.Errorf("device /metrics by default = %d; want 404", status)
	}
	env := e2eEnv(t)
	env["FLOORGATE_DEVICE_METRICS"] = "true"
	in := startFloorgate(t, env)
	f := setUpFloor(t, in)
	adminLogin(t, in, e2eAdminEmail, "Wrong-Password-99")
	f.enroll(t, in, "SN-METRICS-1")
	status, body := get(t, in.GatewayURL+"/metrics")
	if status != http.StatusOK || !strings.Contains(body, "floorgate_gateway_") || !strings.Contains(body, `kind="enroll"`) {
		t.Fatalf("device /metrics with -device-metrics = %d %.300q; want 200 with the gateway's and enrollment's metrics", status, body)
	}
	for _, never := range []string{`kind="manager"`, "floorgate_admin_", `listener="admin"`} {
		if strings.Contains(body, never) {
			t.Errorf("device /metrics shows %s", never)
		}
	}
	_, adminBody := get(t, in.AdminURL+"/metrics")
	if !strings.Contains(adminBody, `kind="manager"`) || !strings.Contains(adminBody, "floorgate_admin_") {
		t.Errorf("admin /metrics lacks the admin sign-in or API metrics")
	}
}

// TestCORSOnlyOnTheDeviceListener: with -allowed-origins set, the device
// listener answers an allowed origin's preflight, and the admin listener
// never sends a CORS header, to any origin.
func TestCORSOnlyOnTheDeviceListener(t *testing.T) {
	t.Parallel()
	const app = "https://scanner-app.example.com"
	env := e2eEnv(t)
	env["FLOORGATE_ALLOWED_ORIGINS"] = app
	in := startFloorgate(t, env)
	preflight := func(url string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("OPTIONS", url, nil)
		req.Header.Set("Origin", app)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight(in.GatewayURL + "/v1/login"); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("device listener preflight = %d, Allow-Origin %q; want 204, %s", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), app)
	}
	for _, path := range []string{"/admin/v1/login", "/admin/v1/me", "/"} {
		resp := preflight(in.AdminURL + path)
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("admin listener OPTIONS %s answered %s", path, k)
			}
		}
	}
	req, _ := http.NewRequest("POST", in.AdminURL+"/admin/v1/login", strings.NewReader(`{"email":"`+e2eAdminEmail+`","password":"`+e2eAdminPassword+`"}`))
	req.Header.Set("Origin", app)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("admin sign-in from an allowed device origin answered Access-Control-Allow-Origin %q; want none", v)
	}
}

// TestMessageLimitFlags: -ws-message-burst and -ws-messages-per-minute
// (here from their variables) reach the device sockets: with a burst of
// 2 and one message a minute, a third message at once closes the socket
// with 1008, over the network.
func TestMessageLimitFlags(t *testing.T) {
	t.Parallel()
	env := e2eEnv(t)
	env["FLOORGATE_WS_MESSAGE_BURST"] = "2"
	env["FLOORGATE_WS_MESSAGES_PER_MINUTE"] = "1"
	in := startFloorgate(t, env)
	f := setUpFloor(t, in)
	d := f.enroll(t, in, "SN-RATE-1")
	s := dial(t, in, d, "device")
	s.welcome(t, d)
	for range 3 {
		s.ack(t, "cmd_unknown")
	}
	s.expectClose(t, 10*time.Second, 1008)
}

// TestSignInFlags: -signin-burst and -signin-per-minute (here from their
// variables) reach the sign-in policy: with a burst of 2 and one a
// minute, the third admin sign-in from one address is 429 with
// Retry-After, the right password too, over the network; enrollment has
// a bucket of its own. The hashing shares are taken from their variables
// (the pool the instance builds reports them in its start's log line) and
// refused out of range.
func TestSignInFlags(t *testing.T) {
	t.Parallel()
	env := e2eEnv(t)
	env["FLOORGATE_SIGNIN_BURST"] = "2"
	env["FLOORGATE_SIGNIN_PER_MINUTE"] = "1"
	env["FLOORGATE_ENROLL_HASH_SHARE"] = "0.25"
	env["FLOORGATE_ADMIN_HASH_SHARE"] = "0.5"
	in := startFloorgate(t, env)
	login := func(password string) (int, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"email": e2eAdminEmail, "password": password})
		resp, err := httpClient.Post(in.AdminURL+"/admin/v1/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 2 {
		if st, _ := login("Wrong-password-1"); st != http.StatusUnauthorized {
			t.Fatalf("admin sign-in %d within -signin-burst 2 = %d; want 401", i+1, st)
		}
	}
	if st, ra := login(e2eAdminPassword); st != http.StatusTooManyRequests || ra == "" {
		t.Fatalf("admin sign-in past -signin-burst 2, right password = %d (Retry-After %q); want 429 with Retry-After", st, ra)
	}
	// Enrollment counts apart: its first attempt is answered (401).
	b, _ := json.Marshal(map[string]any{"email": "nobody@example.com", "password": "Wrong-password-1", "warehouse_id": "wh_none",
		"device": map[string]any{"serial": "SN-FLAGS-1", "model": "TC52", "os_version": "13", "app_version": "4.2.0"}})
	resp, err := httpClient.Post(in.GatewayURL+"/v1/enroll", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("first enrollment attempt = %d; want 401 (its own bucket)", resp.StatusCode)
	}

	// The shares reached the hashing pool: it says so at the start.
	if logs := in.Stderr.String(); !strings.Contains(logs, `"enroll_hash_share":0.25`) || !strings.Contains(logs, `"admin_hash_share":0.5`) {
		t.Errorf("the start's sign-in limits line does not show the pool's shares 0.25 and 0.5:\n%s", logs)
	}

	for _, bad := range []map[string]string{
		{"FLOORGATE_ENROLL_HASH_SHARE": "0"}, {"FLOORGATE_ADMIN_HASH_SHARE": "1.5"},
		{"FLOORGATE_SIGNIN_BURST": "0"}, {"FLOORGATE_SIGNIN_PER_MINUTE": "-1"},
	} {
		if _, err := parseConfig([]string{"floorgate"}, envMap(bad), io.Discard); err == nil {
			t.Errorf("parseConfig with %v = nil error; want a refusal", bad)
		}
	}
}
