package admin

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestForcedLogoutOfOneSession: DELETE /sessions/{id} by an admin ends
// the session without reading it first, answers its command, audits it
// with the session's warehouse (taken from the command), and an unknown
// or already ended session is still 404; a manager of another warehouse
// is still refused (404) and the session lives on.
func TestForcedLogoutOfOneSession(t *testing.T) {
	e := newEnv(t, embedded())
	ctx := context.Background()
	e.expect(404, "um_a", "DELETE", "/sessions/"+e.sessB.Session.ID, nil)
	if _, err := e.sess.Session(ctx, e.sessB.Session.ID); err != nil {
		t.Fatalf("session B after a refused DELETE: %v; want it live", err)
	}
	var ci CommandIDsResponse
	e.expect(200, "admin", "DELETE", "/sessions/"+e.sessB.Session.ID, nil).decode(t, &ci)
	if _, err := e.sess.Session(ctx, e.sessB.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("session B after the DELETE: %v; want ErrNotFound", err)
	}
	if len(ci.CommandIDs) != 1 {
		t.Fatalf("command_ids = %v; want one", ci.CommandIDs)
	}
	evs, err := e.reg.Events(ctx, devices.EventFilter{Subject: "session:" + e.sessB.Session.ID, Action: "sessions.end"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit of the forced logout = %v, %v; want one sessions.end", evs, err)
	}
	if ev := evs[0]; ev.WarehouseID != e.whB.ID || ev.Details["command_ids"] != ci.CommandIDs[0] || ev.Details["reason"] != "admin" {
		t.Errorf("audit event = %+v; want warehouse %s, command %s, reason admin", ev, e.whB.ID, ci.CommandIDs[0])
	}
	e.expect(404, "admin", "DELETE", "/sessions/"+e.sessB.Session.ID, nil)
	e.expect(404, "admin", "DELETE", "/sessions/ses_nope", nil)
}

// failingAppends fails the first n AppendEvents calls, and any made on
// a context that has ended, as a store would.
type failingAppends struct {
	devices.Store
	n atomic.Int64
}

func (f *failingAppends) AppendEvents(ctx context.Context, evs ...devices.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.n.Add(-1) >= 0 {
		return errors.New("store hiccup")
	}
	return f.Store.AppendEvents(ctx, evs...)
}

// TestForcedLogoutAuditSurvives: the audit of ended sessions is written
// even when the request's context has already ended (the caller went
// away after the end), and a write that fails is tried again.
func TestForcedLogoutAuditSurvives(t *testing.T) {
	e := newEnv(t, embedded())
	fs := &failingAppends{Store: e.store}
	fs.n.Store(1)
	api := e.apiOver(fs)
	c, err := e.sess.End(context.Background(), e.sessA.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	api.recordEnd(gone, "manager:test", "session:"+c.SessionID, c.WarehouseID, sessions.ReasonAdmin, []sessions.Command{c})
	evs, err := e.reg.Events(context.Background(), devices.EventFilter{Subject: "session:" + c.SessionID, Action: "sessions.end"})
	if err != nil || len(evs) != 1 || evs[0].Details["command_ids"] != c.ID {
		t.Errorf("audit after a canceled request and one failed write = %+v, %v; want one sessions.end of %s", evs, err, c.ID)
	}
}
