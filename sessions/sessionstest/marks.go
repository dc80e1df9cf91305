package sessionstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// testMarksMany checks DeliveredMany and AckMany, the batched Delivered
// and Ack: every command of a batch that Delivered or Ack would mark is
// marked (the first time kept), the others are skipped without failing
// the batch, a batch sent again changes nothing, an acknowledgement takes
// its command out of its device's queue and proves its delivery, and a
// delivered command stays queued for its device until acknowledged.
// With a backend whose warehouse end answers before its records are
// written (sessions.WarehouseStarter), commands marked in between keep
// their marks once the records are written.
func testMarksMany(t *testing.T, h Harness) {
	ctx := context.Background()
	e := newStoreEnv(t, h)
	end := func(user, device string) sessions.Command {
		t.Helper()
		c := e.create(t, user, device, "w1", defaultPolicy)
		cmd, err := e.st.End(ctx, c.Session.ID, sessions.ReasonAdmin)
		if err != nil {
			t.Fatalf("End() = %v", err)
		}
		return cmd
	}
	a1, a2 := end("u1", "d1"), end("u2", "d1")
	b1 := end("u3", "d2")
	c1 := end("u4", "d3")
	read := func(id string) sessions.Command {
		t.Helper()
		c, err := e.peer(2).Command(ctx, id)
		if err != nil {
			t.Fatalf("Command(%s) = %v", id, err)
		}
		return c
	}

	e.clock.Advance(time.Second)
	delivered := e.clock.Now()
	if err := e.st.DeliveredMany(ctx, []string{a1.ID, "cmd_unknown", b1.ID, "x"}); err != nil {
		t.Fatalf("DeliveredMany() = %v", err)
	}
	e.clock.Advance(time.Second)
	if err := e.peer(1).DeliveredMany(ctx, []string{b1.ID, a1.ID}); err != nil {
		t.Fatalf("DeliveredMany(again) = %v", err)
	}
	if err := e.st.DeliveredMany(ctx, nil); err != nil {
		t.Fatalf("DeliveredMany(none) = %v", err)
	}
	for _, id := range []string{a1.ID, b1.ID} {
		c := read(id)
		if s := c.Status(e.clock.Now()); s != sessions.StatusDelivered || c.DeliveredAt == nil || !c.DeliveredAt.Equal(delivered) || c.AckedAt != nil {
			t.Errorf("Command(%s) after DeliveredMany = %s; want delivered at %v (the first time), not acknowledged", fmtCommand(c), s, delivered)
		}
	}
	if c := read(a2.ID); c.DeliveredAt != nil {
		t.Errorf("Command(%s) not in any batch = %s; want pending", c.ID, fmtCommand(c))
	}
	// Delivered is not acknowledged: the queue keeps it.
	if got := commandIDs(mustPending(t, e.st, "d2")); !slices.Equal(got, []string{b1.ID}) {
		t.Errorf("Pending(d2) after DeliveredMany = %v; want [%s]", got, b1.ID)
	}

	e.clock.Advance(time.Second)
	acked := e.clock.Now()
	if err := e.peer(1).AckMany(ctx, []sessions.Ack{
		{DeviceID: "d1", CommandID: a1.ID},     // delivered before
		{DeviceID: "d1", CommandID: a2.ID},     // never marked delivered
		{DeviceID: "d1", CommandID: c1.ID},     // d3's: skipped
		{DeviceID: "d1", CommandID: "cmd_unk"}, // unknown: skipped
	}); err != nil {
		t.Fatalf("AckMany() = %v", err)
	}
	e.clock.Advance(time.Second)
	if err := e.st.AckMany(ctx, []sessions.Ack{{DeviceID: "d1", CommandID: a1.ID}}); err != nil {
		t.Fatalf("AckMany(again) = %v", err)
	}
	if c := read(a1.ID); c.AckedAt == nil || !c.AckedAt.Equal(acked) || c.DeliveredAt == nil || !c.DeliveredAt.Equal(delivered) {
		t.Errorf("Command(a1) after AckMany = %s; want delivered at %v and acknowledged at %v", fmtCommand(c), delivered, acked)
	}
	if c := read(a2.ID); c.AckedAt == nil || !c.AckedAt.Equal(acked) || c.DeliveredAt == nil || !c.DeliveredAt.Equal(acked) {
		t.Errorf("Command(a2) after AckMany = %s; want delivered and acknowledged at %v", fmtCommand(c), acked)
	}
	if c := read(c1.ID); c.AckedAt != nil || c.DeliveredAt != nil {
		t.Errorf("Command(c1) acknowledged by another device = %s; want pending", fmtCommand(c))
	}
	if got := mustPending(t, e.st, "d1"); len(got) != 0 {
		t.Errorf("Pending(d1) after AckMany = %v; want none", commandIDs(got))
	}
	if got := commandIDs(mustPending(t, e.st, "d3")); !slices.Equal(got, []string{c1.ID}) {
		t.Errorf("Pending(d3) = %v; want [%s]", got, c1.ID)
	}

	st, ok := e.st.(sessions.WarehouseStarter)
	if !ok {
		return
	}
	// A warehouse's commands marked between its one event and its
	// records: a mark is kept when the record is written.
	const n = 6
	for i := range n {
		e.create(t, fmt.Sprintf("wu%d", i), fmt.Sprintf("wd%d", i), "wm", defaultPolicy)
	}
	e.clock.Advance(time.Second)
	cmds, finish, err := st.StartEndWarehouse(ctx, "wm", sessions.ReasonAdmin)
	if err != nil || len(cmds) != n {
		t.Fatalf("StartEndWarehouse = %d commands, %v; want %d, nil", len(cmds), err, n)
	}
	slices.SortFunc(cmds, func(x, y sessions.Command) int { return strings.Compare(x.DeviceID, y.DeviceID) })
	e.clock.Advance(time.Second)
	early := e.clock.Now()
	// The first two delivered, the next two acknowledged (one by the
	// wrong device), the last two left alone.
	if err := e.peer(1).DeliveredMany(ctx, []string{cmds[0].ID, cmds[1].ID}); err != nil {
		t.Fatalf("DeliveredMany(before the records) = %v", err)
	}
	if err := e.peer(2).AckMany(ctx, []sessions.Ack{
		{DeviceID: cmds[2].DeviceID, CommandID: cmds[2].ID},
		{DeviceID: cmds[2].DeviceID, CommandID: cmds[3].ID},
	}); err != nil {
		t.Fatalf("AckMany(before the records) = %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := finish(ctx); err != nil {
		t.Fatalf("finish = %v", err)
	}
	for i, c := range cmds {
		got := read(c.ID)
		wantDv, wantAk := i < 3, i == 2
		if (got.DeliveredAt != nil) != wantDv || (got.AckedAt != nil) != wantAk ||
			(wantDv && !got.DeliveredAt.Equal(early)) || got.DeviceID != c.DeviceID {
			t.Errorf("Command(%d) after the records = %s; want delivered %v, acknowledged %v, at %v", i, fmtCommand(got), wantDv, wantAk, early)
		}
		queued := slices.Contains(commandIDs(mustPending(t, e.st, c.DeviceID)), c.ID)
		if queued != !wantAk {
			t.Errorf("Pending(%s) holds %s: %v; want %v", c.DeviceID, c.ID, queued, !wantAk)
		}
	}
}
