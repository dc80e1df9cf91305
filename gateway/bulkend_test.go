package gateway

import (
	"context"
	"strings"
	"testing"

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
