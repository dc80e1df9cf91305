package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawLogin posts body to POST /v1/login with d's token and returns the
// status and the body as sent.
func rawLogin(t *testing.T, in *instance, d device, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", in.GatewayURL+"/v1/login", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.Token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/login: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// badgeAction is the answer of PUT and DELETE /admin/v1/users/{id}/badge.
type badgeAction struct {
	Badge struct {
		Set bool `json:"set"`
	} `json:"badge"`
	Replaced   bool     `json:"replaced"`
	CommandIDs []string `json:"command_ids"`
}

// TestE2EBadge is issue 13's badge sign-in end to end: a badge set by
// the admin API signs its user in with their PIN; an unknown badge and
// a badge on another warehouse's device get exactly the answers of an
// unknown username and of a username on that device; replacing the
// badge ends the session it opened (and not the user's PIN session),
// and the old badge stops working; removing it ends the new one's.
func TestE2EBadge(t *testing.T) {
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)
	d1, d2 := f.enroll(t, in, "S21-B001"), f.enroll(t, in, "S21-B002")
	var wh2 struct {
		ID string `json:"id"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/warehouses", f.adminToken, map[string]string{"name": "Dock South", "code": "DS1"}, &wh2, http.StatusCreated)
	var other struct {
		DeviceID    string `json:"device_id"`
		DeviceToken string `json:"device_token"`
	}
	call(t, "POST", in.GatewayURL+"/v1/enroll", "", map[string]any{
		"email": e2eAdminEmail, "password": e2eAdminPassword, "warehouse_id": wh2.ID,
		"device": map[string]string{"serial": "S21-B900", "app_version": "4.2.0"},
	}, &other, http.StatusCreated)
	far := device{ID: other.DeviceID, Token: other.DeviceToken}
	badgeURL := in.AdminURL + "/admin/v1/users/" + f.userID + "/badge"

	// Bad input changes nothing.
	var pb struct {
		Code   string `json:"code"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	call(t, "PUT", badgeURL, f.adminToken, map[string]string{"badge": "a b"}, &pb, http.StatusBadRequest)
	if pb.Code != "invalid_request" || len(pb.Errors) == 0 || pb.Errors[0].Field != "badge" {
		t.Errorf("PUT badge %q = %+v; want invalid_request naming badge", "a b", pb)
	}
	var view struct {
		Set bool `json:"set"`
	}
	call(t, "GET", badgeURL, f.adminToken, nil, &view, http.StatusOK)
	if view.Set {
		t.Fatalf("badge set after a refused PUT")
	}

	const first, second = "04:A2:19:7F:C3", "BADGE-0002"
	var act badgeAction
	call(t, "PUT", badgeURL, f.adminToken, map[string]string{"badge": first}, &act, http.StatusOK)
	if !act.Badge.Set || act.Replaced || len(act.CommandIDs) != 0 {
		t.Fatalf("PUT first badge = %+v; want set, nothing replaced or ended", act)
	}

	// Unknown badge: the bytes of an unknown username. Another
	// warehouse's device: the answer of a username there.
	uStatus, uBody := rawLogin(t, in, d1, map[string]string{"username": "nobody", "pin": f.pin})
	bStatus, bBody := rawLogin(t, in, d1, map[string]string{"badge": "NOT-A-BADGE", "pin": f.pin})
	if uStatus != http.StatusUnauthorized || bStatus != uStatus || bBody != uBody {
		t.Errorf("unknown badge = %d %s; unknown username = %d %s; want the same 401", bStatus, bBody, uStatus, uBody)
	}
	wStatus, wBody := rawLogin(t, in, far, map[string]string{"username": f.username, "pin": f.pin})
	bwStatus, bwBody := rawLogin(t, in, far, map[string]string{"badge": first, "pin": f.pin})
	if wStatus != http.StatusForbidden || !strings.Contains(wBody, "wrong_warehouse") || bwStatus != wStatus || bwBody != wBody {
		t.Errorf("badge on another warehouse = %d %s; username there = %d %s; want the same 403 wrong_warehouse", bwStatus, bwBody, wStatus, wBody)
	}
	if s, body := rawLogin(t, in, d1, map[string]string{"badge": first, "username": f.username, "pin": f.pin}); s != http.StatusBadRequest || !strings.Contains(body, "badge") {
		t.Errorf("login with badge and username = %d %s; want 400 naming badge", s, body)
	}

	// The badge signs in on d1; the PIN signs in on d2.
	sock := dial(t, in, d1, "badge device")
	sock.welcome(t, d1)
	var bl loggedIn
	call(t, "POST", in.GatewayURL+"/v1/login", d1.Token, map[string]string{"badge": " " + first + " ", "pin": f.pin}, &bl, http.StatusOK)
	pinLogin := f.login(t, in, d2)

	// Replacing the badge ends the badge session only.
	call(t, "PUT", badgeURL, f.adminToken, map[string]string{"badge": second}, &act, http.StatusOK)
	if !act.Replaced || len(act.CommandIDs) != 1 {
		t.Fatalf("PUT second badge = %+v; want replaced and one command", act)
	}
	lo := sock.expect(t, 5*time.Second, "logout")
	checkLogout(t, lo, bl.SessionID, "admin")
	var live []struct {
		SessionID string `json:"session_id"`
	}
	var page struct {
		Items *[]struct {
			SessionID string `json:"session_id"`
		} `json:"items"`
	}
	page.Items = &live
	call(t, "GET", in.AdminURL+"/admin/v1/sessions?user_id="+f.userID, f.adminToken, nil, &page, http.StatusOK)
	if len(live) != 1 || live[0].SessionID != pinLogin.SessionID {
		t.Errorf("live sessions after the replacement = %+v; want only the PIN session %s", live, pinLogin.SessionID)
	}
	if s, _ := rawLogin(t, in, d1, map[string]string{"badge": first, "pin": f.pin}); s != http.StatusUnauthorized {
		t.Errorf("login with the replaced badge = %d; want 401", s)
	}
	var nl loggedIn
	call(t, "POST", in.GatewayURL+"/v1/login", d1.Token, map[string]string{"badge": second, "pin": f.pin}, &nl, http.StatusOK)

	// Removing it ends the new badge's session.
	call(t, "DELETE", badgeURL, f.adminToken, nil, &act, http.StatusOK)
	if act.Badge.Set || len(act.CommandIDs) != 1 {
		t.Errorf("DELETE badge = %+v; want unset and one command", act)
	}
	checkLogout(t, sock.expect(t, 5*time.Second, "logout"), nl.SessionID, "admin")
	call(t, "DELETE", badgeURL, f.adminToken, nil, nil, http.StatusNotFound)
}
