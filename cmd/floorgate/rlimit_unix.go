//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft open-files limit to the hard one and
// returns it: the caps are sized below it (limits.size). The Go runtime
// raises it already on most systems; doing it here too makes sure, and
// reads the number the caps need.
func raiseFileLimit() (int, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("read the open-files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	if lim.Cur > maxAutoConns*4 {
		// Unlimited, or as good as: the caps stay bounded anyway.
		return maxAutoConns * 4, nil
	}
	return int(lim.Cur), nil
}
