// Package loadloop is the connect loop the benchmark programs share:
// workers that open connections as fast as they can for a bounded time,
// timing each, so that Floorgate's connect rate (cmd/devicesim) and its
// peer's (cmd/benchpeer) are measured the same way. Standard library
// only.
package loadloop

import (
	"context"
	"sync"
	"time"
)

// MaxPerWorker bounds the attempts of one worker, whatever the duration.
const MaxPerWorker = 1_000_000

// Result is what the workers saw.
type Result struct {
	Latencies []time.Duration // one per successful attempt
	Errors    int             // failed attempts, those cut by the end of the run aside
	Last      error           // the last counted error
	Elapsed   time.Duration   // from the first attempt until every worker stopped
}

// Run starts workers goroutines, each calling try(ctx, w, i) for
// i = 0, 1, … until ctx ends (at most MaxPerWorker times), and waits
// for them. An attempt's latency is the time try took; done, when try
// returns one, is called after the measurement (the close of what it
// opened). A failure with less than 100 ms left before ctx's deadline (when it
// has one) is not counted: the end of the run cut it. onErr, when not nil, is called
// with each counted error, one call at a time.
func Run(ctx context.Context, workers int, try func(ctx context.Context, w, i int) (done func(), err error), onErr func(error)) Result {
	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
	)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; i < MaxPerWorker && ctx.Err() == nil; i++ {
				t0 := time.Now()
				done, err := try(ctx, w, i)
				if err != nil {
					if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 100*time.Millisecond {
						mu.Lock()
						res.Errors++
						res.Last = err
						if onErr != nil {
							onErr(err)
						}
						mu.Unlock()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				if done != nil {
					done()
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}
