package main

import (
	"flag"
	"time"

	"github.com/apnskit/apnskit/internal/cli"
	"github.com/apnskit/apnskit/mockapns"
)

// limitOptions are the flags of the connection limits and the client
// certificate checks.
type limitOptions struct {
	idle, frame time.Duration
	maxConns    int
	strictCerts bool
}

// defineLimitFlags defines the connection limit flags (a contract) into o.
func defineLimitFlags(fs *flag.FlagSet, o *limitOptions) {
	fs.DurationVar(&o.idle, "idle-timeout", mockapns.DefaultIdleTimeout,
		"close gateway connections that send nothing, and HTTP/2 connections with no stream open (GOAWAY IdleTimeout), after this `duration` (0: never, as Apple)")
	fs.DurationVar(&o.frame, "frame-timeout", mockapns.DefaultFrameTimeout,
		"close a gateway or HTTP/2 connection whose frame has begun but not arrived whole after this `duration` (0: never)")
	fs.IntVar(&o.maxConns, "max-conns", mockapns.DefaultMaxConns,
		"most gateway, feedback and HTTP/2 connections open at once; more are closed at accept and counted in connections_refused (0: no limit but the file descriptors')")
	fs.BoolVar(&o.strictCerts, "strict-certs", false,
		"refuse, in the gateway's and feedback service's TLS handshake, client certificates without Apple's push extension of -environment")
}

// check refuses negative values.
func (o *limitOptions) check() error {
	switch {
	case o.idle < 0:
		return cli.Usagef("invalid value %v for flag -idle-timeout: want a duration, 0 for never", o.idle)
	case o.frame < 0:
		return cli.Usagef("invalid value %v for flag -frame-timeout: want a duration, 0 for never", o.frame)
	case o.maxConns < 0:
		return cli.Usagef("invalid value %d for flag -max-conns: want a number of connections, 0 for no limit", o.maxConns)
	}
	return nil
}

// config sets the limits in cfg; the flags' 0 (never, no limit) is the
// Config's negative value.
func (o *limitOptions) config(cfg *mockapns.Config) {
	never := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	cfg.IdleTimeout, cfg.FrameTimeout = never(o.idle), never(o.frame)
	cfg.MaxConns = o.maxConns
	if o.maxConns == 0 {
		cfg.MaxConns = -1
	}
	cfg.StrictCerts = o.strictCerts
}
