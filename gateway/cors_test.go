package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestCORS drives the device API's CORS over the network: an allowed
// origin's preflight is answered (methods, Authorization and
// Content-Type, no credentials) and its calls carry its origin back,
// with Vary: Origin; any other origin gets no CORS header at all.
func TestCORS(t *testing.T) {
	t.Parallel()
	h := newHarness(t) // allows https://console.example.com
	d := h.enroll("CORS-1")
	h.user("corsy", h.wh.ID)
	const allowed, other = "https://console.example.com", "https://evil.example.com"

	preflight := func(origin, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("OPTIONS", h.ts.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	call := func(origin, method, path, token, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.ts.URL+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	noCredentials := func(what string, resp *http.Response) {
		t.Helper()
		if v := resp.Header.Get("Access-Control-Allow-Credentials"); v != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials = %q; want none", what, v)
		}
	}

	for _, path := range []string{"/v1/login", "/v1/enroll", "/v1/session", "/v1/introspect"} {
		resp := preflight(allowed, path)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
			t.Fatalf("preflight %s from an allowed origin = %d, Allow-Origin %q; want 204 and the origin", path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		allowHeaders := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
		if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(allowHeaders, "authorization") || !strings.Contains(allowHeaders, "content-type") {
			t.Errorf("preflight %s allows methods %q, headers %q; want POST, Authorization, Content-Type", path,
				resp.Header.Get("Access-Control-Allow-Methods"), resp.Header.Get("Access-Control-Allow-Headers"))
		}
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("preflight %s: Vary = %q; want Origin", path, resp.Header.Values("Vary"))
		}
		noCredentials("preflight "+path, resp)
	}

	resp := call(allowed, "POST", "/v1/login", d.token, `{"username":"corsy","pin":"`+goodPIN+`"}`)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != allowed ||
		!strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("login from an allowed origin = %d, headers %v; want 200, the origin echoed, Vary: Origin, Retry-After exposed", resp.StatusCode, resp.Header)
	}
	noCredentials("login", resp)
	// Refusals carry it too, so that the app can read them.
	if resp := call(allowed, "GET", "/v1/session", "fgs_nope", ""); resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != allowed {
		t.Errorf("a 401 to an allowed origin = %d, Allow-Origin %q; want 401 with the origin", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}

	// Another origin: no CORS header on anything.
	for _, resp := range []*http.Response{
		preflight(other, "/v1/login"),
		call(other, "POST", "/v1/login", d.token, `{"username":"corsy","pin":"`+goodPIN+`"}`),
	} {
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s %s from another origin answered %s: %q; want no CORS header", resp.Request.Method, resp.Request.URL.Path, k, resp.Header.Get(k))
			}
		}
	}
	if resp := preflight(other, "/v1/login"); resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK {
		t.Errorf("preflight from another origin = %d; want a refusal", resp.StatusCode)
	}
}
