package admin

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/signin"
	"github.com/floorgate/floorgate/throttle"
)

// TestWarehouseSummary counts a small floor in every state, on every
// backend.
func TestWarehouseSummary(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		// Warehouse A: devA holds alice's session. Add: one online and
		// free, one quarantined, one on an old app, one with a logout
		// not yet acknowledged.
		free := e.mkDevice("SER-FREE", e.whA.ID)
		if err := e.sess.MarkOnline(ctx, "test", []string{free.ID, e.devA.ID}, time.Hour); err != nil {
			t.Fatalf("MarkOnline: %v", err)
		}
		quar := e.mkDevice("SER-QUAR", e.whA.ID)
		lim := throttle.Limits{DeviceFailures: 1, DeviceWindow: time.Hour}
		for _, u := range []string{"x1", "x2"} {
			if _, err := e.throttle.Fail(ctx, throttle.Attempt{Subject: u, Source: signin.DeviceSource(quar.ID), WarehouseID: e.whA.ID}, lim); err != nil {
				t.Fatalf("Fail: %v", err)
			}
		}
		old, _, _, err := e.reg.Enroll(ctx, e.managers["admin"].ID, devices.EnrollInput{WarehouseID: e.whA.ID, Serial: "SER-OLD", Model: "TC52", AppVersion: "3.9"})
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		min := "4.0"
		e.expect(200, "admin", "PATCH", "/warehouses/"+e.whA.ID, map[string]any{"settings": map[string]any{"min_app_version": min}})
		bob := e.mkUser("bob", e.whA.ID)
		s := e.mkSession(bob, old)
		if _, err := e.sess.End(ctx, s.Session.ID, sessions.ReasonAdmin); err != nil {
			t.Fatalf("End: %v", err)
		}
		e.reg.Seen(e.devA.ID, "")
		if err := e.reg.FlushSeen(ctx); err != nil {
			t.Fatalf("FlushSeen: %v", err)
		}

		var sum WarehouseSummary
		e.expect(200, "mm_a", "GET", "/warehouses/"+e.whA.ID+"/summary", nil).decode(t, &sum)
		want := WarehouseSummary{WarehouseID: e.whA.ID, Devices: 4, InUse: 1, OnlineFree: 1, Offline: 2, NotSeen: 2, NotSeenHours: 24,
			Quarantined: 1, BelowMin: 1, MinVersion: min, Sessions: 1, Unacked: 1, At: sum.At}
		if sum != want {
			t.Errorf("summary =\n %+v; want\n %+v", sum, want)
		}
		// The summary counts at most MaxSummaryDevices devices, and says so.
		e.api.cfg.MaxSummaryDevices = 2
		var part WarehouseSummary
		e.expect(200, "admin", "GET", "/warehouses/"+e.whA.ID+"/summary", nil).decode(t, &part)
		if part.Devices != 2 || !part.Partial {
			t.Errorf("summary with a limit of 2 = %d devices, partial %v; want 2 and partial", part.Devices, part.Partial)
		}
		e.api.cfg.MaxSummaryDevices = defaultMaxSummaryDevices

		e.clock.Advance(25 * time.Hour)
		e.expect(200, "key_admin", "GET", "/warehouses/"+e.whA.ID+"/summary?not_seen_hours=1", nil).decode(t, &sum)
		if sum.NotSeen != 4 || sum.NotSeenHours != 1 {
			t.Errorf("a day later not_seen = %d (hours %d); want 4 (1)", sum.NotSeen, sum.NotSeenHours)
		}
	})
}

// TestBoardRoutes checks holders, commands and their scope.
func TestBoardRoutes(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		var hs Page[Holder]
		e.expect(200, "mm_a", "GET", "/warehouses/"+e.whA.ID+"/holders", nil).decode(t, &hs)
		if len(hs.Items) != 1 {
			t.Fatalf("holders = %+v; want alice on devA", hs.Items)
		}
		h := hs.Items[0]
		if h.Session.ID != e.sessA.Session.ID || h.Device == nil || h.Device.ID != e.devA.ID || h.User == nil || h.User.Username != "alice" || h.User.FirstName != "Alice" || h.Online {
			t.Errorf("holder = %+v; want alice's session on devA, offline", h)
		}

		cmds, err := e.sess.EndDevice(ctx, e.devA.ID, sessions.ReasonAdmin)
		if err != nil || len(cmds) != 1 {
			t.Fatalf("EndDevice = %v, %v; want one command", cmds, err)
		}
		var cs Page[CommandView]
		e.expect(200, "um_a", "GET", "/warehouses/"+e.whA.ID+"/commands", nil).decode(t, &cs)
		if len(cs.Items) != 1 || cs.Items[0].CommandID != cmds[0].ID || cs.Items[0].Status != sessions.StatusPending {
			t.Fatalf("commands = %+v; want %s pending", cs.Items, cmds[0].ID)
		}
		if err := e.sess.Ack(ctx, e.devA.ID, cmds[0].ID); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		e.expect(200, "um_a", "GET", "/warehouses/"+e.whA.ID+"/commands", nil).decode(t, &cs)
		if len(cs.Items) != 0 {
			t.Errorf("after the ack commands = %+v; want none", cs.Items)
		}

		// Paging: three devices a page of one at a time.
		for i := range 3 {
			e.mkDevice(fmt.Sprintf("SER-P%d", i), e.whB.ID)
		}
		pages, token := 0, ""
		for {
			pages++
			var p Page[CommandView]
			e.expect(200, "admin", "GET", "/warehouses/"+e.whB.ID+"/commands?page_size=1&page_token="+url.QueryEscape(token), nil).decode(t, &p)
			if token = p.NextPageToken; token == "" || pages > 10 {
				break
			}
		}
		if pages != 5 { // devB and three more, a page each, then an empty last page
			t.Errorf("commands of B took %d pages of one device; want 5", pages)
		}

		for _, path := range []string{"/summary", "/holders", "/commands"} {
			if r := e.call("mm_b", "GET", "/warehouses/"+e.whA.ID+path, nil); r.status != 404 {
				t.Errorf("GET %s of A as mobile manager of B = %d; want 404", path, r.status)
			}
			if r := e.call("key_introspect", "GET", "/warehouses/"+e.whA.ID+path, nil); r.status != 401 {
				t.Errorf("GET %s with an introspect key = %d; want 401", path, r.status)
			}
		}
		for _, q := range []string{"not_seen_hours=0", "not_seen_hours=x", "not_seen_hours=9000"} {
			if r := e.call("admin", "GET", "/warehouses/"+e.whA.ID+"/summary?"+q, nil); r.status != 400 {
				t.Errorf("summary?%s = %d; want 400", q, r.status)
			}
		}
	})
}

// TestCheckUsername: suggestions skip taken names (deleted ones too),
// a given name is checked, and only those who may create users ask.
func TestCheckUsername(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.mkUser("marial", e.whA.ID)
	u2 := e.mkUser("marial2", e.whB.ID)
	e.expect(200, "admin", "DELETE", "/users/"+u2.ID, nil)
	tests := []struct {
		role, query string
		want        UsernameCheck
	}{
		{"um_a", "first_name=Mar%C3%ADa&last_name=L%C3%B3pez", UsernameCheck{Username: "marial3", Available: true, Suggested: true}},
		{"um_a", "first_name=Jo+Ann&last_name=O%27Neil", UsernameCheck{Username: "joanno", Available: true, Suggested: true}},
		{"admin", "username=ALICE", UsernameCheck{Username: "ALICE"}},
		{"um_b", "username=newbie", UsernameCheck{Username: "newbie", Available: true}},
	}
	for _, tc := range tests {
		var got UsernameCheck
		e.expect(200, tc.role, "GET", "/users/username?"+tc.query, nil).decode(t, &got)
		if got != tc.want {
			t.Errorf("GET /users/username?%s = %+v; want %+v", tc.query, got, tc.want)
		}
	}
	var bad UsernameCheck
	e.expect(200, "admin", "GET", "/users/username?username=a%20b", nil).decode(t, &bad)
	if bad.Available || bad.Problem == nil || bad.Problem.Code != "invalid_characters" {
		t.Errorf("check of 'a b' = %+v; want a problem invalid_characters", bad)
	}
	if r := e.call("mm_a", "GET", "/users/username?username=x1", nil); r.status != 403 {
		t.Errorf("a mobile manager checks a username = %d; want 403", r.status)
	}
	if r := e.call("admin", "GET", "/users/username?first_name=%21%21", nil); r.status != 400 {
		t.Errorf("suggestion from no letters = %d; want 400", r.status)
	}
	// Past maxSuggestTries taken candidates, none is offered as free.
	for i := 3; i <= maxSuggestTries; i++ {
		e.mkUser(fmt.Sprintf("marial%d", i), e.whA.ID)
	}
	var none UsernameCheck
	e.expect(200, "um_a", "GET", "/users/username?first_name=Maria&last_name=Lopez", nil).decode(t, &none)
	if none != (UsernameCheck{Username: "marial", Suggested: true}) {
		t.Errorf("suggestion with %d candidates taken = %+v; want marial, not available", maxSuggestTries, none)
	}
}
