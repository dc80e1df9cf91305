package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// failingEnds is a session store whose EndUser fails, as when Redis drops
// out between the registry change and the end of the sessions.
type failingEnds struct{ sessions.Store }

func (failingEnds) EndUser(context.Context, string, sessions.Reason) ([]sessions.Command, error) {
	return nil, sessions.ErrUnavailable
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
		n, err := e.api.reconcile(context.Background(), e.clock.Now().Add(-10*time.Minute))
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
		if n, err := e.api.reconcile(context.Background(), e.clock.Now().Add(-10*time.Minute)); err != nil || n != 0 {
			t.Errorf("second reconcile = %d, %v; want nothing to do", n, err)
		}
		// Users changed before since are not looked at.
		e.mkSession(e.userA, e.devA)
		if n, _ := e.api.reconcile(context.Background(), e.clock.Now().Add(time.Hour)); n != 0 {
			t.Errorf("reconcile since later = %d; want 0", n)
		}
	})
}

// TestPurge: a user deleted 31 days ago is purged by Run's purge; one
// deleted 29 days ago is restorable.
func TestPurge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, embedded())
	e.expect(200, "admin", "DELETE", "/users/"+e.userA.ID, nil)
	e.clock.Advance(2 * 24 * time.Hour)
	e.expect(200, "key_admin", "DELETE", "/users/"+e.userB.ID, nil)
	e.clock.Advance(29*24*time.Hour + time.Minute)
	n, err := e.api.purge(context.Background())
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
