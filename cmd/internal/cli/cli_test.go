package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestRun: the mode args[1] names runs with the rest of the arguments
// and a FlagSet of its own; help prints the usage on stdout; no mode or
// an unknown one fails with the usage on stderr.
func TestRun(t *testing.T) {
	const usage = "usage: prog <mode>\n"
	var gotArgs []string
	var gotName string
	modes := map[string]Mode{"hold": func(_ context.Context, fs *flag.FlagSet, args []string, out io.Writer) error {
		n := fs.Int("n", 0, "")
		if err := fs.Parse(args); err != nil {
			return err
		}
		gotName, gotArgs = fs.Name(), fs.Args()
		_, err := io.WriteString(out, strings.Repeat("x", *n))
		return err
	}}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), "prog", usage, modes, []string{"prog", "hold", "-n", "2", "rest"}, &stdout, &stderr); err != nil {
		t.Fatalf("Run(hold) = %v", err)
	}
	if gotName != "prog hold" || len(gotArgs) != 1 || gotArgs[0] != "rest" || stdout.String() != "xx" {
		t.Errorf("hold ran as %q with %q, wrote %q; want prog hold, [rest], xx", gotName, gotArgs, stdout.String())
	}
	for _, args := range [][]string{{"prog"}, {"prog", "nope"}} {
		stdout.Reset()
		stderr.Reset()
		if err := Run(context.Background(), "prog", usage, modes, args, &stdout, &stderr); err == nil {
			t.Errorf("Run(%q) = nil; want an error", args)
		}
		if stderr.String() != usage || stdout.Len() != 0 {
			t.Errorf("Run(%q) wrote %q to stdout, %q to stderr; want the usage on stderr", args, stdout.String(), stderr.String())
		}
	}
	stdout.Reset()
	stderr.Reset()
	if err := Run(context.Background(), "prog", usage, modes, []string{"prog", "help"}, &stdout, &stderr); err != nil || stdout.String() != usage {
		t.Errorf("Run(help) = %v, stdout %q; want nil and the usage", err, stdout.String())
	}
}
