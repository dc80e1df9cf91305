package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
)

// rawPost sends body to path with exactly the Content-Type given ("" for
// none).
func (h *harness) rawPost(path, token, contentType, body string) response {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatalf("NewRequest: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-5000")
	h.user("cora", h.wh.ID)
	login := `{"username":"cora","pin":"4821"}`
	tests := []struct {
		name, contentType string
		wantStatus        int
	}{
		{"json", "application/json", 200},
		{"json with charset", "application/json; charset=utf-8", 200},
		{"upper case", "Application/JSON", 200},
		{"problem json", "application/problem+json", 200},
		{"none", "", 200},
		{"text/plain", "text/plain", 400},
		{"form", "application/x-www-form-urlencoded", 400},
		{"multipart", "multipart/form-data; boundary=x", 400},
		{"unparsable", ";;;", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.rawPost("/v1/login", d.token, tt.contentType, login)
			if r.status != tt.wantStatus {
				t.Fatalf("login with Content-Type %q = %d %s; want %d", tt.contentType, r.status, r.body, tt.wantStatus)
			}
			if tt.wantStatus == 400 && (r.code() != CodeInvalidRequest || !slices.Contains(fieldsOf(r), "Content-Type")) {
				t.Errorf("login with Content-Type %q = %s; want invalid_request naming Content-Type", tt.contentType, r.body)
			}
		})
	}
	t.Run("enroll as a form", func(t *testing.T) {
		r := h.rawPost("/v1/enroll", "", "text/plain", `{"email":"mia@example.com"}`)
		if r.status != 400 || !slices.Contains(fieldsOf(r), "Content-Type") {
			t.Errorf("enroll as text/plain = %d %s; want 400 naming Content-Type", r.status, r.body)
		}
	})
	t.Run("introspect as a form", func(t *testing.T) {
		r := h.rawPost("/v1/introspect", h.svcKey, "application/x-www-form-urlencoded", "token=fgs_x")
		if r.status != 400 || !slices.Contains(fieldsOf(r), "Content-Type") {
			t.Errorf("introspect as a form = %d %s; want 400 naming Content-Type", r.status, r.body)
		}
	})
}

// TestBadInput: hostile bodies get a clear 400 (or the one 401 of a
// wrong secret), never a panic; fields over the limits are refused before
// any hashing (all hashing slots are held, so a hash would answer 429).
func TestBadInput(t *testing.T) {
	t.Parallel()
	pool := signin.NewPool(1, time.Millisecond)
	h := newPoolHarness(t, pool)
	d := h.enroll("S21-5100")
	long := strings.Repeat("a", 300)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantFields []string
	}{
		{"megabyte username", `{"username":"` + strings.Repeat("a", 1<<20) + `","pin":"4821"}`, 400, []string{"body"}},
		{"long username", `{"username":"` + long + `","pin":"4821"}`, 400, []string{"username"}},
		{"long pin", `{"username":"alice","pin":"` + strings.Repeat("7", 300) + `"}`, 400, []string{"pin"}},
		{"long app version", `{"username":"alice","pin":"4821","app_version":"` + long + `"}`, 400, []string{"app_version"}},
		{"null fields", `{"username":null,"pin":null}`, 400, []string{"username", "pin"}},
		{"null body", `null`, 400, []string{"username", "pin"}},
		{"pin as object", `{"username":"alice","pin":{"a":1}}`, 400, []string{"pin"}},
		{"username as array", `{"username":["alice"],"pin":"4821"}`, 400, []string{"username"}},
		{"string body", `"alice"`, 400, []string{"body"}},
		{"blank username", `{"username":"   ","pin":"4821"}`, 400, []string{"username"}},
		{"deep nesting", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), 400, []string{"body"}},
		{"two objects", `{"username":"alice","pin":"4821"}{"username":"bob","pin":"1"}`, 400, []string{"body"}},
		{"invalid utf-8 username", "{\"username\":\"\xff\xfe\",\"pin\":\"4821\"}", 400, []string{"username"}},
		{"lone surrogate in the pin", `{"username":"alice","pin":"48\ud80021"}`, 400, []string{"pin"}},
		{"lone surrogate in an unknown field", `{"username":"alice","pin":"4821","note":"\udfff"}`, 400, []string{"note"}},
	}
	release := hold(t, pool) // no hashing slot is free
	defer func() { release() }()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/v1/login", d.token, tt.body)
			if r.status != tt.wantStatus || r.code() != CodeInvalidRequest {
				t.Fatalf("login(%.60s…) = %d %.200s; want %d invalid_request", tt.body, r.status, r.body, tt.wantStatus)
			}
			for _, f := range tt.wantFields {
				if !slices.Contains(fieldsOf(r), f) {
					t.Errorf("errors = %v; want a field %q", fieldsOf(r), f)
				}
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
		})
	}
	// NUL bytes reach the registry as a name no user can have: the one
	// answer of a wrong secret. (Invalid UTF-8 is refused above.)
	for _, body := range []string{`{"username":"ali\u0000ce","pin":"4821"}`, `{"username":"alice","pin":"48\u000021"}`} {
		release()
		r := h.do("POST", "/v1/login", d.token, body)
		release = hold(t, pool)
		if r.status != 401 || r.code() != CodeInvalidCredentials {
			t.Errorf("login(%q) = %d %s; want 401 invalid_credentials", body, r.status, r.body)
		}
	}
}

// TestEnrollUnknownWarehouse: an unknown warehouse is 400 invalid_request
// for a mobile manager too, not 403.
func TestEnrollUnknownWarehouse(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.enrollBody("S21-5300")
	b["warehouse_id"] = "wh_nosuchwarehouse"
	r := h.do("POST", "/v1/enroll", "", b)
	if r.status != 400 || r.code() != CodeInvalidRequest || !slices.Contains(fieldsOf(r), "warehouse_id") {
		t.Fatalf("enroll into an unknown warehouse = %d %s; want 400 invalid_request on warehouse_id", r.status, r.body)
	}
	b["password"] = "Wrong-Horse-9-battery"
	if r := h.do("POST", "/v1/enroll", "", b); r.status != 401 || r.code() != CodeInvalidCredentials {
		t.Errorf("enroll with a wrong password into an unknown warehouse = %d %s; want 401", r.status, r.body)
	}
}

// TestWSQueryTokens: a token under any parameter name is refused before
// the upgrade, and the refusal does not repeat it.
func TestWSQueryTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-5400")
	for _, q := range []string{"?auth=" + d.token, "?x=1&t=" + strings.ToUpper(d.token[:4]) + d.token[4:], "?session=" + string(sessions.NewToken()), "?k=fgk_abc", "?e=FGD%5F" + d.token[4:]} {
		req, _ := http.NewRequest("GET", h.ts.URL+"/v1/ws"+q, nil)
		req.Header.Set("Authorization", "Bearer "+d.token)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /v1/ws%s: %v", q, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || bytes.Contains(body, []byte(d.token[4:])) {
			t.Errorf("GET /v1/ws%.20s… = %d %s; want 400 without the token", q, resp.StatusCode, body)
		}
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL(h.ts.URL)+"?v=4.2.0", http.Header{"Authorization": {"Bearer " + d.token}})
	if err != nil {
		t.Fatalf("dial with a harmless query: %v", err)
	}
	defer c.Close()
	if w := readFrame(t, c); w["type"] != "welcome" {
		t.Errorf("first frame = %v; want welcome", w)
	}
}

// TestSocketAnnouncedElsewhere: another instance's socket of the same
// device replaces ours when ours is older than socketRace, whatever the
// ids say (clocks of instances differ); within socketRace the larger id
// wins, so two racing sockets do not close each other.
func TestSocketAnnouncedElsewhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-5500")
	c, _ := h.connect(h.ts.URL, d)
	older := sessions.Event{Kind: kindSocketOpened, DeviceID: d.id, Origin: "gw_other", Ref: "ws_0"}
	h.srv.hub.event(older)
	if got := h.srv.Sockets(); got != 1 {
		t.Fatalf("Sockets() after an older socket was announced = %d; want 1", got)
	}
	if s := h.srv.hub.get(d.id); s == nil || s.state >= stateClosing {
		t.Fatalf("socket closing after an older socket was announced; want it kept")
	}
	h.clk.Advance(socketRace + time.Second)
	h.srv.hub.event(older)
	if got := closeCode(t, c); got != closeReplaced {
		t.Errorf("close code = %d; want %d", got, closeReplaced)
	}
}

// gatewayGoroutines lists the stacks of goroutines running gateway code
// (sockets, the hub, the server's loops).
func gatewayGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "floorgate/gateway.(*socket)") || strings.Contains(g, "floorgate/gateway.(*hub)") || strings.Contains(g, "floorgate/gateway.(*Server)") {
			out = append(out, g)
		}
	}
	return out
}

// TestShutdownLeavesNoGoroutines: after Shutdown and the end of Run, no
// goroutine of the gateway is left, with sockets that were authenticated,
// half-open, acknowledging and being pushed to at the time.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.user("nora", h.wh.ID)
	a, b := h.enroll("S21-5600"), h.enroll("S21-5601")
	_, m := h.mustLogin(a, "nora")
	ca, _ := h.connect(h.ts.URL, a)
	cb, _ := h.connect(h.ts.URL, b)
	pre, _, err := dial(t, h.ts.URL, "", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer pre.Close()
	cmd, err := h.be.store.End(context.Background(), m["session_id"].(string), sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	if f := readFrame(t, ca); f["type"] != "logout" {
		t.Fatalf("frame = %v; want logout", f)
	}
	ca.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","command_id":"`+cmd.ID+`"}`))
	cb.WriteMessage(websocket.TextMessage, []byte(`{"type":"nonsense"}`))
	for _, c := range []*websocket.Conn{ca, cb, pre} {
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	h.stop()
	var left []string
	for range 200 {
		if left = gatewayGoroutines(); len(left) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d gateway goroutines left after shutdown:\n%s", len(left), strings.Join(left, "\n\n"))
}

// TestRevokedWithoutRevocationEvent: a socket whose session ends with
// reason device_revoked gets the logout, then 4403, even when the
// KindDeviceRevoked event never arrives.
func TestRevokedWithoutRevocationEvent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	d := h.enroll("S21-5700")
	h.user("omar", h.wh.ID)
	_, m := h.mustLogin(d, "omar")
	c, _ := h.connect(h.ts.URL, d)
	if _, err := h.be.store.EndDevice(context.Background(), d.id, sessions.ReasonDeviceRevoked); err != nil {
		t.Fatalf("EndDevice: %v", err)
	}
	f := readFrame(t, c)
	if f["type"] != "logout" || f["reason"] != "device_revoked" || f["session_id"] != m["session_id"] {
		t.Fatalf("frame = %v; want logout device_revoked", f)
	}
	if got := closeCode(t, c); got != closeRevoked {
		t.Errorf("close code = %d; want %d", got, closeRevoked)
	}
}

// TestWSLargeMessage: a message just under the 4 KiB limit is read whole
// through the small read buffer and acted on.
func TestWSLargeMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	d := h.enroll("S21-5800")
	h.user("pia", h.wh.ID)
	_, m := h.mustLogin(d, "pia")
	c, _ := h.connect(h.ts.URL, d)
	cmd, err := h.be.store.End(ctx, m["session_id"].(string), sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	if f := readFrame(t, c); f["command_id"] != cmd.ID {
		t.Fatalf("frame = %v; want logout %s", f, cmd.ID)
	}
	msg := `{"type":"ack","command_id":"` + cmd.ID + `","pad":"`
	msg += strings.Repeat("x", readLimit-len(msg)-2) + `"}`
	if len(msg) != readLimit {
		t.Fatalf("message of %d bytes; want %d", len(msg), readLimit)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	waitFor(t, "command acked", func() bool {
		got, err := h.be.store.Command(ctx, cmd.ID)
		return err == nil && got.AckedAt != nil
	})
}

// TestLoginAuditsEndedSessions: the sessions a login ends (replaced on
// the device, evicted beyond the cap) are audited with their reason.
func TestLoginAuditsEndedSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	one := 1
	h.setWarehouse(devices.SettingsOverride{SessionCap: &one})
	d, e := h.enroll("S21-5900"), h.enroll("S21-5901")
	h.user("quinn", h.wh.ID)
	h.user("rosa", h.wh.ID)
	_, first := h.mustLogin(d, "quinn")
	h.clk.Advance(time.Second)
	_, second := h.mustLogin(e, "quinn") // evicts the first
	h.clk.Advance(time.Second)
	h.mustLogin(e, "rosa") // replaces the second
	evs, err := h.be.reg.Events(ctx, devices.EventFilter{Action: "sessions.end"})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	got := map[string]string{}
	for _, ev := range evs {
		got[ev.Details["session_id"]] = ev.Details["reason"]
	}
	want := map[string]string{first["session_id"].(string): "evicted", second["session_id"].(string): "replaced"}
	for id, reason := range want {
		if got[id] != reason {
			t.Errorf("sessions.end of %s = %q; want %q (events %v)", id, got[id], reason, got)
		}
	}
}

// TestEnrollAddressNeverQuarantined: enroll throttles by client address,
// and an address is not a device: many failures from one address (a
// warehouse behind one NAT) over many emails never lock the address, so
// the right manager still enrolls.
func TestEnrollAddressNeverQuarantined(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 25 {
		b := h.enrollBody(fmt.Sprintf("S21-66%02d", i))
		b["email"] = fmt.Sprintf("nobody-%d@example.com", i)
		h.clk.Advance(2 * time.Second) // within the address's rate
		if r := h.do("POST", "/v1/enroll", "", b); r.status != 401 || r.code() != CodeInvalidCredentials {
			t.Fatalf("enroll %d with an unknown email = %d %s; want 401 invalid_credentials", i, r.status, r.body)
		}
	}
	if r := h.do("POST", "/v1/enroll", "", h.enrollBody("S21-6699")); r.status != 201 {
		t.Fatalf("enroll by the right manager after 25 failures from the address = %d %s; want 201", r.status, r.body)
	}
}

// TestKeyNamespaces: a PIN login under a username that spells a
// manager's throttle key ("mgr:<email>", the older format, or "m:<email>")
// counts against that username only: once it is locked, the manager is
// locked out of nothing and still enrolls.
func TestKeyNamespaces(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.setWarehouse(devices.SettingsOverride{Throttle: &devices.Throttle{UserFailures: 3, PairFreeFailures: 50}})
	d := h.enroll("S21-5400")
	for _, username := range []string{"mgr:" + managerEmail, "m:" + managerEmail, "M:" + strings.ToUpper(managerEmail)} {
		var r response
		for range 4 {
			if r = h.login(d, username, "9157"); r.status == http.StatusTooManyRequests {
				break
			}
		}
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("login(%q) after 4 wrong PINs = %d %s; want 429 (the username locked)", username, r.status, r.body)
		}
		h.enroll("S21-5401") // fails the test unless the manager's sign-in is untouched
	}
}

// TestEnrollAddressRate: with the default rate, one address's
// enrollments are refused past the burst with 429 and Retry-After,
// before any hashing, whatever the email (issue 15, item 2).
func TestEnrollAddressRate(t *testing.T) {
	t.Parallel()
	clk := newClock()
	be := embedded(t, clk)
	p, err := signin.New(signin.Config{Registry: be.reg, Sessions: be.store, Throttle: be.throttle, Logger: discard(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, clk, be, withSignIn(p))
	for i := range signin.DefaultAddressRate.Burst {
		b := h.enrollBody(fmt.Sprintf("S21-77%02d", i))
		b["email"] = fmt.Sprintf("nobody-%d@example.com", i)
		if r := h.do("POST", "/v1/enroll", "", b); r.status != 401 {
			t.Fatalf("enroll %d within the burst = %d %s; want 401", i, r.status, r.body)
		}
	}
	r := h.do("POST", "/v1/enroll", "", h.enrollBody("S21-7799"))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("enroll past the burst, right password = %d %s; want 429 with Retry-After", r.status, r.body)
	}
	clk.Advance(time.Minute)
	if r := h.do("POST", "/v1/enroll", "", h.enrollBody("S21-7799")); r.status != 201 {
		t.Fatalf("enroll a minute later = %d %s; want 201", r.status, r.body)
	}
}
