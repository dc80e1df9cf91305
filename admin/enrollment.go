package admin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/floorgate/floorgate/devices"
)

// EnrollmentTokenRequest is the body of POST /enrollment-tokens.
type EnrollmentTokenRequest = devices.EnrollmentTokenInput

// EnrollmentTokenView is an enrollment token as the admin API shows it:
// the record (never the token or its hash), its uses left and its state
// now.
type EnrollmentTokenView struct {
	devices.EnrollmentToken
	UsesLeft int    `json:"uses_left"`
	State    string `json:"state"` // active, expired, used_up, revoked
}

// ManagedConfiguration is what a handheld needs to enroll by itself: the
// keys an EMM pushes as the app's managed configuration, and the content
// of the QR code (this object as JSON).
type ManagedConfiguration struct {
	FloorgateURL    string `json:"floorgate_url"`
	WarehouseID     string `json:"warehouse_id"`
	EnrollmentToken string `json:"enrollment_token"`
}

// CreatedEnrollmentToken answers a new token: the token itself, the
// managed configuration and its QR code are shown this once (only the
// token's hash is kept, so no later call can show them again).
type CreatedEnrollmentToken struct {
	EnrollmentToken      EnrollmentTokenView  `json:"enrollment_token"`
	Token                string               `json:"token"`
	ManagedConfiguration ManagedConfiguration `json:"managed_configuration"`
	// QRPNG is a PNG image of the QR code, base64; QRSVG the same code as
	// an SVG document.
	QRPNG string `json:"qr_png"`
	QRSVG string `json:"qr_svg"`
}

func (a *API) enrollmentTokenView(t devices.EnrollmentToken) EnrollmentTokenView {
	return EnrollmentTokenView{EnrollmentToken: t, UsesLeft: t.UsesLeft(), State: t.State(a.now())}
}

// createEnrollmentToken is POST /enrollment-tokens: admins, and mobile
// managers of the warehouse.
func (a *API) createEnrollmentToken(w http.ResponseWriter, r *http.Request) error {
	var in devices.EnrollmentTokenInput
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	if in.WarehouseID == "" {
		return invalid("warehouse_id", "required", "warehouse_id is required")
	}
	if err := a.authorize(r, capDevices, in.WarehouseID, devices.WarehouseSubject(in.WarehouseID)); err != nil {
		return err
	}
	t, tok, err := a.reg.CreateEnrollmentToken(r.Context(), principalFrom(r.Context()).actor, in)
	if err != nil {
		return fmt.Errorf("create enrollment token: %w", err)
	}
	mc := ManagedConfiguration{FloorgateURL: a.cfg.DeviceURL, WarehouseID: t.WarehouseID, EnrollmentToken: tok.Reveal()}
	payload, err := json.Marshal(mc)
	if err != nil {
		return fmt.Errorf("enrollment token QR payload: %w", err)
	}
	png, svg, err := qrImages(string(payload))
	if err != nil {
		return fmt.Errorf("enrollment token QR code: %w", err)
	}
	return writeJSON(w, http.StatusCreated, CreatedEnrollmentToken{
		EnrollmentToken:      a.enrollmentTokenView(t),
		Token:                tok.Reveal(),
		ManagedConfiguration: mc,
		QRPNG:                base64.StdEncoding.EncodeToString(png),
		QRSVG:                svg,
	})
}

// listEnrollmentTokens is GET /enrollment-tokens: the tokens of the
// warehouses where the caller may enroll devices.
func (a *API) listEnrollmentTokens(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, size, err := pageQuery(r)
	if err != nil {
		return err
	}
	f := devices.EnrollmentTokenFilter{Page: devices.Page{After: after, Limit: size}}
	switch q.Get("state") {
	case "", "all":
	case devices.EnrollmentActive:
		now := a.now()
		f.ActiveAt = &now
	default:
		return invalid("state", "enum", "state must be active or all")
	}
	if f.WarehouseIDs, err = a.scopeFilter(r, capDevices, q.Get("warehouse_id")); err != nil {
		return err
	}
	ts, err := a.reg.EnrollmentTokens(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list enrollment tokens: %w", err)
	}
	items := make([]EnrollmentTokenView, len(ts))
	last := ""
	for i, t := range ts {
		items[i] = a.enrollmentTokenView(t)
		last = t.ID
	}
	return writeJSON(w, http.StatusOK, Page[EnrollmentTokenView]{Items: items, NextPageToken: nextToken(len(ts), size, last)})
}

func (a *API) loadEnrollmentToken(r *http.Request) (devices.EnrollmentToken, error) {
	id := chi.URLParam(r, "id")
	t, err := a.reg.EnrollmentToken(r.Context(), id)
	if err != nil {
		return devices.EnrollmentToken{}, fmt.Errorf("read enrollment token %s: %w", id, err)
	}
	if err := a.authorize(r, capDevices, t.WarehouseID, devices.EnrollmentTokenSubject(t.ID)); err != nil {
		return devices.EnrollmentToken{}, err
	}
	return t, nil
}

func (a *API) getEnrollmentToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.loadEnrollmentToken(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.enrollmentTokenView(t))
}

// revokeEnrollmentToken is DELETE /enrollment-tokens/{id}: the token
// stops working at once; the devices it enrolled stay enrolled.
func (a *API) revokeEnrollmentToken(w http.ResponseWriter, r *http.Request) error {
	t, err := a.loadEnrollmentToken(r)
	if err != nil {
		return err
	}
	t, err = a.reg.RevokeEnrollmentToken(r.Context(), principalFrom(r.Context()).actor, t.ID)
	if err != nil {
		return fmt.Errorf("revoke enrollment token: %w", err)
	}
	return writeJSON(w, http.StatusOK, a.enrollmentTokenView(t))
}
