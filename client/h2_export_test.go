package client

import "time"

// HTTP2Backoff is the pause c takes before attempt n+1, with jitter drawn
// by jrand (nil: the client's own random source).
func HTTP2Backoff(c *HTTP2Client, n int, jrand func(int64) int64) time.Duration {
	if jrand != nil {
		old := c.jrand
		defer func() { c.jrand = old }()
		c.jrand = jrand
	}
	return c.backoff(n)
}
