// Package memory is the in-process sessions backend: the embedded default
// for one Floorgate instance with no Redis. It implements sessions.Store
// (New) and passes the conformance suite in sessions/sessionstest.
//
// What it owns: live sessions indexed by token hash (SHA-256, never the
// token), id, user, device and warehouse (ids kept sorted for paging); a
// min-heap of deadlines (each session's idle-or-absolute end and its
// warning time) so that Sweep touches only what is due; logout commands
// with a per-device queue; device presence; and the in-process fan-out.
// Everything lives in memory
// and ends with the process: after a restart every token is unknown and
// devices sign in again.
//
// Locks: a Store has one sync.RWMutex over sessions, indexes, deadlines
// and commands. It is global rather than per user because Create must
// look at the device's index and the user's in one step (replace, count,
// evict, insert), and a global lock makes that trivially atomic. Validate
// takes only the read lock unless a touch is due (at most once every
// Options.TouchEvery per session), so concurrent introspection does not
// serialise. Presence has its own mutex, and so has the fan-out's set of
// watchers.
//
// Fan-out: Publish hands each event to every Watch in this process
// through a buffered channel (Options.WatchBuffer, default 4096). A
// watcher that falls that far behind loses events rather than blocking
// Publish (and with it every End); the per-device command queue stays the
// truth, so a device learns of a lost logout from Pending when it next
// connects. Dropped counts what was lost.
//
// Goroutines: none of its own. Watch runs in the caller's goroutine until
// its context ends; Sweep is called by the caller's loop; expired
// commands and presence are cleared lazily by Sweep
// and by the calls that meet them.
//
// It imports the standard library and package sessions only.
package memory
