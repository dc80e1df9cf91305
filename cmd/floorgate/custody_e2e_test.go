package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// custodyRecord is one item of GET /admin/v1/custody.
type custodyRecord struct {
	SessionID string `json:"session_id"`
	DeviceID  string `json:"device_id"`
	UserID    string `json:"user_id"`
	Method    string `json:"method"`
	StartedAt string `json:"started_at"`
	EndedAt   string `json:"ended_at"`
	EndReason string `json:"end_reason"`
	EndedBy   string `json:"ended_by"`
}

// TestE2ECustody is issue 13's device custody end to end: a user signs
// in on two devices; one session ends by the user's logout, the other
// forced by the admin; the custody list tells who had which device from
// when to when, how each ended and who forced it; the export and the
// report agree; bad filters are refused.
func TestE2ECustody(t *testing.T) {
	in := startFloorgate(t, e2eEnv(t))
	f := setUpFloor(t, in)
	d1, d2 := f.enroll(t, in, "S21-C001"), f.enroll(t, in, "S21-C002")
	var s1 struct {
		SessionID    string `json:"session_id"`
		SessionToken string `json:"session_token"`
	}
	call(t, "POST", in.GatewayURL+"/v1/login", d1.Token, map[string]string{"username": f.username, "pin": f.pin}, &s1, http.StatusOK)
	l2 := f.login(t, in, d2)
	call(t, "POST", in.GatewayURL+"/v1/logout", s1.SessionToken, nil, nil, http.StatusNoContent)
	call(t, "DELETE", in.AdminURL+"/admin/v1/sessions/"+l2.SessionID, f.adminToken, nil, nil, http.StatusOK)

	// The gateway writes the ends it hears within a second or so.
	var page struct {
		Items         []custodyRecord `json:"items"`
		NextPageToken string          `json:"next_page_token"`
	}
	ended := func() bool {
		call(t, "GET", in.AdminURL+"/admin/v1/custody?warehouse_id="+f.warehouseID, f.adminToken, nil, &page, http.StatusOK)
		for _, c := range page.Items {
			if c.EndedAt == "" {
				return false
			}
		}
		return len(page.Items) == 2
	}
	for i := 0; i < 100 && !ended(); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if len(page.Items) != 2 {
		t.Fatalf("custody = %+v; want two records", page.Items)
	}
	byDevice := map[string]custodyRecord{}
	for _, c := range page.Items {
		byDevice[c.DeviceID] = c
	}
	c1, c2 := byDevice[d1.ID], byDevice[d2.ID]
	if c1.SessionID != s1.SessionID || c1.UserID != f.userID || c1.Method != "pin" || c1.EndReason != "logout" || c1.EndedBy != "" || !isTime(c1.StartedAt) || !isTime(c1.EndedAt) {
		t.Errorf("custody of %s = %+v; want session %s of the user, ended by logout", d1.ID, c1, s1.SessionID)
	}
	if c2.SessionID != l2.SessionID || c2.EndReason != "admin" || !strings.HasPrefix(c2.EndedBy, "manager:mgr_") {
		t.Errorf("custody of %s = %+v; want session %s forced by the admin", d2.ID, c2, l2.SessionID)
	}
	if page.Items[0].SessionID != l2.SessionID {
		t.Errorf("custody order = %s, %s; want the newest first", page.Items[0].SessionID, page.Items[1].SessionID)
	}

	// Filters: by device, by user, pages of one.
	call(t, "GET", in.AdminURL+"/admin/v1/custody?device_id="+d1.ID, f.adminToken, nil, &page, http.StatusOK)
	if len(page.Items) != 1 || page.Items[0].SessionID != s1.SessionID {
		t.Errorf("custody of device %s = %+v; want its one session", d1.ID, page.Items)
	}
	call(t, "GET", in.AdminURL+"/admin/v1/custody?user_id="+f.userID+"&page_size=1", f.adminToken, nil, &page, http.StatusOK)
	if len(page.Items) != 1 || page.NextPageToken == "" {
		t.Fatalf("first page of one = %+v; want one record and a next page", page)
	}
	call(t, "GET", in.AdminURL+"/admin/v1/custody?user_id="+f.userID+"&page_size=1&page_token="+page.NextPageToken, f.adminToken, nil, &page, http.StatusOK)
	if len(page.Items) != 1 || page.Items[0].SessionID != s1.SessionID {
		t.Errorf("second page = %+v; want the older session", page.Items)
	}

	// The export has both, as CSV.
	req, _ := http.NewRequest("GET", in.AdminURL+"/admin/v1/custody/export?warehouse_id="+f.warehouseID, nil)
	req.Header.Set("Authorization", "Bearer "+f.adminToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(string(body), "session_id,device_id,user_id") || !strings.Contains(string(body), s1.SessionID) || !strings.Contains(string(body), c2.EndedBy) {
		t.Errorf("export = %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// The report: nobody signed in after both ended; then one. (Both
	// devices count as not seen: their last-seen notes are written every
	// 30 s, and a device never seen is not seen.)
	var rep struct {
		SignedIn []custodyRecord `json:"signed_in"`
		NotSeen  []struct {
			ID string `json:"id"`
		} `json:"not_seen"`
	}
	call(t, "GET", in.AdminURL+"/admin/v1/custody/report?warehouse_id="+f.warehouseID, f.adminToken, nil, &rep, http.StatusOK)
	if len(rep.SignedIn) != 0 || rep.NotSeen == nil {
		t.Errorf("report = %+v; want no one signed in, and a list of devices not seen", rep)
	}
	l3 := f.login(t, in, d1)
	call(t, "GET", in.AdminURL+"/admin/v1/custody/report?warehouse_id="+f.warehouseID, f.adminToken, nil, &rep, http.StatusOK)
	if len(rep.SignedIn) != 1 || rep.SignedIn[0].SessionID != l3.SessionID || rep.SignedIn[0].EndedAt != "" {
		t.Errorf("report signed in = %+v; want session %s, open", rep.SignedIn, l3.SessionID)
	}

	// Bad filters: a problem naming the parameter.
	for _, q := range []string{"/custody?from=yesterday", "/custody?method=retina", "/custody?page_token=bm9wZQ",
		"/custody?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "/custody/report", "/custody/report?warehouse_id=" + f.warehouseID + "&not_seen_hours=0",
		"/custody/export?open_at=soon"} {
		var p struct {
			Code   string `json:"code"`
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		call(t, "GET", in.AdminURL+"/admin/v1"+q, f.adminToken, nil, &p, http.StatusBadRequest)
		if p.Code != "invalid_request" || len(p.Errors) == 0 {
			t.Errorf("GET %s = %+v; want invalid_request naming the parameter", q, p)
		}
	}
}
