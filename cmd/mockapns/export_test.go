package main

import (
	"io"
	"log/slog"

	"github.com/apnskit/apnskit/mockapns"
)

// Run and Report are run and report, for the specs of package main_test.
var (
	Run    = run
	Report = report
)

// LimitsConfig parses args and returns the connection limits of the
// Config they give, or the parse error.
func LimitsConfig(args []string) (mockapns.Config, error) {
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		return mockapns.Config{}, err
	}
	var cfg mockapns.Config
	o.conns.config(&cfg)
	return cfg, nil
}

// AdminWarn runs the start-up warning of the admin API for an address it
// listens on and a token, logging to w.
func AdminWarn(listening, token string, w io.Writer) {
	o := &adminOptions{token: token}
	o.warn(listening, slog.New(slog.NewTextHandler(w, nil)))
}
