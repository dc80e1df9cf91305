package gateway

import (
	"context"
	"sync"
)

// tasks counts the goroutines that belong to sockets (run, the reader and
// its clean-up, the writer, message handlers), so that Shutdown can wait
// for the last of them, and with them for every store call they make
// (acks, delivered marks, MarkOffline), before the caller closes the
// stores. Unlike a sync.WaitGroup it may be added to while someone
// waits: a socket's goroutines start others.
type tasks struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n == 0
}

func newTasks() *tasks {
	z := make(chan struct{})
	close(z)
	return &tasks{zero: z}
}

// add counts one goroutine about to start; it must call done when it ends.
func (t *tasks) add() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.zero = make(chan struct{})
	}
	t.n++
}

func (t *tasks) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		close(t.zero)
	}
}

// wait returns nil once no counted goroutine runs, or ctx's error first.
func (t *tasks) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		z, n := t.zero, t.n
		t.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-z:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
