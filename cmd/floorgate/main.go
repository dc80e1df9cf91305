// Command floorgate runs Floorgate: the device API and websockets of the
// gateway on one listener (-addr), the admin API on another
// (-admin-addr), /healthz and /readyz on both, and /metrics on the admin
// listener (and the device listener with -device-metrics). Both
// listeners cap their connections per client address and in all, below
// the open-files limit (limits.go).
//
// With no configuration it keeps its registry in a SQLite file and its
// sessions in process, under -data-dir; -postgres-url and -redis-url
// switch to the production backends. Every flag defaults from a
// FLOORGATE_* environment variable: `floorgate -h` lists them. The
// admin listener also serves the admin console at "/".
//
// `floorgate version` (or -version) prints the module version and the VCS
// commit it was built from; /metrics has them as floorgate_build_info.
//
// `floorgate admin reset-password [flags] EMAIL`, with the server's
// flags and environment, gives a manager account (the only admin's,
// typically) a new generated password, printed once.
//
// `floorgate audit verify [flags]`, with the server's flags and
// environment, seals the audit rows written since the last seal, walks
// the audit chain and prints the rows that hold and the head, or the
// first row changed or removed (then it exits 1).
//
// This package only wires: it reads flags, opens the stores, builds the
// gateway, the admin API and the housekeeping, starts them and stops
// them. It owns the goroutines of the two HTTP servers and of
// gateway.Server.Run, admin.API.Run and housekeeping.Keeper.Run, and
// waits for all of them before it returns.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "floorgate:", err)
		stop()
		os.Exit(1)
	}
}
