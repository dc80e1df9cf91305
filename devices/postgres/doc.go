// Package postgres is the PostgreSQL devices.Store: the registry of
// warehouses, managers and their roles, mobile users, devices, service
// keys, manager tokens, organisation settings and the audit log, for
// production and for any number of Floorgate instances sharing one
// database. It passes the same conformance suite (devices/devicestest) as
// the embedded SQLite store; the rules live in devices.Registry, and this
// package only stores.
//
// # Connecting
//
// Open takes a PostgreSQL URL or key=value DSN as pgx accepts it, for
// example
//
//	postgres://floorgate:secret@db.internal:5432/floorgate?sslmode=verify-full
//
// Pool settings can ride on the URL (pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, ...; see pgxpool.ParseConfig) or come in
// Options.MaxConns; connect_timeout defaults to 10 seconds. Behind PgBouncer in transaction mode add
// default_query_exec_mode=exec, since prepared statements do not survive
// there. Options.Schema puts one schema on every connection's search_path
// (through the pool's runtime parameters); the tests use it to give each
// test a schema of its own, and an operator can use it to keep the
// registry out of "public". The schema must exist.
//
// # Migrations
//
// The schema is versioned SQL embedded in the binary (migrations/NNNN_name.sql)
// and applied by Open: in one transaction that first takes a
// pg_advisory_xact_lock on a fixed key, so that instances starting
// together apply each migration exactly once; the versions applied are
// recorded in schema_migrations. Migrations are only ever added, never
// edited, and stay additive so that the previous release keeps working
// on the new schema during a rolling upgrade (a database with versions
// newer than the binary is accepted).
//
// # Behaviour
//
// Every change and its audit event commit in one transaction. Update
// methods lock the row (SELECT ... FOR UPDATE), call the caller's
// function, write the row back and append the event; an error from the
// function rolls everything back and is returned as it is. Enrollments of
// one serial are serialised by an advisory lock so that a re-enrollment
// always replaces the active record. The audit_events table refuses
// UPDATE, DELETE and TRUNCATE by trigger. Times are stored as timestamptz
// in UTC, truncated to the microsecond, and come back in UTC.
//
// A statement that relies on a partial index writes the index's
// predicate in its text (status = 'active', never status = $n): pgx
// prepares every statement, a pooled connection soon runs its generic
// plan, and a generic plan cannot prove a partial index's predicate
// from a parameter, so it scans the table instead
// (TestEnrollmentGenericPlans).
//
// Driver errors are translated at the edge and never leak: no row is
// devices.ErrNotFound, a unique violation devices.ErrExists, a reference
// to a missing warehouse or manager devices.ErrNotFound, and a database
// that cannot be reached devices.ErrUnavailable, on which callers fail
// closed.
//
// It imports devices, pgx (with its pool, puddle) and the standard
// library; never sessions, gateway or admin. It starts no goroutines of
// its own beyond pgxpool's connection maintenance, which Close stops.
package postgres
