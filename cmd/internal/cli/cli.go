// Package cli is the main function the programs beside floorgate
// (devicesim, benchbare, benchpeer) share: a context that ends on SIGINT
// or SIGTERM, the dispatch to the program's modes, and exit status 1
// with the error on stderr. Standard library only.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs run with a context that ends on SIGINT or SIGTERM; when run
// fails it prints "name: err" to stderr and exits 1.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// MainModes is Main for a program of modes: it runs the mode os.Args
// names (Run).
func MainModes(name, usage string, modes map[string]Mode) {
	Main(name, func(ctx context.Context) error {
		return Run(ctx, name, usage, modes, os.Args, os.Stdout, os.Stderr)
	})
}

// Mode is one mode of a program: it defines its flags on fs, parses
// args and writes its results to out.
type Mode func(ctx context.Context, fs *flag.FlagSet, args []string, out io.Writer) error

// Run runs the mode args[1] names with the rest of args, its flags on a
// FlagSet of its own that reports to stderr. With no mode or an unknown
// one it prints usage to stderr and fails; "-h", "--help" and "help"
// print usage to stdout.
func Run(ctx context.Context, name, usage string, modes map[string]Mode, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no mode given")
	}
	mode, rest := args[1], args[2:]
	switch mode {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	m, ok := modes[mode]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown mode %q", mode)
	}
	fs := flag.NewFlagSet(name+" "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return m(ctx, fs, rest, stdout)
}
