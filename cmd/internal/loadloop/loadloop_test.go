package loadloop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// TestRun: every worker runs until the context ends; successes are timed
// and closed, failures counted and reported one at a time.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var attempts, closed atomic.Int64
	errBad := errors.New("refused")
	var reported int
	res := Run(ctx, 4, func(ctx context.Context, w, i int) (func(), error) {
		if attempts.Add(1) >= 100 {
			cancel()
		}
		if i%2 == 1 {
			return nil, errBad
		}
		return func() { closed.Add(1) }, nil
	}, func(err error) {
		reported++ // called one at a time: no race here under -race
		if !errors.Is(err, errBad) {
			t.Errorf("onErr(%v); want %v", err, errBad)
		}
	})
	if got := int64(len(res.Latencies)); got != closed.Load() {
		t.Errorf("%d latencies, %d closed; want one close per success", got, closed.Load())
	}
	if int64(len(res.Latencies)+res.Errors) != attempts.Load() {
		t.Errorf("%d latencies + %d errors; want %d attempts", len(res.Latencies), res.Errors, attempts.Load())
	}
	if res.Errors != reported || (res.Errors > 0 && !errors.Is(res.Last, errBad)) {
		t.Errorf("Errors = %d, Last = %v, reported %d; want every error reported", res.Errors, res.Last, reported)
	}
	if attempts.Load() < 100 {
		t.Errorf("%d attempts; want the workers to run until the context ended", attempts.Load())
	}
}
