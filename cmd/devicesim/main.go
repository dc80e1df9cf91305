// Command devicesim is a fleet of simulated handhelds that speak the
// device protocol of docs/DEVICE-API.md over the network, and nothing else: it never
// imports Floorgate's packages.
//
//	devicesim check -admin-email E -admin-password P
//	    runs a scripted scenario against a running Floorgate and exits 1
//	    at the first protocol violation, printing what it expected and
//	    what it got.
//	devicesim fleet -devices 500 -duration 1m ...
//	    enrolls a fleet once (keeping device tokens in a file), signs a
//	    user in on each, holds the sockets, acknowledges logouts and
//	    reconnects with full-jitter backoff, printing what it saw.
//
// The load modes measure the figures of docs/BENCHMARKS.md (deploy/bench/run.sh
// runs them all): setup, hold, sample, connect, introspect, logins,
// logouts and storm.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/floorgate/floorgate/cmd/internal/cli"
)

func main() {
	cli.Main("devicesim", func(ctx context.Context) error {
		err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
		var v *violation
		if errors.As(err, &v) {
			// A protocol violation is the check's finding: on stdout,
			// as it is, with exit status 1.
			fmt.Fprintln(os.Stdout, err)
			os.Exit(1)
		}
		return err
	})
}

const usage = `usage: devicesim <mode> [flags]

modes:
  check   run the protocol scenario against a running Floorgate; exit 1 at the first violation
  fleet   enroll, sign in and hold a fleet of simulated handhelds

load modes (docs/BENCHMARKS.md, deploy/bench/run.sh):
  setup       create warehouses, users (CSV import) and enrolled devices; write a devices file
  hold        hold a slice of those devices' sockets over several gateways, logging events
  sample      print a server's memory (VmRSS, Go heap) per socket
  connect     authenticated connects per second (or bare upgrades with -bare)
  introspect  POST /v1/introspect per second at a concurrency
  logins      login storm at concurrencies 2..64, then a burst of concurrent logins
  logouts     forced logouts through the admin API, admin call to frame on the device
  storm       kill one of several instances and measure the reconnection

Run "devicesim <mode> -h" for the flags of a mode.
`

// common are the flags every mode takes.
type common struct {
	gateway, admin            string
	adminEmail, adminPassword string
}

func (c *common) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.gateway, "gateway", envOr(getenv, "DEVICESIM_GATEWAY", "http://127.0.0.1:8080"), "gateway base URL (env DEVICESIM_GATEWAY)")
	fs.StringVar(&c.admin, "admin", envOr(getenv, "DEVICESIM_ADMIN", "http://127.0.0.1:8081"), "admin API base URL (env DEVICESIM_ADMIN)")
	fs.StringVar(&c.adminEmail, "admin-email", envOr(getenv, "FLOORGATE_ADMIN_EMAIL", "admin@floorgate.local"), "admin email, to set scenarios up (env FLOORGATE_ADMIN_EMAIL)")
	fs.StringVar(&c.adminPassword, "admin-password", getenv("FLOORGATE_ADMIN_PASSWORD"), "admin password (env FLOORGATE_ADMIN_PASSWORD)")
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no mode given")
	}
	mode, rest := args[1], args[2:]
	fs := flag.NewFlagSet("devicesim "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, getenv)
	switch mode {
	case "check":
		skipSlow := fs.Bool("skip-slow", false, "skip the step that waits 10 s for the authentication timeout")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if c.adminPassword == "" {
			return errors.New("check needs -admin-password (or FLOORGATE_ADMIN_PASSWORD): the one-time password Floorgate printed")
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		client := newClient(c.gateway, c.admin, 16)
		return runCheck(ctx, client, checkConfig{AdminEmail: c.adminEmail, AdminPassword: c.adminPassword, SkipSlow: *skipSlow}, stdout)
	case "fleet":
		var f fleetConfig
		f.register(fs)
		if err := fs.Parse(rest); err != nil {
			return err
		}
		client := newClient(c.gateway, c.admin, f.concurrency)
		return runFleet(ctx, client, c, f, stdout)
	case "setup":
		var sc setupConfig
		sc.register(fs)
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return runSetup(ctx, newClient(c.gateway, c.admin, sc.concurrency+4), c, sc, stdout)
	case "hold":
		var h holdConfig
		h.register(fs)
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return runHold(ctx, c, h, stdout)
	case "sample":
		return runSample(ctx, fs, rest, stdout)
	case "connect":
		return runConnect(ctx, &c, fs, rest, stdout)
	case "introspect":
		return runIntrospect(ctx, &c, fs, rest, stdout)
	case "logins":
		return runLogins(ctx, &c, fs, rest, stdout)
	case "logouts":
		return runLogouts(ctx, &c, fs, rest, stdout)
	case "storm":
		return runStorm(ctx, &c, fs, rest, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown mode %q", mode)
	}
}
