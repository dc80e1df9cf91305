package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/signin"
)

// adminCommand runs `floorgate admin SUBCOMMAND [flags] ARGS`. The one
// subcommand, reset-password EMAIL, recovers a manager account (the
// only admin's, typically) with the same flags and environment as the
// server: it opens the same registry, sets a new generated password,
// printed once on stdout, activates the account, ends its admin
// sessions, lifts its sign-in lock when the session store answers, and
// is audited with actor system:cli.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := parseSubcommand(args, "admin", "reset-password", "EMAIL", 1, getenv, stderr)
	if err != nil || c == nil {
		return err
	}
	email := rest[0]
	reg, log, closeStore, err := openCLIRegistry(ctx, *c, stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	m, password, err := reg.ResetManagerPassword(ctx, devices.ActorCLI, email)
	if errors.Is(err, devices.ErrNotFound) {
		return fmt.Errorf("no manager account has the email %q", email)
	}
	if err != nil {
		return err
	}
	unlocked := "yes"
	if c.RedisURL == "" {
		// In-process sessions belong to the running server: its lock, if
		// any, ends when its time passes or the server restarts.
		unlocked = "not from here (sessions are in process: a lock ends when its time passes or the server restarts)"
	} else if sess, err := openSessions(ctx, *c, newStoreGuards(c.StoreTimeout, log), log); err != nil {
		unlocked = "no (the session store does not answer; an admin can unlock the account later)"
	} else {
		uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		si, err := signin.New(signin.Config{Registry: reg, Sessions: sess.Store, Throttle: sess.Throttle, Logger: log})
		if err == nil {
			err = si.UnlockManager(uctx, m)
		}
		if err != nil {
			unlocked = "no (the session store does not answer; an admin can unlock the account later)"
		}
		cancel()
		if err := sess.close(); err != nil {
			log.Warn("close sessions", "err", err)
		}
	}
	fmt.Fprintf(stdout, `
================================================================
Floorgate reset the password of %s.

  email:     %s
  password:  %s
  sign-in lock lifted: %s

The password is shown this once only. Sign in and change it.
Its earlier admin sessions are ended. The reset is in the audit log
(actor %s).
================================================================

`, m.Email, m.Email, password, unlocked, devices.ActorCLI)
	return nil
}

// parseSubcommand parses `floorgate GROUP NAME [flags] OPERANDS` (args
// as run has them) with the server's flags, and returns the config and
// the operands; a nil config with a nil error is -h (usage printed).
func parseSubcommand(args []string, group, name, operandsUsage string, operands int, getenv func(string) string, stderr io.Writer) (*config, []string, error) {
	if len(args) < 3 || args[2] != name {
		fmt.Fprintln(stderr, strings.TrimSpace("usage: floorgate "+group+" "+name+" [flags] "+operandsUsage))
		return nil, nil, fmt.Errorf("%s: the one subcommand is %s", group, name)
	}
	c, rest, err := parseCommand(append([]string{args[0] + " " + group + " " + name}, args[3:]...), getenv, stderr, operands)
	if errors.Is(err, flag.ErrHelp) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &c, rest, nil
}

// openCLIRegistry opens the registry as the server would (same store,
// same pepper), for a subcommand; logs go to stderr. closeStore closes
// the store.
func openCLIRegistry(ctx context.Context, c config, stderr io.Writer) (reg *devices.Registry, log *slog.Logger, closeStore func(), err error) {
	log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	routeLibraryLogs(log)
	regStore, err := openRegistryStore(ctx, c, newStoreGuards(c.StoreTimeout, log), log)
	if err != nil {
		return nil, nil, nil, err
	}
	pepper, err := loadPepper(ctx, c, regStore, log)
	if err == nil {
		reg, err = devices.NewRegistry(regStore, devices.Options{
			Pepper: pepper, Now: time.Now, Logger: log,
			Hash: devices.HashParams{MemoryKiB: c.HashMemoryKiB, Time: c.HashTime, Threads: 1},
		})
		if err != nil {
			err = fmt.Errorf("registry: %w", err)
		}
	}
	if err != nil {
		regStore.Close()
		return nil, nil, nil, err
	}
	return reg, log, func() { regStore.Close() }, nil
}
