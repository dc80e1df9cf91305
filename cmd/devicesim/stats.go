package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// rate is n per second over d.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// parseLevels reads "2,4,8" into its numbers, each at least 1.
func parseLevels(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100000 {
			return nil, fmt.Errorf("concurrency %q: want positive integers, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}
