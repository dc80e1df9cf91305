// Package devices owns the registry: warehouses, manager accounts and
// their roles, mobile device users, devices, service keys, organisation
// settings and the append-only audit log, with the rules on them
// (username normalisation, PIN and password policy, hashing with a pepper,
// the user lifecycle).
//
// Registry applies the rules; Store only stores. The backends live in
// devices/postgres and devices/sqlite and both pass the conformance suite
// in devices/devicestest.
//
// It imports the standard library, golang.org/x/crypto and golang.org/x/text
// only: never sessions, gateway, admin or a database driver. It starts no
// goroutines of its own; RunSeenFlusher is a blocking method its caller
// runs and stops.
package devices
