package signin

import (
	"context"
	"runtime"
	"time"
)

// Pool bounds the hashes of secrets that run at once. A hash costs tens
// of milliseconds of CPU; beyond the pool, attempts are refused at once
// (ErrBusy, answered 429) instead of queuing until everything times out.
// One Pool serves every kind of sign-in of the process.
type Pool struct {
	slots chan struct{}
	wait  time.Duration
}

// NewPool returns a pool of workers slots (GOMAXPROCS when 0 or less);
// an attempt waits at most wait for one (100ms when 0 or less).
func NewPool(workers int, wait time.Duration) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	return &Pool{slots: make(chan struct{}, workers), wait: wait}
}

// Acquire takes a slot, waiting at most the pool's wait (and never past
// ctx); ErrBusy when none came free. The returned func gives it back.
func (p *Pool) Acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-p.slots }
	select {
	case p.slots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ErrBusy
	}
}
