package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// TestWarehouseWatermark checks the two places the watermark of a
// warehouse logout (P{w:<warehouse>}eb) is read, on standalone Redis
// (inside the validate script) and on Cluster (one more read):
// Validate refuses a session of the warehouse created before it, though
// its record has not been written, and leaves later sessions and other
// warehouses alone; a Create whose session is older than the watermark
// (its time taken before a warehouse logout that could not see it) ends
// that session itself, queues its command and fails with ErrUnavailable.
func TestWarehouseWatermark(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    func(testing.TB) goredis.UniversalClient
	}{
		{"standalone", testenv.Redis},
		{"cluster", func(tb testing.TB) goredis.UniversalClient { return testenv.RedisCluster(tb) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := tt.c(t)
			prefix := testenv.RedisPrefix(t, c)
			clk := clock.NewNow()
			st := sredis.New(c, sredis.Options{Prefix: prefix, Now: clk.Now})
			policy := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
			create := func(user, dev, wh string) (sessions.Created, error) {
				return st.Create(ctx, sessions.NewSession{UserID: user, Username: "x", DeviceID: dev, WarehouseID: wh}, policy)
			}
			a, err := create("ua", "da", "w1")
			if err != nil {
				t.Fatalf("Create(a) = %v", err)
			}
			o, err := create("uo", "do", "w2")
			if err != nil {
				t.Fatalf("Create(other) = %v", err)
			}
			clk.Advance(time.Second)
			b, err := create("ub", "db", "w1")
			if err != nil {
				t.Fatalf("Create(b) = %v", err)
			}
			// A watermark between a and b, as step 1 of EndWarehouse
			// writes it, before any record.
			wm := a.Session.CreatedAt.Add(time.Millisecond).UnixMicro()
			if err := c.HSet(ctx, prefix+"{w:w1}eb", "t", wm, "r", "admin").Err(); err != nil {
				t.Fatalf("HSET watermark: %v", err)
			}
			if _, err := st.Validate(ctx, a.Token); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("Validate(a, created before the watermark) = %v; want ErrNotFound", err)
			}
			for name, tok := range map[string]sessions.Token{"b": b.Token, "other": o.Token} {
				if _, err := st.Validate(ctx, tok); err != nil {
					t.Errorf("Validate(%s) = %v; want nil", name, err)
				}
			}
			// A device connecting meanwhile is welcomed without it.
			for dev, want := range map[string]int{"da": 0, "db": 1} {
				ds, err := st.Announce(ctx, sessions.Event{Kind: "test_announce", DeviceID: dev})
				if err != nil || len(ds.Sessions) != want {
					t.Errorf("Announce(%s) = %d sessions, %v; want %d", dev, len(ds.Sessions), err, want)
				}
			}

			// A logout of w1 now, then a Create whose time was taken
			// before it.
			clk.Advance(time.Second)
			cmds, err := st.EndWarehouse(ctx, "w1", sessions.ReasonAdmin)
			if err != nil || len(cmds) != 2 {
				t.Fatalf("EndWarehouse = %d commands, %v; want 2 (a and b), nil", len(cmds), err)
			}
			clk.Advance(-500 * time.Millisecond)
			if _, err := create("uc", "dc", "w1"); !errors.Is(err, sessions.ErrUnavailable) {
				t.Fatalf("Create(before the watermark) = %v; want ErrUnavailable", err)
			}
			if live, err := st.ByDevice(ctx, "dc"); err != nil || len(live) != 0 {
				t.Errorf("ByDevice(dc) = %v, %v; want none live", live, err)
			}
			pend, err := st.Pending(ctx, "dc")
			if err != nil || len(pend) != 1 || pend[0].Reason != sessions.ReasonAdmin {
				t.Errorf("Pending(dc) = %+v, %v; want one admin command", pend, err)
			}
			clk.Advance(time.Second)
			d, err := create("ud", "dd", "w1")
			if err != nil {
				t.Fatalf("Create(after the watermark) = %v", err)
			}
			if _, err := st.Validate(ctx, d.Token); err != nil {
				t.Errorf("Validate(d, created after the watermark) = %v; want nil", err)
			}
		})
	}
}

// TestWarehouseStartFinish checks a warehouse end answered before its
// records (StartEndWarehouse), on standalone Redis and Cluster: its
// commands read as pending at once, a device may mark its command
// delivered and acknowledge it before the record exists (another
// device may not), the record then carries both; and an end whose
// finish never runs is finished by Sweep once journalGrace has passed.
func TestWarehouseStartFinish(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    func(testing.TB) goredis.UniversalClient
	}{
		{"standalone", testenv.Redis},
		{"cluster", func(tb testing.TB) goredis.UniversalClient { return testenv.RedisCluster(tb) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := tt.c(t)
			clk := clock.NewNow()
			st := sredis.New(c, sredis.Options{Prefix: testenv.RedisPrefix(t, c), Now: clk.Now})
			policy := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
			create := func(user, dev, wh string) sessions.Created {
				t.Helper()
				cr, err := st.Create(ctx, sessions.NewSession{UserID: user, Username: "x", DeviceID: dev, WarehouseID: wh}, policy)
				if err != nil {
					t.Fatalf("Create(%s) = %v", user, err)
				}
				return cr
			}
			a := create("ua", "da", "w1")
			create("ub", "db", "w1")
			clk.Advance(time.Millisecond)
			cmds, finish, err := st.StartEndWarehouse(ctx, "w1", sessions.ReasonAdmin)
			if err != nil || len(cmds) != 2 {
				t.Fatalf("StartEndWarehouse = %d commands, %v; want 2, nil", len(cmds), err)
			}
			var ca sessions.Command
			for _, cmd := range cmds {
				if cmd.SessionID == a.Session.ID {
					ca = cmd
				}
			}
			got, err := st.Command(ctx, ca.ID)
			if err != nil || got.SessionID != a.Session.ID || got.Reason != sessions.ReasonAdmin || got.Status(clk.Now()) != sessions.StatusPending {
				t.Fatalf("Command(before its record) = %+v, %v; want pending admin of %s", got, err, a.Session.ID)
			}
			if err := st.Ack(ctx, "db", ca.ID); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("Ack(another device) = %v; want ErrNotFound", err)
			}
			if err := st.Delivered(ctx, ca.ID); err != nil {
				t.Errorf("Delivered(before its record) = %v; want nil", err)
			}
			clk.Advance(time.Millisecond)
			if err := st.Ack(ctx, "da", ca.ID); err != nil {
				t.Errorf("Ack(before its record) = %v; want nil", err)
			}
			final, err := finish(ctx)
			if err != nil || len(final) != 2 {
				t.Fatalf("finish = %d commands, %v; want 2, nil", len(final), err)
			}
			got, err = st.Command(ctx, ca.ID)
			if err != nil || got.Status(clk.Now()) != sessions.StatusAcked || got.DeliveredAt == nil || got.Reason != sessions.ReasonAdmin {
				t.Errorf("Command(after its record) = %+v, %v; want acked and delivered", got, err)
			}
			if pend, err := st.Pending(ctx, "da"); err != nil || len(pend) != 0 {
				t.Errorf("Pending(da) = %+v, %v; want none (acknowledged)", pend, err)
			}
			if pend, err := st.Pending(ctx, "db"); err != nil || len(pend) != 1 {
				t.Errorf("Pending(db) = %+v, %v; want its command", pend, err)
			}

			// An end whose finish never runs.
			clk.Advance(time.Second)
			cr := create("uc", "dc", "w2")
			clk.Advance(time.Millisecond)
			if _, _, err := st.StartEndWarehouse(ctx, "w2", sessions.ReasonAdmin); err != nil {
				t.Fatalf("StartEndWarehouse(w2) = %v", err)
			}
			if _, err := st.Validate(ctx, cr.Token); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("Validate(w2, before Sweep) = %v; want ErrNotFound", err)
			}
			if _, err := st.Sweep(ctx); err != nil {
				t.Fatalf("Sweep = %v", err)
			}
			if pend, _ := st.Pending(ctx, "dc"); len(pend) != 0 {
				t.Errorf("Pending(dc) within the grace = %+v; want none yet", pend)
			}
			clk.Advance(31 * time.Second)
			if _, err := st.Sweep(ctx); err != nil {
				t.Fatalf("Sweep = %v", err)
			}
			pend, err := st.Pending(ctx, "dc")
			if err != nil || len(pend) != 1 || pend[0].SessionID != cr.Session.ID || pend[0].Reason != sessions.ReasonAdmin {
				t.Errorf("Pending(dc) after Sweep = %+v, %v; want the admin command of %s", pend, err, cr.Session.ID)
			}
			if live, _ := st.ByDevice(ctx, "dc"); len(live) != 0 {
				t.Errorf("ByDevice(dc) after Sweep = %v; want none", live)
			}
		})
	}
}
