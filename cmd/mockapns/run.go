package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/apnskit/apnskit/certs"
	"github.com/apnskit/apnskit/internal/cli"
	"github.com/apnskit/apnskit/mockapns"
	"github.com/apnskit/apnskit/wire"
)

// Bounds of the server's lifecycle.
const (
	// shutdownGrace bounds the graceful shutdown: open gateway connections
	// get this long to finish before they are cut.
	shutdownGrace = 5 * time.Second
	// readHeaderTimeout bounds how long an admin client may take to send
	// its request headers.
	readHeaderTimeout = 10 * time.Second
)

// options are the parsed flags.
type options struct {
	gateway     string
	feedback    string
	admin       string
	certs       string
	faults      []mockapns.Fault
	journalSize int
	seed        int64
	validate    bool
	limits      wire.Limits
	log         cli.LogFlags
	version     bool

	h2 http2Options // flags_http2.go

	conns limitOptions // flags_limits.go
	adm   adminOptions // flags_admin.go

	parent parentOptions // parent.go

	journalFile journalFileOptions // flags_journal.go
}

// errHelp means -h was asked for and the usage printed.
var errHelp = errors.New("help requested")

// newFlagSet defines the flags (their names and defaults are a contract,
// README.md in this folder) into o.
func newFlagSet(o *options) *flag.FlagSet {
	fs := cli.NewFlagSet("mockapns") // errors are reported as one line by report
	fs.StringVar(&o.gateway, "gateway", "127.0.0.1:2195", "binary gateway `address` (:0 picks a free port)")
	fs.StringVar(&o.feedback, "feedback", "127.0.0.1:2196", "feedback service `address`")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:8195", "admin HTTP API `address`")
	fs.StringVar(&o.certs, "certs", "./mockapns-certs", "PKI `folder`: reused if present, generated if not")
	fs.Func("fault", "a fault in the `JSON` form of POST /api/v1/faults, e.g. {\"action\":\"reject\",\"status\":8,\"nth\":5} (repeatable)",
		func(s string) error {
			f, err := mockapns.ParseFault([]byte(s))
			if err != nil {
				return faultFlagError(err)
			}
			o.faults = append(o.faults, f)
			return nil
		})
	intVar(fs, &o.journalSize, "journal-size", mockapns.DefaultJournalSize, "journal `entries` kept (oldest dropped first; counters stay exact)",
		"want a whole number of entries, at least 1")
	intVar(fs, &o.seed, "seed", 0, "`seed` of the random source behind probability faults (0: time-based; the seed in use is logged at start)",
		"want a whole number (a 64-bit integer; 0 for a time-based seed)")
	o.log.Register(fs)
	fs.BoolVar(&o.validate, "validate", true, "apply Apple's checks (token length, payload size, priority); -validate=false accepts anything that parses")
	intVar(fs, &o.limits.TokenLength, "token-length", wire.DefaultTokenLength, "the only device token `length` accepted, in bytes (-1: any length from 1 to 100)",
		fmt.Sprintf("want a length in bytes, 1 to %d, or -1 for any", wire.MaxTokenLength))
	intVar(fs, &o.limits.MaxPayload, "max-payload", wire.DefaultMaxPayload, "largest payload accepted, in `bytes` (256 before iOS 8)",
		"want a size in bytes, 1 to 65535")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")

	defineHTTP2Flags(fs, &o.h2)
	defineLimitFlags(fs, &o.conns)
	defineAdminFlags(fs, &o.adm)
	defineParentFlags(fs, &o.parent)
	defineJournalFileFlags(fs, &o.journalFile)
	return fs
}

// parseFlags reads the command line. Bad input is a *cli.UsageError; -h prints
// the usage on stdout and returns errHelp.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stdout)
			return nil, errHelp
		}
		return nil, cli.Usage(err)
	}
	if fs.NArg() > 0 {
		return nil, cli.Usagef("unexpected argument %q (mockapns takes flags only)", fs.Arg(0))
	}
	for _, a := range []struct{ flag, addr string }{{"gateway", o.gateway}, {"feedback", o.feedback}, {"admin", o.admin}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return nil, cli.Usagef("invalid value %q for flag -%s: want HOST:PORT", a.addr, a.flag)
		}
	}
	if o.certs == "" {
		return nil, cli.Usagef("invalid value \"\" for flag -certs: want a folder")
	}
	if o.journalSize < 1 {
		return nil, cli.Usagef("invalid value %d for flag -journal-size: want at least 1", o.journalSize)
	}
	if o.limits.TokenLength == 0 || o.limits.TokenLength < -1 || o.limits.TokenLength > wire.MaxTokenLength {
		return nil, cli.Usagef("invalid value %d for flag -token-length: want 1 to %d, or -1 for any", o.limits.TokenLength, wire.MaxTokenLength)
	}
	if o.limits.MaxPayload < 1 || o.limits.MaxPayload > math.MaxUint16 {
		return nil, cli.Usagef("invalid value %d for flag -max-payload: want 1 to 65535", o.limits.MaxPayload)
	}

	if err := o.h2.check(); err != nil {
		return nil, err
	}
	if err := o.conns.check(); err != nil {
		return nil, err
	}
	if err := o.adm.check(osGetenv); err != nil {
		return nil, err
	}
	return o, nil
}

func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: mockapns [flags]\n\n"+
		"Serves a mock of Apple's binary push gateway and feedback service, its\n"+
		"HTTP/2 provider API and an admin HTTP API, until SIGINT or SIGTERM. Prints\n"+
		"one line when ready:\n"+
		"  mockapns ready gateway=HOST:PORT feedback=HOST:PORT http2=HOST:PORT admin=HOST:PORT certs=DIR\n\n"+
		"Flags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// run starts the mock as the command line says, prints the ready line on
// stdout, serves until ctx ends, then shuts down gracefully. A bad command
// line is a *cli.UsageError; a server that cannot start, another error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.version {
		_, err := fmt.Fprintln(stdout, cli.Version("mockapns"))
		return err
	}
	log := o.log.Logger(stderr)
	ctx, stopWatch := o.parent.watch(ctx, log) // -exit-with-parent
	defer stopWatch()

	dir, pki, err := loadPKI(o.certs, log)
	if err != nil {
		return err
	}
	cfg := mockapns.Config{
		GatewayAddr:  o.gateway,
		FeedbackAddr: o.feedback,
		PKI:          pki,
		JournalSize:  o.journalSize,
		Seed:         o.seed,
		Limits:       o.limits,
		NoValidation: !o.validate,
		Faults:       o.faults,
		Logger:       log,
	}
	o.h2.config(&cfg)
	o.conns.config(&cfg)
	closeJournal, err := o.journalFile.open(&cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := closeJournal(); err != nil {
			log.Error("closing the journal file failed", "error", err)
		}
	}()
	o.adm.config(&cfg, o.admin)
	srv, err := mockapns.Start(cfg)
	if err != nil {
		return err // names the service and the address
	}
	defer srv.Close()

	hs, adminAddr, served, err := serveAdmin(o.admin, &o.adm, srv, log)
	if err != nil {
		return err
	}
	o.adm.warn(adminAddr, log)

	log.Info("mockapns ready", "gateway", srv.GatewayAddr(), "feedback", srv.FeedbackAddr(),
		"http2", srv.HTTP2Addr(), "admin", adminAddr, "certs", dir, "seed", srv.Seed(),
		"faults", len(o.faults), "journal_size", o.journalSize,
		"environment", environmentName(srv.Environment()), "auth_keys", len(srv.AuthKeys()), "jwt_verify", o.h2.jwtVerify)
	if _, err := fmt.Fprintf(stdout, "mockapns ready gateway=%s feedback=%s http2=%s admin=%s certs=%s\n",
		srv.GatewayAddr(), srv.FeedbackAddr(), srv.HTTP2Addr(), adminAddr, dir); err != nil {
		log.Warn("cannot write the ready line", "error", err)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace)
	case err := <-served: // the admin listener failed
		runErr = fmt.Errorf("admin: %w", err)
		log.Error("admin API stopped", "error", err)
	}
	shutdown(srv, hs, log)
	if runErr == nil {
		log.Info("mockapns stopped")
	}
	return runErr
}

// loadPKI loads the PKI folder named by -certs, or generates one there,
// and returns its absolute path.
func loadPKI(certsDir string, log *slog.Logger) (string, *certs.PKI, error) {
	dir, err := filepath.Abs(certsDir)
	if err != nil {
		return "", nil, fmt.Errorf("PKI folder %s: %w", certsDir, err)
	}
	pki, created, err := certs.LoadOrCreate(dir, certs.Options{})
	if errors.Is(err, certs.ErrIncomplete) { // the error names the folder and what it lacks
		return "", nil, fmt.Errorf("%w (remove the folder to have a new PKI generated there, or choose another with -certs)", err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("PKI folder %s: %w", dir, err)
	}
	if created {
		log.Info("PKI generated", "dir", dir)
	} else {
		log.Info("PKI loaded", "dir", dir)
	}
	return dir, pki, nil
}

// serveAdmin listens on addr and serves the admin API there. served
// receives the error that ends serving.
func serveAdmin(addr string, o *adminOptions, srv *mockapns.Server, log *slog.Logger) (hs *http.Server, listening string, served <-chan error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", nil, fmt.Errorf("admin: %w", err)
	}
	hs = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: o.headerTimeout(),
		ReadTimeout:       o.readTimeout,    // a body that stalls
		WriteTimeout:      o.writeTimeout(), // beyond the longest ?wait
		IdleTimeout:       o.idleTimeout,    // keep-alive connections left idle
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ch := make(chan error, 1)
	go func() { ch <- hs.Serve(ln) }()
	return hs, ln.Addr().String(), ch, nil
}

// shutdown stops the services within shutdownGrace. Gateway, feedback and
// HTTP/2 first: their listeners close, open connections get the grace
// period to finish, then the server closes, which also ends admin requests
// waiting for notifications. The admin API keeps answering meanwhile, then
// shuts down in turn.
func shutdown(srv *mockapns.Server, hs *http.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("connections cut at the end of the grace period", "error", err)
	}
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("admin requests cut at the end of the grace period", "error", err)
		_ = hs.Close()
	}
}
