package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
	"github.com/floorgate/floorgate/sessions/sessionstest"
)

var policy = sessions.Policy{Cap: 3, Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// A watcher that stops reading must not block Publish or End; what it
// misses stays in the device queues.
func TestSlowWatcherDropsNotBlocks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := New(Options{WatchBuffer: 2})
	release := make(chan struct{})
	received := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stuck := func() {
			select {
			case received <- struct{}{}:
			default:
			}
			<-release // stuck until the test lets go
		}
		st.Watch(ctx, func(bool) { stuck() }, func(sessions.Event) { stuck() })
	}()
	// Wait until the watcher is registered and stuck in fn.
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("Watch never received an event")
		}
		if err := st.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: "probe"}); err != nil {
			t.Fatalf("Publish() = %v", err)
		}
		select {
		case <-received:
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	const n = 50
	for i := range n {
		c, err := st.Create(ctx, sessions.NewSession{UserID: fmt.Sprint("u", i), DeviceID: fmt.Sprint("d", i), WarehouseID: "w1"}, policy)
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		if _, err := st.End(ctx, c.Session.ID, sessions.ReasonAdmin); err != nil {
			t.Fatalf("End() = %v", err)
		}
	}
	if st.Dropped() == 0 {
		t.Errorf("Dropped() = 0 after %d events to a stuck watcher with a buffer of 2", n)
	}
	for i := range n {
		if p, err := st.Pending(ctx, fmt.Sprint("d", i)); err != nil || len(p) != 1 {
			t.Errorf("Pending(d%d) = %d commands, %v; want 1", i, len(p), err)
		}
	}
	close(release)
	cancel()
	wg.Wait()
}

// A watcher that fell behind its buffer is told so: a KindLost event,
// then ready again (it re-reads what it missed), then the events its
// buffer still holds.
func TestSlowWatcherToldLost(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := New(Options{WatchBuffer: 2})
	release := make(chan struct{})
	stuck := make(chan struct{})
	calls := make(chan string, 100)
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Watch(ctx, func(bool) { calls <- "ready" }, func(e sessions.Event) {
			once.Do(func() {
				close(stuck)
				<-release // stuck on the first event until the test lets go
			})
			calls <- string(e.Kind)
		})
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case got := <-calls:
			if got != what {
				t.Fatalf("watcher called with %q; want %q", got, what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watcher not called with %q within 5s", what)
		}
	}
	wait("ready")
	if err := st.Publish(ctx, sessions.Event{Kind: sessions.KindActivity, WarehouseID: "w1"}); err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	select {
	case <-stuck:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher never got the first event")
	}
	for range 5 { // two fit in the buffer, three are dropped
		if err := st.Publish(ctx, sessions.Event{Kind: sessions.KindDeviceRevoked, DeviceID: "d1"}); err != nil {
			t.Fatalf("Publish() = %v", err)
		}
	}
	if st.Dropped() == 0 {
		t.Fatalf("Dropped() = 0; want the events past the buffer dropped")
	}
	close(release)
	wait(string(sessions.KindActivity)) // the event it was stuck on
	// The buffered events and the loss signal race in the select; the
	// loss must come, followed at once by ready.
	for range 3 {
		select {
		case got := <-calls:
			if got == string(sessions.KindDeviceRevoked) {
				continue
			}
			if got != string(sessions.KindLost) {
				t.Fatalf("watcher called with %q; want the buffered events or lost", got)
			}
			wait("ready")
			cancel()
			<-done
			return
		case <-time.After(5 * time.Second):
			t.Fatal("no lost event within 5s of the watcher catching up")
		}
	}
	t.Fatal("no lost event after the buffered ones")
}

// Ends take sessions off the deadline heap, so it holds two deadlines
// (end and warning) per live session and no more.
func TestDeadlinesFollowLiveSessions(t *testing.T) {
	ctx := context.Background()
	clock := sessionstest.NewClock()
	st := New(Options{Now: clock.Now})
	var ids []string
	for i := range 100 {
		c, err := st.Create(ctx, sessions.NewSession{UserID: fmt.Sprint("u", i), DeviceID: fmt.Sprint("d", i), WarehouseID: "w1"}, policy)
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		ids = append(ids, c.Session.ID)
	}
	for _, id := range ids[:40] {
		if _, err := st.End(ctx, id, sessions.ReasonAdmin); err != nil {
			t.Fatalf("End() = %v", err)
		}
	}
	if _, err := st.EndWarehouse(ctx, "w1", sessions.ReasonAdmin); err != nil {
		t.Fatalf("EndWarehouse() = %v", err)
	}
	if got := st.due.Len(); got != 0 {
		t.Errorf("heap holds %d deadlines with no live session; want 0", got)
	}
	// Active sessions are re-queued, not lost, when their first deadline
	// passes.
	c, err := st.Create(ctx, sessions.NewSession{UserID: "a", DeviceID: "da", WarehouseID: "w1"}, policy)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	for range 5 {
		clock.Advance(20 * time.Minute)
		if _, err := st.Validate(ctx, c.Token); err != nil {
			t.Fatalf("Validate() = %v", err)
		}
		if n, err := st.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("Sweep() = %d, %v; want 0", n, err)
		}
	}
	if got := st.due.Len(); got != 2 {
		t.Errorf("heap holds %d deadlines for one live session; want 2", got)
	}
}

// Commands are forgotten after the retention, and their queues with them.
func TestCommandRetention(t *testing.T) {
	ctx := context.Background()
	clock := sessionstest.NewClock()
	st := New(Options{Now: clock.Now, CommandRetention: 30 * time.Hour})
	c, err := st.Create(ctx, sessions.NewSession{UserID: "u", DeviceID: "d", WarehouseID: "w1"}, policy)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	cmd, err := st.End(ctx, c.Session.ID, sessions.ReasonAdmin)
	if err != nil {
		t.Fatalf("End() = %v", err)
	}
	clock.Advance(30*time.Hour - time.Millisecond)
	st.Sweep(ctx)
	if _, err := st.Command(ctx, cmd.ID); err != nil {
		t.Errorf("Command() within the retention = %v; want it", err)
	}
	clock.Advance(time.Millisecond)
	st.Sweep(ctx)
	if _, err := st.Command(ctx, cmd.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Command() after the retention = %v; want ErrNotFound", err)
	}
	if len(st.queues) != 0 || len(st.commands) != 0 {
		t.Errorf("after the retention: %d queues, %d commands; want none", len(st.queues), len(st.commands))
	}
}
