package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestWarehouseLogout: POST /warehouses/{id}/logout answers the
// commands of the warehouse's sessions; the tokens are refused and
// GET /commands/{id} answers each command as soon as the call has
// answered (on Redis the records are written after the answer), and
// the sessions.end audit event is written before the answer. On every
// backend.
func TestWarehouseLogout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.clock.Advance(time.Millisecond) // the logout comes after the logins
		var ci CommandIDsResponse
		e.expect(200, "admin", "POST", "/warehouses/"+e.whB.ID+"/logout", nil).decode(t, &ci)
		if len(ci.CommandIDs) != 1 {
			t.Fatalf("command_ids = %v; want one (session B)", ci.CommandIDs)
		}
		if _, err := e.sess.Validate(ctx, e.sessB.Token); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Validate(session B) after the logout = %v; want ErrNotFound", err)
		}
		var cv CommandView
		e.expect(200, "admin", "GET", "/commands/"+ci.CommandIDs[0], nil).decode(t, &cv)
		if cv.SessionID != e.sessB.Session.ID || cv.Reason != sessions.ReasonAdmin || cv.WarehouseID != e.whB.ID {
			t.Errorf("command = %+v; want session B's admin command in warehouse B", cv)
		}
		// The audit is written before the answer (the records after it):
		// an answered logout is audited even if the instance dies next.
		evs, err := e.reg.Events(ctx, devices.EventFilter{Subject: devices.WarehouseSubject(e.whB.ID), Action: "sessions.end"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit of the answered warehouse logout = %v, %v; want one sessions.end", evs, err)
		}
		if evs[0].Details["count"] != "1" || evs[0].Details["command_ids"] != ci.CommandIDs[0] {
			t.Errorf("audit event = %+v; want one command, %s", evs[0], ci.CommandIDs[0])
		}
		waitRecord := time.Now().Add(10 * time.Second)
		for {
			if pend, err := e.sess.Pending(ctx, e.sessB.Session.DeviceID); err == nil && len(pend) == 1 && pend[0].ID == ci.CommandIDs[0] {
				break
			}
			if time.Now().After(waitRecord) {
				t.Fatalf("the command of session B was not queued for its device within 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
