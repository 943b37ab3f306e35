package main

import (
	"io"

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
