package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// failingEnds is a session store whose EndUser and EndDevice fail, as when Redis drops
// out between the registry change and the end of the sessions.
type failingEnds struct{ sessions.Store }

func (failingEnds) EndUser(context.Context, string, sessions.Reason) ([]sessions.Command, error) {
	return nil, sessions.ErrUnavailable
}

func (failingEnds) EndDevice(context.Context, string, sessions.Reason) ([]sessions.Command, error) {
	return nil, sessions.ErrUnavailable
}

// TestRevokeResetReenrollThenReconcile: a device revoked, a PIN reset and
// a serial re-enrolled whose sessions could not be ended are finished
// by the reconciler: every session of the revoked devices ends
// (device_revoked), and those the user had before the reset (pin_reset),
// while one signed in with the new PIN stays.
func TestRevokeResetReenrollThenReconcile(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		e.api.sess = failingEnds{e.sess}
		e.expect(503, "admin", "POST", "/devices/"+e.devA.ID+"/revoke", nil)
		var resp UserActionResponse
		e.expect(200, "admin", "POST", "/users/"+e.userB.ID+"/reset-pin", map[string]any{"pin": "7396"}).decode(t, &resp)
		if !resp.SessionsPending {
			t.Fatalf("reset-pin = %+v; want sessions pending", resp)
		}
		// A serial enrolled again: the gateway's end of the old
		// registration's sessions failed.
		old := e.mkDevice("SER-RE", e.whA.ID)
		oldSess := e.mkSession(e.mkUser("carla", e.whA.ID), old)
		if _, _, replaced, err := e.reg.Enroll(ctx, e.managers["admin"].ID, devices.EnrollInput{
			WarehouseID: e.whA.ID, Serial: "SER-RE", Model: "TC52", OSVersion: "13", AppVersion: "4.2.0", Label: "again"}); err != nil || replaced == nil {
			t.Fatalf("Enroll(again) = %v, %v; want the old registration replaced", replaced, err)
		}
		e.api.sess = e.sess
		e.clock.Advance(time.Second)
		fresh := e.mkSession(e.userB, e.mkDevice("SER-B2", e.whB.ID)) // with the new PIN, after the reset
		e.clock.Advance(time.Minute)
		n, err := e.keeper.Reconcile(ctx, e.clock.Now().Add(-10*time.Minute))
		if err != nil || n != 3 {
			t.Fatalf("reconcile = %d, %v; want 3 sessions ended", n, err)
		}
		for _, c := range []struct {
			sid    string
			device string
			reason sessions.Reason
		}{{e.sessA.Session.ID, e.devA.ID, sessions.ReasonDeviceRevoked}, {e.sessB.Session.ID, e.devB.ID, sessions.ReasonPINReset}, {oldSess.Session.ID, old.ID, sessions.ReasonDeviceRevoked}} {
			if _, err := e.sess.Session(ctx, c.sid); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("session %s after reconcile: %v; want ErrNotFound", c.sid, err)
			}
			cmds, err := e.sess.Pending(ctx, c.device)
			found := false
			for _, cmd := range cmds {
				found = found || cmd.SessionID == c.sid && cmd.Reason == c.reason
			}
			if err != nil || !found {
				t.Errorf("pending of %s = %+v, %v; want a %s logout of %s", c.device, cmds, err, c.reason, c.sid)
			}
		}
		if _, err := e.sess.Session(ctx, fresh.Session.ID); err != nil {
			t.Errorf("session signed in after the reset: %v; want it live", err)
		}
		if n, err := e.keeper.Reconcile(ctx, e.clock.Now().Add(-10*time.Minute)); err != nil || n != 0 {
			t.Errorf("second reconcile = %d, %v; want nothing to do", n, err)
		}
	})
}

// TestSuspendThenReconcile: ending the sessions fails after the suspend,
// the call still answers the suspended user with sessions_pending, and
// the reconciler ends the sessions with reason user_suspended.
func TestSuspendThenReconcile(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.api.sess = failingEnds{e.sess}
		var resp UserActionResponse
		e.expect(200, "admin", "POST", "/users/"+e.userA.ID+"/suspend", nil).decode(t, &resp)
		if resp.User.Status != devices.UserSuspended || !resp.SessionsPending || len(resp.CommandIDs) != 0 {
			t.Fatalf("suspend = %+v; want suspended, sessions pending", resp)
		}
		if _, err := e.sess.Session(context.Background(), e.sessA.Session.ID); err != nil {
			t.Fatalf("session after failed end: %v; want still live", err)
		}
		e.api.sess = e.sess
		e.clock.Advance(time.Minute)
		n, err := e.keeper.Reconcile(context.Background(), e.clock.Now().Add(-10*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("reconcile = %d, %v; want 1 session ended", n, err)
		}
		if _, err := e.sess.Session(context.Background(), e.sessA.Session.ID); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("session after reconcile: %v; want ErrNotFound", err)
		}
		cmds, err := e.sess.Pending(context.Background(), e.devA.ID)
		if err != nil || len(cmds) == 0 || cmds[len(cmds)-1].Reason != sessions.ReasonUserSuspended {
			t.Errorf("pending = %+v, %v; want a user_suspended logout", cmds, err)
		}
		if n, err := e.keeper.Reconcile(context.Background(), e.clock.Now().Add(-10*time.Minute)); err != nil || n != 0 {
			t.Errorf("second reconcile = %d, %v; want nothing to do", n, err)
		}
		// Users changed before since are not looked at.
		e.mkSession(e.userA, e.devA)
		if n, _ := e.keeper.Reconcile(context.Background(), e.clock.Now().Add(time.Hour)); n != 0 {
			t.Errorf("reconcile since later = %d; want 0", n)
		}
	})
}

// TestPurge: a user deleted 31 days ago is purged by housekeeping; one
// deleted 29 days ago is restorable.
func TestPurge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.expect(200, "admin", "DELETE", "/users/"+e.userA.ID, nil)
	e.clock.Advance(2 * 24 * time.Hour)
	e.expect(200, "key_admin", "DELETE", "/users/"+e.userB.ID, nil)
	e.clock.Advance(29*24*time.Hour + time.Minute)
	n, err := e.keeper.Purge(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1", n, err)
	}
	e.expect(404, "key_admin", "GET", "/users/"+e.userA.ID, nil)
	e.expect(200, "key_admin", "POST", "/users/"+e.userB.ID+"/restore", nil)
}

// TestRunStops: Run returns when its context ends.
func TestRunStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.api.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
}
