package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/sessions"
)

// TestWarehouseEventPushes: a KindWarehouseEnded event alone (no
// per-session event, no record) makes the instance holding a device's
// socket push its logout, and drops the session from every instance's
// introspection cache, as a KindEnded event would.
func TestWarehouseEventPushes(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarnessOn(t, clk, servers(t, clk))
	_, url2 := h.startServer()
	ctx := context.Background()
	h.user("wendy", h.wh.ID)
	d := h.enroll("S21-3001")
	c, _ := h.connect(url2, d) // held by the second instance
	_, m := h.mustLogin(d, "wendy")
	sid := m["session_id"].(string)
	cmd := sessions.Command{
		ID: "cmd_" + strings.TrimPrefix(sid, "ses_"), SessionID: sid,
		DeviceID: d.id, WarehouseID: h.wh.ID, Reason: sessions.ReasonAdmin, CreatedAt: clk.Now(),
	}
	if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: h.wh.ID, Commands: []sessions.Command{cmd}}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	f := readFrame(t, c)
	if f["type"] != "logout" || f["command_id"] != cmd.ID || f["session_id"] != sid || f["reason"] != "admin" {
		t.Fatalf("frame = %v; want logout %s (admin)", f, cmd.ID)
	}
}

// TestWarehouseEventNoCustody: the instances push a warehouse event's
// logouts but note no custody end for them (the caller of the end
// records those, once, with its actor), while a session's own KindEnded
// event is still noted. On PostgreSQL and Redis, two instances: the
// event carries the first device's command (a session that is in fact
// still live, so that nothing but a note could end its custody record);
// the second device's KindEnded follows it on the same watchers, so
// once its end is recorded the warehouse event has been handled.
func TestWarehouseEventNoCustody(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarnessOn(t, clk, servers(t, clk))
	_, url2 := h.startServer()
	ctx := context.Background()
	h.user("wendy", h.wh.ID)
	h.user("walt", h.wh.ID)
	d1, d2 := h.enroll("S21-3101"), h.enroll("S21-3102")
	c1, _ := h.connect(h.ts.URL, d1)
	c2, _ := h.connect(url2, d2)
	_, m1 := h.mustLogin(d1, "wendy")
	_, m2 := h.mustLogin(d2, "walt")
	cmdOf := func(sid, dev string) sessions.Command {
		return sessions.Command{
			ID: "cmd_" + strings.TrimPrefix(sid, "ses_"), SessionID: sid,
			UserID: "u", DeviceID: dev, WarehouseID: h.wh.ID, Reason: sessions.ReasonAdmin, CreatedAt: clk.Now(),
		}
	}
	cmd1 := cmdOf(m1["session_id"].(string), d1.id)
	cmd2 := cmdOf(m2["session_id"].(string), d2.id)
	if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindWarehouseEnded, WarehouseID: h.wh.ID, Commands: []sessions.Command{cmd1}}); err != nil {
		t.Fatalf("Publish(warehouse event): %v", err)
	}
	if f := readFrame(t, c1); f["type"] != "logout" || f["command_id"] != cmd1.ID {
		t.Fatalf("frame on the first device = %v; want logout %s", f, cmd1.ID)
	}
	if err := h.be.store.Publish(ctx, sessions.Event{Kind: sessions.KindEnded, Command: &cmd2}); err != nil {
		t.Fatalf("Publish(ended): %v", err)
	}
	if f := readFrame(t, c2); f["type"] != "logout" || f["command_id"] != cmd2.ID {
		t.Fatalf("frame on the second device = %v; want logout %s", f, cmd2.ID)
	}
	custodyOf := func(dev string) devices.Custody {
		t.Helper()
		cs, err := h.be.reg.Custody(ctx, devices.CustodyFilter{DeviceID: dev})
		if err != nil || len(cs) != 1 {
			t.Fatalf("Custody(%s) = %v, %v; want one record", dev, cs, err)
		}
		return cs[0]
	}
	// Liveness bound only: the keepers flush every second.
	for deadline := time.Now().Add(frameWait); custodyOf(d2.id).EndedAt == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("the KindEnded event's custody end was not recorded within %v", frameWait)
		}
		if err := h.be.reg.FlushCustody(ctx); err != nil {
			t.Fatalf("FlushCustody: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.be.reg.FlushCustody(ctx); err != nil {
		t.Fatalf("FlushCustody: %v", err)
	}
	if got := custodyOf(d1.id); got.EndedAt != nil {
		t.Errorf("custody of the warehouse event's session = %+v; want no end noted by the instances", got)
	}
}
