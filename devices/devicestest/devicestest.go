// Package devicestest is the conformance suite every devices.Store backend
// runs: the same behaviour, written once, checked against PostgreSQL and
// SQLite alike (the pattern of testing/fstest).
package devicestest

import (
	"testing"

	"github.com/floorgate/floorgate/devices"
)

// Harness tells the suite how to reach one backend.
type Harness struct {
	// Open returns a fresh, empty store (its own schema or file), closed
	// and removed at t's cleanup.
	Open func(t *testing.T) devices.Store
	// Tamper tries, straight in the database and bypassing the Store, to
	// UPDATE and then to DELETE the audit row with the given id, and
	// returns the two errors. The suite requires both to fail.
	Tamper func(t *testing.T, s devices.Store, eventID string) (updateErr, deleteErr error)
	// Forge changes the audit row with the given id as someone who can
	// get past the append-only rule would (the tables' owner, disabling
	// their triggers for the change): it sets the row's action to
	// "forged", or removes the row when remove is set, and puts the
	// rule back. The audit chain must notice either.
	Forge func(t *testing.T, s devices.Store, eventID string, remove bool)
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("Store", func(t *testing.T) { runStore(t, h) })
	t.Run("Registry", func(t *testing.T) { runRegistry(t, h) })
}
