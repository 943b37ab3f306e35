package main

// Run is run, for the specs of package main_test.
var Run = run
