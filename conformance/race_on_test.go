//go:build race

package conformance_test

// raceEnabled: the test binary has the race detector, and so does the
// reference adapter it builds.
const raceEnabled = true
