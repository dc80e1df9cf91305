package sessionstest

import "testing"

// runStore checks the Store contract. (Filled in by the sessions work.)
func runStore(t *testing.T, h Harness) {}
