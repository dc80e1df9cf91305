package admin

import (
	"context"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// TestPatchUserPublishesChange: a change of a user is published on the
// fan-out (sessions.KindUserChanged), so that every gateway instance
// drops the user from its cache of the users shown to devices.
func TestPatchUserPublishesChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan struct{}, 1)
		changed := make(chan string, 16)
		go e.sess.Watch(ctx, func(bool) {
			select {
			case ready <- struct{}{}:
			default:
			}
		}, func(ev sessions.Event) {
			if ev.Kind == sessions.KindUserChanged {
				changed <- ev.UserID
			}
		})
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("the fan-out watcher did not subscribe")
		}
		e.expect(200, "admin", "PATCH", "/users/"+e.userA.ID, map[string]any{"first_name": "Renamed"})
		select {
		case id := <-changed:
			if id != e.userA.ID {
				t.Errorf("KindUserChanged for %q; want %q", id, e.userA.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no KindUserChanged event after PATCH /users/{id}")
		}
	})
}
