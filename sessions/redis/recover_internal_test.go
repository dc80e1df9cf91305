package redis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/clock"
	"github.com/floorgate/floorgate/internal/redisval"
	"github.com/floorgate/floorgate/internal/testenv"
	"github.com/floorgate/floorgate/sessions"
)

// These tests reach inside the Store to stop an operation where a crash
// would: between its Lua script and the writes that follow.

// TestSweepFinishesDeadOperation: an End that died after its script (the
// session ended, its command written to the bucket's outbox) but before
// the command reached the device's queue is finished by Sweep once its
// journal entry is older than journalGrace; no command is lost.
func TestSweepFinishesDeadOperation(t *testing.T) {
	ctx := context.Background()
	c := testenv.NewRedisClient(t, "")
	clk := clock.New(time.Date(2030, 1, 2, 8, 0, 0, 0, time.UTC))
	st := New(c, Options{Prefix: testenv.RedisPrefix(t, c), Now: clk.Now})
	p := sessions.Policy{Cap: 3, Idle: time.Hour, Absolute: 12 * time.Hour}
	cr, err := st.Create(ctx, sessions.NewSession{UserID: "u1", DeviceID: "d1", WarehouseID: "w1"}, p)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}

	// End, stopped after its script.
	b, _ := bucketFromID(cr.Session.ID)
	if _, err := st.journal(ctx, []string{b}); err != nil {
		t.Fatalf("journal() = %v", err)
	}
	res, err := endScript.Run(ctx, st.c, []string{st.outboxKey(b)}, st.bp(b), redisval.Micros(clk.Now()),
		string(sessions.ReasonAdmin), "", "", "", redisval.TTLMillis(sessions.CommandTTL), "ids", cr.Session.ID).Slice()
	if err != nil || len(res) != 10 {
		t.Fatalf("end script = %v, %v; want one command", res, err)
	}
	cmdID := redisval.Str(res[0])

	if _, err := st.Validate(ctx, cr.Token); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Validate() after the script = %v; want ErrNotFound", err)
	}
	if got, err := st.Pending(ctx, "d1"); err != nil || len(got) != 0 {
		t.Fatalf("Pending(d1) before recovery = %v, %v; want none yet", got, err)
	}
	// Within the grace the operation may still be running: left alone.
	if _, err := st.Sweep(ctx); err != nil {
		t.Fatalf("Sweep() = %v", err)
	}
	if got, _ := st.Pending(ctx, "d1"); len(got) != 0 {
		t.Fatalf("Pending(d1) after a Sweep within the grace = %d commands; want 0", len(got))
	}

	clk.Advance(journalGrace + time.Second)
	if _, err := st.Sweep(ctx); err != nil {
		t.Fatalf("Sweep() = %v", err)
	}
	got, err := st.Pending(ctx, "d1")
	if err != nil || len(got) != 1 || got[0].ID != cmdID || got[0].Reason != sessions.ReasonAdmin {
		t.Fatalf("Pending(d1) after recovery = %+v, %v; want command %s", got, err, cmdID)
	}
	for _, k := range []string{st.journalKey(), st.outboxKey(b), st.deviceSessionsKey("d1"), st.warehouseKey("w1"), st.absKey()} {
		if n := c.Exists(ctx, k).Val(); n != 0 {
			t.Errorf("key %s still exists after recovery", strings.TrimPrefix(k, st.prefix))
		}
	}
}

// TestWatchResubscribes: when Redis drops the subscriber's connection,
// Watch says at once that events may be lost (a lost event), subscribes
// again by itself, says so with a ready call (a reset when the store's
// epoch changed meanwhile, as when Redis restarts without its data), and
// events flow on.
func TestWatchResubscribes(t *testing.T) {
	name := "fgtest-watch-" + randomHex()
	c := testenv.NewRedisClient(t, name)
	// The lost subscription is logged; keep it out of the test output.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := New(c, Options{Prefix: testenv.RedisPrefix(t, c), Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan sessions.Event, 100)
	resyncs := make(chan bool, 10)
	losts := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- st.Watch(ctx, func(reset bool) { resyncs <- reset }, func(e sessions.Event) {
			if e.Kind == sessions.KindLost {
				losts <- struct{}{}
				return
			}
			got <- e
		})
	}()
	nextResync := func() (reset bool) {
		t.Helper()
		select {
		case reset := <-resyncs:
			return reset
		case <-time.After(5 * time.Second):
			t.Fatal("no ready call within 5s of subscribing")
			return false
		}
	}

	// publishUntil publishes every 20 ms until an event for dev arrives
	// (bounded by 5 s): subscribing takes a moment.
	publishUntil := func(dev string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := st.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: dev}); err != nil {
				t.Fatalf("Publish() = %v", err)
			}
			select {
			case e := <-got:
				if e.DeviceID == dev {
					return
				}
			case <-tick.C:
			case <-deadline:
				t.Fatalf("no event for %s within 5s", dev)
			}
		}
	}
	publishUntil("before")
	if reset := nextResync(); reset {
		t.Errorf("first ready: reset = true; want no reset")
	}

	// Kill only this test's subscriber connection.
	kill := func() {
		t.Helper()
		list, err := c.ClientList(ctx).Result()
		if err != nil {
			t.Fatalf("CLIENT LIST = %v", err)
		}
		killed := 0
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name="+name+" ") && strings.Contains(line, " sub=1 ") {
				id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
				if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatalf("CLIENT KILL ID %s = %v", id, err)
				}
				killed++
			}
		}
		if killed != 1 {
			t.Fatalf("found %d subscriber connections named %s; want 1", killed, name)
		}
	}
	// nextLost waits for the lost event that comes as soon as the
	// subscription is gone.
	nextLost := func() {
		t.Helper()
		select {
		case <-losts:
		case <-time.After(5 * time.Second):
			t.Fatal("no lost event within 5s of the subscription's end")
		}
	}
	kill()
	nextLost()
	publishUntil("after")
	if reset := nextResync(); reset {
		t.Errorf("ready after a lost subscription: reset = true; want no reset (the data is there)")
	}

	// The data goes (its epoch with it) while the subscription is down.
	if err := c.Del(ctx, st.epochKey()).Err(); err != nil {
		t.Fatalf("DEL epoch = %v", err)
	}
	kill()
	nextLost()
	publishUntil("after the reset")
	if reset := nextResync(); !reset {
		t.Errorf("ready after the data was lost: reset = false; want reset")
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch() = %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return within 5s of its context ending")
	}
}
