package devices

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Last-seen notes are kept in memory and written in batches, so that a
// device's requests and socket pings never write to the database.
const (
	seenBatch        = 500
	seenDefaultEvery = 10 * time.Second
	seenFinalTimeout = 5 * time.Second
	// seenMaxNotes bounds the notes kept while the store is failing; the
	// fleet this is sized for has 100,000 devices.
	seenMaxNotes = 200_000
)

// seenNotes holds the latest note per device until it is flushed.
type seenNotes struct {
	mu    sync.Mutex
	notes map[string]DeviceSeen
}

// put keeps the later of n and what is held for the device; an empty
// app version does not erase a known one.
func (s *seenNotes) put(n DeviceSeen) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.notes[n.DeviceID]
	if !ok && len(s.notes) >= seenMaxNotes {
		return
	}
	if ok {
		if n.At.Before(old.At) {
			n.At = old.At
		}
		if n.AppVersion == "" {
			n.AppVersion = old.AppVersion
		}
	}
	s.notes[n.DeviceID] = n
}

// take removes and returns every note, ordered by device id.
func (s *seenNotes) take() []DeviceSeen {
	s.mu.Lock()
	notes := s.notes
	s.notes = make(map[string]DeviceSeen, len(notes))
	s.mu.Unlock()
	out := make([]DeviceSeen, 0, len(notes))
	for _, n := range notes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b DeviceSeen) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	return out
}

// Seen notes that a device was active now (and its app version, when not
// empty), without writing: RunSeenFlusher or FlushSeen writes the notes
// in batches.
func (r *Registry) Seen(deviceID, appVersion string) {
	if deviceID == "" {
		return
	}
	if len(appVersion) > maxDeviceField {
		appVersion = appVersion[:maxDeviceField]
	}
	r.seen.put(DeviceSeen{DeviceID: deviceID, At: r.clock(), AppVersion: appVersion})
}

// FlushSeen writes the notes taken so far through Store.TouchDevices, in
// batches of 500. Notes of a batch that fails are kept for the next flush.
func (r *Registry) FlushSeen(ctx context.Context) error {
	notes := r.seen.take()
	var firstErr error
	for i := 0; i < len(notes); i += seenBatch {
		batch := notes[i:min(i+seenBatch, len(notes))]
		if firstErr == nil {
			if err := r.store.TouchDevices(ctx, batch); err != nil {
				firstErr = fmt.Errorf("flush last seen of %d devices: %w", len(batch), err)
			} else {
				continue
			}
		}
		for _, n := range batch {
			r.seen.put(n)
		}
	}
	return firstErr
}

// RunSeenFlusher writes the Seen notes every interval (10s when every is
// not positive) until ctx ends, then once more with a short deadline of
// its own. The caller runs it in its own goroutine. Failed flushes are
// logged and retried at the next interval; it returns the error of the
// final flush, or nil.
func (r *Registry) RunSeenFlusher(ctx context.Context, every time.Duration) error {
	return r.runFlusher(ctx, every, "last seen", r.FlushSeen)
}

// runFlusher calls flush every interval (10s when every is not
// positive) until ctx ends, then once more with a short deadline of its
// own, and returns that last call's error. Failures before are logged.
func (r *Registry) runFlusher(ctx context.Context, every time.Duration, what string, flush func(context.Context) error) error {
	if every <= 0 {
		every = seenDefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := flush(ctx); err != nil {
				r.log.Warn(what+" flush failed", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), seenFinalTimeout)
			defer cancel()
			return flush(fctx)
		}
	}
}
