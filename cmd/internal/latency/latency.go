// Package latency is the arithmetic the benchmark programs share:
// nearest-rank percentiles and one-line summaries of latency samples.
// It is used by cmd/devicesim and cmd/benchbare, so that a figure and its
// bare comparison are computed the same way. Standard library only.
package latency

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Percentile is the nearest-rank percentile p (0 < p <= 100) of sorted
// durations: the smallest value with at least p% of the values at or
// below it. It is 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// Summary is "n=… p50=… p99=… max=…" of a sample of latencies (in any
// order; d is not changed).
func Summary(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", len(s), MS(Percentile(s, 50)), MS(Percentile(s, 99)), MS(s[len(s)-1]))
}

// MS formats a duration in milliseconds with three decimals.
func MS(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }
