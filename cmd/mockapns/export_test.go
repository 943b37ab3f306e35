package main

// Run and Report are run and report, for the specs of package main_test.
var (
	Run    = run
	Report = report
)
