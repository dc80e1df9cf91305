package memory

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/floorgate/floorgate/sessions"
)

// fanout hands events to the watchers of this process.
type fanout struct {
	buffer  int
	log     *slog.Logger
	dropped atomic.Uint64

	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// subscriber is one Watch: its buffer, and lost, which publish signals
// when it had to drop an event for it.
type subscriber struct {
	ch   chan sessions.Event
	lost chan struct{}
}

// publish offers ev to every watcher without blocking: a watcher whose
// buffer is full misses it (the device queue still holds any logout).
func (f *fanout) publish(ev sessions.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		select {
		case sub.ch <- cloneEvent(ev):
		default:
			select {
			case sub.lost <- struct{}{}:
			default: // already signalled
			}
			n := f.dropped.Add(1)
			if n&(n-1) == 0 { // 1, 2, 4, 8...: a storm does not flood the log
				f.log.Warn("sessions watcher too slow, event dropped", "kind", string(ev.Kind), "dropped_total", n)
			}
		}
	}
}

func (f *fanout) watch(ctx context.Context, ready func(bool), fn func(sessions.Event)) error {
	sub := &subscriber{ch: make(chan sessions.Event, f.buffer), lost: make(chan struct{}, 1)}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*subscriber]struct{}{}
	}
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, sub)
		f.mu.Unlock()
	}()
	// Subscribed: in process the subscription is never lost, so this is
	// the only ready, and the data is never lost under it.
	if ready != nil {
		ready(false)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.lost:
			// fn did not keep up and missed events: say so, then that it
			// listens again (it re-reads what it may have missed; what
			// the buffer still holds follows).
			fn(sessions.Event{Kind: sessions.KindLost})
			if ready != nil {
				ready(false)
			}
		case ev := <-sub.ch:
			fn(ev)
		}
	}
}

// cloneEvent gives each watcher its own copy of the pointed-to parts.
func cloneEvent(ev sessions.Event) sessions.Event {
	if ev.Command != nil {
		c := cloneCommand(ev.Command)
		ev.Command = &c
	}
	if ev.Warning != nil {
		w := *ev.Warning
		ev.Warning = &w
	}
	return ev
}

// Publish sends e to every Watch of this store. It never blocks on a slow
// watcher: see Dropped.
func (s *Store) Publish(ctx context.Context, e sessions.Event) error {
	if err := live(ctx); err != nil {
		return err
	}
	if e.Kind == sessions.KindLost {
		return fmt.Errorf("publish event: %w: %s is never published", sessions.ErrInvalid, e.Kind)
	}
	s.fan.publish(e)
	return nil
}

// Announce publishes e, then reads e.DeviceID's sessions and pending
// commands under one read lock.
func (s *Store) Announce(ctx context.Context, e sessions.Event) (sessions.DeviceState, error) {
	if err := s.Publish(ctx, e); err != nil {
		return sessions.DeviceState{}, err
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sessions.DeviceState{Sessions: s.listLocked(s.byDevice, e.DeviceID, now), Pending: s.pendingLocked(e.DeviceID, now)}, nil
}

// Watch calls ready (with reset false), in the caller's goroutine, once
// it is subscribed, and fn then for every event published on this store
// (by Publish and by every end, warning and sweep) until ctx ends, and
// returns ctx's error. Events are buffered per watcher
// (Options.WatchBuffer); beyond that they are dropped for that watcher.
func (s *Store) Watch(ctx context.Context, ready func(reset bool), fn func(sessions.Event)) error {
	return s.fan.watch(ctx, ready, fn)
}

// Dropped counts the events watchers missed because their buffer was
// full, for a metric.
func (s *Store) Dropped() uint64 { return s.fan.dropped.Load() }
