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
// offline) into at most one sessions.KindActivity event per warehouse
// every ActivityEvery, for the admin console's live pages. A note costs
// a map insert: no store call on the hot path.
type activity struct {
	mu      sync.Mutex
	pending map[string]struct{}
}

// note marks warehouseID as changed; "" is ignored.
func (a *activity) note(warehouseID string) {
	if warehouseID == "" {
		return
	}
	a.mu.Lock()
	if a.pending == nil {
		a.pending = make(map[string]struct{})
	}
	a.pending[warehouseID] = struct{}{}
	a.mu.Unlock()
}

func (a *activity) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
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

// activityLoop publishes the warehouses noted since its last pass,
// every ActivityEvery, until ctx ends. A failed publish is dropped: the
// console also refreshes on a slow timer.
func (s *Server) activityLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ActivityEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
