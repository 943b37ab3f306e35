package mockapns

import (
	"sync/atomic"
	"time"
)

// h2Counters are the HTTP/2 listener's counters.
type h2Counters struct {
	connectionsTotal atomic.Uint64
	connectionsOpen  atomic.Int64
	requests         atomic.Uint64
	accepted         atomic.Uint64
	rejected         atomic.Uint64
	goaways          atomic.Uint64
}

// h2Sandbox reports whether the listener plays the development
// environment (which adds apns-unique-id to successes).
func (s *Server) h2Sandbox() bool { return true }

// h2Record counts a request that was answered with m.
func (s *Server) h2Record(c *h2Conn, r *h2Request, p *h2Push, m *h2Out, at time.Time) {
	s.h2.stats.requests.Add(1)
	if m.reason == "" {
		s.h2.stats.accepted.Add(1)
	} else {
		s.h2.stats.rejected.Add(1)
	}
}
