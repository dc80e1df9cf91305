package gateway

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/token"
)

// TestEnrollWithToken: POST /v1/enroll with enrollment_token in place of
// email and password, over HTTP: bad bodies are 400 and spend nothing,
// a token enrolls into its warehouse until its uses are spent, then it is
// refused like a wrong password.
func TestEnrollWithToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	et, tok, err := h.be.reg.CreateEnrollmentToken(ctx, devices.ManagerActor("mgr_x"), devices.EnrollmentTokenInput{WarehouseID: h.wh.ID, Uses: 2})
	if err != nil {
		t.Fatalf("CreateEnrollmentToken: %v", err)
	}
	body := func(tk, serial string) map[string]any {
		return map[string]any{"enrollment_token": tk, "device": map[string]any{"serial": serial, "model": "TC52", "app_version": "4.2.0"}}
	}
	bad := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"token and password", map[string]any{"enrollment_token": tok.Reveal(), "email": "mia@example.com", "password": "x", "device": map[string]any{"serial": "S"}}, 400, CodeInvalidRequest, "enrollment_token"},
		{"no device", map[string]any{"enrollment_token": tok.Reveal()}, 400, CodeInvalidRequest, "device"},
		{"no serial", map[string]any{"enrollment_token": tok.Reveal(), "device": map[string]any{"model": "TC52"}}, 400, CodeInvalidRequest, "device.serial"},
		{"token too long", body("fge_"+string(make([]byte, 300)), "S"), 400, CodeInvalidRequest, "enrollment_token"},
		{"token of a number", map[string]any{"enrollment_token": 7, "device": map[string]any{"serial": "S"}}, 400, CodeInvalidRequest, "enrollment_token"},
		{"serial with a space", body(tok.Reveal(), "S 1"), 400, CodeInvalidRequest, "device.serial"},
		{"malformed token", body("not-a-token", "S-1"), 401, CodeInvalidCredentials, ""},
		{"unknown token", body(token.New(devices.EnrollmentTokenPrefix).Reveal(), "S-1"), 401, CodeInvalidCredentials, ""},
		{"a device token", body(token.New(devices.DeviceTokenPrefix).Reveal(), "S-1"), 401, CodeInvalidCredentials, ""},
		{"other warehouse", map[string]any{"enrollment_token": tok.Reveal(), "warehouse_id": h.other.ID, "device": map[string]any{"serial": "S-1"}}, 403, CodeForbidden, ""},
	}
	for _, tt := range bad {
		r := h.do("POST", "/v1/enroll", "", tt.body)
		if r.status != tt.status || r.code() != tt.code || tt.field != "" && !slices.Contains(fieldsOf(r), tt.field) {
			t.Errorf("%s: POST /v1/enroll = %d %s; want %d %s on %q", tt.name, r.status, r.body, tt.status, tt.code, tt.field)
		}
	}
	if got, _ := h.be.reg.EnrollmentToken(ctx, et.ID); got.Uses != 0 {
		t.Fatalf("uses after bad requests = %d; want 0", got.Uses)
	}

	for i, serial := range []string{"T-1", "T-2"} {
		b := body(tok.Reveal(), serial)
		if i == 1 {
			b["warehouse_id"] = h.wh.ID // naming the token's own warehouse is fine
		}
		r := h.do("POST", "/v1/enroll", "", b)
		if r.status != http.StatusCreated {
			t.Fatalf("POST /v1/enroll with the token (%d) = %d %s; want 201", i+1, r.status, r.body)
		}
		m := r.json(t)
		if m["warehouse_id"] != h.wh.ID {
			t.Errorf("warehouse_id = %v; want %s", m["warehouse_id"], h.wh.ID)
		}
		devTok, _ := m["device_token"].(string)
		h.user("tok"+serial[2:], h.wh.ID)
		h.mustLogin(device{id: m["device_id"].(string), token: devTok}, "tok"+serial[2:])
	}
	// Past its uses: refused, nothing enrolled.
	r := h.do("POST", "/v1/enroll", "", body(tok.Reveal(), "T-3"))
	if r.status != 401 || r.code() != CodeInvalidCredentials {
		t.Errorf("POST /v1/enroll past the token's uses = %d %s; want 401 invalid_credentials", r.status, r.body)
	}
	ds, err := h.be.reg.Devices(ctx, devices.DeviceFilter{WarehouseIDs: []string{h.wh.ID}, Page: devices.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Serial == "T-3" {
			t.Errorf("device T-3 enrolled with a used-up token")
		}
	}
	if got, _ := h.be.reg.EnrollmentToken(ctx, et.ID); got.Uses != 2 || got.UsesLeft() != 0 {
		t.Errorf("token after two uses = %d used, %d left; want 2, 0", got.Uses, got.UsesLeft())
	}
}
