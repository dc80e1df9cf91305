package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// errAuditBroken is what `floorgate audit verify` returns when the chain
// does not hold (the process exits 1).
var errAuditBroken = errors.New("the audit chain does not hold")

// auditCommand runs `floorgate audit verify [flags]`, with the server's
// flags and environment: it opens the same registry, seals the audit
// rows written since the last seal (so that every row so far is
// covered), walks the audit chain and prints what it found: the rows
// checked and the head to keep elsewhere, or the first row changed or
// removed. It returns errAuditBroken when the chain does not hold.
func auditCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, _, err := parseSubcommand(args, "audit", "verify", "", 0, getenv, stderr)
	if err != nil || c == nil {
		return err
	}
	reg, _, closeStore, err := openCLIRegistry(ctx, *c, stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	// Seal until nothing is pending, within bounds: a busy server keeps
	// writing, and its own sealer covers what comes after.
	for range 100 {
		n, err := reg.SealAudit(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	v, err := reg.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if v.Break != nil {
		fmt.Fprintf(stdout, "audit chain BROKEN at row %d: %s (%s)\n", v.Break.Seq, v.Break.Reason, v.Break.Detail)
		if v.Break.EventID != "" {
			fmt.Fprintf(stdout, "  event: %s\n", v.Break.EventID)
		}
		fmt.Fprintf(stdout, "  rows before it that hold: %d\n", v.Rows)
		return errAuditBroken
	}
	fmt.Fprintf(stdout, "audit chain holds: %d rows\n  head: %d %s\n  not sealed yet: %d\n", v.Rows, v.HeadSeq, v.HeadHash, v.Pending)
	return nil
}
