package gateway

import (
	"context"
	"log/slog"
	"time"

	"sync"
	"sync/atomic"

	"github.com/floorgate/floorgate/sessions"
)

// hub is the table of this instance's sockets: every upgraded connection
// (for Shutdown) and the authenticated one of each device (for pushes).
type hub struct {
	srv *Server

	mu       sync.Mutex
	all      map[*socket]struct{}
	byDevice map[string]*socket
	// bySlot holds the sockets of byDevice by ping slot, so that a ping
	// tick walks only its twenty-fifth of the fleet under the lock.
	bySlot   [pingSlots]map[*socket]struct{}
	nextSlot uint32
	closing  bool
	idle     chan struct{} // closed when closing and all is empty
	idleDone bool

	// Presence of new sockets, marked after welcome in batches (online),
	// and of devices whose socket closed, marked offline in batches
	// (detach): device id -> warehouse id, for the activity note.
	presWait map[*socket]struct{} // to be marked online by the next batch
	offWait  map[string]string    // to be marked offline by the next batch
	// presMu is held by each presence pass (flushPresence,
	// refreshPresence, flushOffline) for its store calls: the passes run
	// one after the other, so an offline batch never lands before the
	// online batch carrying the same device, nor a refresh read before a
	// close after the offline batch of that close.
	presMu sync.Mutex

	// The watcher's resyncs (calls of ready), for Watching and for
	// recheckLoop (recheck.go).
	subscribed atomic.Bool   // the watcher has subscribed at least once
	resync     chan struct{} // one waiting signal at most
	resetSeen  atomic.Bool   // a resync said the store lost its data
}

// kindSocketOpened is the gateway's own fan-out event: DeviceID opened a
// socket on instance Origin with connection id Ref; any other instance
// holding an older socket of that device closes it with 4409.
const kindSocketOpened sessions.EventKind = "socket_opened"

// socketRace is how long after its registration a socket is compared by
// id with another instance's announced socket of the same device; after
// it, any announcement replaces it.
const socketRace = 2 * time.Second

// pingSlots spreads pings over PingEvery: each tick pings one slot.
const pingSlots = 25

func newHub(srv *Server) *hub {
	h := &hub{
		srv:      srv,
		all:      make(map[*socket]struct{}),
		byDevice: make(map[string]*socket),
		idle:     make(chan struct{}),
		presWait: make(map[*socket]struct{}),
		offWait:  make(map[string]string),
		resync:   make(chan struct{}, 1),
	}
	for i := range h.bySlot {
		h.bySlot[i] = make(map[*socket]struct{})
	}
	return h
}

// isClosing reports whether Shutdown has begun.
func (h *hub) isClosing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

// attach adds a freshly upgraded socket; false once Shutdown has begun.
func (h *hub) attach(s *socket) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.all[s] = struct{}{}
	s.slot = h.nextSlot % pingSlots
	h.nextSlot++
	return true
}

// register makes s the socket of its device and returns the one it
// replaces, if any; false once Shutdown has begun.
func (h *hub) register(s *socket) (old *socket, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return nil, false
	}
	old = h.byDevice[s.deviceID]
	if old != nil {
		delete(h.bySlot[old.slot], old)
	}
	// Back before its offline batch: the batch leaves the device out,
	// and its online batch marks it again.
	delete(h.offWait, s.deviceID)
	h.byDevice[s.deviceID] = s
	h.bySlot[s.slot][s] = struct{}{}
	return old, true
}

// detach removes a socket whose reader has ended. When it was its
// device's socket, the device is queued to be marked offline by the next
// flushOffline (a close costs no presence call of its own) and detach
// reports true.
func (h *hub) detach(s *socket) (wasCurrent bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.all, s)
	delete(h.presWait, s)
	if s.deviceID != "" && h.byDevice[s.deviceID] == s {
		delete(h.byDevice, s.deviceID)
		h.offWait[s.deviceID] = s.warehouseID
		wasCurrent = true
	}
	delete(h.bySlot[s.slot], s)
	if h.closing && len(h.all) == 0 && !h.idleDone {
		h.idleDone = true
		close(h.idle)
	}
	return wasCurrent
}

// online queues the presence of s's device, marked by the next
// flushPresence (every PresenceFlushEvery) with every other socket
// welcomed since, in one MarkOnline per presenceBatch devices: a
// connect costs no presence call of its own.
func (h *hub) online(s *socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing || h.byDevice[s.deviceID] != s {
		return
	}
	h.presWait[s] = struct{}{}
}

// flushPresence marks the queued sockets online, in batches, until none
// waits. A socket that has gone (or been replaced) before its batch is
// sent is left out; one that goes while its batch is in flight is marked
// offline by a later flushOffline, which waits for this pass (presMu).
func (h *hub) flushPresence(ctx context.Context) {
	h.presMu.Lock()
	defer h.presMu.Unlock()
	var ids []string
	for ctx.Err() == nil {
		h.mu.Lock()
		if len(h.presWait) == 0 {
			h.mu.Unlock()
			return
		}
		ids = ids[:0]
		for s := range h.presWait {
			if len(ids) == presenceBatch {
				break
			}
			delete(h.presWait, s)
			if h.byDevice[s.deviceID] == s {
				ids = append(ids, s.deviceID)
				h.srv.activity.note(s.warehouseID)
			}
		}
		h.mu.Unlock()

		if len(ids) > 0 {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := h.srv.store.MarkOnline(cctx, h.srv.cfg.InstanceID, ids, h.srv.cfg.PresenceTTL)
			cancel()
			if err != nil && ctx.Err() == nil {
				// The refresh marks them again within PresenceEvery.
				h.srv.log.Warn("mark online failed", slog.Int("devices", len(ids)), slog.Any("err", err))
			}
		}
	}
}

// flushOffline marks offline, in one MarkOffline, every device whose
// socket closed since the last pass and did not come back to this
// instance meanwhile (register takes it out of the queue). The store
// removes only the marks this instance still holds: a device that has
// moved to another instance keeps that instance's mark. When the call
// fails, the marks lapse with PresenceTTL (the refresh no longer renews
// them), as they did when each close made its own call.
func (h *hub) flushOffline(ctx context.Context) {
	h.presMu.Lock()
	defer h.presMu.Unlock()
	h.mu.Lock()
	if len(h.offWait) == 0 {
		h.mu.Unlock()
		return
	}
	gone := h.offWait
	h.offWait = make(map[string]string)
	h.mu.Unlock()
	ids := make([]string, 0, len(gone))
	for id := range gone {
		ids = append(ids, id)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := h.srv.store.MarkOffline(cctx, h.srv.cfg.InstanceID, ids)
	cancel()
	if err != nil {
		h.srv.log.Warn("mark offline failed", slog.Int("devices", len(ids)), slog.Any("err", err))
	}
	// The console re-reads presence on these notes: after the marks.
	for _, wh := range gone {
		h.srv.activity.note(wh)
	}
}

func (h *hub) get(deviceID string) *socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byDevice[deviceID]
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byDevice)
}

// event handles one fan-out event from any instance. It never blocks:
// every push only queues a frame.
func (h *hub) event(e sessions.Event) {
	switch e.Kind {
	case sessions.KindEnded:
		if e.Command == nil {
			return
		}
		if s := h.get(e.Command.DeviceID); s != nil {
			s.deliver(*e.Command, pushLive)
		}
	case sessions.KindWarning:
		if e.Warning == nil {
			return
		}
		if s := h.get(e.Warning.DeviceID); s != nil {
			s.pushWarning(*e.Warning)
		}
	case sessions.KindDeviceRevoked:
		h.revoked(e.DeviceID)
	case kindSocketOpened:
		// Our own sockets replace each other in register. Another
		// instance's socket replaces ours when ours is older than
		// socketRace (the announcement is news: that socket is newer,
		// whatever the two clocks say); of two sockets opened within
		// socketRace of each other, the one with the larger time-ordered
		// id wins on both instances, so they do not close each other.
		if e.Origin == h.srv.cfg.InstanceID {
			return
		}
		if s := h.get(e.DeviceID); s != nil && (s.id < e.Ref || h.srv.now().Sub(s.registered) > socketRace) {
			s.close(closeReplaced, "replaced by a newer socket")
		}
	}
}

// endedBatch bounds the commands endedMany looks up under one hold of
// h.mu, so that a warehouse of thousands does not keep a connect's
// register waiting for all of them.
const endedBatch = 512

// endedMany pushes each command to its device's socket, if this
// instance holds it: the sockets are looked up endedBatch at a time
// under one hold of the lock (not one hold per command), and pushed
// outside it.
func (h *hub) endedMany(cmds []sessions.Command) {
	socks := make([]*socket, min(len(cmds), endedBatch))
	for lo := 0; lo < len(cmds); lo += endedBatch {
		batch := cmds[lo:min(lo+endedBatch, len(cmds))]
		h.mu.Lock()
		for i := range batch {
			socks[i] = h.byDevice[batch[i].DeviceID]
		}
		h.mu.Unlock()
		for i := range batch {
			if socks[i] != nil {
				socks[i].deliver(batch[i], pushLive)
				socks[i] = nil
			}
		}
	}
}

// revoked closes the device's socket with 4403, if this instance holds it.
func (h *hub) revoked(deviceID string) {
	if s := h.get(deviceID); s != nil {
		s.close(closeRevoked, "device revoked")
	}
}

// shutdown closes every socket with 1001 and waits for their readers.
func (h *hub) shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	socks := make([]*socket, 0, len(h.all))
	for s := range h.all {
		socks = append(socks, s)
	}
	if len(h.all) == 0 && !h.idleDone {
		h.idleDone = true
		close(h.idle)
	}
	h.mu.Unlock()
	for _, s := range socks {
		s.close(closeGoingAway, "server going away")
	}
	select {
	case <-h.idle:
		return nil
	case <-ctx.Done():
		h.dropAll()
		return ctx.Err()
	}
}

// dropAll cuts every connection still held, without a close handshake.
func (h *hub) dropAll() {
	h.mu.Lock()
	socks := make([]*socket, 0, len(h.all))
	for s := range h.all {
		socks = append(socks, s)
	}
	h.mu.Unlock()
	for _, s := range socks {
		s.mu.Lock()
		s.dropLocked()
		s.mu.Unlock()
	}
}

// pingLoop pings every socket once per PingEvery, a slot at a time.
func (h *hub) pingLoop(ctx context.Context) {
	t := time.NewTicker(max(h.srv.cfg.PingEvery/pingSlots, time.Millisecond))
	defer t.Stop()
	var tick uint32
	var batch []*socket
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		batch = h.pingBatch(tick%pingSlots, batch[:0])
		tick++
		now := time.Now()
		for _, s := range batch {
			s.ping(now)
		}
		clear(batch)
	}
}

// pingBatch appends the registered sockets of one ping slot to batch.
func (h *hub) pingBatch(slot uint32, batch []*socket) []*socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.bySlot[slot] {
		batch = append(batch, s)
	}
	return batch
}

// presenceBatch is how many devices one MarkOnline call carries.
const presenceBatch = 500

// presenceLoop marks the devices whose sockets closed since its last
// pass offline, then the sockets welcomed since online, every
// PresenceFlushEvery, and refreshes, every PresenceEvery, the presence of
// every device whose socket this instance holds. Shutdown makes the last
// offline pass itself.
func (h *hub) presenceLoop(ctx context.Context) {
	refresh := time.NewTicker(h.srv.cfg.PresenceEvery)
	defer refresh.Stop()
	flush := time.NewTicker(h.srv.cfg.PresenceFlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			h.flushOffline(ctx)
			h.flushPresence(ctx)
		case <-refresh.C:
			h.refreshPresence(ctx)
		}
	}
}

// refreshPresence marks every device whose socket this instance holds.
func (h *hub) refreshPresence(ctx context.Context) {
	h.presMu.Lock()
	defer h.presMu.Unlock()
	h.mu.Lock()
	ids := make([]string, 0, len(h.byDevice))
	for id := range h.byDevice {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), presenceBatch)
		err := h.srv.store.MarkOnline(ctx, h.srv.cfg.InstanceID, ids[:n], h.srv.cfg.PresenceTTL)
		if err != nil {
			if ctx.Err() == nil {
				h.srv.log.Warn("presence refresh failed", slog.Any("err", err))
			}
			return
		}
		ids = ids[n:]
	}
}

// written records a pushed frame: metrics, and a logout queued to be
// marked delivered (marks.go).
func (s *Server) written(f outFrame) {
	s.metrics.pushes.WithLabelValues(f.what, f.path.String()).Inc()
	if f.cmd == nil {
		return
	}
	if f.path == pushLive {
		s.metrics.pushLatency.Observe(s.now().Sub(f.cmd.CreatedAt).Seconds())
	}
	s.activity.note(f.cmd.WarehouseID)
	s.marks.deliveredMark(f.cmd.ID)
}
