// Package sessionstest is the conformance suite every sessions.Store
// backend runs: written once, checked against Redis
// (standalone and Cluster) and the in-process store alike.
package sessionstest

import (
	"testing"
	"time"

	"github.com/floorgate/floorgate/sessions"
)

// Harness tells the suite how to reach one backend.
type Harness struct {
	// New returns a Store over a fresh, empty namespace that reads time
	// from clock; it is closed and its keys removed at t's cleanup.
	New func(t *testing.T, clock func() time.Time) sessions.Store
	// Peers returns n Stores that share one fresh namespace, as n
	// instances would. Nil for a backend that serves one instance only.
	Peers func(t *testing.T, clock func() time.Time, n int) []sessions.Store
	// Down returns a Store whose server does not answer (nothing listens
	// at its address), for the error contract. Nil for an in-process
	// backend, which has no server to lose.
	Down func(t *testing.T) sessions.Store
	// RaceRounds is how many rounds of 50 concurrent creates for one user
	// the suite runs (0 means 3). Shared backends raise it.
	RaceRounds int
	// Barrier, when set, publishes ev so that a watcher receives it after
	// every event published before the call, and returns how many copies
	// of it watchers will receive. Nil publishes it once with
	// Store.Publish, which is enough where every event leaves one server
	// in order. On Redis Cluster an event leaves the primary that ran the
	// command (a script's own PUBLISH, the primary owning its keys), and
	// events from two primaries may arrive in either order: the barrier
	// goes out from every primary.
	Barrier func(t *testing.T, st sessions.Store, ev sessions.Event) int
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("Store", func(t *testing.T) { runStore(t, h) })
}
