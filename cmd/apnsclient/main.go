// Command apnsclient sends push notifications through APNs' binary provider
// API or its HTTP/2 provider API, and reads the binary API's feedback
// service.
//
//	apnsclient push     -addr HOST:PORT -ca FILE -cert FILE -key FILE \
//	                    (-token HEX ... | -tokens FILE|-) [-alert TEXT] [-badge N]
//	                    [-sound NAME] [-payload JSON] [-expiry DUR] [-priority 10|5]
//	apnsclient push -http2 -addr HOST:PORT|https://HOST[:PORT]|api_sandbox|api_production [-ca FILE] \
//	                (-p8 FILE -key-id ID -team-id ID | -cert FILE -key FILE | -p12 FILE) \
//	                -topic TOPIC [-push-type alert] [-collapse-id ID] [-priority 10|5|1] \
//	                (-token HEX ... | -tokens FILE|-) [-alert TEXT] [-payload JSON] ...
//	apnsclient feedback -addr HOST:PORT -ca FILE -cert FILE -key FILE
//
// push ends with one JSON line on stdout (over HTTP/2, status is the HTTP
// status, reason Apple's reason string, and Unregistered entries add
// "timestamp"):
//
//	{"sent":N,"accepted":N,"failed":[{"token":HEX,"status":N,"reason":TEXT}],
//	 "retried":N,"uncertain":N,"seconds":F,"rate":F}
//
// feedback prints one "TOKEN_HEX RFC3339_TIME" line per tuple.
//
// Exit status: 0 every notification accepted, 1 some failed, 2 usage or
// connection errors. Run `apnsclient push -h` for every flag; README.md in
// this folder has the details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/apnskit/apnskit/internal/cli"
)

// Exit statuses, a contract of the command.
const (
	exitOK     = 0             // every notification accepted; feedback read
	exitFailed = 1             // some notifications failed
	exitError  = cli.ExitUsage // usage or connection error, or interrupted
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal stops the push and prints its summary; restoring
		// the default lets a second one end the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env holds what run takes from the process besides its arguments, so tests
// can run it in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// run executes one command line (without the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return e.usageFail("", usagef("missing subcommand: push or feedback"))
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "push":
		o, err := parsePush(rest, e.getenv)
		if err != nil {
			return e.usageFail(cmd, err)
		}
		if o.conn.http2 {
			return e.pushHTTP2(ctx, o)
		}
		if o.confirm != confirmBatch {
			return e.pushStream(ctx, o)
		}
		return e.push(ctx, o)
	case "feedback":
		o, err := parseFeedback(rest, e.getenv)
		if err != nil {
			return e.usageFail(cmd, err)
		}
		return e.feedback(ctx, o)
	case "-h", "-help", "--help", "help":
		e.help(rest)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(e.stdout, cli.Version("apnsclient"))
		return exitOK
	default:
		return e.usageFail("", usagef("unknown subcommand %q: want push or feedback", cmd))
	}
}

// usageFail reports a command-line problem in one line on stderr, or the
// help on stdout for -h.
func (e *env) usageFail(cmd string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		e.help([]string{cmd})
		return exitOK
	}
	prefix := "apnsclient"
	if cmd != "" {
		prefix += " " + cmd
	}
	fmt.Fprintf(e.stderr, "%s: %v (see apnsclient %s-h)\n", prefix, err, cmdSpace(cmd))
	return exitError
}

func cmdSpace(cmd string) string {
	if cmd == "" {
		return ""
	}
	return cmd + " "
}

// fail reports an error that is not about the command line in one line on
// stderr and returns exitError.
func (e *env) fail(cmd string, err error) int {
	fmt.Fprintf(e.stderr, "apnsclient %s: %v\n", cmd, err)
	return exitError
}

// help prints the help of a subcommand, or the overview.
func (e *env) help(args []string) {
	w := e.stdout
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "push":
		fmt.Fprint(w, pushHelp)
		fs := pushFlagSet(&pushOptions{})
		fs.SetOutput(w)
		fs.PrintDefaults()
	case "feedback":
		fmt.Fprint(w, feedbackHelp)
		fs := newFlagSet("feedback")
		(&connOptions{}).register(fs)
		fs.SetOutput(w)
		fs.PrintDefaults()
	default:
		fmt.Fprint(w, overviewHelp)
	}
}

const overviewHelp = `apnsclient sends push notifications through APNs' binary provider API or its
HTTP/2 provider API, and reads the binary API's feedback service.

usage:
  apnsclient push     -addr HOST:PORT -ca FILE -cert FILE -key FILE \
                      (-token HEX ... | -tokens FILE|-) [-alert TEXT] [-badge N]
                      [-sound NAME] [-payload JSON] [-expiry DUR] [-priority 10|5]
  apnsclient push -http2 -addr HOST:PORT|https://HOST[:PORT]|api_sandbox|api_production [-ca FILE] \
                  (-p8 FILE -key-id ID -team-id ID | -cert FILE -key FILE | -p12 FILE) \
                  -topic TOPIC [-push-type alert] [-collapse-id ID] [-priority 10|5|1] \
                  (-token HEX ... | -tokens FILE|-) [-alert TEXT] [-payload JSON] ...
  apnsclient feedback -addr HOST:PORT -ca FILE -cert FILE -key FILE
  apnsclient help push|feedback
  apnsclient -version

Exit status: 0 every notification accepted, 1 some failed, 2 usage or
connection errors (or interrupted).
`

const pushHelp = `usage: apnsclient push -addr HOST:PORT [-ca FILE] -cert FILE -key FILE
                       (-token HEX ... | -tokens FILE|-) [-alert TEXT] [-badge N]
                       [-sound NAME] [-payload JSON] [-expiry DUR] [-priority 10|5]

Sends one notification to each token, resends what the gateway discarded
(after an error response, a shutdown or a dropped connection) until nothing
is left to resend, and prints one JSON line on stdout:

  {"sent":N,"accepted":N,"failed":[{"token":"HEX","status":N,"reason":"TEXT"}],
   "retried":N,"uncertain":N,"seconds":F,"rate":F}

  sent       notifications written to the gateway, resends included
  accepted   tokens of the list whose notification the gateway accepted, each
             counted once (the binary API never confirms a success: accepted
             means processed before the known-bad notification that ends each
             connection (-confirm sentinel), or not refused within the error
             window (-confirm error-wait and batch))
  failed     notifications that will not be delivered: the token, the status
             of the gateway's error response and its name (8 "invalid token",
             7 "invalid payload size", ...); status 0 when the command gave
             up without a status (see -max-attempts)
  retried    notifications written again (counted in sent too)
  uncertain  retried notifications whose first copy may have been delivered
             (the connection dropped without a word): possible duplicates
  seconds    wall-clock time from the first connection to the end
  rate       sent / seconds

The line is printed whenever sending began, even after a connection error.
Exit status: 0 every token accepted, 1 some failed, 2 usage error (one line on
stderr, nothing on stdout), connection error or interrupt (error on stderr).

Without -ca the server must have a certificate the system trusts, as
Apple's gateways do; a mock gateway needs -ca with its CA.
-addr names: push_sandbox = gateway.sandbox.push.apple.com:2195,
push_production = gateway.push.apple.com:2195.

With -http2 it sends one request per token to the HTTP/2 provider API
(-addr api_sandbox = api.sandbox.push.apple.com:443, api_production =
api.push.apple.com:443, or HOST:PORT), authenticated by a provider token
signed with -p8 (and -key-id, -team-id) or by a client certificate; -topic
is required. APNs answers every request: in failed, status is the HTTP
status and reason Apple's reason ("BadDeviceToken", ...), and Unregistered
entries add "timestamp" (RFC 3339). Answers to retry (429, 500, 503) are
retried by the client up to -max-attempts requests (default 3 there); a
token left without an answer is failed with status 0 and counted uncertain
when its request was written. The first token goes alone: a connection or
TLS error, or a refusal of the credentials (InvalidProviderToken, ...),
stops the command with exit status 2 after one request at most. -confirm
and -error-wait are binary only; -topic, -push-type, -collapse-id and
-priority 1 are HTTP/2 only.

Flags:
`

const feedbackHelp = `usage: apnsclient feedback -addr HOST:PORT [-ca FILE] -cert FILE -key FILE

Reads the feedback service (which empties it) and prints one line per tuple:

  TOKEN_HEX RFC3339_TIME

Exit status: 0 read to the end, 2 usage or connection error.
-addr names: feedback_sandbox = feedback.sandbox.push.apple.com:2196,
feedback_production = feedback.push.apple.com:2196.

Flags:
`
