package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
	sredis "github.com/floorgate/floorgate/sessions/redis"
)

// TestEndWarehouseManyBuckets ends a warehouse whose sessions span many
// buckets (so many pipelined chunks run at once), on standalone Redis and
// on Cluster, the Cluster with its script cache flushed first so that
// every pipelined EVALSHA meets NOSCRIPT and falls back. Every session
// must get exactly one command, queued for its device and published, and
// nothing but commands and queues may stay behind.
func TestEndWarehouseManyBuckets(t *testing.T) {
	for _, tt := range []struct {
		name  string
		c     func(testing.TB) goredis.UniversalClient
		flush bool
	}{
		{"standalone", testenv.Redis, false},
		{"cluster", func(tb testing.TB) goredis.UniversalClient { return testenv.RedisCluster(tb) }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const n = 300
			ctx := context.Background()
			c := tt.c(t)
			prefix := testenv.RedisPrefix(t, c)
			st := sredis.New(c, sredis.Options{Prefix: prefix})
			policy := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
			for i := range n {
				k := strconv.Itoa(i)
				if _, err := st.Create(ctx, sessions.NewSession{
					UserID: "u" + k, Username: "x", DeviceID: "d" + k, WarehouseID: "w1",
				}, policy); err != nil {
					t.Fatalf("Create(u%d) = %v; want nil", i, err)
				}
			}
			if _, err := st.Create(ctx, sessions.NewSession{
				UserID: "other", Username: "x", DeviceID: "dx", WarehouseID: "w2",
			}, policy); err != nil {
				t.Fatalf("Create(other) = %v; want nil", err)
			}
			if tt.flush {
				if err := c.(*goredis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
					return m.ScriptFlush(ctx).Err()
				}); err != nil {
					t.Fatalf("SCRIPT FLUSH: %v", err)
				}
			}

			events := make(chan sessions.Event, 2*n)
			wctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			subscribed := make(chan bool, 1)
			wg.Go(func() {
				_ = st.Watch(wctx, func(bool) {
					select {
					case subscribed <- true:
					default:
					}
				}, func(e sessions.Event) { events <- e })
			})
			t.Cleanup(func() { cancel(); wg.Wait() })
			select {
			case <-subscribed:
			case <-time.After(5 * time.Second):
				t.Fatal("the watcher did not subscribe within 5 s")
			}

			cmds, err := st.EndWarehouse(ctx, "w1", sessions.ReasonAdmin)
			if err != nil || len(cmds) != n {
				t.Fatalf("EndWarehouse(w1) = %d commands, %v; want %d, nil", len(cmds), err, n)
			}
			want := map[string]bool{}
			for _, cmd := range cmds {
				if want[cmd.ID] {
					t.Fatalf("EndWarehouse(w1) returned command %s twice", cmd.ID)
				}
				want[cmd.ID] = true
				if cmd.Reason != sessions.ReasonAdmin || cmd.WarehouseID != "w1" {
					t.Errorf("command %s = reason %q, warehouse %q; want admin, w1", cmd.ID, cmd.Reason, cmd.WarehouseID)
				}
				p, err := st.Pending(ctx, cmd.DeviceID)
				if err != nil || len(p) != 1 || p[0].ID != cmd.ID {
					t.Errorf("Pending(%s) = %v, %v; want [%s]", cmd.DeviceID, p, err, cmd.ID)
				}
			}
			// Liveness bound only: the event was published before
			// EndWarehouse returned.
			deadline := time.After(30 * time.Second)
			for len(want) > 0 {
				select {
				case e := <-events:
					// The warehouse's event carries them all (bulk.go).
					switch {
					case e.Kind == sessions.KindEnded && e.Command != nil:
						delete(want, e.Command.ID)
					case e.Kind == sessions.KindWarehouseEnded:
						for _, c := range e.Commands {
							delete(want, c.ID)
						}
					}
				case <-deadline:
					t.Fatalf("%d ended events never arrived", len(want))
				}
			}
			if cmds, err := st.EndWarehouse(ctx, "w1", sessions.ReasonAdmin); err != nil || len(cmds) != 0 {
				t.Errorf("EndWarehouse(w1) again = %v, %v; want none, nil", cmds, err)
			}
			if s, err := st.ByDevice(ctx, "dx"); err != nil || len(s) != 1 {
				t.Errorf("ByDevice(dx) = %v, %v; want the w2 session untouched", s, err)
			}
			if _, err := st.EndWarehouse(ctx, "w2", sessions.ReasonAdmin); err != nil {
				t.Fatalf("EndWarehouse(w2) = %v; want nil", err)
			}
			for _, k := range testenv.RedisKeys(t, c, prefix) {
				rest := strings.TrimPrefix(k, prefix)
				isCommand := strings.HasPrefix(rest, "{") && strings.Contains(rest, "}c:cmd_")
				isQueue := strings.HasPrefix(rest, "{d:") && strings.HasSuffix(rest, "}q")
				isEpoch := rest == "{g}epoch" // the watcher's, kept for good
				// The warehouse's "ended before" watermark, kept for the
				// longest session lifetime (bulk.go).
				isWatermark := strings.HasPrefix(rest, "{w:") && strings.HasSuffix(rest, "}eb")
				if !isCommand && !isQueue && !isEpoch && !isWatermark {
					t.Errorf("key %q left behind after EndWarehouse", k)
				}
			}
		})
	}
}

// TestEndPublishesFromScript: End's event, which its script writes as
// JSON itself, decodes to exactly the command End returns (on
// standalone Redis, where the journal shares the script's pipeline, on
// a server of the test's own whose script cache is flushed so that the
// pipelined EVALSHA meets NOSCRIPT, and on Cluster, flushed too); the
// command is queued for the device, the
// journal is left empty, and a session that is not live is ErrNotFound
// with nothing published. EndUser and EndDevice, which share the script,
// publish their commands the same way.
func TestEndPublishesFromScript(t *testing.T) {
	for _, tt := range []struct {
		name  string
		c     func(testing.TB) goredis.UniversalClient
		flush bool
	}{
		{"standalone", testenv.Redis, false},
		{"own server, script cache flushed", func(tb testing.TB) goredis.UniversalClient {
			return testenv.RedisClientAt(tb, testenv.StartRedis(tb).Addr(), "end-from-script")
		}, true},
		{"cluster", func(tb testing.TB) goredis.UniversalClient { return testenv.RedisCluster(tb) }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := tt.c(t)
			prefix := testenv.RedisPrefix(t, c)
			// A clock with microseconds and a zone of its own, as a
			// real one has: the event must carry the same instant.
			now := time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.FixedZone("x", 3600))
			st := sredis.New(c, sredis.Options{Prefix: prefix, Now: func() time.Time { return now }})
			cr, err := st.Create(ctx, sessions.NewSession{UserID: "u1", Username: "kim", DeviceID: "d1", WarehouseID: "w1"},
				sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour})
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			events := make(chan sessions.Event, 10)
			ready := make(chan struct{})
			go st.Watch(ctx, func(bool) { close(ready) }, func(e sessions.Event) { events <- e })
			select {
			case <-ready:
			case <-ctx.Done():
				t.Fatal("Watch not subscribed within 30s")
			}
			if tt.flush {
				flush := func(ctx context.Context, m *goredis.Client) error { return m.ScriptFlush(ctx).Err() }
				var err error
				if cc, ok := c.(*goredis.ClusterClient); ok {
					err = cc.ForEachMaster(ctx, flush)
				} else {
					err = c.ScriptFlush(ctx).Err()
				}
				if err != nil {
					t.Fatalf("SCRIPT FLUSH = %v", err)
				}
			}
			cmd, err := st.End(ctx, cr.Session.ID, sessions.ReasonAdmin)
			if err != nil {
				t.Fatalf("End() = %v", err)
			}
			var got sessions.Event
			select {
			case got = <-events:
			case <-ctx.Done():
				t.Fatal("no event within 30s of End")
			}
			if got.Kind != sessions.KindEnded || got.Command == nil {
				t.Fatalf("event = %+v; want ended with a command", got)
			}
			g := *got.Command
			if !g.CreatedAt.Equal(cmd.CreatedAt) || !cmd.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
				t.Errorf("created_at: event %v, End %v; want both %v", g.CreatedAt, cmd.CreatedAt, now.Truncate(time.Microsecond))
			}
			g.CreatedAt = cmd.CreatedAt
			if g.ID != cmd.ID || g.SessionID != cmd.SessionID || g.UserID != cmd.UserID || g.DeviceID != cmd.DeviceID ||
				g.WarehouseID != cmd.WarehouseID || g.Reason != cmd.Reason || g.By != nil || cmd.By != nil ||
				g.DeliveredAt != nil || g.AckedAt != nil {
				t.Errorf("event's command = %+v; want %+v", g, cmd)
			}
			if cmd.SessionID != cr.Session.ID || cmd.UserID != "u1" || cmd.DeviceID != "d1" || cmd.WarehouseID != "w1" || cmd.Reason != sessions.ReasonAdmin {
				t.Errorf("End() = %+v; want the command of session %s", cmd, cr.Session.ID)
			}
			pend, err := st.Pending(ctx, "d1")
			if err != nil || len(pend) != 1 || pend[0].ID != cmd.ID {
				t.Errorf("Pending(d1) = %v, %v; want [%s]", pend, err, cmd.ID)
			}
			if _, err := st.End(ctx, cr.Session.ID, sessions.ReasonAdmin); !errors.Is(err, sessions.ErrNotFound) {
				t.Errorf("End() of an ended session = %v; want ErrNotFound", err)
			}
			if n, err := c.ZCard(ctx, prefix+"{g}journal").Result(); err != nil || n != 0 {
				t.Errorf("journal holds %d entries (%v); want none", n, err)
			}
			select {
			case e := <-events:
				t.Errorf("an event after ending an ended session: %+v", e)
			default:
			}

			// EndUser and EndDevice publish from the same script.
			policy := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
			for _, d := range []string{"d2", "d3", "d4"} {
				u := "u2"
				if d == "d4" {
					u = "u3"
				}
				if _, err := st.Create(ctx, sessions.NewSession{UserID: u, DeviceID: d, WarehouseID: "w1"}, policy); err != nil {
					t.Fatalf("Create() = %v", err)
				}
			}
			byUser, err := st.EndUser(ctx, "u2", sessions.ReasonUserSuspended)
			if err != nil || len(byUser) != 2 {
				t.Fatalf("EndUser() = %v, %v; want 2 commands", byUser, err)
			}
			byDevice, err := st.EndDevice(ctx, "d4", sessions.ReasonDeviceRevoked)
			if err != nil || len(byDevice) != 1 {
				t.Fatalf("EndDevice() = %v, %v; want 1 command", byDevice, err)
			}
			want := map[string]sessions.Command{}
			for _, c := range append(byUser, byDevice...) {
				want[c.ID] = c
			}
			for len(want) > 0 {
				select {
				case e := <-events:
					w, ok := want[e.Command.ID]
					if !ok || e.Command.SessionID != w.SessionID || e.Command.DeviceID != w.DeviceID || e.Command.UserID != w.UserID ||
						e.Command.Reason != w.Reason || !e.Command.CreatedAt.Equal(w.CreatedAt) {
						t.Errorf("event %+v; want one of %v", e.Command, want)
					}
					delete(want, e.Command.ID)
				case <-ctx.Done():
					t.Fatalf("no event within 30s for %v", want)
				}
			}
			if n, err := c.ZCard(ctx, prefix+"{g}journal").Result(); err != nil || n != 0 {
				t.Errorf("journal holds %d entries (%v) after EndUser and EndDevice; want none", n, err)
			}
		})
	}
}
