package sessionstest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/floorgate/floorgate/sessions"
)

// testAnnounce: Announce publishes its event to every watcher and answers
// what ByDevice and Pending answer for the device, read after the
// publish: live sessions only, pending commands only, nothing of other
// devices; an acknowledged command is gone from the next answer.
func testAnnounce(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	w := startWatch(t, e.peer(2))
	a := e.create(t, "u1", "d1", "w1", defaultPolicy)
	a2 := e.create(t, "u2", "d1", "w1", defaultPolicy) // replaces a on d1: a logout queued
	b := e.create(t, "u3", "d2", "w1", defaultPolicy)
	if _, err := e.st.End(ctx, b.Session.ID, sessions.ReasonAdmin); err != nil {
		t.Fatalf("End() = %v", err)
	}
	ev := sessions.Event{Kind: callerKind, DeviceID: "d1", Origin: "gw-a", Ref: "sock-1"}
	got, err := e.peer(1).Announce(ctx, ev)
	if err != nil {
		t.Fatalf("Announce(d1) = %v", err)
	}
	w.waitFor(t, "the announced event", func(x sessions.Event) bool {
		return x.Kind == ev.Kind && x.DeviceID == "d1" && x.Origin == "gw-a" && x.Ref == "sock-1"
	})
	if ids := sessionIDs(got.Sessions); !slices.Equal(ids, []string{a2.Session.ID}) {
		t.Errorf("Announce(d1).Sessions = %v; want [%s]", ids, a2.Session.ID)
	}
	if want := mustByDevice(t, e.st, "d1"); len(got.Sessions) == 1 && (got.Sessions[0].UserID != want[0].UserID ||
		!got.Sessions[0].ExpiresAt.Equal(want[0].ExpiresAt) || got.Sessions[0].IdleTimeout != want[0].IdleTimeout) {
		t.Errorf("Announce(d1).Sessions[0] = %+v; want ByDevice's %+v", got.Sessions[0], want[0])
	}
	pending := mustPending(t, e.st, "d1")
	if ids, want := commandIDs(got.Pending), commandIDs(pending); !slices.Equal(ids, want) || len(ids) != 1 {
		t.Fatalf("Announce(d1).Pending = %v; want Pending's %v (the logout of %s)", ids, want, a.Session.ID)
	}
	if c := got.Pending[0]; c.SessionID != a.Session.ID || c.Reason != sessions.ReasonReplaced || c.DeviceID != "d1" {
		t.Errorf("Announce(d1).Pending[0] = %+v; want the replaced logout of %s", c, a.Session.ID)
	}

	if err := e.st.Ack(ctx, "d1", got.Pending[0].ID); err != nil {
		t.Fatalf("Ack() = %v", err)
	}
	e.clock.Advance(defaultPolicy.Idle) // a2 has idled out, unswept
	got, err = e.peer(2).Announce(ctx, sessions.Event{Kind: callerKind, DeviceID: "d1", Origin: "gw-b", Ref: "sock-2"})
	if err != nil || len(got.Sessions) != 0 || len(got.Pending) != 0 {
		t.Errorf("Announce(d1) after the ack and the idle end = %+v, %v; want nothing", got, err)
	}
	got, err = e.st.Announce(ctx, sessions.Event{Kind: callerKind, DeviceID: "d-none", Origin: "gw-a", Ref: "sock-3"})
	if err != nil || len(got.Sessions) != 0 || len(got.Pending) != 0 {
		t.Errorf("Announce(d-none) = %+v, %v; want nothing", got, err)
	}
	if _, err := e.st.Announce(ctx, sessions.Event{Kind: sessions.KindLost, DeviceID: "d1"}); !errors.Is(err, sessions.ErrInvalid) {
		t.Errorf("Announce(resync) = %v; want ErrInvalid (never published)", err)
	}
}
