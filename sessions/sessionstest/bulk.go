package sessionstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// testBulkEnd checks EndWarehouse as a bulk end: one KindWarehouseEnded
// event carrying every command of the sessions it found, the same ids as
// its records (or, for a session whose racing Create ended it first, as
// the command that Create queued); and, with logins running on every peer while it runs
// (the clock moving between them), nothing lost and nothing half ended:
// every session either validates and has no command, or is refused and
// has its command queued for its device; a Create that failed leaves no
// live session on its device.
func testBulkEnd(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	p := defaultPolicy
	w := startWatch(t, e.peer(1))

	const before, during = 30, 30
	old := make([]sessions.Created, before)
	for i := range old {
		old[i] = e.create(t, fmt.Sprintf("bu%d", i), fmt.Sprintf("bd%d", i), "wb", p)
		e.clock.Advance(time.Millisecond)
	}
	other := e.create(t, "bx", "bdx", "wother", p)

	type result struct {
		c   sessions.Created
		err error
		dev string
	}
	res := make([]result, during)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range during {
		dev := fmt.Sprintf("be%d", i)
		wg.Go(func() {
			<-start
			e.clock.Advance(time.Millisecond)
			c, err := e.peer(i).Create(ctx, sessions.NewSession{
				UserID: fmt.Sprintf("bv%d", i), Username: "n", DeviceID: dev, WarehouseID: "wb",
			}, p)
			res[i] = result{c, err, dev}
		})
	}
	close(start)
	e.clock.Advance(10 * time.Millisecond)
	cmds, err := e.peer(2).EndWarehouse(ctx, "wb", sessions.ReasonAdmin)
	wg.Wait()
	if err != nil {
		t.Fatalf("EndWarehouse = %v", err)
	}

	ended := map[string]sessions.Command{}
	for _, c := range cmds {
		if c.Reason != sessions.ReasonAdmin || c.WarehouseID != "wb" || c.ID == "" {
			t.Errorf("EndWarehouse made %s; want reason admin in wb", fmtCommand(c))
		}
		ended[c.SessionID] = c
	}
	bulk := w.waitFor(t, "warehouse event", func(ev sessions.Event) bool {
		return ev.Kind == sessions.KindWarehouseEnded && ev.WarehouseID == "wb"
	})
	failed := map[string]bool{} // devices whose Create during the end failed
	for _, r := range res {
		if r.err != nil {
			failed[r.dev] = true
		}
	}
	inBulk := map[string]string{}
	for _, c := range bulk.Commands {
		inBulk[c.SessionID] = c.ID
		rc, ok := ended[c.SessionID]
		if !ok && failed[c.DeviceID] {
			// A Create that raced the end and read its watermark ended
			// its own session before the end's records did: the event's
			// command is that end's, queued under the same id.
			if pend := mustPending(t, e.st, c.DeviceID); !slices.ContainsFunc(pend, func(q sessions.Command) bool { return q.ID == c.ID }) {
				t.Errorf("the warehouse event carries %s, ended by its racing Create; Pending(%s) = %v, want it queued", fmtCommand(c), c.DeviceID, commandIDs(pend))
			}
			continue
		}
		if !ok || rc.ID != c.ID || c.DeviceID != rc.DeviceID {
			t.Errorf("the warehouse event carries %s; the records have %s", fmtCommand(c), fmtCommand(rc))
		}
	}
	for i, c := range old {
		sid := c.Session.ID
		if _, ok := ended[sid]; !ok {
			t.Errorf("old session %d (%s) was not ended", i, sid)
		}
		if _, ok := inBulk[sid]; !ok {
			t.Errorf("old session %d (%s) is not in the warehouse event", i, sid)
		}
		if _, err := e.peer(i).Validate(ctx, c.Token); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Validate(old %d) = %v; want ErrNotFound", i, err)
		}
		checkQueued(t, e.st, fmt.Sprintf("bd%d", i), sid, true)
	}
	for i, r := range res {
		if r.err != nil {
			if !errors.Is(r.err, sessions.ErrUnavailable) {
				t.Errorf("Create(during %d) = %v; want nil or ErrUnavailable", i, r.err)
			}
			if live := mustByDevice(t, e.st, r.dev); len(live) != 0 {
				t.Errorf("Create(during %d) failed but %s has live sessions %v", i, r.dev, sessionIDs(live))
			}
			continue
		}
		sid := r.c.Session.ID
		_, verr := e.peer(i+1).Validate(ctx, r.c.Token)
		switch {
		case verr == nil:
			if _, ok := ended[sid]; ok {
				t.Errorf("session %s (during %d) validates but EndWarehouse ended it", sid, i)
			}
			checkQueued(t, e.st, r.dev, sid, false)
		case errors.Is(verr, sessions.ErrNotFound):
			// Ended: its command must be queued for its device.
			checkQueued(t, e.st, r.dev, sid, true)
		default:
			t.Errorf("Validate(during %d) = %v", i, verr)
		}
	}
	if _, err := e.st.Validate(ctx, other.Token); err != nil {
		t.Errorf("Validate(other warehouse) = %v; want nil", err)
	}
	// A login after the end is live.
	e.clock.Advance(time.Millisecond)
	after := e.create(t, "bafter", "bdafter", "wb", p)
	if _, err := e.st.Validate(ctx, after.Token); err != nil {
		t.Errorf("Validate(after the end) = %v; want nil", err)
	}
}

// checkQueued reports whether the device's queue holds a command of the
// session, as want says.
func checkQueued(t *testing.T, st sessions.Store, device, sid string, want bool) {
	t.Helper()
	pend := mustPending(t, st, device)
	got := slices.ContainsFunc(pend, func(c sessions.Command) bool { return c.SessionID == sid })
	if got != want {
		t.Errorf("Pending(%s) = %v; a command of %s queued: %v, want %v", device, commandIDs(pend), sid, got, want)
	}
}
