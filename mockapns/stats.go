package mockapns

import "sync/atomic"

// Stats are the server's exact counters. They stay exact when the journal
// has dropped old entries. The JSON names are a contract of the admin API.
// Accepted and Rejected count both protocols; Binary and HTTP2 split them.
type Stats struct {
	ConnectionsTotal    uint64      `json:"connections_total"`    // gateway connections whose TLS handshake succeeded
	ConnectionsOpen     int64       `json:"connections_open"`     // gateway connections open now
	HandshakesFailed    uint64      `json:"handshakes_failed"`    // failed handshakes, every service
	ConnectionsRefused  uint64      `json:"connections_refused"`  // connections closed at accept, every service, because Server.MaxConns were open
	Accepted            uint64      `json:"accepted"`             // notifications accepted, both protocols
	Rejected            uint64      `json:"rejected"`             // notifications refused, both protocols: binary ones answered (status 10 for a shutdown fault) or closed on for command 0, HTTP/2 ones answered with an error status
	Discarded           uint64      `json:"discarded"`            // whole binary frames read after a bad one or cut by a fault, never processed
	FeedbackServed      uint64      `json:"feedback_served"`      // tuples written in full to feedback readers
	FeedbackConnections uint64      `json:"feedback_connections"` // feedback connections served
	Binary              BinaryStats `json:"binary"`               // the binary gateway's share
	HTTP2               HTTP2Stats  `json:"http2"`                // the HTTP/2 provider API's counters
	JournalFileErrors   uint64      `json:"journal_file_errors"`  // failed writes to Config.JournalFile
}

// BinaryStats are the binary gateway's share of Accepted and Rejected.
type BinaryStats struct {
	Accepted uint64 `json:"accepted"` // notifications accepted by the gateway
	Rejected uint64 `json:"rejected"` // notifications the gateway refused
}

// HTTP2Stats are the counters of the HTTP/2 provider API.
type HTTP2Stats struct {
	ConnectionsTotal uint64 `json:"connections_total"` // connections whose TLS handshake succeeded
	ConnectionsOpen  int64  `json:"connections_open"`  // connections open now
	Requests         uint64 `json:"requests"`          // requests answered
	Accepted         uint64 `json:"accepted"`          // requests answered 200
	Rejected         uint64 `json:"rejected"`          // requests answered with an error status
	GoAways          uint64 `json:"goaways"`           // GOAWAY frames sent
	// StreamsRefused counts the streams reset with REFUSED_STREAM because
	// the client opened them beyond the MAX_CONCURRENT_STREAMS in force
	// (the single stream of a token connection before its first valid
	// provider token, or a max_streams fault's limit); rst_stream faults
	// are not counted.
	StreamsRefused uint64 `json:"streams_refused"`
	// StreamsPeak is the most streams one connection had open at once:
	// requests read, whole or in part, and not yet answered (answers held
	// by a delay fault included).
	StreamsPeak uint64 `json:"streams_peak"`
	// Pings counts the PING frames received (acknowledgements of the
	// server's own PINGs excluded). A PING counts as activity for the idle
	// timeout, as any frame read does.
	Pings uint64 `json:"pings"`
}

// counters are the live form of Stats. The journal adds to the accepted
// and rejected counters under its lock (see journal.addBinary and
// journal.addH2); the front ends add to the others directly. The HTTP/2
// front end counts its connections in h2ConnectionsTotal and
// h2ConnectionsOpen (taking the gauge back when a connection closes), its
// failed handshakes in handshakesFailed, each GOAWAY it sends in
// h2GoAways, the streams it refuses over the limit in h2StreamsRefused,
// the PINGs it reads in h2Pings, and raises h2StreamsPeak (peak) when a
// connection opens more streams than any before it.
type counters struct {
	connectionsTotal    atomic.Uint64
	connectionsOpen     atomic.Int64
	handshakesFailed    atomic.Uint64
	connectionsRefused  atomic.Uint64
	binAccepted         atomic.Uint64
	binRejected         atomic.Uint64
	discarded           atomic.Uint64
	feedbackServed      atomic.Uint64
	feedbackConnections atomic.Uint64
	h2ConnectionsTotal  atomic.Uint64
	h2ConnectionsOpen   atomic.Int64
	h2Requests          atomic.Uint64
	h2Accepted          atomic.Uint64
	h2Rejected          atomic.Uint64
	h2GoAways           atomic.Uint64
	h2StreamsRefused    atomic.Uint64
	h2StreamsPeak       atomic.Uint64
	h2Pings             atomic.Uint64
	journalFileErrors   atomic.Uint64
	feedbackOpen        atomic.Int64 // feedback connections open now (metrics only)
}

func (c *counters) snapshot() Stats {
	st := Stats{
		ConnectionsTotal:    c.connectionsTotal.Load(),
		ConnectionsOpen:     c.connectionsOpen.Load(),
		HandshakesFailed:    c.handshakesFailed.Load(),
		ConnectionsRefused:  c.connectionsRefused.Load(),
		Discarded:           c.discarded.Load(),
		JournalFileErrors:   c.journalFileErrors.Load(),
		FeedbackServed:      c.feedbackServed.Load(),
		FeedbackConnections: c.feedbackConnections.Load(),
		Binary:              BinaryStats{Accepted: c.binAccepted.Load(), Rejected: c.binRejected.Load()},
		HTTP2: HTTP2Stats{
			ConnectionsTotal: c.h2ConnectionsTotal.Load(),
			ConnectionsOpen:  c.h2ConnectionsOpen.Load(),
			Requests:         c.h2Requests.Load(),
			Accepted:         c.h2Accepted.Load(),
			Rejected:         c.h2Rejected.Load(),
			GoAways:          c.h2GoAways.Load(),
			StreamsRefused:   c.h2StreamsRefused.Load(),
			StreamsPeak:      c.h2StreamsPeak.Load(),
			Pings:            c.h2Pings.Load(),
		},
	}
	st.Accepted = st.Binary.Accepted + st.HTTP2.Accepted
	st.Rejected = st.Binary.Rejected + st.HTTP2.Rejected
	return st
}

// reset zeroes every counter except the gauges of open connections, which
// describe connections that still exist.
func (c *counters) reset() {
	for _, u := range []*atomic.Uint64{
		&c.connectionsTotal, &c.handshakesFailed, &c.connectionsRefused, &c.binAccepted, &c.binRejected, &c.discarded,
		&c.feedbackServed, &c.feedbackConnections,
		&c.h2ConnectionsTotal, &c.h2Requests, &c.h2Accepted, &c.h2Rejected, &c.h2GoAways,
		&c.h2StreamsRefused, &c.h2StreamsPeak, &c.h2Pings,
	} {
		u.Store(0)
	}
}

// peak raises m to n if n is larger.
func peak(m *atomic.Uint64, n uint64) {
	for {
		old := m.Load()
		if n <= old || m.CompareAndSwap(old, n) {
			return
		}
	}
}
