package sessionstest

import "testing"

// runThrottle checks the Throttle contract. (Filled in by the sessions work.)
func runThrottle(t *testing.T, h Harness) {}
