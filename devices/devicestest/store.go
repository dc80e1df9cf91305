package devicestest

import "testing"

// runStore checks the Store contract itself. (Filled in by the store work.)
func runStore(t *testing.T, h Harness) {}
