package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/floorgate/floorgate/devices"
)

// TestEnrollmentTokens: who may make, list, read and revoke tokens
// (admins and the warehouse's mobile managers, 404 outside one's
// warehouses), what the answer shows once (the token, the managed
// configuration, QR codes carrying exactly it), that lists never show a
// token, and that bad input changes nothing.
func TestEnrollmentTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.api.cfg.DeviceURL = "https://floor.example.com"

	var ce CreatedEnrollmentToken
	e.expect(201, "mm_a", "POST", "/enrollment-tokens", map[string]any{"warehouse_id": e.whA.ID, "uses": 25, "expires_in_s": 86400, "name": "Dock 3"}).decode(t, &ce)
	if !strings.HasPrefix(ce.Token, devices.EnrollmentTokenPrefix) || ce.EnrollmentToken.MaxUses != 25 || ce.EnrollmentToken.UsesLeft != 25 ||
		ce.EnrollmentToken.State != "active" || ce.EnrollmentToken.CreatedBy == "" {
		t.Fatalf("created = %+v; want an active token of 25 uses", ce)
	}
	want := ManagedConfiguration{FloorgateURL: "https://floor.example.com", WarehouseID: e.whA.ID, EnrollmentToken: ce.Token}
	if ce.ManagedConfiguration != want {
		t.Errorf("managed_configuration = %+v; want %+v", ce.ManagedConfiguration, want)
	}
	payload, _ := json.Marshal(want)
	q, err := qrcode.New(string(payload), qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	wantModules := q.Bitmap()
	// The PNG and the SVG carry exactly the managed configuration's QR
	// code: their modules are those of that payload's code.
	raw, err := base64.StdEncoding.DecodeString(ce.QRPNG)
	if err != nil {
		t.Fatalf("qr_png is not base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("qr_png is not a PNG: %v", err)
	}
	if got := pngModules(img, len(wantModules)); !sameModules(got, wantModules) {
		t.Errorf("qr_png does not carry the managed configuration's QR code")
	}
	if got := svgModules(t, ce.QRSVG); !sameModules(got, wantModules) {
		t.Errorf("qr_svg does not carry the managed configuration's QR code")
	}

	// Roles: a mobile manager of B, a user manager of A, and no one
	// outside their warehouses.
	e.expect(404, "mm_b", "GET", "/enrollment-tokens/"+ce.EnrollmentToken.ID, nil)
	e.expect(404, "mm_b", "POST", "/enrollment-tokens", map[string]any{"warehouse_id": e.whA.ID})
	e.expect(403, "um_a", "POST", "/enrollment-tokens", map[string]any{"warehouse_id": e.whA.ID})
	e.expect(403, "um_a", "DELETE", "/enrollment-tokens/"+ce.EnrollmentToken.ID, nil)
	e.expect(403, "um_a", "GET", "/enrollment-tokens", nil)
	e.expect(401, "key_introspect", "GET", "/enrollment-tokens", nil)
	var list Page[EnrollmentTokenView]
	e.expect(200, "mm_b", "GET", "/enrollment-tokens", nil).decode(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("mm_b sees %d tokens of A", len(list.Items))
	}
	r := e.expect(200, "mm_a", "GET", "/enrollment-tokens?warehouse_id="+e.whA.ID, nil)
	r.decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].UsesLeft != 25 || strings.Contains(string(r.body), ce.Token) || strings.Contains(string(r.body), ce.Token[4:]) {
		t.Errorf("list = %s; want the one token, never its secret", r.body)
	}

	// Bad input: a problem with a code, and nothing made.
	for _, bad := range []any{
		map[string]any{},
		map[string]any{"warehouse_id": e.whA.ID, "uses": 0.5},
		map[string]any{"warehouse_id": e.whA.ID, "uses": -3},
		map[string]any{"warehouse_id": e.whA.ID, "uses": 10001},
		map[string]any{"warehouse_id": e.whA.ID, "expires_in_s": 5},
		map[string]any{"warehouse_id": e.whA.ID, "expires_in_s": 99999999},
		map[string]any{"warehouse_id": e.whA.ID, "bogus": true},
		map[string]any{"warehouse_id": e.whA.ID, "name": strings.Repeat("n", 101)},
	} {
		r := e.call("admin", "POST", "/enrollment-tokens", bad)
		if r.status != 400 || r.code() != codeInvalidRequest {
			t.Errorf("POST /enrollment-tokens %v = %d %s; want 400 invalid_request", bad, r.status, r.body)
		}
	}
	e.expect(400, "admin", "POST", "/enrollment-tokens", map[string]any{"warehouse_id": "wh_nope"})
	e.expect(404, "mm_a", "POST", "/enrollment-tokens", map[string]any{"warehouse_id": "wh_nope"})
	e.expect(400, "admin", "GET", "/enrollment-tokens?state=old", nil)
	e.expect(404, "admin", "GET", "/enrollment-tokens/ent_nope", nil)
	e.expect(404, "admin", "DELETE", "/enrollment-tokens/ent_nope", nil)
	e.expect(200, "admin", "GET", "/enrollment-tokens", nil).decode(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("tokens after bad requests = %d; want 1", len(list.Items))
	}

	// Revoke: audited, uses left 0, and again changes nothing.
	var v EnrollmentTokenView
	e.expect(200, "mm_a", "DELETE", "/enrollment-tokens/"+ce.EnrollmentToken.ID, nil).decode(t, &v)
	if v.State != "revoked" || v.UsesLeft != 0 || v.RevokedAt == nil {
		t.Errorf("revoked = %+v", v)
	}
	e.expect(200, "mm_a", "DELETE", "/enrollment-tokens/"+ce.EnrollmentToken.ID, nil)
	e.expect(200, "admin", "GET", "/enrollment-tokens?state=active", nil).decode(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("active tokens after revoke = %d; want 0", len(list.Items))
	}
	for _, action := range []string{"enrollment_token.create", "enrollment_token.revoke"} {
		evs, err := e.reg.Events(t.Context(), devices.EventFilter{Action: action, Subject: devices.EnrollmentTokenSubject(ce.EnrollmentToken.ID)})
		if err != nil || len(evs) != 1 {
			t.Errorf("audit %s = %d events, %v; want 1", action, len(evs), err)
		}
	}
}

// pngModules samples a QR image of n modules a side (quiet zone
// included) at each module's centre.
func pngModules(img image.Image, n int) [][]bool {
	b := img.Bounds()
	out := make([][]bool, n)
	for y := range n {
		out[y] = make([]bool, n)
		for x := range n {
			px := b.Min.X + (2*x+1)*b.Dx()/(2*n)
			py := b.Min.Y + (2*y+1)*b.Dy()/(2*n)
			r, g, bl, _ := img.At(px, py).RGBA()
			out[y][x] = r+g+bl < 3*0x8000
		}
	}
	return out
}

var svgRun = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-\d+z`)

// svgModules reads the modules back from qrSVG's path.
func svgModules(t *testing.T, svg string) [][]bool {
	m := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("qr_svg has no viewBox: %.200s", svg)
	}
	n, _ := strconv.Atoi(m[1])
	out := make([][]bool, n)
	for i := range out {
		out[i] = make([]bool, n)
	}
	for _, run := range svgRun.FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(run[1])
		y, _ := strconv.Atoi(run[2])
		w, _ := strconv.Atoi(run[3])
		for i := x; i < x+w && y < n && i < n; i++ {
			out[y][i] = true
		}
	}
	return out
}

func sameModules(a, b [][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for y := range a {
		if len(a[y]) != len(b[y]) {
			return false
		}
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				return false
			}
		}
	}
	return true
}
