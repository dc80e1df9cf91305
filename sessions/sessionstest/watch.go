package sessionstest

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// callerKind is a kind the store does not know (a caller's own): it is
// carried as it is.
const callerKind sessions.EventKind = "sessionstest_caller"

// markerKind and markerOrigin mark the suite's own marker events.
const (
	markerKind   sessions.EventKind = "sessionstest_marker"
	markerOrigin string             = "sessionstest"
)

// ready is one call of a Watch's ready callback.
type ready struct {
	reset  bool
	before int // how many events fn had received when it was called
}

// watcher runs one Store.Watch and records what it receives.
type watcher struct {
	mu      sync.Mutex
	events  []sessions.Event
	readies []ready
	cursor  int // events before it were returned by until
	notify  chan struct{}
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
	err     error
}

// startWatch runs st.Watch until the test ends and returns once the
// watcher is known to receive: once Watch has called ready, so that a
// backend whose subscription starts asynchronously (Redis) does not miss
// the test's first events.
func startWatch(t *testing.T, st sessions.Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{notify: make(chan struct{}, 1), cancel: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- st.Watch(ctx, func(reset bool) {
			w.mu.Lock()
			w.readies = append(w.readies, ready{reset: reset, before: len(w.events)})
			w.mu.Unlock()
			w.wake()
		}, func(ev sessions.Event) {
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.mu.Unlock()
			w.wake()
		})
	}()
	t.Cleanup(func() { w.stop(t) })

	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		w.mu.Lock()
		subscribed := len(w.readies) > 0
		w.cursor = len(w.events)
		w.mu.Unlock()
		if subscribed {
			return w
		}
		select {
		case <-w.notify:
		case <-timer.C:
			t.Fatalf("Watch() did not call ready within %v", waitLimit)
		}
	}
}

func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func markerEvent(id string) sessions.Event {
	return sessions.Event{Kind: markerKind, Origin: markerOrigin, Ref: id}
}

func isMarker(ev sessions.Event, id string) bool {
	return ev.Kind == markerKind && ev.Origin == markerOrigin && (id == "" || ev.Ref == id)
}

// count returns how many of the events received match pred.
func (w *watcher) count(pred func(sessions.Event) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.events {
		if pred(ev) {
			n++
		}
	}
	return n
}

func (w *watcher) find(d time.Duration, pred func(sessions.Event) bool) (sessions.Event, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		w.mu.Lock()
		for _, ev := range w.events {
			if pred(ev) {
				w.mu.Unlock()
				return ev, true
			}
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-timer.C:
			return sessions.Event{}, false
		}
	}
}

// waitFor returns the first event received that matches pred, failing
// the test if none arrives within waitLimit.
func (w *watcher) waitFor(t *testing.T, what string, pred func(sessions.Event) bool) sessions.Event {
	t.Helper()
	ev, ok := w.find(waitLimit, pred)
	if !ok {
		t.Fatalf("Watch() did not receive the %s within %v", what, waitLimit)
	}
	return ev
}

// until publishes a marker through st (through the harness's Barrier
// when it has one) and returns the events received since the previous
// call, up to the marker's last copy, without markers. Everything
// published before until was called arrives before that copy.
func (w *watcher) until(t *testing.T, e *storeEnv, st sessions.Store) []sessions.Event {
	t.Helper()
	id := rand.Text()
	copies := 1
	if e.barrier != nil {
		copies = e.barrier(t, st, markerEvent(id))
	} else if err := st.Publish(context.Background(), markerEvent(id)); err != nil {
		t.Fatalf("Publish(marker) = %v", err)
	}
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for w.count(func(ev sessions.Event) bool { return isMarker(ev, id) }) < copies {
		select {
		case <-w.notify:
		case <-timer.C:
			t.Fatalf("Watch() did not receive the %d copies of the marker within %v", copies, waitLimit)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []sessions.Event
	i := w.cursor
	for seen := 0; i < len(w.events); i++ {
		ev := w.events[i]
		if isMarker(ev, id) {
			if seen++; seen == copies {
				i++
				break
			}
			continue
		}
		if !isMarker(ev, "") {
			out = append(out, ev)
		}
	}
	w.cursor = i
	return out
}

// stop cancels the Watch and returns what it returned.
func (w *watcher) stop(t *testing.T) error {
	t.Helper()
	w.once.Do(func() {
		w.cancel()
		select {
		case w.err = <-w.done:
		case <-time.After(waitLimit):
			t.Errorf("Watch() did not return within %v of its context ending", waitLimit)
		}
	})
	return w.err
}
