//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/testenv"
)

// TestLogsAreJSON is issue 10 item 6: with the instance's Redis killed
// (go-redis then has plenty to say), every line the instance logs is one
// JSON object; each request is logged at debug with its route pattern
// and status, a refused sign-in at info with its problem code, and no
// PIN, password or token appears anywhere. It does not run in parallel:
// go-redis has one logger per process, the last instance's.
func TestLogsAreJSON(t *testing.T) {
	rs := testenv.StartRedis(t)
	ff := startFaultFloor(t, map[string]string{
		"FLOORGATE_POSTGRES_URL": postgresURL(t),
		"FLOORGATE_REDIS_URL":    "redis://" + rs.Addr() + "/0",
	})
	const wrongPIN = "9173"
	call(t, "POST", ff.in.GatewayURL+"/v1/login", ff.d.Token,
		map[string]string{"username": ff.f.username, "pin": wrongPIN}, nil, http.StatusUnauthorized)

	// A console page calls the API in process: it is logged as a console
	// page with its path, not as the API's route.
	if status, _ := get(t, ff.in.AdminURL+"/signin"); status != http.StatusOK {
		t.Fatalf("GET /signin = %d; want 200", status)
	}

	rs.Kill()
	// A bounded spell of traffic against the dead Redis (sign-ins,
	// introspections, readiness) until go-redis has logged, at most 5 s.
	for round, deadline := 0, time.Now().Add(5*time.Second); round == 0 || time.Now().Before(deadline) &&
		!strings.Contains(ff.in.Stderr.String(), `"component":"go-redis"`); round++ {
		for _, c := range append([]faultCall{ff.login(), ff.introspect(), ff.adminLogin()}, ff.readyz()...) {
			c.do(t)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := ff.in.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	logs := ff.in.Stderr.String()
	secrets := map[string]string{"PIN": ff.f.pin, "wrong PIN": wrongPIN, "admin password": e2eAdminPassword,
		"manager password": ff.f.managerPassword, "device token": ff.d.Token, "session token": ff.session, "service key": ff.serviceKey}
	for what, s := range secrets {
		if i := strings.Index(logs, s); i >= 0 && (len(s) > 4 || pinLeak(logs, s)) {
			t.Errorf("the log holds the %s: %.120q", what, logs[max(0, i-60):min(len(logs), i+60)])
		}
	}
	var lines, requests, refusals, goredis int
	routes := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSuffix(logs, "\n"), "\n") {
		lines++
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("line %d is not JSON: %.200q", lines, line)
			continue
		}
		if m["component"] == "go-redis" {
			goredis++
		}
		switch m["msg"] {
		case "request":
			requests++
			routes[m["route"].(string)] = true
			if m["route"] == consoleRoute && m["path"] != "/signin" {
				t.Errorf("console request line %.300s; want path /signin", line)
			}
			if m["level"] != "DEBUG" || m["status"] == nil || m["duration_ms"] == nil || m["listener"] == nil {
				t.Errorf("request line %.300s; want DEBUG with listener, status and duration_ms", line)
			}
		case "sign-in refused":
			refusals++
			if code, _ := m["code"].(string); m["level"] != "INFO" || m["route"] != "/v1/login" || m["status"] != float64(401) || code == "" {
				t.Errorf("refusal line %.300s; want INFO, route /v1/login, status 401 and a code", line)
			}
		}
	}
	for _, r := range []string{"/v1/login", "/v1/introspect", "/admin/v1/login", "/readyz", "/v1/enroll", "/admin/v1/users", consoleRoute} {
		if !routes[r] {
			t.Errorf("no request line with route %s (routes logged: %v)", r, routes)
		}
	}
	if refusals != 1 {
		t.Errorf("%d sign-in refused lines; want 1 (the wrong PIN)", refusals)
	}
	if goredis == 0 {
		t.Errorf("no go-redis line in the log; want its lines routed through slog")
	}
	t.Logf("%d lines, all JSON; %d request lines, %d of go-redis", lines, requests, goredis)
}

// pinLeak reports whether a 4-digit PIN shows in the log as a value: a
// JSON string of its own ("9173") or after a field name (pin=9173,
// "pin":9173). A PIN's four digits also turn up by chance inside
// timestamps, durations and ids, which is no leak.
func pinLeak(logs, pin string) bool {
	for _, form := range []string{`"` + pin + `"`, "=" + pin, ":" + pin + ",", ":" + pin + "}", " " + pin + " "} {
		if strings.Contains(logs, form) {
			return true
		}
	}
	return false
}
