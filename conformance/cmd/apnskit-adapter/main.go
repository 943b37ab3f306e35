// Command apnskit-adapter is the reference external adapter of the
// conformance kit: it speaks the line protocol of conformance/README.md on
// stdin and stdout and drives apnskit's own client library. The conformance
// tests build it and run every scenario through it, which proves the
// external path; an adapter for a client in another language does the same
// job in that language.
//
// Usage:
//
//	apnskit-adapter [-max-attempts N] [-pool-size N] [-confirm-by-close]
//
// It exits after answering a close request or at the end of stdin; errors
// go to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/apnskit/apnskit/conformance"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "apnskit-adapter:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apnskit-adapter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts conformance.LocalOptions
	fs.IntVar(&opts.MaxAttempts, "max-attempts", conformance.DefaultMaxAttempts, "give up on a send's retries after `N` attempts in a row that settle nothing")
	fs.IntVar(&opts.PoolSize, "pool-size", 0, "connections per gateway address and certificate (0: the client's default)")
	fs.BoolVar(&opts.ConfirmByClose, "confirm-by-close", false, "confirm every batch by closing its connection (no pooling) instead of waiting for late errors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return conformance.Serve(ctx, "apnskit", stdin, stdout, conformance.NewLocal(opts))
}
