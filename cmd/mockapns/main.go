// Command mockapns runs the apnskit mock of Apple's binary push gateway and
// feedback service and of its HTTP/2 provider API, with an admin HTTP API,
// for integration environments.
//
// With no flags it serves on loopback (gateway 127.0.0.1:2195, feedback
// 127.0.0.1:2196, HTTP/2 127.0.0.1:2197, admin 127.0.0.1:8195) with the PKI
// in ./mockapns-certs, generated on first use and reused afterwards; the
// folder's provider-token key (authkey.p8, authkey.json) is trusted. When
// every listener is up it prints one line to stdout:
//
//	mockapns ready gateway=HOST:PORT feedback=HOST:PORT http2=HOST:PORT admin=HOST:PORT certs=DIR
//
// and serves until SIGINT or SIGTERM, then shuts down gracefully. Logs go
// to stderr.
//
// Flags:
//
//	-gateway ADDR        binary gateway address (:0 picks a free port)
//	-feedback ADDR       feedback service address
//	-admin ADDR          admin HTTP API address
//	-certs DIR           PKI folder: ca.pem, ca-key.pem, server.pem,
//	                     server-key.pem, client.pem, client-key.pem,
//	                     authkey.p8, authkey.json
//	-fault JSON          a fault, as POST /api/v1/faults takes it (repeatable)
//	-journal-size N      journal entries kept (default 100000)
//	-seed N              seed of probability faults (default: time-based, logged)
//	-log-level LEVEL     debug, info, warn or error (default info)
//	-log-format FORMAT   text or json (default text)
//	-version             print the version and exit
//	-exit-with-parent    also shut down when the parent process exits
//
// Flags of the HTTP/2 provider API:
//
//	-http2 ADDR          HTTP/2 provider API address (TLS, ALPN h2)
//	-environment ENV     sandbox or production (default sandbox)
//	-auth-key KEYID:TEAMID:FILE
//	                     a key trusted for provider tokens, FILE a .p8
//	                     private key or a PEM public key (repeatable)
//	-jwt-verify BOOL     verify provider tokens' signatures (default true)
//
// Exit status: 0 after a clean shutdown (or -h, -version), 1 when the
// server cannot start (a port in use, an unreadable PKI folder), 2 for a
// bad command line.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/apnskit/apnskit/internal/cli"
	"github.com/apnskit/apnskit/mockapns"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1             // the server could not start or failed
	exitUsage = cli.ExitUsage // bad flags or arguments
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts the graceful shutdown; restoring the default
	// handling then lets a second one end the process at once.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report writes err, if any, as exactly one line on stderr and returns the
// exit status for it.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	msg := strings.Join(strings.Fields(err.Error()), " ") // one line, whatever the error holds
	msg = strings.TrimPrefix(msg, "mockapns: ")
	if errors.Is(err, cli.ErrUsage) || errors.Is(err, mockapns.ErrBadConfig) {
		fmt.Fprintf(stderr, "mockapns: %s (run mockapns -h for usage)\n", msg)
		return exitUsage
	}
	fmt.Fprintf(stderr, "mockapns: %s\n", msg)
	return exitError
}
