package redis

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
)

// TestWarehouseEndEvents: on standalone Redis and Cluster, a warehouse's
// end publishes its compact event before the records and once more
// after them, and no KindEnded event per session; each event carries
// exactly the commands StartEndWarehouse returned.
func TestWarehouseEndEvents(t *testing.T) {
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
			st := New(c, Options{Prefix: testenv.RedisPrefix(t, c), Now: clk.Now})
			policy := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
			const n = 40
			for i := range n {
				if _, err := st.Create(ctx, sessions.NewSession{UserID: fmt.Sprintf("u%d", i), DeviceID: fmt.Sprintf("d%d", i), WarehouseID: "w1"}, policy); err != nil {
					t.Fatalf("Create = %v", err)
				}
			}
			clk.Advance(time.Millisecond)

			// The raw payloads, beside the decoded events.
			raw := c.Subscribe(ctx, st.channel)
			t.Cleanup(func() { raw.Close() })
			if _, err := raw.Receive(ctx); err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			var mu sync.Mutex
			var events []sessions.Event
			wctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			subscribed := make(chan struct{})
			var once sync.Once
			wg.Go(func() {
				_ = st.Watch(wctx, func(bool) { once.Do(func() { close(subscribed) }) }, func(e sessions.Event) {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
				})
			})
			t.Cleanup(func() { cancel(); wg.Wait() })
			select {
			case <-subscribed:
			case <-time.After(5 * time.Second):
				t.Fatal("the watcher did not subscribe within 5 s")
			}

			cmds, finish, err := st.StartEndWarehouse(ctx, "w1", sessions.ReasonAdmin)
			if err != nil || len(cmds) != n {
				t.Fatalf("StartEndWarehouse = %d commands, %v; want %d", len(cmds), err, n)
			}
			if _, err := finish(ctx); err != nil {
				t.Fatalf("finish = %v", err)
			}
			// A marker after both, from every primary: every event of the
			// end arrives before its last copy (PublishEverywhere).
			copies, err := st.PublishEverywhere(ctx, sessions.Event{Kind: "marker"})
			if err != nil {
				t.Fatalf("PublishEverywhere(marker) = %v", err)
			}
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			compact := 0
			for seen := 0; seen < copies; {
				m, err := raw.ReceiveMessage(rctx)
				if err != nil {
					t.Fatalf("raw receive: %v", err)
				}
				switch {
				case strings.HasPrefix(m.Payload, bulkMagic):
					compact++
				case strings.Contains(m.Payload, `"marker"`):
					seen++
				}
			}
			if compact != 2 {
				t.Errorf("%d compact payloads on the channel; want 2", compact)
			}
			var all []sessions.Event
			for deadline := time.Now().Add(10 * time.Second); ; {
				mu.Lock()
				all = append(all[:0], events...)
				mu.Unlock()
				markers := 0
				for _, e := range all {
					if e.Kind == "marker" {
						markers++
					}
				}
				if markers == copies {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the watcher heard %d events, not every marker, within 10 s", len(all))
				}
				time.Sleep(5 * time.Millisecond)
			}
			bulks := 0
			for _, e := range all {
				switch e.Kind {
				case sessions.KindWarehouseEnded:
					bulks++
					if !reflect.DeepEqual(e.Commands, cmds) {
						t.Errorf("warehouse event %d carries %d commands unlike StartEndWarehouse's %d", bulks, len(e.Commands), len(cmds))
					}
				case sessions.KindEnded:
					t.Errorf("a KindEnded event for %+v; want none for a warehouse's end", e.Command)
				}
			}
			if bulks != 2 {
				t.Errorf("heard %d warehouse events; want 2 (before and after the records)", bulks)
			}
		})
	}
}

// TestBulkRecoveryPublishes: an end whose caller died before finish is
// finished by Sweep, which publishes a KindEnded event per session it
// ends (the instances note their custody from them).
func TestBulkRecoveryPublishes(t *testing.T) {
	ctx := context.Background()
	c := testenv.NewRedisClient(t, "")
	clk := clock.New(time.Date(2030, 1, 2, 8, 0, 0, 0, time.UTC))
	st := New(c, Options{Prefix: testenv.RedisPrefix(t, c), Now: clk.Now})
	policy := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
	cr, err := st.Create(ctx, sessions.NewSession{UserID: "u1", DeviceID: "d1", WarehouseID: "w1"}, policy)
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	clk.Advance(time.Millisecond)
	cmds, _, err := st.StartEndWarehouse(ctx, "w1", sessions.ReasonAdmin)
	if err != nil || len(cmds) != 1 {
		t.Fatalf("StartEndWarehouse = %v, %v; want one command", cmds, err)
	}
	ps := c.Subscribe(ctx, st.channel)
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	clk.Advance(journalGrace + time.Second)
	if _, err := st.Sweep(ctx); err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := ps.ReceiveMessage(rctx)
	if err != nil {
		t.Fatalf("no event after the recovery: %v", err)
	}
	e, err := decodeEvent(m.Payload)
	if err != nil || e.Kind != sessions.KindEnded || e.Command == nil || e.Command.ID != cmds[0].ID || e.Command.SessionID != cr.Session.ID {
		t.Errorf("event after the recovery = %+v, %v; want KindEnded of %s", e, err, cmds[0].ID)
	}
}
