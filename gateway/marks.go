package gateway

import (
	"log/slog"
	"sync"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// markBatch is the most commands one DeliveredMany or AckMany call
// carries.
const markBatch = 1000

// markTries is how many times a batch is sent before it is given up
// (logged); markRetry is the wait before the second try, doubled for
// each one after.
const (
	markTries = 3
	markRetry = 100 * time.Millisecond
)

// marks records this instance's delivered marks and acknowledgements in
// batches: a written logout frame, or a device's ack, queues its command
// here, and one flusher goroutine at a time (started by the first mark
// queued when none runs) sends what has queued meanwhile in one
// DeliveredMany and one AckMany, until nothing is left. A mark alone goes
// out at once, as before; when a warehouse's logout writes thousands of
// frames at once, the marks that queue while one batch is in flight go
// out together in the next, a few round trips instead of several per
// device, after the frames rather than between them. A batch the store
// refuses is sent again (markTries in all) and then given up with a
// warning: a logout left unmarked delivered is pushed again by the
// re-check and acknowledged again by its device, and an unmarked
// acknowledgement leaves its command pending, as a failed Ack did. The
// flusher is one of the server's tasks: Shutdown waits for it.
type marks struct {
	srv *Server

	mu        sync.Mutex
	delivered []string
	acks      []sessions.Ack
	flushing  bool
}

// deliveredMark queues a written logout's command to be marked delivered.
func (m *marks) deliveredMark(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered = append(m.delivered, id)
	m.startLocked()
}

// ackMark queues a device's acknowledgement.
func (m *marks) ackMark(a sessions.Ack) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks = append(m.acks, a)
	m.startLocked()
}

// startLocked starts the flusher unless it runs. m.mu must be held.
func (m *marks) startLocked() {
	if m.flushing {
		return
	}
	m.flushing = true
	m.srv.work.add()
	go m.flush()
}

// flush sends what is queued, batch after batch, until nothing is.
func (m *marks) flush() {
	defer m.srv.work.done()
	for {
		m.mu.Lock()
		dv := m.delivered[:min(len(m.delivered), markBatch)]
		acks := m.acks[:min(len(m.acks), markBatch)]
		if len(dv) == 0 && len(acks) == 0 {
			m.delivered, m.acks = nil, nil
			m.flushing = false
			m.mu.Unlock()
			return
		}
		m.delivered = m.delivered[len(dv):]
		m.acks = m.acks[len(acks):]
		m.mu.Unlock()
		if len(acks) > 0 {
			m.send("ack logout commands", len(acks), func() error {
				ctx, cancel := m.srv.opContext()
				defer cancel()
				return m.srv.store.AckMany(ctx, acks)
			})
		}
		if len(dv) > 0 {
			m.send("mark logouts delivered", len(dv), func() error {
				ctx, cancel := m.srv.opContext()
				defer cancel()
				return m.srv.store.DeliveredMany(ctx, dv)
			})
		}
	}
}

// send calls call up to markTries times, waiting markRetry, then twice
// as long, between tries (not once Shutdown's deadline has passed).
func (m *marks) send(what string, n int, call func() error) {
	wait := markRetry
	for try := 1; ; try++ {
		err := call()
		if err == nil {
			return
		}
		if try == markTries || m.srv.baseCtx.Err() != nil {
			m.srv.log.Warn(what, slog.Int("commands", n), slog.Int("tries", try), slog.Any("err", err))
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-m.srv.baseCtx.Done():
			t.Stop()
		}
		wait *= 2
	}
}
