package gateway

import (
	"context"
	"log/slog"
	"time"
)

// Push is the fast path; the store is the truth. The fan-out is at most
// once: an end published while this instance's subscription was down
// (Redis dropped it, the network blipped, Redis restarted) never reaches
// it. Its command is queued for the device all the same, so the gateway
// re-reads the queues of the sockets it holds:
//
//   - at once whenever the watcher has subscribed again (Watch calls
//     ready), so that what was missed meanwhile is delivered within
//     about a round trip per recheckBatch sockets of the link's return;
//   - every RecheckEvery, for a push lost any other way.
//
// Only commands never written to any socket (not delivered) are pushed;
// each socket remembers the last logouts it queued, so one pushed live
// and by a re-check goes out once.
//
// When the watcher says the store lost its data (ready's reset: Redis
// restarted empty), every session and every queued logout is gone and there is
// nothing to re-read: every socket is closed with 1001, and each device,
// reconnecting, is told the truth by its welcome (no session).

// recheckBatch is how many devices one PendingMany call carries.
const recheckBatch = 500

// resynced handles the watcher's ready call (it has subscribed, again
// when not the first time) without blocking.
func (h *hub) resynced(reset bool) {
	h.subscribed.Store(true)
	h.srv.metrics.resyncs.WithLabelValues(boolLabel(reset)).Inc()
	if reset {
		h.resetSeen.Store(true)
	}
	select {
	case h.resync <- struct{}{}:
	default: // one is waiting already: it will see everything
	}
}

// recheckLoop re-checks every socket every RecheckEvery and after each
// resync of the watcher.
func (h *hub) recheckLoop(ctx context.Context) {
	t := time.NewTicker(h.srv.cfg.RecheckEvery)
	defer t.Stop()
	for {
		resync := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.resync:
			resync = true
		}
		if h.resetSeen.Swap(false) {
			h.closeAll()
			continue
		}
		pushed, err := h.recheck(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			h.srv.log.Warn("re-checking pending logouts failed", slog.Any("err", err))
		case resync && pushed > 0:
			h.srv.log.Info("fan-out resubscribed: pushed the logouts missed meanwhile", slog.Int("logouts", pushed))
		case pushed > 0:
			h.srv.log.Info("re-check pushed logouts whose push was missed", slog.Int("logouts", pushed))
		}
	}
}

// recheck pushes to every socket this instance holds the logouts queued
// for its device and never delivered, and returns how many it pushed.
func (h *hub) recheck(ctx context.Context) (int, error) {
	socks := h.current()
	pushed := 0
	for len(socks) > 0 {
		n := min(len(socks), recheckBatch)
		batch := socks[:n]
		socks = socks[n:]
		ids := make([]string, len(batch))
		for i, s := range batch {
			ids[i] = s.deviceID
		}
		cctx, cancel := context.WithTimeout(ctx, h.srv.cfg.WriteWait)
		pending, err := h.srv.store.PendingMany(cctx, ids)
		cancel()
		if err != nil {
			return pushed, err
		}
		for _, s := range batch {
			for _, c := range pending[s.deviceID] {
				if c.DeliveredAt != nil {
					continue // written to a socket once: resent on reconnect only
				}
				// The socket may have been replaced since: push to the
				// device's socket now, if this instance holds it.
				if cur := h.get(s.deviceID); cur != nil && cur.deliver(c, pushRecheck) {
					pushed++
				}
			}
		}
	}
	return pushed, nil
}

// current lists the device sockets this instance holds.
func (h *hub) current() []*socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*socket, 0, len(h.byDevice))
	for _, s := range h.byDevice {
		out = append(out, s)
	}
	return out
}

// closeAll closes every device socket with 1001 after the store lost its
// data: each device reconnects and its welcome tells it the truth.
func (h *hub) closeAll() {
	socks := h.current()
	h.srv.log.Warn("the session store lost its data: closing every device socket so that devices reconnect and learn their sessions ended",
		slog.Int("sockets", len(socks)))
	for _, s := range socks {
		s.close(closeGoingAway, "session store restarted: connect again")
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
