package main

import (
	"io"
	"log/slog"
)

// Run and Report are run and report, for the specs of package main_test.
var (
	Run    = run
	Report = report
)

// AdminWarn runs the start-up warning of the admin API for an address it
// listens on and a token, logging to w.
func AdminWarn(listening, token string, w io.Writer) {
	o := &adminOptions{token: token}
	o.warn(listening, slog.New(slog.NewTextHandler(w, nil)))
}
