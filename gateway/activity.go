package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// activity coalesces the notes of what changed in each warehouse (a
// login, a logout delivered or acknowledged, a device online or
// offline, an enrollment) into sessions.KindActivity events for the
// admin console's live pages. A note costs a map insert: no store call
// on the hot path. The first note after a quiet ActivityEvery is
// published at once (the loop is woken); the notes that follow within
// ActivityEvery are published together at its end: at most about two
// events per warehouse per ActivityEvery.
type activity struct {
	mu      sync.Mutex
	pending map[string]struct{}
	last    time.Time     // when the loop last published
	every   time.Duration // Config.ActivityEvery
	wake    chan struct{} // a note after a quiet spell wakes the loop
}

func newActivity(every time.Duration) *activity {
	return &activity{pending: make(map[string]struct{}), every: every, wake: make(chan struct{}, 1)}
}

// note marks warehouseID as changed; "" is ignored.
func (a *activity) note(warehouseID string) {
	if warehouseID == "" {
		return
	}
	a.mu.Lock()
	a.pending[warehouseID] = struct{}{}
	quiet := time.Since(a.last) >= a.every
	a.mu.Unlock()
	if quiet {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// take returns the warehouses noted since the last take.
func (a *activity) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = time.Now()
	if len(a.pending) == 0 {
		return nil
	}
	ids := make([]string, 0, len(a.pending))
	for id := range a.pending {
		ids = append(ids, id)
	}
	clear(a.pending)
	return ids
}

// activityLoop publishes the warehouses noted, when woken after a quiet
// spell and every ActivityEvery, until ctx ends. A failed publish is
// dropped: the console also refreshes on a slow timer.
func (s *Server) activityLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ActivityEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.activity.wake:
		}
		for _, wh := range s.activity.take() {
			pctx, cancel := s.opContext()
			err := s.store.Publish(pctx, sessions.Event{Kind: sessions.KindActivity, WarehouseID: wh})
			cancel()
			if err != nil && ctx.Err() == nil {
				s.log.Debug("publish warehouse activity", slog.String("warehouse_id", wh), slog.Any("err", err))
			}
		}
	}
}
