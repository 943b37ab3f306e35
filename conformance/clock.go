package conformance

import (
	"sync"
	"time"
)

// kitClock is the time of a scenario: the wall clock moved ahead by the
// minutes the scenario let pass ("Given 35 minutes pass"), for the mock
// server and for a client that takes it (CapClock), plus a skew for the
// server alone ("the HTTP/2 API's clock is 30 minutes ahead of the
// client's"). It starts at the wall clock, so that a client that keeps
// its own clock agrees with the mock until a scenario moves it.
type kitClock struct {
	mu     sync.Mutex
	passed time.Duration // for both
	skew   time.Duration // the server's lead on the client
}

// client is the client's time.
func (c *kitClock) client() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.passed)
}

// server is the mock's time.
func (c *kitClock) server() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.passed + c.skew)
}

// advance lets d pass for both.
func (c *kitClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passed += d
}

// setSkew puts the server's clock d ahead of the client's.
func (c *kitClock) setSkew(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew = d
}
