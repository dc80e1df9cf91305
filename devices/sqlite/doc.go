// Package sqlite is the embedded devices.Store: the whole registry in one
// SQLite file in the data directory, through modernc.org/sqlite (pure Go,
// no cgo). It is the default when no PostgreSQL URL is configured, and it
// passes the same conformance suite (devices/devicestest) as
// devices/postgres.
//
// It owns the file's schema: the versioned migrations embedded from
// migrations/*.sql, applied by Open in one transaction and recorded in
// schema_migrations, so that reopening a file applies only what is new.
// It imports the standard library, devices and the SQLite driver only.
//
// # Connections
//
// SQLite allows one writer at a time. A Store holds two *sql.DB on the
// same file:
//
//   - the writer, limited to one connection, opens every transaction with
//     BEGIN IMMEDIATE. Concurrent writers in this process therefore queue
//     in database/sql for that connection instead of failing with
//     SQLITE_BUSY, and the write lock is taken before the first read, so
//     an Update's read-modify-write cannot interleave with another's
//     (another process on the same file waits up to the busy timeout);
//   - the reader, a small pool opened with query_only, serves every
//     lookup and list. In WAL mode readers never block the writer nor
//     wait for it, and each sees the last committed state.
//
// Every connection sets busy_timeout and foreign_keys; the file is in WAL
// mode with synchronous=NORMAL (a committed transaction survives a crash
// of the process; a power loss may lose the last ones, never corrupt).
//
// An Update method's fn runs inside the write transaction, holding the
// only writer connection: it must not call the Store's write methods
// (that would wait forever); reads are fine.
//
// Times are stored as INTEGER unix nanoseconds in UTC (the zero time as 0)
// and come back in UTC. JSON columns hold settings, warehouse overrides
// and event details. Driver errors never leave the package: no row
// becomes devices.ErrNotFound, a unique constraint devices.ErrExists, a
// missing referenced row (foreign key) devices.ErrNotFound, a busy or
// unreadable database devices.ErrUnavailable; anything else is an error
// carrying the driver's message only.
//
// The package starts no goroutines.
package sqlite
