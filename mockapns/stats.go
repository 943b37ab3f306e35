package mockapns

import "sync/atomic"

// Stats are the server's exact counters. They stay exact when the journal
// has dropped old entries. The JSON names are a contract of the admin API.
type Stats struct {
	ConnectionsTotal    uint64 `json:"connections_total"`    // gateway connections whose TLS handshake succeeded
	ConnectionsOpen     int64  `json:"connections_open"`     // gateway connections open now
	HandshakesFailed    uint64 `json:"handshakes_failed"`    // failed handshakes, gateway and feedback
	Accepted            uint64 `json:"accepted"`             // notifications accepted
	Rejected            uint64 `json:"rejected"`             // notifications refused: answered (status 10 for a shutdown fault), or closed on for command 0
	Discarded           uint64 `json:"discarded"`            // whole frames read after a bad one or cut by a fault, never processed
	FeedbackServed      uint64 `json:"feedback_served"`      // tuples written in full to feedback readers
	FeedbackConnections uint64 `json:"feedback_connections"` // feedback connections served
}

// counters are the live form of Stats.
type counters struct {
	connectionsTotal    atomic.Uint64
	connectionsOpen     atomic.Int64
	handshakesFailed    atomic.Uint64
	accepted            atomic.Uint64
	rejected            atomic.Uint64
	discarded           atomic.Uint64
	feedbackServed      atomic.Uint64
	feedbackConnections atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		ConnectionsTotal:    c.connectionsTotal.Load(),
		ConnectionsOpen:     c.connectionsOpen.Load(),
		HandshakesFailed:    c.handshakesFailed.Load(),
		Accepted:            c.accepted.Load(),
		Rejected:            c.rejected.Load(),
		Discarded:           c.discarded.Load(),
		FeedbackServed:      c.feedbackServed.Load(),
		FeedbackConnections: c.feedbackConnections.Load(),
	}
}

// reset zeroes every counter except the gauge of open connections, which
// describes connections that still exist.
func (c *counters) reset() {
	c.connectionsTotal.Store(0)
	c.handshakesFailed.Store(0)
	c.accepted.Store(0)
	c.rejected.Store(0)
	c.discarded.Store(0)
	c.feedbackServed.Store(0)
	c.feedbackConnections.Store(0)
}
